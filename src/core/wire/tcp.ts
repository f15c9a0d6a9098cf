// TCP header codec. The flags collapse into one `control` (none/syn/fin/rst) plus psh, so SYN+FIN and SYN+RST are
// rejected at parse time; the options we act on (MSS, window scale, SACK-permitted, SACK blocks, timestamps) are
// lifted into the Repr, and so are the ECN flags (RFC 3168 §6.1) with the ECN field of the IP header around it.
import { sum, combine, pseudoHeader, finish, rewriteBytes } from './checksum.js';
import {
  checkIpv4, emitIpv4, ipv4Dst, ipv4HeaderLen, ipv4IsFragment, ipv4Proto, ipv4Src, ipv4TotalLen, isError,
  simpleIpv4, PROTO_TCP, IPV4_HEADER_LEN, type ParseError,
} from './ipv4.js';
import { checkIpv6, emitIpv6, ipv6TotalLen, ipv6Upper, packetPseudo6, pseudoHeader6, IPV6_HEADER_LEN } from './ipv6.js';

export const T = { SRC_PORT: 0, DST_PORT: 2, SEQ: 4, ACK: 8, OFF_FLAGS: 12, WINDOW: 14, CHECKSUM: 16, URGENT: 18 } as const;
export const TCP_HEADER_LEN = 20;
export const FLG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;
/** The ECN field of an IP header (RFC 3168 §5): not ECN-capable, ECT(1), ECT(0), congestion experienced. */
export const ECN = { NOT_ECT: 0, ECT1: 1, ECT0: 2, CE: 3 } as const;
const OPT = { EOL: 0, NOP: 1, MSS: 2, WS: 3, SACK_PERM: 4, SACK: 5, TS: 8 } as const;
/** RFC 2018 §3: a SACK option holds 1 to 4 blocks of two sequence numbers (length 2 + 8n). */
const MAX_SACK_BLOCKS = 4;
/** RFC 7323 §2.3: a shift above 14 is treated as 14. */
const MAX_WSCALE = 14;

export type TcpControl = 'none' | 'syn' | 'fin' | 'rst';

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  /** Present only when the ACK flag is set. */
  ack: number | undefined;
  control: TcpControl;
  psh: boolean;
  /** The raw 16-bit window field (unscaled). */
  window: number;
  mss?: number;
  wscale?: number;
  sackPermitted: boolean;
  /** SACK blocks (RFC 2018) of a non-SYN segment, as [left edge, right edge) pairs in the order sent. */
  sack?: [number, number][];
  /** RFC 7323 timestamps: TSval and TSecr, both present or both undefined. */
  tsVal?: number;
  tsEcr?: number;
  /** The ECN-Echo and Congestion Window Reduced flags (RFC 3168 §6.1). */
  ece?: boolean;
  cwr?: boolean;
  /** The ECN field (ECN.*) of the IP header around the segment: as received, or to send it with. */
  ecn?: number;
  payload: Buffer;
}

export const EMPTY = Buffer.alloc(0);

/** Length of control-plus-data in sequence space. */
export function segLen(r: Pick<TcpRepr, 'control' | 'payload'>): number {
  return r.payload.length + (r.control === 'syn' || r.control === 'fin' ? 1 : 0);
}

/**
 * Parse the TCP segment seg (the IP payload). When `pseudo` (the pseudo-header sum) is given the checksum is
 * verified. Never throws.
 */
