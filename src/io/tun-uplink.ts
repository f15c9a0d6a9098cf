// Uplink through a kernel tun device: client packets go to the tun as they are, packets the kernel routes into
// the tun go back to the router. The kernel (Linux, or a Nanos kernel built with IP_FORWARD) does the
// forwarding; on Nanos this needs the tun klib in the image.
import type { DeliverToClients, Uplink } from '../core/uplink/uplink.js';
import { log } from '../log.js';
import { openTun, type TunDevice, type TunOptions } from './tun.js';
import { installTunRoutes, type HostRoute, type RunIp } from './tun-routes.js';

export interface TunUplinkOptions {
  name?: string;
  node?: string;
  address: string;
  netmask: string;
  mtu: number;
  /** `route` lines: host routes into the device (Linux only, tun-routes.ts). */
  routes?: readonly HostRoute[];
  /** For tests: how `ip` runs, and the OS name. */
  routeRunner?: { run?: RunIp; os?: string };
  /** The server has IPv6 inside the tunnel: IPv6 packets from the kernel go to the router too. */
  ipv6?: boolean;
}

/** Only IPv4 packets with at least a full header reach the router (a Linux tun also carries IPv6 chatter). */
export function isDeliverableIpv4(packet: Buffer): boolean {
  return packet.length >= 20 && packet[0] >> 4 === 4;
}

/** With IPv6 in the tunnel, IPv6 packets with a full header too. */
export function isDeliverable(packet: Buffer): boolean {
  return isDeliverableIpv4(packet) || (packet.length >= 40 && packet[0] >> 4 === 6);
}

/** The uplink, and `dev`: the name the system gave the device (for the up and down scripts). */
export async function createTunUplink(opts: TunUplinkOptions, deliver: DeliverToClients): Promise<Uplink & { readonly dev: string }> {
  const tunOpts: TunOptions = { address: opts.address, netmask: opts.netmask, mtu: opts.mtu };
  if (opts.name !== undefined) tunOpts.name = opts.name;
  if (opts.node !== undefined) tunOpts.node = opts.node;
  const dev: TunDevice = openTun(tunOpts);
  log('info', 'tun uplink up', { dev: dev.name, address: opts.address, netmask: opts.netmask, mtu: opts.mtu });
  const routes = await installTunRoutes(dev.name, opts.routes ?? [], opts.routeRunner);

  let dropped = 0;
  const noteDrop = (reason: string): void => {
    dropped++;
    // Log the 1st, 2nd, 4th, 8th ... drop so a flood cannot flood the console.
    if ((dropped & (dropped - 1)) === 0) log('warn', 'tun write dropped packets', { dev: dev.name, reason, dropped });
  };
  dev.onPackets(
    (packets) => {
      const ok = opts.ipv6 ? isDeliverable : isDeliverableIpv4;
      for (const p of packets) if (ok(p)) deliver(p);
    },
    (err) => log('error', 'tun read failed', { dev: dev.name, error: err.message }),
  );

  return {
    dev: dev.name,
    send(_clientIp, packet) {
      try {
        if (!dev.write(packet)) noteDrop('queue full');
      } catch (err) {
        noteDrop(err instanceof Error ? err.message : String(err));
      }
    },
    clientGone() {
      // The kernel keeps no per-client state for us.
    },
    async close() {
      await routes.remove();
      dev.close();
      log('info', 'tun uplink closed', { dev: dev.name });
    },
  };
}
