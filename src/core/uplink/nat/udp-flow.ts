// UDP flows: which idle timeout applies (conntrack-like: short until the destination answers, DNS shorter still)
// and how a datagram from the destination is wrapped for the client.
import { buildUdpPacket } from '../../wire/udp.js';
import type { FlowKey } from './flow-key.js';

export interface NatTimeouts {
  /** Seconds; converted by the caller. */
  tcpEstablished: number;
  tcpTransitory: number;
  tcpTimeWait: number;
  udpUnreplied: number;
  udpReplied: number;
  dns: number;
}

export const DEFAULT_TIMEOUTS: NatTimeouts = {
  tcpEstablished: 7440, tcpTransitory: 240, tcpTimeWait: 5, udpUnreplied: 30, udpReplied: 180, dns: 10,
};

const DNS_PORT = 53;

/** Idle timeout in ms for a UDP flow. */
export function udpTimeoutMs(key: FlowKey, replied: boolean, t: NatTimeouts): number {
  if (key.dstPort === DNS_PORT) return t.dns * 1000;
  return (replied ? t.udpReplied : t.udpUnreplied) * 1000;
}

/** A datagram from the flow's destination, as an IPv4 packet for the client. */
export function udpToClient(key: FlowKey, payload: Buffer, ident = 0): Buffer {
  return buildUdpPacket(key.dstIp, key.clientIp, { srcPort: key.dstPort, dstPort: key.clientPort, payload }, ident);
}
