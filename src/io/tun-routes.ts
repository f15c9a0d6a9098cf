// The host routes of `route NET MASK` with the tun uplink. OpenVPN on Linux adds a kernel route for each `route`
// line into its tun device, so the host (and whatever it forwards for) reaches the subnets behind clients; with
// `uplink tun` nanovpn does the same: `ip route add NET/PREFIX dev DEV` for each, deleted again at stop.
// A route that already exists is left as it is and not deleted at stop (as OpenVPN does); any other failure is
// logged as an error with ip's own message, and the server carries on (as OpenVPN does).
// Outside Linux (a Nanos unikernel: os.type() is its uname sysname, "Nanos") there is no ip command and the kernel
// routes nothing for us: nothing is installed, and one line says so.
import { execFile } from 'node:child_process';
import { type as osType } from 'node:os';
import { log } from '../log.js';

export interface HostRoute { network: string; prefix: number }

/** Runs `ip ARGS`; rejects with ip's stderr (or the spawn error) on failure. */
export type RunIp = (args: string[]) => Promise<void>;

export interface InstalledRoutes {
  /** The routes this server added (not those that existed already). */
  readonly added: readonly HostRoute[];
  /** Deletes the added routes (before the device closes). */
  remove(): Promise<void>;
}

const runIp: RunIp = (args) => new Promise((resolve, reject) => {
  execFile('ip', args, { timeout: 10_000 }, (err, _stdout, stderr) => {
    if (!err) { resolve(); return; }
    const e = err as NodeJS.ErrnoException;
    reject(new Error(e.code === 'ENOENT' ? "the 'ip' command (iproute2) is not installed" : (stderr.trim() || e.message)));
  });
});

export async function installTunRoutes(dev: string, routes: readonly HostRoute[],
  opts: { run?: RunIp; os?: string } = {}): Promise<InstalledRoutes> {
  const added: HostRoute[] = [];
  const os = opts.os ?? osType();
  const run = opts.run ?? runIp;
  if (routes.length === 0) return { added, remove: async () => {} };
  if (os !== 'Linux') {
    log('info', `route: no host routes installed on ${os}: the kernel here routes nothing into the tun device for nanovpn; ` +
      'inside the VPN the subnets reach the clients that iroute them', { dev, count: routes.length });
    return { added, remove: async () => {} };
  }
  for (const r of routes) {
    const cidr = `${r.network}/${r.prefix}`;
    try {
      await run(['route', 'add', cidr, 'dev', dev]);
      added.push(r);
      log('info', 'route: host route added', { route: cidr, dev });
    } catch (e) {
      const why = (e as Error).message;
      if (/File exists/i.test(why)) log('notice', 'route: host route exists already, left as it is', { route: cidr, dev });
      else log('error', 'route: cannot add the host route', { route: cidr, dev, command: `ip route add ${cidr} dev ${dev}`, error: why });
    }
  }
  return {
    added,
    async remove() {
      for (const r of added.splice(0)) {
        const cidr = `${r.network}/${r.prefix}`;
        try {
          await run(['route', 'del', cidr, 'dev', dev]);
          log('info', 'route: host route removed', { route: cidr, dev });
        } catch (e) {
          log('warn', 'route: cannot remove the host route', { route: cidr, dev, error: (e as Error).message });
        }
      }
    },
  };
}
