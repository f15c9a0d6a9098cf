// The IPv6 side of a server config, as OpenVPN 2.6 builds it (helper.c, options.c):
//   server-ipv6 NET/BITS        = ifconfig-ipv6 NET+1/BITS NET+2, ifconfig-ipv6-pool NET+0x1000/BITS (NET+2 from
//                                 /112 on), push "tun-ipv6"; BITS 64 to 124; not with nopool or ifconfig-ipv6-pool
//   ifconfig-ipv6 ADDR/BITS [R] the server's own tunnel address; clients are pushed "ifconfig-ipv6 IP/BITS ADDR"
//   ifconfig-ipv6-pool BASE/BITS the dynamic IPv6 addresses (needs ifconfig-ipv6)
//   route-ipv6 NET/BITS …       subnets inside the VPN, behind clients that iroute-ipv6 them
import { addToAddr, formatIpv6Net, networkOf, parseIpv6Prefix, parseIpv6Text, type Ipv6Net } from '../core/wire/ipv6.js';

export interface ServerIpv6 {
  /** The server's tunnel address and the prefix length pushed with every client address. */
  local: Buffer;
  bits: number;
  /** The dynamic pool: its first address and prefix; absent = addresses from ifconfig-ipv6-push only. */
  pool?: Ipv6Net;
  /** The network the server's address is on (clients outside it are still routed by their /128). */
  network: Ipv6Net;
  /** ifconfig-ipv6's REMOTE (server-ipv6: NET+2): the source of block-ipv6's ICMPv6 errors. */
  remote?: Buffer;
}

/** `ADDR/BITS` with BITS in [min, max], or why not. */
export function ipv6PrefixArg(text: string, what: string, min: number, max: number): Ipv6Net | string {
  const n = parseIpv6Prefix(text);
  if (typeof n === 'string') return `${what}: ${n}`;
  if (n.bits < min || n.bits > max) return `${what}: the prefix must be between /${min} and /${max} (not /${n.bits}), as in OpenVPN 2.6`;
  return n;
}

export function ipv6AddrArg(text: string, what: string): Buffer | string {
  return parseIpv6Text(text) ?? `${what}: '${text}' is not an IPv6 address`;
}

/** A prefix given as a network: its host bits must be zero. */
export function ipv6NetworkArg(text: string, what: string): Ipv6Net | string {
  const n = parseIpv6Prefix(text);
  if (typeof n === 'string') return `${what}: ${n}`;
  if (!networkOf(n.addr, n.bits).equals(n.addr)) return `${what}: ${text} is not the network address of ${formatIpv6Net({ addr: networkOf(n.addr, n.bits), bits: n.bits })}`;
  return n;
}

export interface Ipv6Lines {
  server?: { net: Ipv6Net; line: number };
  ifconfig?: { local: Ipv6Net; remote?: Buffer; line: number };
  pool?: { net: Ipv6Net; line: number };
  nopool: boolean;
}

/** The settled IPv6 side, or an error with the line it is about. */
export function settleIpv6(l: Ipv6Lines): { ipv6?: ServerIpv6; pushTunIpv6: boolean } | { error: string; line: number } {
  if (l.server) {
    const { net, line } = l.server;
    if (l.nopool) return { error: "server-ipv6 is incompatible with 'nopool' (as in OpenVPN 2.6); give the IPv6 addresses with ifconfig-ipv6 and ifconfig-ipv6-push instead", line };
    if (l.pool) return { error: "ifconfig-ipv6-pool: 'server-ipv6' already defines the IPv6 pool", line: l.pool.line };
    const local = addToAddr(net.addr, 1);
    return {
      ipv6: {
        local, bits: net.bits, network: net, remote: addToAddr(net.addr, 2),
        pool: { addr: addToAddr(net.addr, net.bits < 112 ? 0x1000 : 2), bits: net.bits },
      },
      pushTunIpv6: true,
    };
  }
  if (l.pool && !l.ifconfig) {
    return { error: 'ifconfig-ipv6-pool needs ifconfig-ipv6 (the server\'s own IPv6 address), as in OpenVPN 2.6', line: l.pool.line };
  }
  if (!l.ifconfig) return { pushTunIpv6: false };
  const { local, remote } = l.ifconfig;
  return {
    ipv6: {
      remote, local: local.addr, bits: local.bits, network: { addr: networkOf(local.addr, local.bits), bits: local.bits },
      pool: l.pool?.net,
    },
    pushTunIpv6: false,
  };
}
