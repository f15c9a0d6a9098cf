// IPv4 header: a field table, a checked view (checkIpv4 once, then the accessors cannot fail), a Repr with the
// fields the NAT acts on, and emit. Addresses are uint32 numbers throughout.
import { sum, finish } from './checksum.js';

export const F = {
  VER_IHL: 0, TOS: 1, LEN: 2, IDENT: 4, FLG_OFF: 6, TTL: 8, PROTOCOL: 9, CHECKSUM: 10, SRC: 12, DST: 16,
} as const;
export const IPV4_HEADER_LEN = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;

export type ParseError = { error: string };
export function isError<T>(x: T | ParseError): x is ParseError {
  return typeof x === 'object' && x !== null && 'error' in x;
}

/**
 * Checks that `buf` holds one IPv4 packet: version 4, 20 <= IHL <= total length <= buffer length.
 * Returns undefined when fine, or the reason. Bytes after the total length (link padding) are allowed.
 */
export function checkIpv4(buf: Buffer): string | undefined {
  if (buf.length < IPV4_HEADER_LEN) return 'truncated header';
  if (buf[0] >> 4 !== 4) return 'not IPv4';
  const hl = (buf[0] & 0x0f) * 4;
  if (hl < IPV4_HEADER_LEN) return 'bad IHL';
  const total = buf.readUInt16BE(F.LEN);
  if (total < hl) return 'total length below header length';
  if (total > buf.length) return 'truncated packet';
  return undefined;
}

// Accessors: valid after checkIpv4() returned undefined.
export const ipv4HeaderLen = (b: Buffer): number => (b[0] & 0x0f) * 4;
export const ipv4TotalLen = (b: Buffer): number => b.readUInt16BE(F.LEN);
export const ipv4Ident = (b: Buffer): number => b.readUInt16BE(F.IDENT);
export const ipv4Ttl = (b: Buffer): number => b[F.TTL];
export const ipv4Proto = (b: Buffer): number => b[F.PROTOCOL];
export const ipv4Src = (b: Buffer): number => b.readUInt32BE(F.SRC);
export const ipv4Dst = (b: Buffer): number => b.readUInt32BE(F.DST);
export const ipv4DontFrag = (b: Buffer): boolean => (b.readUInt16BE(F.FLG_OFF) & FLAG_DF) !== 0;
export const ipv4MoreFrags = (b: Buffer): boolean => (b.readUInt16BE(F.FLG_OFF) & FLAG_MF) !== 0;
/** Fragment offset in bytes. */
export const ipv4FragOffset = (b: Buffer): number => (b.readUInt16BE(F.FLG_OFF) & 0x1fff) * 8;
export const ipv4IsFragment = (b: Buffer): boolean => (b.readUInt16BE(F.FLG_OFF) & (FLAG_MF | 0x1fff)) !== 0;
export const ipv4HeaderChecksumOk = (b: Buffer): boolean => sum(b, 0, ipv4HeaderLen(b)) === 0xffff;
/** The L4 bytes (a view, no copy). */
export const ipv4Payload = (b: Buffer): Buffer => b.subarray(ipv4HeaderLen(b), ipv4TotalLen(b));

export interface Ipv4Repr {
  src: number;
  dst: number;
  protocol: number;
  payloadLen: number;
  ttl: number;
  ident: number;
  dontFrag: boolean;
  moreFrags: boolean;
  fragOffset: number;
  tos: number;
}

/** Parse an untrusted packet. Options are skipped (they are not part of the Repr). */
export function parseIpv4(buf: Buffer, verifyChecksum = true): Ipv4Repr | ParseError {
  const bad = checkIpv4(buf);
  if (bad) return { error: bad };
  if (verifyChecksum && !ipv4HeaderChecksumOk(buf)) return { error: 'bad header checksum' };
  return {
    src: ipv4Src(buf), dst: ipv4Dst(buf), protocol: ipv4Proto(buf),
    payloadLen: ipv4TotalLen(buf) - ipv4HeaderLen(buf), ttl: ipv4Ttl(buf), ident: ipv4Ident(buf),
    dontFrag: ipv4DontFrag(buf), moreFrags: ipv4MoreFrags(buf), fragOffset: ipv4FragOffset(buf), tos: buf[F.TOS],
  };
}

