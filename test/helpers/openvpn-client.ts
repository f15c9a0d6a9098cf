// Debian's openvpn 2.6 as a client inside a client namespace.
//
//   const c = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
//   await c.waitInitialized();            // "Initialization Sequence Completed"; rejects early with the log tail
//                                         // on AUTH_FAILED, TLS Error, SIGTERM, fatal/option errors, or exit
//   await c.tunAddress();                 // e.g. '10.8.0.2' (dev tun only)
//   await c.stop();                       // SIGTERM, SIGKILL after graceMs
// The process also belongs to the topology, so topo.destroy() kills it if the test does not.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeName, Proc, Topology, ExitInfo } from './netns.js';
import type { CertKey, TestPki } from './pki.js';

export interface OpenVpnClientOptions {
  topo: Topology;
  node: NodeName;
  proto: 'udp' | 'tcp';
  remote: string;
  port?: number;                         // default 1194
  dev?: 'tun' | 'null';                  // default tun; null = no interface (handshake + keepalive only)
  pki: TestPki;
  /** Which client cert of pki to use (default 'client1'); or pass `cert` to use any CertKey. */
  cn?: string;
  cert?: CertKey;
  /** Omit the client cert and key entirely (for auth-user-pass-only servers). */
  noCert?: boolean;
  /** 'inline' (default) puts <ca>/<cert>/<key> blocks in the config; 'files' references pki's files. */
  certs?: 'inline' | 'files';
  tlsAuth?: { direction?: 0 | 1 };       // uses pki.tlsAuth; key-direction defaults to 1 (client side)
  tlsCrypt?: boolean;                    // uses pki.tlsCrypt
  cipher?: string;
  dataCiphers?: string;
  explicitExitNotify?: number;           // UDP only
  /** Bind to this local port instead of nobind (the client's restarts then come from the same address). */
  lport?: number;
  authUserPass?: { username: string; password: string };
  /** More config lines, appended verbatim. */
  extra?: string[];
  name?: string;                         // process label in logs
}

export interface OpenVpnClient {
  readonly proc: Proc;
  readonly configPath: string;
  readonly config: string;
  waitInitialized(opts?: { timeoutMs?: number; failOn?: RegExp }): Promise<void>;
  /** The tun device name openvpn opened (from its log). */
  tunDevice(): string;
  /** The IPv4 address on the client's tun device. */
  tunAddress(): Promise<string>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
}

export const CLIENT_FAILURE = /AUTH_FAILED|TLS Error|SIGTERM|Exiting due to fatal error|Options error|Cannot load|VERIFY ERROR/;

function block(tag: string, body: string): string {
  return `<${tag}>\n${body.trim()}\n</${tag}>`;
}

export function clientConfig(o: OpenVpnClientOptions): string {
  const lines = [
    'client',
    `dev ${o.dev ?? 'tun'}`,
    `proto ${o.proto === 'tcp' ? 'tcp-client' : 'udp'}`,
    `remote ${o.remote} ${o.port ?? 1194}`,
    o.lport === undefined ? 'nobind' : `lport ${o.lport}`,
    'remote-cert-tls server',
    'verb 3',
  ];
  // With dev null, applying the pushed ifconfig/routes/MTU to an interface named "null" is a fatal error.
  if (o.dev === 'null') lines.push('ifconfig-noexec', 'route-noexec');
  const cert = o.cert ?? o.pki.clients[o.cn ?? 'client1'];
  if (!o.noCert && !cert) throw new Error(`pki has no client cert '${o.cn ?? 'client1'}'`);
  const files = o.certs === 'files';
  lines.push(files ? `ca ${o.pki.ca.certPath}` : block('ca', o.pki.ca.cert));
  if (!o.noCert && cert) {
    lines.push(files ? `cert ${cert.certPath}` : block('cert', cert.cert));
    lines.push(files ? `key ${cert.keyPath}` : block('key', cert.key));
  }
  if (o.tlsAuth) {
    const dir = o.tlsAuth.direction ?? 1;
    if (files) lines.push(`tls-auth ${o.pki.tlsAuth.path} ${dir}`);
    else lines.push(`key-direction ${dir}`, block('tls-auth', o.pki.tlsAuth.text));
  }
  if (o.tlsCrypt) lines.push(files ? `tls-crypt ${o.pki.tlsCrypt.path}` : block('tls-crypt', o.pki.tlsCrypt.text));
  if (o.cipher) lines.push(`cipher ${o.cipher}`);
  if (o.dataCiphers) lines.push(`data-ciphers ${o.dataCiphers}`);
  if (o.explicitExitNotify !== undefined) lines.push(`explicit-exit-notify ${o.explicitExitNotify}`);
  lines.push(...(o.extra ?? []));
  return lines.join('\n') + '\n';
}

export function startOpenVpnClient(o: OpenVpnClientOptions): OpenVpnClient {
  const dir = o.topo.tempDir(`ovpn-${o.node}`);
  let config = clientConfig(o);
  if (o.authUserPass) {
    const pass = join(dir, 'auth.txt');
    writeFileSync(pass, `${o.authUserPass.username}\n${o.authUserPass.password}\n`, { mode: 0o600 });
    config += `auth-user-pass ${pass}\n`;
  }
  const configPath = join(dir, 'client.conf');
  writeFileSync(configPath, config, { mode: 0o600 });
  const proc = o.topo.spawn(o.node, ['openvpn', '--config', configPath], { name: o.name ?? `openvpn-client@${o.node}`, cwd: dir });

  const tunDevice = (): string => {
    const m = /TUN\/TAP device (\S+) opened/.exec(proc.output);
    if (!m) throw new Error(`${proc.name}: no tun device in the log yet`);
    return m[1]!;
  };
  return {
    proc, configPath, config,
    async waitInitialized({ timeoutMs = 30_000, failOn = CLIENT_FAILURE } = {}) {
      await proc.waitForLine(/Initialization Sequence Completed/, timeoutMs, { failOn });
    },
    tunDevice,
    async tunAddress() {
      const r = await o.topo.exec(o.node, ['ip', '-4', '-o', 'addr', 'show', 'dev', tunDevice()]);
      const m = /inet (\d+\.\d+\.\d+\.\d+)[ /]/.exec(r.stdout);   // "inet A/24", or "inet A peer B/32" (net30, p2p)
      if (!m) throw new Error(`${proc.name}: no IPv4 address on ${tunDevice()}: ${r.stdout.trim()}`);
      return m[1]!;
    },
    stop: (signal = 'SIGTERM', graceMs = 5000) => proc.kill(signal, graceMs),
  };
}
