// IPv4 fragment reassembly (RFC 791 §3.2) with bounded memory: a cap on datagrams in progress (in total and per
// source), on buffered bytes, and a timeout. Overlapping fragments drop the whole datagram (RFC 5722 reasoning:
// overlaps have no legitimate use and are a classic evasion trick). Everything over a limit is dropped and counted.
import { sum, finish } from '../../wire/checksum.js';
import {
  F, checkIpv4, ipv4Dst, ipv4FragOffset, ipv4HeaderLen, ipv4Ident, ipv4MoreFrags, ipv4Proto, ipv4Src, ipv4TotalLen,
} from '../../wire/ipv4.js';

export interface ReassemblyLimits {
  maxDatagrams: number;
  maxPerSource: number;
  maxBytes: number;
  /** ms */
  timeout: number;
}

export const REASSEMBLY_DEFAULTS: ReassemblyLimits = { maxDatagrams: 64, maxPerSource: 8, maxBytes: 1 << 20, timeout: 15_000 };

const MAX_DATAGRAM = 65535;

interface Partial {
  src: number;
  frags: { off: number; data: Buffer }[];  // sorted by offset, non-overlapping
  header: Buffer | undefined;              // IP header of the offset-0 fragment
  total: number | undefined;               // payload length, known once the last fragment arrived
  bytes: number;
  deadline: number;
}

export interface ReassemblyCounters {
  reassembled: number;
  timedOut: number;
  overlapping: number;
  overLimit: number;
  malformed: number;
}

export class Reassembler {
  private readonly partials = new Map<string, Partial>();
  private readonly perSource = new Map<number, number>();
  private bytes = 0;
  readonly counters: ReassemblyCounters = { reassembled: 0, timedOut: 0, overlapping: 0, overLimit: 0, malformed: 0 };

  constructor(private readonly limits: ReassemblyLimits = REASSEMBLY_DEFAULTS) {}

  get inProgress(): number { return this.partials.size; }
  get bufferedBytes(): number { return this.bytes; }

  /**
   * Add one fragment (a packet that passed checkIpv4 and has MF set or a non-zero offset). Returns the whole
   * datagram when this fragment completes it, otherwise undefined.
   */
  add(packet: Buffer, now: number): Buffer | undefined {
    this.expire(now);
    if (checkIpv4(packet)) { this.counters.malformed++; return undefined; }
    const hl = ipv4HeaderLen(packet);
    const data = packet.subarray(hl, ipv4TotalLen(packet));
    const off = ipv4FragOffset(packet);
    const more = ipv4MoreFrags(packet);
    // RFC 791: every fragment but the last carries a multiple of 8 bytes.
    if ((more && (data.length === 0 || data.length % 8 !== 0)) || off + data.length > MAX_DATAGRAM - hl) {
      this.counters.malformed++;
      return undefined;
    }
    const src = ipv4Src(packet);
    const key = `${src}/${ipv4Dst(packet)}/${ipv4Proto(packet)}/${ipv4Ident(packet)}`;
    let p = this.partials.get(key);
    if (!p) {
      if (this.partials.size >= this.limits.maxDatagrams || (this.perSource.get(src) ?? 0) >= this.limits.maxPerSource) {
        this.counters.overLimit++;
        return undefined;
      }
      p = { src, frags: [], header: undefined, total: undefined, bytes: 0, deadline: now + this.limits.timeout };
      this.partials.set(key, p);
      this.perSource.set(src, (this.perSource.get(src) ?? 0) + 1);
    }
    if (this.bytes + data.length > this.limits.maxBytes) {
      this.counters.overLimit++;
      this.discard(key, p);
      return undefined;
    }
    const end = off + data.length;
    if (!more) {
      if ((p.total !== undefined && p.total !== end) || p.frags.some((f) => f.off + f.data.length > end)) {
        this.counters.overlapping++;
        this.discard(key, p);
        return undefined;
      }
      p.total = end;
    } else if (p.total !== undefined && end > p.total) {
      this.counters.overlapping++;
      this.discard(key, p);
      return undefined;
    }
    let i = 0;
    while (i < p.frags.length && p.frags[i].off < off) i++;
    const prev = p.frags[i - 1];
    const next = p.frags[i];
    if (next && next.off === off && next.data.length === data.length) return undefined;  // exact duplicate
    if ((prev && prev.off + prev.data.length > off) || (next && end > next.off)) {
      this.counters.overlapping++;
      this.discard(key, p);
      return undefined;
    }
    // Copy: the fragment's buffer belongs to the caller, and we may hold it until the timeout.
    p.frags.splice(i, 0, { off, data: Buffer.from(data) });
    p.bytes += data.length;
    this.bytes += data.length;
    if (off === 0) p.header = Buffer.from(packet.subarray(0, hl));
    return this.tryComplete(key, p);
  }

  /** Drop datagrams whose time is up. */
  expire(now: number): void {
    for (const [key, p] of this.partials) {
      if (now >= p.deadline) {
        this.counters.timedOut++;
        this.discard(key, p);
      }
    }
  }

  private tryComplete(key: string, p: Partial): Buffer | undefined {
    if (p.total === undefined || !p.header) return undefined;
    let covered = 0;
    for (const f of p.frags) {
      if (f.off !== covered) return undefined;
      covered += f.data.length;
    }
    if (covered !== p.total) return undefined;
    const hl = p.header.length;
    const out = Buffer.allocUnsafe(hl + p.total);
    p.header.copy(out, 0);
    for (const f of p.frags) f.data.copy(out, hl + f.off);
    out.writeUInt16BE(hl + p.total, F.LEN);
    out.writeUInt16BE(out.readUInt16BE(F.FLG_OFF) & 0x4000, F.FLG_OFF);  // keep DF, clear MF and offset
    out.writeUInt16BE(0, F.CHECKSUM);
    out.writeUInt16BE(finish(sum(out, 0, hl)), F.CHECKSUM);
    this.discard(key, p);
    this.counters.reassembled++;
    return out;
  }

  private discard(key: string, p: Partial): void {
    if (!this.partials.delete(key)) return;
    this.bytes -= p.bytes;
    const n = (this.perSource.get(p.src) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(p.src);
    else this.perSource.set(p.src, n);
  }
}
