// Routes decrypted IPv4 packets (openvpn-protocol.md aside; issue 3 "Router"):
//   from a client:  anti-spoof (its address or its iroute subnets) ▶ to the server's own address (ICMP echo; with forward-port
//                   the rest to the uplink, where the forwarded flows come from that address)
//                   ▶ to another client or a subnet behind one (client-to-client) ▶ broadcast/multicast dropped
//                   ▶ to a `route` subnet no client claims: dropped, as OpenVPN's tun would ▶ everything else to the
//                   uplink (TCP SYNs MSS-clamped)
//   from the uplink: find the client by destination address or iroute ▶ MSS clamp ▶ that client's session
import type { Uplink } from '../uplink/uplink.js';
import { checkIpv4, ipv4Dst, ipv4Src } from '../wire/ipv4.js';
import { buildIcmpEchoReply, buildIcmpUnreachable, UNREACH } from '../wire/icmp.js';
import { clampTcpMss } from '../wire/tcp.js';

export interface Subnet { readonly network: number; readonly netmask: number }

/** Whether two subnets share an address (the shorter prefix holds the other). */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const shorter = (a.netmask & b.netmask) >>> 0;
  return ((a.network & shorter) >>> 0) === ((b.network & shorter) >>> 0);
}

export interface RouterClient {
  readonly ip: number;
  /** Subnets behind this client (iroute in its client-config-dir file). */
  readonly iroutes?: readonly Subnet[];
  /** Encrypts and sends an IPv4 packet to this client. */
  deliver(packet: Buffer): void;
}

export interface RouterOptions {
  serverIp: number;
  network: number;
  netmask: number;
  clientToClient: boolean;
  /** TCP MSS clamp for SYNs crossing the tunnel; 0 = off. */
  mss: number;
  /** The server's `route` lines: subnets that belong inside the VPN (behind clients that iroute them). */
  routes?: readonly Subnet[];
  /**
   * Packets to the server's own address other than an ICMP echo go to the uplink (forward-port: the NAT's flows
   * towards clients come from that address, so their answers are addressed to it). Otherwise they are dropped.
   */
  localToUplink?: boolean;
}

export type DropReason = 'malformed' | 'spoofed' | 'broadcast' | 'no-client' | 'c2c-disabled' | 'local-unhandled' | 'no-uplink' | 'no-iroute';

export class Router {
  private readonly clients = new Map<number, RouterClient>();
  /** Every client's iroute subnets, longest prefix first. */
  private subnets: { net: Subnet; client: RouterClient }[] = [];
  private readonly broadcast: number;
  readonly counters = {
    fromClients: 0, toUplink: 0, fromUplink: 0, clientToClient: 0, local: 0,
    drops: {} as Partial<Record<DropReason, number>>,
  };

  constructor(private readonly o: RouterOptions, private uplink?: Uplink) {
    this.broadcast = (o.network | (~o.netmask >>> 0)) >>> 0;
  }

  setUplink(u: Uplink): void { this.uplink = u; }

  add(c: RouterClient): void {
    this.clients.set(c.ip, c);
    if (c.iroutes?.length) {
      this.subnets = [...this.subnets, ...c.iroutes.map((net) => ({ net, client: c }))].sort((a, b) => b.net.netmask - a.net.netmask);
    }
  }

  remove(c: RouterClient): void {
    if (this.clients.get(c.ip) === c) this.clients.delete(c.ip);
    if (c.iroutes?.length) this.subnets = this.subnets.filter((s) => s.client !== c);
    this.uplink?.clientGone(c.ip);
  }

  lookup(ip: number): RouterClient | undefined { return this.clients.get(ip) ?? this.behind(ip); }

  /** The client that has an iroute overlapping `net`, if any (two clients may not claim the same addresses). */
  irouteOwner(net: Subnet): RouterClient | undefined {
    return this.subnets.find((s) => overlaps(s.net, net))?.client;
  }

  private behind(ip: number): RouterClient | undefined {
    for (const s of this.subnets) if (((ip & s.net.netmask) >>> 0) === s.net.network) return s.client;
    return undefined;
  }

  private inRoutes(ip: number): boolean {
    return this.o.routes?.some((r) => ((ip & r.netmask) >>> 0) === r.network) ?? false;
  }

  fromClient(from: RouterClient, packet: Buffer): void {
    this.counters.fromClients++;
    if (packet.length < 20 || (packet[0] >> 4) !== 4 || checkIpv4(packet)) return this.drop('malformed');
    const src = ipv4Src(packet);
    if (src !== from.ip && this.behind(src) !== from) return this.drop('spoofed');
    const dst = ipv4Dst(packet);
    if (dst === this.o.serverIp) {
      const reply = buildIcmpEchoReply(packet);
      if (!reply && this.o.localToUplink && this.uplink) {
        if (this.o.mss > 0) clampTcpMss(packet, this.o.mss);
        this.counters.local++;
        this.uplink.send(from.ip, packet);
        return;
      }
      if (!reply) return this.drop('local-unhandled');
      this.counters.local++;
      from.deliver(reply);
      return;
    }
    if (dst === 0xffffffff || (dst >>> 28) === 0xe || dst === this.broadcast || dst === this.o.network) {
      return this.drop('broadcast');
    }
    if (((dst & this.o.netmask) >>> 0) === this.o.network) {
      const to = this.clients.get(dst);
      if (!to) { from.deliver(buildIcmpUnreachable(packet, UNREACH.HOST, this.o.serverIp)); return this.drop('no-client'); }
      if (!this.o.clientToClient) {
        from.deliver(buildIcmpUnreachable(packet, UNREACH.ADMIN_PROHIBITED, this.o.serverIp));
        return this.drop('c2c-disabled');
      }
      this.counters.clientToClient++;
      to.deliver(packet);
      return;
    }
    const lan = this.behind(dst);
    if (lan) {
      if (lan === from) return this.drop('spoofed');
      if (!this.o.clientToClient) {
        from.deliver(buildIcmpUnreachable(packet, UNREACH.ADMIN_PROHIBITED, this.o.serverIp));
        return this.drop('c2c-disabled');
      }
      this.counters.clientToClient++;
      lan.deliver(packet);
      return;
    }
    if (this.inRoutes(dst)) {
      from.deliver(buildIcmpUnreachable(packet, UNREACH.HOST, this.o.serverIp));
      return this.drop('no-iroute');
    }
    if (!this.uplink) return this.drop('no-uplink');
    if (this.o.mss > 0) clampTcpMss(packet, this.o.mss);
    this.counters.toUplink++;
    this.uplink.send(from.ip, packet);
  }

  /** A packet from the uplink addressed to some client. */
  toClient = (packet: Buffer): void => {
    if (packet.length < 20) return this.drop('malformed');
    const dst = ipv4Dst(packet);
    const to = this.clients.get(dst) ?? this.behind(dst);
    if (!to) return this.drop('no-client');
    if (this.o.mss > 0) clampTcpMss(packet, this.o.mss);
    this.counters.fromUplink++;
    to.deliver(packet);
  };

  private drop(r: DropReason): void {
    this.counters.drops[r] = (this.counters.drops[r] ?? 0) + 1;
  }
}
