// A small TCP for the simulated client (test-only): active open, a byte stream each way, cumulative ACKs for every
// segment (SACK blocks when both SYNs allow them, led by a D-SACK block for a duplicate, RFC 2883; RFC 7323 timestamps
// when both SYNs carry them), out-of-order reassembly, retransmission on a timeout (go back to
// SND.UNA, doubling the timeout) and on three duplicate ACKs (NewReno-style: each partial ACK resends the next
// hole), a fixed cap on bytes in flight in place of congestion control, and a 1-byte probe into a zero window.
// Sequence numbers go through the NAT's seq.ts; outgoing data is kept in the NAT's ByteQueue.
import { ByteQueue } from '../../../src/core/uplink/nat/byte-queue.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../../../src/core/uplink/nat/seq.js';
import { EMPTY, type TcpControl, type TcpRepr } from '../../../src/core/wire/tcp.js';
import type { Party } from './scheduler.js';

export interface SimTcpOptions {
  /** Our MSS option, and the largest segment we send (the peer's MSS may lower it). */
  mss: number;
  /** Receive window in bytes (the application reads everything at once). */
  window: number;
  /** Window scale we offer. */
  wscale: number;
  sack: boolean;
  /** Offer RFC 7323 timestamps. */
  timestamps: boolean;
  /** Bytes in flight at most (stands in for a congestion window). */
  maxInFlight: number;
  /** Initial (and smallest) retransmission timeout, ms. */
  rto: number;
}

export const SIM_TCP_DEFAULTS: SimTcpOptions = { mss: 1360, window: 256 * 1024, wscale: 7, sack: true, timestamps: true,
  maxInFlight: 64 * 1024, rto: 250 };

type State = 'closed' | 'synSent' | 'established' | 'reset';

export class SimTcp implements Party {
  state: State = 'closed';
  readonly stats = { segmentsSent: 0, retransmits: 0, timeouts: 0, segmentsIn: 0, dsacks: 0 };
  /** In-order bytes from the peer. */
  onData: (b: Buffer) => void = () => {};
  /** The peer's FIN, in order. */
  onFin: () => void = () => {};
  received = 0;
  finReceived = false;
  finAcked = false;

  private readonly o: SimTcpOptions;
  private readonly iss: number;
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndMss: number;
  private peerWnd = 0;
  private peerShift = 0;
  private sackOk = false;
  private readonly tx = new ByteQueue();
  private finQueued = false;
  private dupAcks = 0;
  private recover: number | undefined;
  private rto: number;
  private rtoAt: number | undefined;
  private rcvNxt = 0;
  private ooo: { seq: number; data: Buffer; fin: boolean }[] = [];
  private lastOoo: number | undefined;
  private tsOk = false;
  private tsRecent = 0;
  private lastAckSent = 0;
  private clock = 0;
  /** A duplicate segment's range, reported as the first SACK block of the next ACK (RFC 2883 §4). */
  private dsack: [number, number] | undefined;

  constructor(
    readonly localPort: number,
    readonly remotePort: number,
    iss: number,
    private readonly emit: (r: TcpRepr) => void,
    opts: Partial<SimTcpOptions> = {},
  ) {
    this.o = { ...SIM_TCP_DEFAULTS, ...opts };
    this.iss = iss >>> 0;
    this.sndUna = this.sndNxt = this.sndMax = this.iss;
    this.sndMss = this.o.mss;
    this.rto = this.o.rto;
  }

  /** Everything we sent was acknowledged, our FIN included, and the peer's FIN arrived. */
  get done(): boolean { return this.state === 'reset' || (this.finAcked && this.finReceived); }
  /** Bytes written and not yet acknowledged. */
  get unacked(): number { return this.tx.length; }

  connect(now: number): void {
    this.clock = now;
    this.state = 'synSent';
    this.sendSyn(now);
  }

  write(b: Buffer, now: number): void {
    this.clock = now;
    if (this.finQueued) throw new Error('write after end');
    this.tx.push(b);
    this.output(now);
  }

  end(now: number): void {
    this.clock = now;
    this.finQueued = true;
    this.output(now);
  }

  nextDeadline(): number | undefined { return this.rtoAt; }

  timeout(now: number): void {
    if (this.rtoAt === undefined || now < this.rtoAt) return;
    this.clock = now;
    this.rtoAt = undefined;
    if (this.state === 'synSent') {
      this.rto = Math.min(this.rto * 2, 10_000);
      this.stats.timeouts++;
      this.sendSyn(now);
      return;
    }
    if (this.state !== 'established') return;
    if (this.sndNxt === this.sndUna && !(this.tx.length > 0 && this.peerWnd === 0)) return;
    this.stats.timeouts++;
    this.rto = Math.min(this.rto * 2, 10_000);
    // Go back to SND.UNA; what was in flight is sent again as the window allows.
    this.sndNxt = this.sndUna;
    this.recover = undefined;
    this.dupAcks = 0;
    if (this.peerWnd === 0 && this.tx.length > 0) {
      this.segment(this.sndNxt, 'none', Buffer.concat(this.tx.slices(0, 1)));  // zero-window probe
      this.sndNxt = seqAdd(this.sndNxt, 1);
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      this.rtoAt = now + this.rto;
      return;
    }
    this.output(now, true);
  }

