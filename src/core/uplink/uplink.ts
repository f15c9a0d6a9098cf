// The uplink takes IP packets (IPv4 and IPv6) from clients that are bound for the outside world, and hands back
// packets addressed to a client's virtual address. Two implementations: the userspace NAT (default) and tun.
export interface Uplink {
  /** An IP packet from the client with virtual IPv4 address `clientIp` (uint32; its IPv6 packets too), source
   *  already anti-spoof checked. */
  send(clientIp: number, packet: Buffer): void;
  /** The client's session ended: close and forget everything it owned. */
  clientGone(clientIp: number): void;
  /** Stop everything (server shutdown). */
  close(): Promise<void>;
}

/** How an uplink returns a packet towards a client: the router finds the session by destination address. */
export type DeliverToClients = (packet: Buffer) => void;
