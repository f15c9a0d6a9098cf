// NAT counters, kept per client and in total. "out" is client → Internet, "in" is Internet → client; bytes are
// whole IPv4 packet lengths on the tunnel side.
export interface FlowCounters {
  flowsOpen: number;
  flowsCreated: number;
  flowsEvicted: number;   // pushed out by the global cap or the per-client quota
  flowsExpired: number;   // idle past their timeout
  flowsClosed: number;    // ended by the protocol (FIN/RST, socket error, client gone)
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
}

export interface NatStats extends FlowCounters {
  tcpFlows: number;
  udpFlows: number;
  /** Packets dropped, by reason (malformed, checksum, quota, icmp, fragment...). */
  drops: Record<string, number>;
  /** TCP segments the NAT sent again towards clients, by trigger. */
  tcpRetransmits: { timeout: number; fast: number; probe: number };
  /** Recoveries of the NAT's TCP undone because D-SACKs or timestamps showed the retransmissions needless. */
  tcpSpurious: { dsack: number; timestamp: number };
  /** ECN on the NAT's TCP: connections that negotiated it, CE-marked segments from clients, ECEs acted on. */
  tcpEcn: { negotiated: number; ce: number; ece: number };
}

export function newFlowCounters(): FlowCounters {
  return {
    flowsOpen: 0, flowsCreated: 0, flowsEvicted: 0, flowsExpired: 0, flowsClosed: 0,
    packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0,
  };
}

export function countDrop(drops: Record<string, number>, reason: string): void {
  drops[reason] = (drops[reason] ?? 0) + 1;
}