  input(seg: TcpRepr, now: number): void {
    this.stats.segmentsIn++;
    this.clock = now;
    if (seg.control === 'rst') {
      if (this.state === 'synSent' ? seg.ack === seqAdd(this.iss, 1) : this.inWindow(seg.seq)) {
        this.state = 'reset';
        this.rtoAt = undefined;
      }
      return;
    }
    if (this.state === 'synSent') {
      if (seg.control !== 'syn' || seg.ack !== seqAdd(this.iss, 1)) return;
      this.rcvNxt = seqAdd(seg.seq, 1);
      this.peerShift = seg.wscale ?? 0;  // we always offer scaling, so the peer's option decides
      this.sackOk = this.o.sack && seg.sackPermitted;
      this.sndMss = Math.min(this.o.mss, seg.mss ?? 536);
      this.tsOk = this.o.timestamps && seg.tsVal !== undefined;
      if (this.tsOk) { this.tsRecent = seg.tsVal!; this.sndMss -= 12; }
      this.peerWnd = seg.window;
      this.sndUna = this.sndNxt = this.sndMax = seqAdd(this.iss, 1);
      this.state = 'established';
      this.rtoAt = undefined;
      this.rto = this.o.rto;
      this.ack();
      this.output(now);
      return;
    }
    if (this.state !== 'established') return;
    if (seg.control === 'syn') { this.ack(); return; }  // our ACK of the SYN-ACK was lost
    // RFC 7323 §4.3: TS.Recent follows the segments at or below the last ACK sent.
    if (this.tsOk && seg.tsVal !== undefined && seqLe(seg.seq, this.lastAckSent) && seqGe(seg.tsVal, this.tsRecent)) {
      this.tsRecent = seg.tsVal;
    }
    if (seg.ack !== undefined) this.processAck(seg, now);
    if (seg.payload.length > 0 || seg.control === 'fin') this.processData(seg);
    this.output(now);
  }

  // ---- send side ----

  private processAck(seg: TcpRepr, now: number): void {
    const ack = seg.ack!;
    const oldWnd = this.peerWnd;
    this.peerWnd = seg.window << this.peerShift;
    const acked = seqDiff(ack, this.sndUna);
    if (acked > 0 && seqLe(ack, this.sndMax)) {
      let dataAcked = acked;
      if (dataAcked > this.tx.length) { dataAcked = this.tx.length; if (this.finQueued) this.finAcked = true; }
      this.tx.consume(dataAcked);
      this.sndUna = ack;
      if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
      this.dupAcks = 0;
      this.rto = this.o.rto;
      this.rtoAt = this.sndNxt !== this.sndUna ? now + this.rto : undefined;
      if (this.recover !== undefined) {
        if (seqGe(ack, this.recover)) this.recover = undefined;
        else this.resend(this.sndUna, now);  // partial ACK: the next hole
      }
    } else if (acked === 0 && seg.payload.length === 0 && seg.control === 'none' && this.sndNxt !== this.sndUna
        && this.peerWnd === oldWnd) {
      if (++this.dupAcks === 3 && this.recover === undefined) {
        this.recover = this.sndMax;
        this.resend(this.sndUna, now);
      }
    }
  }

  /** New data (and our FIN) as the window and the in-flight cap allow; `force` sends one segment regardless. */
  private output(now: number, force = false): void {
    if (this.state !== 'established') return;
    for (;;) {
      const off = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.tx.length - off;  // -1 once our FIN is out
      if (unsent < 0) break;
      const room = Math.min(this.peerWnd, this.o.maxInFlight) - off;
      const len = Math.min(this.sndMss, unsent, force ? Math.max(room, this.sndMss) : room);
      const fin = this.finQueued && len === unsent && (len > 0 || room >= 0 || force);
      if (len <= 0 && !fin) break;
      const data = len > 0 ? Buffer.concat(this.tx.slices(off, len)) : EMPTY;
      if (seqLt(this.sndNxt, this.sndMax)) this.stats.retransmits++;
      this.segment(this.sndNxt, fin ? 'fin' : 'none', data);
      this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      if (this.rtoAt === undefined) this.rtoAt = now + this.rto;
      force = false;
      if (fin) break;
    }
    // Data waits on a zero window with nothing in flight: the timer sends the probe.
    if (this.rtoAt === undefined && this.peerWnd === 0 && this.sndNxt === this.sndUna && this.tx.length > 0) {
      this.rtoAt = now + this.rto;
    }
  }

