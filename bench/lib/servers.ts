// Starting and stopping the contenders inside srv. Only one runs at a time: they share port 1194, the
// 10.8.0.0/24 pool and (for the kernel-forwarding ones) the MASQUERADE rule installed once per topology.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Proc, Topology } from '../../test/helpers/netns.js';
import type { TestPki } from '../../test/helpers/pki.js';
import { startOpenVpnServer, VPN_NET } from '../../test/helpers/openvpn-server.js';
import { nanovpnConfig, REPO_ROOT, startNanovpn } from '../../test/helpers/nanovpn-server.js';
import type { Proto, ServerId } from './report.js';

export interface RunningServer {
  readonly id: ServerId;
  readonly proto: Proto;
  readonly proc: Proc;
  stop(): Promise<void>;
}

export const TUN_ADDON = join(REPO_ROOT, 'dist', 'tun.node');

/** Kernel forwarding as each contender needs it: OpenVPN and nanovpn's tun uplink route through the kernel;
 * nanovpn's NAT uplink must carry the traffic itself, so srv forwards nothing while it runs. */
const needsKernelForwarding = (id: ServerId): boolean => id !== 'nanovpn';

/** Installs the MASQUERADE rule once (ip_forward is switched per contender by startServer). */
export async function prepareSrv(topo: Topology): Promise<void> {
  await topo.enableForwarding({ masquerade: VPN_NET });
  await setForwarding(topo, false);
}

async function setForwarding(topo: Topology, on: boolean): Promise<void> {
  await topo.exec('srv', ['sysctl', '-q', '-w', `net.ipv4.ip_forward=${on ? 1 : 0}`]);
}

export interface StartOptions {
  /** More config lines, given to every contender alike. */
  extra?: string[];
  /** More config lines for the nanovpn contenders only. */
  nanovpn?: string[];
  timeoutMs?: number;
}

export async function startServer(topo: Topology, pki: TestPki, id: ServerId, proto: Proto, o: StartOptions = {}): Promise<RunningServer> {
  await setForwarding(topo, needsKernelForwarding(id));
  const timeoutMs = o.timeoutMs ?? 20_000;
  if (id === 'openvpn') {
    const s = await startOpenVpnServer({ topo, pki, proto, forward: false, extra: o.extra, timeoutMs });
    return { id, proto, proc: s.proc, stop: async () => { await s.stop('SIGTERM', 5000); } };
  }
  const extra = [...(o.extra ?? []), ...(o.nanovpn ?? [])];
  if (id === 'nanovpn-tun') extra.push('uplink tun');
  const s = startNanovpn({ topo, pki, config: nanovpnConfig({ proto, extra }) });
  try {
    await s.waitForLine(/Initialization Sequence Completed/, timeoutMs);
  } catch (err) {
    await s.stop(2000);
    throw err;
  }
  return { id, proto, proc: s.proc, stop: async () => { await s.stop(5000); } };
}

/** Why the tun-uplink contender cannot run here, or undefined. Starts it once and stops it again. */
export async function tunUplinkUnavailable(topo: Topology, pki: TestPki): Promise<string | undefined> {
  if (!existsSync(TUN_ADDON)) return `${TUN_ADDON} is missing (build it with ./build.sh addon)`;
  try {
    const s = await startServer(topo, pki, 'nanovpn-tun', 'udp', { timeoutMs: 15_000 });
    await s.stop();
    return undefined;
  } catch (err) {
    return `\`uplink tun\` did not start: ${(err as Error).message.split('\n')[0]}`;
  }
}
