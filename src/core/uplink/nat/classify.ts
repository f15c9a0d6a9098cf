// First stage of the NAT data path: one IPv4 (classify) or IPv6 (classify6) packet from a client becomes a TCP
// segment, a UDP datagram, or a drop with a reason. Checks run cheapest first (lengths, header checksum, then the L4
// checksum). Never throws.
import {
  checkIpv4, ipv4Dst, ipv4HeaderChecksumOk, ipv4HeaderLen, ipv4IsFragment, ipv4Proto, ipv4Src, ipv4TotalLen,
  PROTO_ICMP, PROTO_TCP, PROTO_UDP,
} from '../../wire/ipv4.js';
import { pseudoHeader } from '../../wire/checksum.js';
import { parseTcp, type TcpRepr } from '../../wire/tcp.js';
import { parseUdp, parseUdp6, type UdpRepr } from '../../wire/udp.js';
import {
  checkIpv6, ipv6Dst, ipv6Src, ipv6TotalLen, ipv6Upper, isLinkLocal, isMulticast6, isUnspecified, packetPseudo6, NEXT,
} from '../../wire/ipv6.js';

export type Classified =
  | { kind: 'tcp'; src: number; dst: number; tcp: TcpRepr }
  | { kind: 'udp'; src: number; dst: number; udp: UdpRepr }
  | { kind: 'fragment' }
  | { kind: 'drop'; reason: string };

export function classify(packet: Buffer): Classified {
  const bad = checkIpv4(packet);
  if (bad) return { kind: 'drop', reason: 'ip-malformed' };
  if (!ipv4HeaderChecksumOk(packet)) return { kind: 'drop', reason: 'ip-checksum' };
  if (ipv4IsFragment(packet)) return { kind: 'fragment' };
  const src = ipv4Src(packet);
  const dst = ipv4Dst(packet);
  const proto = ipv4Proto(packet);
  const l4 = packet.subarray(ipv4HeaderLen(packet), ipv4TotalLen(packet));
  switch (proto) {
    case PROTO_TCP: {
      const tcp = parseTcp(l4, pseudoHeader(src, dst, PROTO_TCP, l4.length));
      if ('error' in tcp) return { kind: 'drop', reason: tcp.error === 'bad TCP checksum' ? 'tcp-checksum' : 'tcp-malformed' };
      tcp.ecn = packet[1]! & 3;  // the low bits of the TOS byte
      return { kind: 'tcp', src, dst, tcp };
    }
    case PROTO_UDP: {
      const udp = parseUdp(l4, src, dst);
      if ('error' in udp) return { kind: 'drop', reason: udp.error === 'bad UDP checksum' ? 'udp-checksum' : 'udp-malformed' };
      return { kind: 'udp', src, dst, udp };
    }
    case PROTO_ICMP:
      // No ICMP sockets on Nanos: an echo to the Internet looks like a host that does not answer.
      return { kind: 'drop', reason: 'icmp' };
    default:
      return { kind: 'drop', reason: 'protocol' };
  }
}

export type Classified6 =
  | { kind: 'tcp'; src: Buffer; dst: Buffer; tcp: TcpRepr }
  | { kind: 'udp'; src: Buffer; dst: Buffer; udp: UdpRepr }
  | { kind: 'fragment' }
  | { kind: 'drop'; reason: string };

/** classify for an IPv6 packet: extension headers skipped, the L4 checksum over the IPv6 pseudo-header. src and dst
 *  are views into the packet. */
export function classify6(packet: Buffer): Classified6 {
  if (checkIpv6(packet)) return { kind: 'drop', reason: 'ip-malformed' };
  const up = ipv6Upper(packet);
  if ('fragment' in up) return { kind: 'fragment' };
  if ('error' in up) return { kind: 'drop', reason: 'ip-malformed' };
  const src = ipv6Src(packet), dst = ipv6Dst(packet);
  const l4 = packet.subarray(up.offset, ipv6TotalLen(packet));
  switch (up.proto) {
    case PROTO_TCP: {
      const tcp = parseTcp(l4, packetPseudo6(packet, PROTO_TCP, l4.length));
      if ('error' in tcp) return { kind: 'drop', reason: tcp.error === 'bad TCP checksum' ? 'tcp-checksum' : 'tcp-malformed' };
      tcp.ecn = (packet[1]! >> 4) & 3;  // the low bits of the traffic class
      return { kind: 'tcp', src, dst, tcp };
    }
    case PROTO_UDP: {
      const udp = parseUdp6(l4, packetPseudo6(packet, PROTO_UDP, 0));
      if ('error' in udp) return { kind: 'drop', reason: udp.error === 'bad UDP checksum' ? 'udp-checksum' : 'udp-malformed' };
      return { kind: 'udp', src, dst, udp };
    }
    case NEXT.ICMPV6: return { kind: 'drop', reason: 'icmp' };
    default: return { kind: 'drop', reason: 'protocol' };
  }
}

/** IPv6 destinations the NAT never originates to: unspecified, loopback, multicast, link-local, IPv4-mapped. */
export function badDestination6(a: Uint8Array): boolean {
  if (isUnspecified(a) || isMulticast6(a) || isLinkLocal(a)) return true;
  let zeros = 0;
  while (zeros < 15 && a[zeros] === 0) zeros++;
  if (zeros === 15 && a[15] === 1) return true;
  return zeros >= 10 && a[10] === 0xff && a[11] === 0xff;
}
