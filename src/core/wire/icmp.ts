// ICMPv4 (RFC 792): echo reply for pings to the server's own address, and destination-unreachable errors.
import { sum, finish } from './checksum.js';
import {
  checkIpv4, emitIpv4, ipv4Dst, ipv4HeaderLen, ipv4IsFragment, ipv4Proto, ipv4Src, ipv4TotalLen, simpleIpv4,
  PROTO_ICMP, IPV4_HEADER_LEN, type ParseError,
} from './ipv4.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const UNREACH = { NET: 0, HOST: 1, PROTOCOL: 2, PORT: 3, FRAG_NEEDED: 4, ADMIN_PROHIBITED: 13 } as const;
const ICMP_HEADER_LEN = 8;
/** RFC 1812 §4.3.2.3: an ICMP error should not exceed 576 bytes. */
const MAX_ERROR_LEN = 576;

export interface IcmpRepr {
  type: number;
  code: number;
  /** Bytes 4..8 of the header (identifier and sequence for echo). */
  rest: number;
  payload: Buffer;
}

/** Parse an ICMP message (the IP payload), verifying its checksum. Never throws. */
export function parseIcmp(msg: Buffer): IcmpRepr | ParseError {
  if (msg.length < ICMP_HEADER_LEN) return { error: 'truncated ICMP header' };
  if (sum(msg, 0, msg.length) !== 0xffff) return { error: 'bad ICMP checksum' };
  return { type: msg[0], code: msg[1], rest: msg.readUInt32BE(4), payload: msg.subarray(ICMP_HEADER_LEN) };
}

export function emitIcmp(r: IcmpRepr, buf: Buffer, off: number): number {
  buf[off] = r.type;
  buf[off + 1] = r.code;
  buf.writeUInt16BE(0, off + 2);
  buf.writeUInt32BE(r.rest >>> 0, off + 4);
  r.payload.copy(buf, off + ICMP_HEADER_LEN);
  const len = ICMP_HEADER_LEN + r.payload.length;
  buf.writeUInt16BE(finish(sum(buf, off, len)), off + 2);
  return len;
}

function buildIcmpPacket(src: number, dst: number, r: IcmpRepr): Buffer {
  const l4 = ICMP_HEADER_LEN + r.payload.length;
  const buf = Buffer.allocUnsafe(IPV4_HEADER_LEN + l4);
  const ip = simpleIpv4(src, dst, PROTO_ICMP, l4);
  ip.dontFrag = false;
  emitIpv4(ip, buf, 0);
  emitIcmp(r, buf, IPV4_HEADER_LEN);
  return buf;
}

/** The reply to an unfragmented, well-formed ICMP echo request, or undefined for anything else. */
export function buildIcmpEchoReply(packet: Buffer): Buffer | undefined {
  if (checkIpv4(packet) || ipv4Proto(packet) !== PROTO_ICMP || ipv4IsFragment(packet)) return undefined;
  const req = parseIcmp(packet.subarray(ipv4HeaderLen(packet), ipv4TotalLen(packet)));
  if ('error' in req || req.type !== ICMP_ECHO_REQUEST || req.code !== 0) return undefined;
  return buildIcmpPacket(ipv4Dst(packet), ipv4Src(packet), { type: ICMP_ECHO_REPLY, code: 0, rest: req.rest, payload: req.payload });
}

/**
 * Destination unreachable (type 3) from `fromIp` to the sender of `original`, quoting as much of the original as
 * fits in 576 bytes (at least its header and first 8 data bytes, RFC 792). For code FRAG_NEEDED pass the next-hop
 * MTU in `mtu` (RFC 1191). `original` must have passed checkIpv4 (the router only hands over parsed packets).
 */
export function buildIcmpUnreachable(original: Buffer, code: number, fromIp: number, mtu = 0): Buffer {
  const quoteLen = Math.min(ipv4TotalLen(original), original.length, MAX_ERROR_LEN - IPV4_HEADER_LEN - ICMP_HEADER_LEN);
  return buildIcmpPacket(fromIp, ipv4Src(original), {
    type: ICMP_DEST_UNREACHABLE, code, rest: code === UNREACH.FRAG_NEEDED ? mtu & 0xffff : 0,
    payload: original.subarray(0, quoteLen),
  });
}
