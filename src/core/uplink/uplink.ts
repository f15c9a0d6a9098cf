// The uplink takes IPv4 packets from clients that are bound for the outside world, and hands back IPv4
// packets addressed to a client's virtual IP. Two implementations: the userspace NAT (default) and tun.
export interface Uplink {
  /** An IPv4 packet from the client with virtual IP `clientIp` (uint32), source already anti-spoof checked. */
  send(clientIp: number, packet: Buffer): void;
  /** The client's session ended: close and forget everything it owned. */
  clientGone(clientIp: number): void;
  /** Stop everything (server shutdown). */
  close(): Promise<void>;
}

/** How an uplink returns a packet towards a client: the router finds the session by destination address. */
export type DeliverToClients = (packet: Buffer) => void;