/** Writes a 20-byte header (no options) at buf[off], checksum filled. buf must hold off + 20 + payloadLen. */
export function emitIpv4(r: Ipv4Repr, buf: Buffer, off = 0): void {
  buf[off + F.VER_IHL] = 0x45;
  buf[off + F.TOS] = r.tos;
  buf.writeUInt16BE(IPV4_HEADER_LEN + r.payloadLen, off + F.LEN);
  buf.writeUInt16BE(r.ident, off + F.IDENT);
  buf.writeUInt16BE((r.dontFrag ? FLAG_DF : 0) | (r.moreFrags ? FLAG_MF : 0) | (r.fragOffset >>> 3), off + F.FLG_OFF);
  buf[off + F.TTL] = r.ttl;
  buf[off + F.PROTOCOL] = r.protocol;
  buf.writeUInt16BE(0, off + F.CHECKSUM);
  buf.writeUInt32BE(r.src >>> 0, off + F.SRC);
  buf.writeUInt32BE(r.dst >>> 0, off + F.DST);
  buf.writeUInt16BE(finish(sum(buf, off, IPV4_HEADER_LEN)), off + F.CHECKSUM);
}

/** Header fields for a packet the NAT originates towards a client. */
export function simpleIpv4(src: number, dst: number, protocol: number, payloadLen: number, ident = 0): Ipv4Repr {
  return { src, dst, protocol, payloadLen, ttl: 64, ident, dontFrag: true, moreFrags: false, fragOffset: 0, tos: 0 };
}

export function ipToString(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Strict dotted quad (four decimal octets, no leading zeros) to uint32, or undefined. */
export function parseIpv4Text(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

/** Dotted quad to uint32; throws on anything else (config-time use, not packet parsing). */
export function ipFromString(s: string): number {
  const n = parseIpv4Text(s.trim());
  if (n === undefined) throw new Error(`not an IPv4 address: ${s}`);
  return n;
}

/**
 * Split a checked, unfragmented IPv4 packet into fragments of at most `mtu` bytes (RFC 791 §3.2). Returns the packet
 * itself when it fits, and [] when it does not fit but has DF set (the caller drops it). Options are not copied
 * into later fragments, as RFC 791 allows for options without the copy flag; we simply drop them all there.
 */
export function fragmentIpv4(packet: Buffer, mtu: number): Buffer[] {
  const total = ipv4TotalLen(packet);
  if (total <= mtu) return [packet];
  if (ipv4DontFrag(packet) || mtu < 68) return [];
  const hl = ipv4HeaderLen(packet);
  const payload = packet.subarray(hl, total);
  const out: Buffer[] = [];
  const base = parseIpv4(packet, false) as Ipv4Repr;
  for (let off = 0; off < payload.length;) {
    const firstHl = off === 0 ? hl : IPV4_HEADER_LEN;
    const room = (mtu - firstHl) & ~7;
    const n = Math.min(room, payload.length - off);
    const b = Buffer.allocUnsafe(firstHl + n);
    emitIpv4({ ...base, payloadLen: n, moreFrags: off + n < payload.length, fragOffset: off }, b, 0);
    if (firstHl > IPV4_HEADER_LEN) {
      packet.copy(b, 0, 0, firstHl);
      b.writeUInt16BE(firstHl + n, F.LEN);
      b.writeUInt16BE((off + n < payload.length ? FLAG_MF : 0) | (off >>> 3), F.FLG_OFF);
      b.writeUInt16BE(0, F.CHECKSUM);
      b.writeUInt16BE(finish(sum(b, 0, firstHl)), F.CHECKSUM);
    }
    payload.copy(b, firstHl, off, off + n);
    out.push(b);
    off += n;
  }
  return out;
}