export function parseTcp(seg: Buffer, pseudo?: number): TcpRepr | ParseError {
  if (seg.length < TCP_HEADER_LEN) return { error: 'truncated TCP header' };
  const hl = (seg[T.OFF_FLAGS] >> 4) * 4;
  if (hl < TCP_HEADER_LEN || hl > seg.length) return { error: 'bad TCP data offset' };
  if (pseudo !== undefined && combine(pseudo, sum(seg, 0, seg.length)) !== 0xffff) return { error: 'bad TCP checksum' };
  const srcPort = seg.readUInt16BE(T.SRC_PORT);
  const dstPort = seg.readUInt16BE(T.DST_PORT);
  if (srcPort === 0 || dstPort === 0) return { error: 'TCP port 0' };
  const flags = seg[T.OFF_FLAGS + 1];
  const syn = (flags & FLG.SYN) !== 0, fin = (flags & FLG.FIN) !== 0, rst = (flags & FLG.RST) !== 0;
  let control: TcpControl;
  if (syn && (fin || rst)) return { error: 'SYN with FIN or RST' };
  else if (rst) control = 'rst';  // RST+FIN: the reset wins.
  else if (syn) control = 'syn';
  else if (fin) control = 'fin';
  else control = 'none';
  const r: TcpRepr = {
    srcPort, dstPort, seq: seg.readUInt32BE(T.SEQ),
    ack: flags & FLG.ACK ? seg.readUInt32BE(T.ACK) : undefined,
    control, psh: (flags & FLG.PSH) !== 0, window: seg.readUInt16BE(T.WINDOW), sackPermitted: false,
    tsVal: undefined, tsEcr: undefined, ece: (flags & FLG.ECE) !== 0, cwr: (flags & FLG.CWR) !== 0, ecn: ECN.NOT_ECT,
    payload: seg.subarray(hl),
  };
  let i = TCP_HEADER_LEN;
  while (i < hl) {
    const kind = seg[i];
    if (kind === OPT.EOL) break;
    if (kind === OPT.NOP) { i++; continue; }
    if (i + 1 >= hl) return { error: 'truncated TCP option' };
    const len = seg[i + 1];
    if (len < 2 || i + len > hl) return { error: 'bad TCP option length' };
    if (kind === OPT.MSS) {
      if (len !== 4) return { error: 'bad MSS option' };
      if (control === 'syn') r.mss = seg.readUInt16BE(i + 2);
    } else if (kind === OPT.WS) {
      if (len !== 3) return { error: 'bad window scale option' };
      if (control === 'syn') r.wscale = Math.min(seg[i + 2], MAX_WSCALE);
    } else if (kind === OPT.SACK_PERM) {
      if (len !== 2) return { error: 'bad SACK-permitted option' };
      if (control === 'syn') r.sackPermitted = true;
    } else if (kind === OPT.SACK) {
      const n = (len - 2) / 8;
      if (!Number.isInteger(n) || n < 1 || n > MAX_SACK_BLOCKS) return { error: 'bad SACK option' };
      if (control !== 'syn') {
        r.sack = [];
        for (let b = i + 2; b < i + len; b += 8) r.sack.push([seg.readUInt32BE(b), seg.readUInt32BE(b + 4)]);
      }
    } else if (kind === OPT.TS) {
      if (len !== 10) return { error: 'bad timestamps option' };
      r.tsVal = ((seg[i + 2]! << 24) | (seg[i + 3]! << 16) | (seg[i + 4]! << 8) | seg[i + 5]!) >>> 0;
      r.tsEcr = ((seg[i + 6]! << 24) | (seg[i + 7]! << 16) | (seg[i + 8]! << 8) | seg[i + 9]!) >>> 0;
    }
    i += len;
  }
  return r;
}

/** Header length emit() will use for r (options padded to 4 bytes). */
export function tcpHeaderLen(r: Pick<TcpRepr, 'control' | 'mss' | 'wscale' | 'sackPermitted' | 'sack' | 'tsVal'>): number {
  let n = TCP_HEADER_LEN;
  if (r.mss !== undefined) n += 4;
  if (r.wscale !== undefined) n += 4;  // NOP + 3
  if (r.sackPermitted) n += 4;         // NOP NOP + 2
  if (r.tsVal !== undefined) n += 12;  // NOP NOP + 10
  if (r.sack?.length && r.control !== 'syn') n += 4 + 8 * sackBlocksFit(r);  // NOP NOP + 2 + blocks
  return n;
}

/** SACK blocks that fit beside the other options: 4 alone, 3 next to timestamps (RFC 2018 §3). */
function sackBlocksFit(r: Pick<TcpRepr, 'sack' | 'tsVal'>): number {
  return Math.min(r.sack!.length, r.tsVal !== undefined ? MAX_SACK_BLOCKS - 1 : MAX_SACK_BLOCKS);
}

/**
 * Write r at buf[off] followed by its payload (r.payload, or `data` pieces when given, copied in order), with the
 * checksum over the pseudo-header (srcIp, dstIp). buf must hold the header and payload.
 */
export function emitTcp(r: TcpRepr, buf: Buffer, off: number, srcIp: number, dstIp: number, data?: readonly Buffer[]): number {
  const len = writeSegment(r, buf, off, data);
  buf.writeUInt16BE(finish(combine(pseudoHeader(srcIp, dstIp, PROTO_TCP, len), sum(buf, off, len))), off + T.CHECKSUM);
  return len;
}

