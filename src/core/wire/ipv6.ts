// IPv6 header (RFC 8200): a checked view, the walk over extension headers to the upper-layer protocol, the
// pseudo-header sum, emit, fragmentation by the source, and address text (RFC 4291 §2.2 in, RFC 5952 out).
// Addresses are 16-byte Buffers; where a map needs a key they are 32-character hex text (addrKey).
import { sum } from './checksum.js';

export const IPV6_HEADER_LEN = 40;
export const NEXT = {
  HOP_BY_HOP: 0, TCP: 6, UDP: 17, ROUTING: 43, FRAGMENT: 44, ESP: 50, AH: 51, ICMPV6: 58, NONE: 59, DEST_OPTS: 60,
} as const;
const FRAG_HEADER_LEN = 8;
/** RFC 8200 §5: every link carries at least 1280 bytes. */
export const IPV6_MIN_MTU = 1280;

export interface Ipv6Net { readonly addr: Buffer; readonly bits: number }

/** Checks that `buf` holds one IPv6 packet: version 6, the payload length within the buffer (link padding allowed). */
export function checkIpv6(buf: Buffer): string | undefined {
  if (buf.length < IPV6_HEADER_LEN) return 'truncated header';
  if (buf[0] >> 4 !== 6) return 'not IPv6';
  if (IPV6_HEADER_LEN + buf.readUInt16BE(4) > buf.length) return 'truncated packet';
  return undefined;
}

// Accessors: valid after checkIpv6() returned undefined. src/dst are views (no copy).
export const ipv6PayloadLen = (b: Buffer): number => b.readUInt16BE(4);
export const ipv6TotalLen = (b: Buffer): number => IPV6_HEADER_LEN + b.readUInt16BE(4);
export const ipv6NextHeader = (b: Buffer): number => b[6];
export const ipv6HopLimit = (b: Buffer): number => b[7];
export const ipv6Src = (b: Buffer): Buffer => b.subarray(8, 24);
export const ipv6Dst = (b: Buffer): Buffer => b.subarray(24, 40);

/** Where the upper-layer message starts, after the extension headers, or why there is none to act on. */
export type Upper = { proto: number; offset: number } | { fragment: true } | { error: string };

/**
 * Walks hop-by-hop, routing and destination options headers to the upper-layer header. A fragment header gives
 * { fragment } (nothing here reassembles IPv6); ESP, AH, "no next header" and truncated chains are errors.
 * `buf` must have passed checkIpv6.
 */
export function ipv6Upper(buf: Buffer): Upper {
  const end = ipv6TotalLen(buf);
  let next = buf[6];
  let off = IPV6_HEADER_LEN;
  for (let hops = 0; hops < 8; hops++) {
    switch (next) {
      case NEXT.HOP_BY_HOP: case NEXT.ROUTING: case NEXT.DEST_OPTS: {
        if (off + 8 > end) return { error: 'truncated extension header' };
        const len = (buf[off + 1] + 1) * 8;
        next = buf[off];
        off += len;
        if (off > end) return { error: 'truncated extension header' };
        break;
      }
      case NEXT.FRAGMENT: return { fragment: true };
      case NEXT.ESP: case NEXT.AH: return { error: 'IPsec header' };
      case NEXT.NONE: return { error: 'no next header' };
      default: return { proto: next, offset: off };
    }
  }
  return { error: 'too many extension headers' };
}

/** Sum of the IPv6 pseudo-header (RFC 8200 §8.1): both addresses, the upper-layer length, the next header. */
export function pseudoHeader6(src: Uint8Array, dst: Uint8Array, proto: number, l4Len: number): number {
  return sum(src, 0, 16, sum(dst, 0, 16, (l4Len >>> 16) + (l4Len & 0xffff) + proto));
}

/** Sum of the pseudo-header of the upper-layer message in a checked packet. */
export function packetPseudo6(packet: Buffer, proto: number, l4Len: number): number {
  return sum(packet, 8, 32, (l4Len >>> 16) + (l4Len & 0xffff) + proto);
}

/** Writes a 40-byte header at buf[off]: flow label 0, traffic class 0 unless given (its low two bits are ECN). */
export function emitIpv6(buf: Buffer, off: number, src: Uint8Array, dst: Uint8Array, next: number, payloadLen: number,
  hopLimit = 64, trafficClass = 0): void {
  buf.writeUInt32BE((0x60000000 | (trafficClass << 20)) >>> 0, off);
  buf.writeUInt16BE(payloadLen, off + 4);
  buf[off + 6] = next;
  buf[off + 7] = hopLimit;
  buf.set(src, off + 8);
  buf.set(dst, off + 24);
}

/**
 * Split a packet the NAT originates (no extension headers) into fragments of at most `mtu` bytes with a fragment
 * header each (RFC 8200 §4.5); the packet itself when it fits.
 */
