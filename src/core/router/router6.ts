// The IPv6 half of the router (router.ts hands it every version-6 packet), with the IPv4 half's rules:
//   from a client:  link-local or unspecified source (the neighbour discovery and MLD chatter a client's tun sends)
//                   dropped quietly, as OpenVPN 2.6 does ▶ anti-spoof (its /128 or its iroute-ipv6 subnets) ▶
//                   multicast dropped ▶ to the server's own address (ICMPv6 echo) ▶ to another client or a subnet
//                   behind one (client-to-client, else ICMPv6 administratively prohibited) ▶ to an address of the
//                   server's network no client has (ICMPv6 address unreachable) or a `route-ipv6` subnet no client
//                   claims (ICMPv6 no route) ▶ everything else to the uplink (TCP SYNs MSS-clamped)
//   from the uplink: find the client by destination /128 or iroute-ipv6 ▶ MSS clamp ▶ that client's session
import type { Uplink } from '../uplink/uplink.js';
import { buildIcmpv6EchoReply, buildIcmpv6Unreachable, UNREACH6 } from '../wire/icmpv6.js';
import {
  addrKey, checkIpv6, inPrefix, ipv6Dst, ipv6Src, isLinkLocal, isMulticast6, isUnspecified, overlaps6, type Ipv6Net,
} from '../wire/ipv6.js';
import { clampTcpMss6 } from '../wire/tcp.js';

export interface Router6Client {
  readonly ip: number;
  readonly ip6?: Buffer;
  readonly iroutes6?: readonly Ipv6Net[];
  deliver(packet: Buffer): void;
}

export interface Router6Options {
  /** The server's own tunnel address. */
  serverIp6: Buffer;
  /** The network of the server's address (server-ipv6 / ifconfig-ipv6). */
  network6: Ipv6Net;
  clientToClient: boolean;
  /** TCP MSS clamp for SYNs over IPv6 (the IPv4 clamp less 20); 0 = off. */
  mss6: number;
  /** `route-ipv6` subnets: inside the VPN, behind clients that iroute-ipv6 them. */
  routes6?: readonly Ipv6Net[];
}

export type Drop6 = 'malformed' | 'spoofed' | 'broadcast' | 'no-client' | 'c2c-disabled' | 'local-unhandled' | 'no-uplink'
  | 'no-iroute' | 'link-local';

export class Router6<C extends Router6Client> {
  private readonly clients = new Map<string, C>();
  /** Every client's iroute-ipv6 subnets, longest prefix first. */
  private subnets: { net: Ipv6Net; client: C }[] = [];

  constructor(
    private readonly o: Router6Options,
    private readonly uplink: () => Uplink | undefined,
    private readonly count: (what: 'local' | 'clientToClient' | 'toUplink' | 'fromUplink') => void,
    private readonly drop: (r: Drop6) => void,
  ) {}

  get serverIp6(): Buffer { return this.o.serverIp6; }

  add(c: C): void {
    if (c.ip6) this.clients.set(addrKey(c.ip6), c);
    if (c.iroutes6?.length) {
      this.subnets = [...this.subnets, ...c.iroutes6.map((net) => ({ net, client: c }))].sort((a, b) => b.net.bits - a.net.bits);
    }
  }

  remove(c: C): void {
    if (c.ip6) {
      const k = addrKey(c.ip6);
      if (this.clients.get(k) === c) this.clients.delete(k);
    }
    if (c.iroutes6?.length) this.subnets = this.subnets.filter((s) => s.client !== c);
  }

  /** The client that has `a` (16 bytes at a[off]) as its address or behind it. */
  lookup(a: Uint8Array, off = 0): C | undefined { return this.clients.get(addrKey(a, off)) ?? this.behind(a, off); }

  irouteOwner(net: Ipv6Net): C | undefined { return this.subnets.find((s) => overlaps6(s.net, net))?.client; }

  private behind(a: Uint8Array, off: number): C | undefined {
    for (const s of this.subnets) if (inPrefix(a, off, s.net)) return s.client;
    return undefined;
  }

  fromClient(from: C, packet: Buffer): void {
    if (checkIpv6(packet)) return this.drop('malformed');
    const src = ipv6Src(packet);
    if (isLinkLocal(src) || isUnspecified(src)) return this.drop('link-local');
    if (!(from.ip6 && from.ip6.equals(src)) && this.behind(packet, 8) !== from) return this.drop('spoofed');
    const dst = ipv6Dst(packet);
    if (isMulticast6(dst)) return this.drop('broadcast');
    if (dst.equals(this.o.serverIp6)) {
      const reply = buildIcmpv6EchoReply(packet);
      if (!reply) return this.drop('local-unhandled');
      this.count('local');
      from.deliver(reply);
      return;
    }
    const to = this.lookup(packet, 24);
    if (to) {
      if (to === from) return this.drop('spoofed');
      if (!this.o.clientToClient) {
        this.answer(from, packet, UNREACH6.ADMIN_PROHIBITED);
        return this.drop('c2c-disabled');
      }
      this.count('clientToClient');
      to.deliver(packet);
      return;
    }
    if (inPrefix(packet, 24, this.o.network6)) {
      this.answer(from, packet, UNREACH6.ADDRESS);
      return this.drop('no-client');
    }
    if (this.o.routes6?.some((r) => inPrefix(packet, 24, r))) {
      this.answer(from, packet, UNREACH6.NO_ROUTE);
      return this.drop('no-iroute');
    }
    const up = this.uplink();
    if (!up) return this.drop('no-uplink');
    if (this.o.mss6 > 0) clampTcpMss6(packet, this.o.mss6);
    this.count('toUplink');
    up.send(from.ip, packet);
  }

  /** A packet from the uplink addressed to some client. */
  toClient(packet: Buffer): void {
    if (checkIpv6(packet)) return this.drop('malformed');
    const to = this.lookup(packet, 24);
    if (!to) return this.drop('no-client');
    if (this.o.mss6 > 0) clampTcpMss6(packet, this.o.mss6);
    this.count('fromUplink');
    to.deliver(packet);
  }

  private answer(from: C, packet: Buffer, code: number): void {
    const u = buildIcmpv6Unreachable(packet, code, this.o.serverIp6);
    if (u) from.deliver(u);
  }
}