/** emitTcp over IPv6: the checksum covers the IPv6 pseudo-header of (src, dst). */
export function emitTcp6(r: TcpRepr, buf: Buffer, off: number, src: Uint8Array, dst: Uint8Array, data?: readonly Buffer[]): number {
  const len = writeSegment(r, buf, off, data);
  buf.writeUInt16BE(finish(combine(pseudoHeader6(src, dst, PROTO_TCP, len), sum(buf, off, len))), off + T.CHECKSUM);
  return len;
}

/** The header, options and payload at buf[off], checksum field zero; returns the segment length. */
function writeSegment(r: TcpRepr, buf: Buffer, off: number, data?: readonly Buffer[]): number {
  const hl = tcpHeaderLen(r);
  buf.writeUInt16BE(r.srcPort, off + T.SRC_PORT);
  buf.writeUInt16BE(r.dstPort, off + T.DST_PORT);
  buf.writeUInt32BE(r.seq >>> 0, off + T.SEQ);
  buf.writeUInt32BE((r.ack ?? 0) >>> 0, off + T.ACK);
  let flags = r.psh ? FLG.PSH : 0;
  if (r.ack !== undefined) flags |= FLG.ACK;
  if (r.ece) flags |= FLG.ECE;
  if (r.cwr) flags |= FLG.CWR;
  if (r.control === 'syn') flags |= FLG.SYN;
  else if (r.control === 'fin') flags |= FLG.FIN;
  else if (r.control === 'rst') flags |= FLG.RST;
  buf[off + T.OFF_FLAGS] = (hl / 4) << 4;
  buf[off + T.OFF_FLAGS + 1] = flags;
  buf.writeUInt16BE(r.window, off + T.WINDOW);
  buf.writeUInt16BE(0, off + T.CHECKSUM);
  buf.writeUInt16BE(0, off + T.URGENT);
  let o = off + TCP_HEADER_LEN;
  if (r.mss !== undefined) { buf[o] = OPT.MSS; buf[o + 1] = 4; buf.writeUInt16BE(r.mss, o + 2); o += 4; }
  if (r.wscale !== undefined) { buf[o] = OPT.NOP; buf[o + 1] = OPT.WS; buf[o + 2] = 3; buf[o + 3] = r.wscale; o += 4; }
  if (r.sackPermitted) { buf[o] = OPT.NOP; buf[o + 1] = OPT.NOP; buf[o + 2] = OPT.SACK_PERM; buf[o + 3] = 2; o += 4; }
  if (r.tsVal !== undefined) {
    // Byte stores: this option is on every segment, and writeUInt32BE's range checks cost more than the write.
    const v = r.tsVal, e = r.tsEcr ?? 0;
    buf[o] = OPT.NOP; buf[o + 1] = OPT.NOP; buf[o + 2] = OPT.TS; buf[o + 3] = 10;
    buf[o + 4] = v >>> 24; buf[o + 5] = v >>> 16; buf[o + 6] = v >>> 8; buf[o + 7] = v;
    buf[o + 8] = e >>> 24; buf[o + 9] = e >>> 16; buf[o + 10] = e >>> 8; buf[o + 11] = e;
    o += 12;
  }
  if (r.sack?.length && r.control !== 'syn') {
    const n = sackBlocksFit(r);
    buf[o] = OPT.NOP; buf[o + 1] = OPT.NOP; buf[o + 2] = OPT.SACK; buf[o + 3] = 2 + 8 * n; o += 4;
    for (let b = 0; b < n; b++) {
      const [left, right] = r.sack[b]!;
      buf.writeUInt32BE(left >>> 0, o); buf.writeUInt32BE(right >>> 0, o + 4); o += 8;
    }
  }
  if (data) for (const d of data) { d.copy(buf, o); o += d.length; }
  else { r.payload.copy(buf, o); o += r.payload.length; }
  return o - off;
}

/** A complete IPv4+TCP packet. */
export function buildTcpPacket(srcIp: number, dstIp: number, r: TcpRepr, data?: readonly Buffer[], ident = 0): Buffer {
  let payloadLen = r.payload.length;
  if (data) { payloadLen = 0; for (const d of data) payloadLen += d.length; }
  const l4 = tcpHeaderLen(r) + payloadLen;
  const buf = Buffer.allocUnsafe(IPV4_HEADER_LEN + l4);
  const ip = simpleIpv4(srcIp, dstIp, PROTO_TCP, l4, ident);
  ip.tos = r.ecn ?? ECN.NOT_ECT;
  emitIpv4(ip, buf, 0);
  emitTcp(r, buf, IPV4_HEADER_LEN, srcIp, dstIp, data);
  return buf;
}