  /** One segment again from `seq` (a hole or SND.UNA). */
  private resend(seq: number, now: number): void {
    const off = seqDiff(seq, this.sndUna);
    const len = Math.min(this.sndMss, this.tx.length - off);
    this.stats.retransmits++;
    if (len > 0) this.segment(seq, 'none', Buffer.concat(this.tx.slices(off, len)));
    else if (this.finQueued && off === this.tx.length) this.segment(seq, 'fin', EMPTY);
    this.rtoAt = now + this.rto;
  }

  private sendSyn(now: number): void {
    this.emitSeg({
      srcPort: this.localPort, dstPort: this.remotePort, seq: this.iss, ack: undefined, control: 'syn', psh: false,
      window: Math.min(0xffff, this.o.window), mss: this.o.mss, wscale: this.o.wscale, sackPermitted: this.o.sack,
      ...(this.o.timestamps ? { tsVal: Math.floor(now) >>> 0, tsEcr: 0 } : {}), payload: EMPTY,
    });
    this.rtoAt = now + this.rto;
  }

  // ---- receive side ----

  private inWindow(seq: number): boolean {
    return seqGe(seq, this.rcvNxt) && seqLt(seq, seqAdd(this.rcvNxt, this.o.window));
  }

  private processData(seg: TcpRepr): void {
    let seq = seg.seq;
    let data = seg.payload;
    const fin = seg.control === 'fin';
    if (seqLt(seq, this.rcvNxt)) {
      const cut = seqDiff(this.rcvNxt, seq);
      if (cut > data.length || (cut === data.length && !fin)) {  // old: ACK again
        if (data.length > 0) this.dsack = [seq, seqAdd(seq, data.length)];
        this.ack();
        return;
      }
      data = data.subarray(cut);
      seq = this.rcvNxt;
    }
    if (seq !== this.rcvNxt) {
      if (this.inWindow(seq)) this.store(seq, data, fin);
      this.ack();
      return;
    }
    this.deliver(data, fin);
    while (this.ooo.length > 0 && seqLe(this.ooo[0]!.seq, this.rcvNxt) && !this.finReceived) {
      const h = this.ooo.shift()!;
      const end = seqAdd(h.seq, h.data.length);
      if (seqGt(end, this.rcvNxt) || (h.fin && end === this.rcvNxt)) {
        this.deliver(h.data.subarray(seqDiff(this.rcvNxt, h.seq)), h.fin);
      }
    }
    this.ack();
  }

  private deliver(data: Buffer, fin: boolean): void {
    if (this.finReceived) return;
    if (data.length > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
      this.received += data.length;
      this.onData(Buffer.from(data));
    }
    if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.finReceived = true;
      this.onFin();
    }
  }

  private store(seq: number, data: Buffer, fin: boolean): void {
    this.lastOoo = seq;
    let i = this.ooo.length;
    while (i > 0 && seqGt(this.ooo[i - 1]!.seq, seq)) i--;
    if (i > 0 && this.ooo[i - 1]!.seq === seq) { this.dsack = [seq, seqAdd(seq, data.length)]; return; }
    this.ooo.splice(i, 0, { seq, data: Buffer.from(data), fin });
  }

  private ack(): void {
    this.segment(this.sndNxt, 'none', EMPTY);
  }

  private sackBlocks(): [number, number][] | undefined {
    const dsack = this.dsack;
    this.dsack = undefined;
    if (dsack && this.sackOk) this.stats.dsacks++;
    if (!this.sackOk || (this.ooo.length === 0 && !dsack)) return undefined;
    const ranges: [number, number][] = [];
    for (const { seq, data } of this.ooo) {
      const end = seqAdd(seq, data.length);
      const last = ranges[ranges.length - 1];
      if (last && seqLe(seq, last[1])) { if (seqGt(end, last[1])) last[1] = end; } else ranges.push([seq, end]);
    }
    const recent = this.lastOoo;
    const first = ranges.findIndex(([l, r]) => recent !== undefined && seqGe(recent, l) && seqLt(recent, r));
    const out: [number, number][] = dsack ? [dsack] : [];
    if (first >= 0) out.push(ranges[first]!);
    for (let i = ranges.length - 1; i >= 0 && out.length < 3; i--) if (i !== first) out.push(ranges[i]!);
    return out;
  }

  private segment(seq: number, control: TcpControl, payload: Buffer): void {
    this.lastAckSent = this.rcvNxt;
    const r: TcpRepr = {
      srcPort: this.localPort, dstPort: this.remotePort, seq, ack: this.rcvNxt, control, psh: payload.length > 0,
      window: Math.min(0xffff, Math.floor(this.o.window / (1 << this.o.wscale))), sackPermitted: false,
      sack: this.sackBlocks(), payload,
    };
    if (this.tsOk) { r.tsVal = Math.floor(this.clock) >>> 0; r.tsEcr = this.tsRecent; }
    this.emitSeg(r);
  }

  private emitSeg(r: TcpRepr): void {
    this.stats.segmentsSent++;
    this.emit(r);
  }
}
