// UDP header codec. A zero checksum means "none" in IPv4 (RFC 768) and is accepted; over IPv6 it is an error
// (RFC 8200 §8.1). Emit always fills one.
import { sum, combine, pseudoHeader, finish } from './checksum.js';
import { emitIpv4, simpleIpv4, PROTO_UDP, IPV4_HEADER_LEN, type ParseError } from './ipv4.js';
import { emitIpv6, pseudoHeader6, IPV6_HEADER_LEN } from './ipv6.js';

export const U = { SRC_PORT: 0, DST_PORT: 2, LEN: 4, CHECKSUM: 6 } as const;
export const UDP_HEADER_LEN = 8;

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

/**
 * Parse the UDP datagram dgram (the IP payload); verifies the checksum when the IP addresses are given.
 * Never throws.
 */
export function parseUdp(dgram: Buffer, srcIp?: number, dstIp?: number): UdpRepr | ParseError {
  if (dgram.length < UDP_HEADER_LEN) return { error: 'truncated UDP header' };
  const len = dgram.readUInt16BE(U.LEN);
  if (len < UDP_HEADER_LEN || len > dgram.length) return { error: 'bad UDP length' };
  const srcPort = dgram.readUInt16BE(U.SRC_PORT);
  const dstPort = dgram.readUInt16BE(U.DST_PORT);
  if (dstPort === 0) return { error: 'UDP port 0' };
  if (srcIp !== undefined && dstIp !== undefined && dgram.readUInt16BE(U.CHECKSUM) !== 0) {
    // The pseudo-header carries the UDP length field, which we just checked against the buffer.
    if (combine(pseudoHeader(srcIp, dstIp, PROTO_UDP, len), sum(dgram, 0, len)) !== 0xffff) return { error: 'bad UDP checksum' };
  }
  return { srcPort, dstPort, payload: dgram.subarray(UDP_HEADER_LEN, len) };
}

export function emitUdp(r: UdpRepr, buf: Buffer, off: number, srcIp: number, dstIp: number): number {
  const len = UDP_HEADER_LEN + r.payload.length;
  buf.writeUInt16BE(r.srcPort, off + U.SRC_PORT);
  buf.writeUInt16BE(r.dstPort, off + U.DST_PORT);
  buf.writeUInt16BE(len, off + U.LEN);
  buf.writeUInt16BE(0, off + U.CHECKSUM);
  r.payload.copy(buf, off + UDP_HEADER_LEN);
  const ck = finish(combine(pseudoHeader(srcIp, dstIp, PROTO_UDP, len), sum(buf, off, len)));
  buf.writeUInt16BE(ck === 0 ? 0xffff : ck, off + U.CHECKSUM);
  return len;
}

/** A complete IPv4+UDP packet. */
export function buildUdpPacket(srcIp: number, dstIp: number, r: UdpRepr, ident = 0): Buffer {
  const l4 = UDP_HEADER_LEN + r.payload.length;
  const buf = Buffer.allocUnsafe(IPV4_HEADER_LEN + l4);
  const ip = simpleIpv4(srcIp, dstIp, PROTO_UDP, l4, ident);
  ip.dontFrag = false;
  emitIpv4(ip, buf, 0);
  emitUdp(r, buf, IPV4_HEADER_LEN, srcIp, dstIp);
  return buf;
}

/**
 * Parse a UDP datagram carried over IPv6; `pseudo` is the pseudo-header sum without the length (packetPseudo6 with
 * length 0): the UDP length field completes it. The checksum is mandatory. Never throws.
 */
export function parseUdp6(dgram: Buffer, pseudo: number): UdpRepr | ParseError {
  if (dgram.length < UDP_HEADER_LEN) return { error: 'truncated UDP header' };
  const len = dgram.readUInt16BE(U.LEN);
  if (len < UDP_HEADER_LEN || len > dgram.length) return { error: 'bad UDP length' };
  const dstPort = dgram.readUInt16BE(U.DST_PORT);
  if (dstPort === 0) return { error: 'UDP port 0' };
  if (dgram.readUInt16BE(U.CHECKSUM) === 0) return { error: 'bad UDP checksum' };
  if (combine(pseudo, len, sum(dgram, 0, len)) !== 0xffff) return { error: 'bad UDP checksum' };
  return { srcPort: dgram.readUInt16BE(U.SRC_PORT), dstPort, payload: dgram.subarray(UDP_HEADER_LEN, len) };
}

/** A complete IPv6+UDP packet (no extension headers). */
export function buildUdp6Packet(src: Uint8Array, dst: Uint8Array, r: UdpRepr): Buffer {
  const len = UDP_HEADER_LEN + r.payload.length;
  const buf = Buffer.allocUnsafe(IPV6_HEADER_LEN + len);
  emitIpv6(buf, 0, src, dst, PROTO_UDP, len);
  const off = IPV6_HEADER_LEN;
  buf.writeUInt16BE(r.srcPort, off + U.SRC_PORT);
  buf.writeUInt16BE(r.dstPort, off + U.DST_PORT);
  buf.writeUInt16BE(len, off + U.LEN);
  buf.writeUInt16BE(0, off + U.CHECKSUM);
  r.payload.copy(buf, off + UDP_HEADER_LEN);
  const ck = finish(combine(pseudoHeader6(src, dst, PROTO_UDP, len), sum(buf, off, len)));
  buf.writeUInt16BE(ck === 0 ? 0xffff : ck, off + U.CHECKSUM);
  return buf;
}