/** A complete IPv6+TCP packet (no extension headers). */
export function buildTcp6Packet(src: Uint8Array, dst: Uint8Array, r: TcpRepr, data?: readonly Buffer[]): Buffer {
  let payloadLen = r.payload.length;
  if (data) { payloadLen = 0; for (const d of data) payloadLen += d.length; }
  const l4 = tcpHeaderLen(r) + payloadLen;
  const buf = Buffer.allocUnsafe(IPV6_HEADER_LEN + l4);
  emitIpv6(buf, 0, src, dst, PROTO_TCP, l4, 64, r.ecn ?? ECN.NOT_ECT);
  emitTcp6(r, buf, IPV6_HEADER_LEN, src, dst, data);
  return buf;
}

/** Parse the TCP segment inside a whole IPv6 packet (after any extension headers), verifying its checksum; ecn from
 *  its traffic class. */
export function parseTcpInIpv6(packet: Buffer): TcpRepr | ParseError {
  const bad = checkIpv6(packet);
  if (bad) return { error: bad };
  const up = ipv6Upper(packet);
  if (!('proto' in up) || up.proto !== PROTO_TCP) return { error: 'not TCP' };
  const seg = packet.subarray(up.offset, ipv6TotalLen(packet));
  const r = parseTcp(seg, packetPseudo6(packet, PROTO_TCP, seg.length));
  if (!isError(r)) r.ecn = (packet[1]! >> 4) & 3;  // the low bits of the traffic class
  return r;
}

/** Parse the TCP segment inside a whole IPv4 packet, verifying its checksum; ecn from its TOS byte. */
export function parseTcpInIpv4(packet: Buffer): TcpRepr | ParseError {
  const bad = checkIpv4(packet);
  if (bad) return { error: bad };
  if (ipv4Proto(packet) !== PROTO_TCP) return { error: 'not TCP' };
  if (ipv4IsFragment(packet)) return { error: 'fragment' };
  const seg = packet.subarray(ipv4HeaderLen(packet), ipv4TotalLen(packet));
  const r = parseTcp(seg, pseudoHeader(ipv4Src(packet), ipv4Dst(packet), PROTO_TCP, seg.length));
  if (!isError(r)) r.ecn = packet[1]! & 3;  // the low bits of the TOS byte
  return r;
}

/**
 * If `packet` is an IPv4 TCP SYN whose MSS option exceeds `mss`, lower it in place and fix the TCP checksum
 * incrementally. Returns true when the packet was changed. Never throws on malformed input.
 */
export function clampTcpMss(packet: Buffer, mss: number): boolean {
  if (checkIpv4(packet) || ipv4Proto(packet) !== PROTO_TCP || ipv4IsFragment(packet)) return false;
  return clampAt(packet, ipv4HeaderLen(packet), ipv4TotalLen(packet), mss);
}

/** clampTcpMss for an IPv6 packet (the TCP header after any extension headers; never a fragment). */
export function clampTcpMss6(packet: Buffer, mss: number): boolean {
  if (checkIpv6(packet)) return false;
  const up = ipv6Upper(packet);
  if (!('proto' in up) || up.proto !== PROTO_TCP) return false;
  return clampAt(packet, up.offset, ipv6TotalLen(packet), mss);
}

/** The MSS option of the SYN in packet[base, end) lowered to `mss`, the checksum updated incrementally. */
function clampAt(packet: Buffer, base: number, end: number, mss: number): boolean {
  if (end - base < TCP_HEADER_LEN) return false;
  if (!(packet[base + T.OFF_FLAGS + 1] & FLG.SYN)) return false;
  const hl = (packet[base + T.OFF_FLAGS] >> 4) * 4;
  if (hl < TCP_HEADER_LEN || base + hl > end) return false;
  let i = base + TCP_HEADER_LEN;
  while (i < base + hl) {
    const kind = packet[i];
    if (kind === OPT.EOL) return false;
    if (kind === OPT.NOP) { i++; continue; }
    if (i + 1 >= base + hl) return false;
    const len = packet[i + 1];
    if (len < 2 || i + len > base + hl) return false;
    if (kind === OPT.MSS && len === 4) {
      if (packet.readUInt16BE(i + 2) <= mss) return false;
      const v = Buffer.from([(mss >> 8) & 0xff, mss & 0xff]);
      rewriteBytes(packet, base, i + 2, v, base + T.CHECKSUM);
      return true;
    }
    i += len;
  }
  return false;
}

export { isError };
