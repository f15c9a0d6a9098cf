// `nanovpn serve` with no config: a development setup in a state folder (default ./state), made on the first run
// and reused afterwards. Layout:
//   STATE/pki/            the built-in CA (src/pki/store.ts): CA, server cert, clients alice and bob, tls-crypt key
//   STATE/server.conf     UDP and TCP on one port, tls-crypt, crl-verify, client-to-client, NAT uplink
//   STATE/alice.ovpn      client profiles with everything inline
//   STATE/bob.ovpn
// server.conf is written last: while it is missing the setup is unfinished, and the next run completes it without
// replacing anything already there. Keys are never regenerated.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/server-config.js';
import { writeAtomic } from '../pki/fsutil.js';
import { buildProfile, checkPort, checkRemote } from '../pki/profile.js';
import { initPki, issue, paths, writeTlsCrypt } from '../pki/store.js';
import { parseFlags, reportError, UsageError } from './pki-args.js';

export const DEFAULT_STATE_DIR = 'state';
export const DEV_CLIENTS = ['alice', 'bob'] as const;
const DEFAULT_PORT = 1194;
const USAGE = 'nanovpn serve [--state DIR] [--remote HOST] [--port N]';

export interface DevSetupOptions {
  stateDir: string;
  /** Host the profiles connect to; default: the first non-internal IPv4 address, else 127.0.0.1. */
  remote?: string;
  /** Server port on first run (and the profiles' port); default 1194. */
  port?: number;
}

export interface DevSetup {
  configPath: string;
  created: boolean;
  profiles: string[];
  caFingerprint: string;
  /** What was done, for the operator, one line each. */
  report: string[];
}