export function fragmentIpv6(packet: Buffer, mtu: number, ident: number): Buffer[] {
  const total = ipv6TotalLen(packet);
  if (total <= mtu) return [packet];
  const next = packet[6];
  const payload = packet.subarray(IPV6_HEADER_LEN, total);
  const room = (Math.max(mtu, IPV6_MIN_MTU) - IPV6_HEADER_LEN - FRAG_HEADER_LEN) & ~7;
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length; off += room) {
    const n = Math.min(room, payload.length - off);
    const b = Buffer.allocUnsafe(IPV6_HEADER_LEN + FRAG_HEADER_LEN + n);
    packet.copy(b, 0, 0, IPV6_HEADER_LEN);
    b.writeUInt16BE(FRAG_HEADER_LEN + n, 4);
    b[6] = NEXT.FRAGMENT;
    b[40] = next;
    b[41] = 0;
    b.writeUInt16BE(off | (off + n < payload.length ? 1 : 0), 42);
    b.writeUInt32BE(ident >>> 0, 44);
    payload.copy(b, IPV6_HEADER_LEN + FRAG_HEADER_LEN, off, off + n);
    out.push(b);
  }
  return out;
}

// ---- addresses ----

export const addrKey = (a: Uint8Array, off = 0): string => Buffer.from(a.buffer, a.byteOffset + off, 16).toString('hex');

/** Whether `a` (16 bytes at a[off]) lies in net/bits. */
export function inPrefix(a: Uint8Array, off: number, net: Ipv6Net): boolean {
  const full = net.bits >> 3;
  for (let i = 0; i < full; i++) if (a[off + i] !== net.addr[i]) return false;
  const rest = net.bits & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (a[off + full] & m) === (net.addr[full] & m);
}

/** Whether two prefixes share an address (the shorter holds the other). */
export function overlaps6(a: Ipv6Net, b: Ipv6Net): boolean {
  return a.bits <= b.bits ? inPrefix(b.addr, 0, a) : inPrefix(a.addr, 0, b);
}

/** The network address of `a`/bits (host bits cleared), a new buffer. */
export function networkOf(a: Uint8Array, bits: number): Buffer {
  const n = Buffer.from(a);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    n[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return n;
}

/** a + n (n >= 0, below 2^53), wrapping at 2^128; a new buffer. */
export function addToAddr(a: Uint8Array, n: number): Buffer {
  const r = Buffer.from(a);
  let carry = n;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const v = r[i] + (carry % 256);
    r[i] = v & 0xff;
    carry = Math.floor(carry / 256) + (v >> 8);
  }
  return r;
}

export const isLinkLocal = (a: Uint8Array, off = 0): boolean => a[off] === 0xfe && (a[off + 1] & 0xc0) === 0x80;
export const isMulticast6 = (a: Uint8Array, off = 0): boolean => a[off] === 0xff;
export function isUnspecified(a: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[off + i] !== 0) return false;
  return true;
}

/** RFC 4291 §2.2 text (with "::" and an optional dotted-quad tail) to 16 bytes, or undefined. No zone index. */
export function parseIpv6Text(text: string): Buffer | undefined {
  if (text.length < 2 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let s = text;
  const words: number[] = [];
  const tail = /(?:^|:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  const tailWords: number[] = [];
  if (tail) {
    const parts = tail[1]!.split('.');
    if (parts.some((p) => Number(p) > 255 || (p.length > 1 && p.startsWith('0')))) return undefined;
    const n = parts.map(Number);
    tailWords.push((n[0]! << 8) | n[1]!, (n[2]! << 8) | n[3]!);
    s = s.slice(0, s.length - tail[1]!.length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
    if (s === '') return undefined;
  }
  if (s.includes('.')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const group = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = group(halves[0]!);
  const rear = halves.length === 2 ? group(halves[1]!) : [];
  if (!head || !rear) return undefined;
  const given = head.length + rear.length + tailWords.length;
  if (halves.length === 2) {
    if (given > 7) return undefined;
    words.push(...head, ...new Array<number>(8 - given).fill(0), ...rear, ...tailWords);
  } else {
    if (given !== 8) return undefined;
    words.push(...head, ...tailWords);
  }
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/** `ADDR/BITS` (BITS 0..128) to a prefix, or why not. `ADDR` alone is a /128 when `bitsOptional`. */
export function parseIpv6Prefix(text: string, bitsOptional = false): Ipv6Net | string {
  const slash = text.indexOf('/');
  if (slash < 0 && !bitsOptional) return `'${text}' is not an IPv6 prefix (ADDRESS/BITS)`;
  const addr = parseIpv6Text(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return `'${slash < 0 ? text : text.slice(0, slash)}' is not an IPv6 address`;
  if (slash < 0) return { addr, bits: 128 };
  const b = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(b) || Number(b) > 128) return `'/${b}' is not a prefix length (0 to 128)`;
  return { addr, bits: Number(b) };
}

/** RFC 5952: lowercase, no leading zeros, the longest run (2+ words, the first of equals) of zeros as "::". */
export function formatIpv6(a: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((a[off + i * 2] << 8) | a[off + i * 2 + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

export const formatIpv6Net = (n: Ipv6Net): string => `${formatIpv6(n.addr)}/${n.bits}`;
