// The options OpenVPN 2.6's `server` directive pushes for each topology (helper.c), before the client's ifconfig:
//   subnet  route-gateway NET+1, topology subnet
//   net30   route NET+1 (client-to-client: route NET MASK), topology net30
//   p2p     nothing (client-to-client: route NET MASK), topology p2p
import { ipToString } from '../wire/ipv4.js';
import type { IpPool } from './ip-pool.js';

export function topologyPush(pool: IpPool, clientToClient: boolean): string[] {
  const wholeNet = `route ${ipToString(pool.network)} ${ipToString(pool.netmask)}`;
  switch (pool.topology) {
    case 'subnet': return [`route-gateway ${ipToString(pool.serverIp)}`, 'topology subnet'];
    case 'net30': return [clientToClient ? wholeNet : `route ${ipToString(pool.serverIp)}`, 'topology net30'];
    case 'p2p': return [...(clientToClient ? [wholeNet] : []), 'topology p2p'];
  }
}