/** The first non-internal IPv4 address of this machine, or 127.0.0.1. */
export function defaultRemote(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** A nameserver from /etc/resolv.conf that a client could use through the tunnel (not loopback or link-local). */
function hostNameserver(): string | undefined {
  let text: string;
  try { text = readFileSync('/etc/resolv.conf', 'utf8'); } catch { return undefined; }
  for (const m of text.matchAll(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)) {
    const ip = m[1]!;
    if (!ip.startsWith('127.') && !ip.startsWith('169.254.') && ip !== '0.0.0.0') return ip;
  }
  return undefined;
}

export function devServerConfig(port: number, nameserver?: string): string {
  return [
    '# nanovpn development setup, written by `nanovpn serve` on its first run. Edit freely: it is not rewritten.',
    '# Certificates and keys: pki/ next to this file (`nanovpn pki issue|revoke --dir THIS_FOLDER/pki ...`).',
    '# Relative paths below are relative to this file.',
    `port ${port}`,
    'proto udp',
    'proto tcp-server        # several proto lines: nanovpn serves both on the same port',
    'dev tun',
    'topology subnet',
    'server 10.8.0.0 255.255.255.0',
    'ca pki/ca.crt',
    'cert pki/issued/server.crt',
    'key pki/private/server.key',
    'dh none',
    'tls-crypt pki/tc.key',
    'crl-verify pki/crl.pem  # re-read when `nanovpn pki revoke` rewrites it',
    'keepalive 10 60',
    'client-to-client',
    'ifconfig-pool-persist ipp.txt',
    'uplink nat              # client traffic leaves through this process\'s own sockets (no root, no tun)',
    'verb 3',
    '# Full tunnel: send all client traffic through the VPN, and then a DNS server the clients can reach through it.',
    '# Not on by default: a client on this same machine would route the server\'s own traffic into its tunnel.',
    '# push "redirect-gateway def1"',
    `# push "dhcp-option DNS ${nameserver ?? '1.1.1.1'}"`,
    '',
  ].join('\n');
}

function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** Creates what is missing in `stateDir` (nothing, when the setup is complete) and returns the config to serve. */
export async function ensureDevSetup(o: DevSetupOptions): Promise<DevSetup> {
  const state = resolve(o.stateDir);
  if (existsSync(state) && !statSync(state).isDirectory()) throw new UsageError(`--state ${state} exists and is not a directory`);
  const configPath = join(state, 'server.conf');
  const pkiDir = join(state, 'pki');
  const p = paths(pkiDir);
  const report: string[] = [];
  const created = !existsSync(configPath);
  let port: number;
  if (created) {
    port = checkPort(o.port ?? DEFAULT_PORT);
    mkdirSync(state, { recursive: true, mode: 0o700 });
    if (!existsSync(p.caCrt)) await initPki(pkiDir);
    const wanted: [string, 'server' | 'client'][] = [['server', 'server'], ...DEV_CLIENTS.map((c): [string, 'client'] => [c, 'client'])];
    for (const [name, kind] of wanted) if (!existsSync(p.crt(name))) await issue(pkiDir, { name, kind });
    if (!existsSync(p.tc)) writeTlsCrypt(pkiDir);
    report.push(`created a CA, a server certificate, client certificates ${DEV_CLIENTS.join(' and ')} and a tls-crypt key in ${pkiDir}`);
    writeAtomic(configPath, devServerConfig(port, hostNameserver()), 0o600);
    report.push(`wrote ${configPath} (udp and tcp on port ${port}, VPN 10.8.0.0/24, server address 10.8.0.1)`);
  } else {
    // An existing setup decides its own port; the config may have been edited by hand.
    port = loadConfig(configPath).port;
    if (o.port !== undefined && o.port !== port) {
      throw new UsageError(`--port ${o.port} differs from 'port ${port}' in ${configPath}; edit that file to change the port`);
    }
    report.push(`using the existing setup in ${state} (port ${port})`);
  }
  const remote = checkRemote(o.remote ?? defaultRemote());
  const profiles: string[] = [];
  for (const name of DEV_CLIENTS) {
    const file = join(state, `${name}.ovpn`);
    profiles.push(file);
    // Profiles are rebuilt from the existing keys when missing or when the operator names a remote.
    if (existsSync(file) && o.remote === undefined) continue;
    if (!existsSync(p.crt(name))) { report.push(`no profile for ${name}: its certificate is gone (revoked?)`); continue; }
    writeAtomic(file, buildProfile(pkiDir, { name, remote, port, proto: 'udp' }), 0o600);
    report.push(`wrote client profile ${file} (remote ${remote} ${port})`);
  }
  return { configPath, created, profiles, caFingerprint: fingerprint(readFileSync(p.caCrt, 'utf8')), report };
}

/** How to connect, for the operator. */
export function connectHint(s: DevSetup): string[] {
  const first = s.profiles.find((f) => existsSync(f));
  if (!first) return [];
  return [
    'connect a client (openvpn needs root to create its tun device):',
    `  sudo openvpn --config ${first}`,
    `  over TCP: sudo openvpn --config ${first} --proto tcp-client`,
  ];
}

/** Parses --state/--remote/--port, makes or reuses the setup, prints what it did; returns the config path, or an
 *  exit code on error. */
export async function devSetup(args: string[]): Promise<string | number> {
  try {
    const { values } = parseFlags(args, { state: { type: 'string' }, remote: { type: 'string' }, port: { type: 'string' } });
    let port: number | undefined;
    if (values.port !== undefined) {
      if (!/^\d{1,5}$/.test(values.port)) throw new UsageError(`--port must be a number from 1 to 65535, got '${values.port}'`);
      port = checkPort(Number(values.port));
    }
    const s = await ensureDevSetup({ stateDir: values.state ?? DEFAULT_STATE_DIR, remote: values.remote, port });
    const out = [
      s.created ? 'nanovpn: no config given: created a development setup' : 'nanovpn: no config given: development setup',
      ...s.report.map((l) => `  ${l}`),
      `  CA fingerprint (SHA-256): ${s.caFingerprint}`,
      ...connectHint(s),
    ];
    console.log(out.join('\n'));
    return s.configPath;
  } catch (e) {
    return reportError('nanovpn serve', e, USAGE);
  }
}
