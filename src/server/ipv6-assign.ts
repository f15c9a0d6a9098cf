// A client's IPv6 address, as OpenVPN 2.6 picks it (multi.c): its client-config-dir's ifconfig-ipv6-push, else the
// IPv6 pool's slot of its dynamic IPv4 address; a client with a static IPv4 address (ifconfig-push) and no
// ifconfig-ipv6-push gets no IPv6 address (2.6 warns the same). Pushed as "ifconfig-ipv6 IP/BITS REMOTE", REMOTE
// being the server's own address unless ifconfig-ipv6-push names another.
import type { IpPool } from '../core/router/ip-pool.js';
import type { Ipv6Pool } from '../core/router/ipv6-pool.js';
import { formatIpv6, formatIpv6Net, overlaps6, type Ipv6Net } from '../core/wire/ipv6.js';
import { log } from '../log.js';

export interface Ipv6Ccd {
  ifconfigIpv6Push?: { local: Ipv6Net; remote?: Buffer };
  iroutes6?: { net: Ipv6Net; file: string; line: number }[];
}

export interface Ipv6Lease { ip: Buffer; pushed: string; static: boolean }

/** Why the client's IPv6 settings cannot be given, checked before any address is taken. */
export function ipv6Problem<T>(pool6: Ipv6Pool | undefined, ccd: Ipv6Ccd | undefined, owner: (net: Ipv6Net) => T | undefined,
  self: T, ownerName: (o: T) => string | undefined): string | undefined {
  if (!ccd) return undefined;
  if (!pool6) {
    if (ccd.ifconfigIpv6Push || ccd.iroutes6?.length) {
      log('warn', "ccd: ifconfig-ipv6-push and iroute-ipv6 ignored: the server has no IPv6 address (add 'server-ipv6 NET/BITS')");
    }
    return undefined;
  }
  const push = ccd.ifconfigIpv6Push;
  if (push && !pool6.isAssignable(push.local.addr)) {
    return `ifconfig-ipv6-push address ${formatIpv6(push.local.addr)} is the server's own or given to another client`;
  }
  for (const r of ccd.iroutes6 ?? []) {
    const text = `${r.file}:${r.line}: iroute-ipv6 ${formatIpv6Net(r.net)}`;
    if (overlaps6(r.net, pool6.network)) return `${text} overlaps the server's IPv6 network ${formatIpv6Net(pool6.network)}`;
    const o = owner(r.net);
    if (o !== undefined && o !== self) return `${text} is already routed to another client${ownerName(o) ? ` (${ownerName(o)})` : ''}`;
  }
  return undefined;
}

/** The client's IPv6 address and its pushed ifconfig-ipv6 arguments; `dynamicIp`: its IPv4 address when it came
 *  from the pool. Takes a static address in pool6 (release with releaseIpv6). */
export function leaseIpv6(pool6: Ipv6Pool | undefined, pool: IpPool, ccd: Ipv6Ccd | undefined, dynamicIp: number | undefined,
  owner: object): Ipv6Lease | undefined {
  if (!pool6) return undefined;
  const push = ccd?.ifconfigIpv6Push;
  if (push) {
    pool6.assign(push.local.addr, owner);
    return { ip: push.local.addr, pushed: `${formatIpv6(push.local.addr)}/${push.local.bits} ${formatIpv6(push.remote ?? pool6.server)}`, static: true };
  }
  if (dynamicIp === undefined) {
    if (pool6.hasPool) log('info', 'client has a static IPv4 address (ifconfig-push) and no ifconfig-ipv6-push: no IPv6 address, as in OpenVPN 2.6');
    return undefined;
  }
  const ip = pool6.hasPool ? pool6.addressAt(pool.indexOf(dynamicIp)) : undefined;
  return ip && { ip, pushed: `${formatIpv6(ip)}/${pool6.bits} ${formatIpv6(pool6.server)}`, static: false };
}
