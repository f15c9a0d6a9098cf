// ICMPv6 (RFC 4443): echo reply for pings to the server's own address, and the errors the router and the NAT send
// (destination unreachable, packet too big). The checksum covers the IPv6 pseudo-header.
import { combine, finish, sum } from './checksum.js';
import {
  checkIpv6, emitIpv6, ipv6Dst, ipv6Src, ipv6TotalLen, ipv6Upper, isMulticast6, isUnspecified, packetPseudo6,
  pseudoHeader6, IPV6_HEADER_LEN, IPV6_MIN_MTU, NEXT,
} from './ipv6.js';

export const ICMP6 = {
  DEST_UNREACHABLE: 1, PACKET_TOO_BIG: 2, TIME_EXCEEDED: 3, PARAM_PROBLEM: 4,
  ECHO_REQUEST: 128, ECHO_REPLY: 129,
} as const;
export const UNREACH6 = { NO_ROUTE: 0, ADMIN_PROHIBITED: 1, ADDRESS: 3, PORT: 4 } as const;
const ICMP6_HEADER_LEN = 8;

/** The ICMPv6 message of a checked packet, checksum verified: type, code, the 4 bytes after the checksum and the
 *  body; undefined for anything else. */
export function parseIcmpv6InPacket(packet: Buffer): { type: number; code: number; rest: number; body: Buffer } | undefined {
  if (checkIpv6(packet)) return undefined;
  const up = ipv6Upper(packet);
  if (!('proto' in up) || up.proto !== NEXT.ICMPV6) return undefined;
  const end = ipv6TotalLen(packet);
  const len = end - up.offset;
  if (len < ICMP6_HEADER_LEN) return undefined;
  if (combine(packetPseudo6(packet, NEXT.ICMPV6, len), sum(packet, up.offset, len)) !== 0xffff) return undefined;
  const o = up.offset;
  return { type: packet[o], code: packet[o + 1], rest: packet.readUInt32BE(o + 4), body: packet.subarray(o + ICMP6_HEADER_LEN, end) };
}

function buildIcmpv6(src: Uint8Array, dst: Uint8Array, type: number, code: number, rest: number, body: Uint8Array): Buffer {
  const l4 = ICMP6_HEADER_LEN + body.length;
  const b = Buffer.allocUnsafe(IPV6_HEADER_LEN + l4);
  emitIpv6(b, 0, src, dst, NEXT.ICMPV6, l4, 64);
  b[40] = type;
  b[41] = code;
  b.writeUInt16BE(0, 42);
  b.writeUInt32BE(rest >>> 0, 44);
  b.set(body, 48);
  b.writeUInt16BE(finish(combine(pseudoHeader6(src, dst, NEXT.ICMPV6, l4), sum(b, 40, l4))), 42);
  return b;
}

/** The reply to a well-formed echo request (the reply's source is the address it was sent to), else undefined. */
export function buildIcmpv6EchoReply(packet: Buffer): Buffer | undefined {
  const m = parseIcmpv6InPacket(packet);
  if (!m || m.type !== ICMP6.ECHO_REQUEST || m.code !== 0) return undefined;
  return buildIcmpv6(ipv6Dst(packet), ipv6Src(packet), ICMP6.ECHO_REPLY, 0, m.rest, m.body);
}

/** RFC 4443 §2.4 (e): no error about an ICMPv6 error, about a packet to a multicast address (but packet too big),
 *  nor to a multicast or unspecified source. */
function mayAnswer(original: Buffer, type: number): boolean {
  if (checkIpv6(original)) return false;
  const src = ipv6Src(original);
  if (isMulticast6(src) || isUnspecified(src)) return false;
  if (type !== ICMP6.PACKET_TOO_BIG && isMulticast6(ipv6Dst(original))) return false;
  const up = ipv6Upper(original);
  if ('proto' in up && up.proto === NEXT.ICMPV6 && up.offset < original.length && original[up.offset] < 128) return false;
  return true;
}

/** An error from `from` to the sender of `original`, quoting as much of it as fits in 1280 bytes (RFC 4443 §2.4 c). */
function buildError(original: Buffer, type: number, code: number, rest: number, from: Uint8Array): Buffer | undefined {
  if (!mayAnswer(original, type)) return undefined;
  const quote = Math.min(ipv6TotalLen(original), original.length, IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMP6_HEADER_LEN);
  return buildIcmpv6(from, ipv6Src(original), type, code, rest, original.subarray(0, quote));
}

/** Destination unreachable (type 1) with `code` (UNREACH6), or undefined where RFC 4443 forbids an error. */
export function buildIcmpv6Unreachable(original: Buffer, code: number, from: Uint8Array): Buffer | undefined {
  return buildError(original, ICMP6.DEST_UNREACHABLE, code, 0, from);
}

/** Packet too big (type 2) with the MTU of the next hop. */
export function buildIcmpv6PacketTooBig(original: Buffer, mtu: number, from: Uint8Array): Buffer | undefined {
  return buildError(original, ICMP6.PACKET_TOO_BIG, 0, mtu, from);
}
