// Routes decrypted IPv4 packets (openvpn-protocol.md aside; issue 3 "Router"):
//   from a client:  anti-spoof (its address or its iroute subnets) ▶ to the server's own address (ICMP echo; with forward-port
//                   the rest to the uplink, where the forwarded flows come from that address)
//                   ▶ to another client or a subnet behind one (client-to-client) ▶ broadcast/multicast dropped
//                   ▶ to a `route` subnet no client claims: dropped, as OpenVPN's tun would ▶ everything else to the
//                   uplink (TCP SYNs MSS-clamped)
//   from the uplink: find the client by destination address or iroute ▶ MSS clamp ▶ that client's session
// IPv6 packets go to router6.ts when the server has an IPv6 address, and are dropped (counted) when it has none.
import type { Uplink } from '../uplink/uplink.js';
import { checkIpv4, ipv4Dst, ipv4Src } from '../wire/ipv4.js';
import { buildIcmpEchoReply, buildIcmpUnreachable, UNREACH } from '../wire/icmp.js';
import { clampTcpMss } from '../wire/tcp.js';
import { checkIpv6, type Ipv6Net } from '../wire/ipv6.js';
import { buildIcmpv6Unreachable, UNREACH6 } from '../wire/icmpv6.js';
import { Router6, type Drop6, type Router6Options } from './router6.js';

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
  /** Its IPv6 address (ifconfig-ipv6 pushed) and the IPv6 subnets behind it (iroute-ipv6). */
  readonly ip6?: Buffer;
  readonly iroutes6?: readonly Ipv6Net[];
  /** Encrypts and sends an IP packet to this client. */
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
  /** IPv6 inside the tunnel; absent: IPv6 packets are dropped ('ipv6-off'). */
  ipv6?: Omit<Router6Options, 'clientToClient'>;
  /** block-ipv6: every IPv6 packet from a client is answered with ICMPv6 no route from this address, none forwarded. */
  blockIpv6From?: Buffer;
}

export type DropReason = 'malformed' | 'spoofed' | 'broadcast' | 'no-client' | 'c2c-disabled' | 'local-unhandled' | 'no-uplink' | 'no-iroute'
  | 'ipv6-off' | 'ipv6-blocked' | `ipv6-${Drop6}`;

export class Router {
  private readonly clients = new Map<number, RouterClient>();
  /** Every client's iroute subnets, longest prefix first. */
  private subnets: { net: Subnet; client: RouterClient }[] = [];
  private readonly broadcast: number;
  readonly v6: Router6<RouterClient> | undefined;
  readonly counters = {
    fromClients: 0, toUplink: 0, fromUplink: 0, clientToClient: 0, local: 0,
    drops: {} as Partial<Record<DropReason, number>>,
  };

  constructor(private readonly o: RouterOptions, private uplink?: Uplink) {
    this.broadcast = (o.network | (~o.netmask >>> 0)) >>> 0;
    this.v6 = o.ipv6 && new Router6<RouterClient>({ ...o.ipv6, clientToClient: o.clientToClient }, () => this.uplink,
      (what) => { this.counters[what]++; }, (r) => this.drop(`ipv6-${r}`));
  }

  setUplink(u: Uplink): void { this.uplink = u; }

  add(c: RouterClient): void {
    this.clients.set(c.ip, c);
    this.v6?.add(c);
    if (c.iroutes?.length) {
      this.subnets = [...this.subnets, ...c.iroutes.map((net) => ({ net, client: c }))].sort((a, b) => b.net.netmask - a.net.netmask);
    }
  }

  remove(c: RouterClient): void {
    if (this.clients.get(c.ip) === c) this.clients.delete(c.ip);
    if (c.iroutes?.length) this.subnets = this.subnets.filter((s) => s.client !== c);
    this.v6?.remove(c);
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
    if (packet.length > 0 && (packet[0] >> 4) === 6) {
      if (this.o.blockIpv6From) return this.blockIpv6(from, packet, this.o.blockIpv6From);
      return this.v6 ? this.v6.fromClient(from, packet) : this.drop('ipv6-off');
    }
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
    if (packet.length > 0 && (packet[0] >> 4) === 6) return this.v6 ? this.v6.toClient(packet) : this.drop('ipv6-off');
    if (packet.length < 20) return this.drop('malformed');
    const dst = ipv4Dst(packet);
    const to = this.clients.get(dst) ?? this.behind(dst);
    if (!to) return this.drop('no-client');
    if (this.o.mss > 0) clampTcpMss(packet, this.o.mss);
    this.counters.fromUplink++;
    to.deliver(packet);
  };

  private blockIpv6(from: RouterClient, packet: Buffer, src: Buffer): void {
    const u = checkIpv6(packet) ? undefined : buildIcmpv6Unreachable(packet, UNREACH6.NO_ROUTE, src);
    if (u) from.deliver(u);
    this.drop('ipv6-blocked');
  }

  private drop(r: DropReason): void {
    this.counters.drops[r] = (this.counters.drops[r] ?? 0) + 1;
  }
}
