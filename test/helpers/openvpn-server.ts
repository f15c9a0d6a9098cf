// Debian's openvpn 2.6 as the SERVER in srv: the baseline nanovpn is compared against. It uses the kernel:
// ip_forward=1 and MASQUERADE of 10.8.0.0/24 out of srv's uplink (topo.enableForwarding).
//
//   const s = await startOpenVpnServer({ topo, pki, proto: 'udp' });   // resolves once it is initialized
//   s.config / s.configPath / s.proc.waitForLine(...)
//   await s.stop();
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExitInfo, Proc, Topology } from './netns.js';
import type { TestPki } from './pki.js';

export const VPN_NET = '10.8.0.0/24';
export const VPN_SERVER_IP = '10.8.0.1';

export interface OpenVpnServerOptions {
  topo: Topology;
  pki: TestPki;
  proto: 'udp' | 'tcp';
  port?: number;                          // default 1194
  tlsAuth?: boolean;                      // pki.tlsAuth, key direction 0
  tlsCrypt?: boolean;                     // pki.tlsCrypt
  dataCiphers?: string;
  /** Kernel forwarding + MASQUERADE in srv (default true). */
  forward?: boolean;
  extra?: string[];
  timeoutMs?: number;                     // startup bound, default 20 s
}

export interface OpenVpnServer {
  readonly proc: Proc;
  readonly config: string;
  readonly configPath: string;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
}

/** The testbed's baseline server config (shared by OpenVPN and nanovpn), naming its files as given. */
export function baselineConfig(o: {
  proto: 'udp' | 'tcp'; port?: number; files: { ca: string; cert: string; key: string; tlsAuth: string; tlsCrypt: string };
  tlsAuth?: boolean; tlsCrypt?: boolean; dataCiphers?: string; extra?: string[];
}): string {
  const lines = [
    `port ${o.port ?? 1194}`,
    `proto ${o.proto === 'tcp' ? 'tcp-server' : 'udp'}`,
    'dev tun',
    'topology subnet',
    'server 10.8.0.0 255.255.255.0',
    `ca ${o.files.ca}`,
    `cert ${o.files.cert}`,
    `key ${o.files.key}`,
    'dh none',
    'keepalive 10 60',
    'push "route 198.18.0.0 255.255.255.0"',
    'client-to-client',
    'verb 3',
  ];
  if (o.tlsAuth) lines.push(`tls-auth ${o.files.tlsAuth} 0`);
  if (o.tlsCrypt) lines.push(`tls-crypt ${o.files.tlsCrypt}`);
  if (o.dataCiphers) lines.push(`data-ciphers ${o.dataCiphers}`);
  lines.push(...(o.extra ?? []));
  return lines.join('\n') + '\n';
}

/** The baseline config with the files of pki. */
export function baselineServerConfig(o: OpenVpnServerOptions): string {
  const p = o.pki;
  return baselineConfig({
    ...o,
    files: { ca: p.ca.certPath, cert: p.server.certPath, key: p.server.keyPath, tlsAuth: p.tlsAuth.path, tlsCrypt: p.tlsCrypt.path },
  });
}

export async function startOpenVpnServer(o: OpenVpnServerOptions): Promise<OpenVpnServer> {
  if (o.forward ?? true) await o.topo.enableForwarding({ masquerade: VPN_NET });
  const dir = o.topo.tempDir('ovpn-srv');
  const config = baselineServerConfig(o);
  const configPath = join(dir, 'server.conf');
  writeFileSync(configPath, config, { mode: 0o600 });
  const proc = o.topo.spawn('srv', ['openvpn', '--config', configPath], { name: `openvpn-server(${o.proto})`, cwd: dir });
  await proc.waitForLine(/Initialization Sequence Completed/, o.timeoutMs ?? 20_000,
    { failOn: /Exiting due to fatal error|Options error|Cannot load/ });
  return { proc, config, configPath, stop: (signal = 'SIGTERM', graceMs = 5000) => proc.kill(signal, graceMs) };
}
