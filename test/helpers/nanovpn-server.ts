// Our server, `node dist/nanovpn.js serve --config FILE`, inside srv. Build first (npm test does).
//
//   const s = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp' }) });
//   await s.waitForLine(/Initialization Sequence Completed/, 10_000);
//   await s.stop();                      // SIGTERM, SIGKILL after graceMs; resolves with the exit status
// The config is written to a temp dir that is also the working directory; with `pki`, the files ca.crt,
// server.crt, server.key, ta.key (tls-auth) and tc.key (tls-crypt) are copied there, so a config can name them
// relatively, as nanovpnConfig() does. `files` adds more (name -> content). The log stays in s.proc and is
// printed by withTopology() when the test fails.
import { existsSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExitInfo, NodeName, Proc, Topology } from './netns.js';
import type { TestPki } from './pki.js';
import { baselineConfig } from './openvpn-server.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = join(REPO_ROOT, 'dist', 'nanovpn.js');

export interface NanovpnOptions {
  topo: Topology;
  config: string;
  pki?: TestPki;
  files?: Record<string, string>;
  node?: NodeName;                // default 'srv'
  args?: string[];                // extra arguments after `serve --config FILE`
  env?: NodeJS.ProcessEnv;
}

export interface NanovpnServer {
  readonly proc: Proc;
  readonly dir: string;
  readonly configPath: string;
  waitForLine(re: RegExp, timeoutMs: number, opts?: { failOn?: RegExp }): Promise<string>;
  stop(graceMs?: number): Promise<ExitInfo>;
}

/** The testbed's baseline OpenVPN server config, naming the files startNanovpn copies from pki. */
export function nanovpnConfig(o: { proto: 'udp' | 'tcp'; port?: number; tlsAuth?: boolean; tlsCrypt?: boolean; extra?: string[] }): string {
  return baselineConfig({ ...o, files: { ca: 'ca.crt', cert: 'server.crt', key: 'server.key', tlsAuth: 'ta.key', tlsCrypt: 'tc.key' } });
}

export function startNanovpn(o: NanovpnOptions): NanovpnServer {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first`);
  const dir = o.topo.tempDir('nanovpn');
  const files: Record<string, string> = {};
  if (o.pki) {
    Object.assign(files, {
      'ca.crt': o.pki.ca.cert, 'server.crt': o.pki.server.cert, 'server.key': o.pki.server.key,
      'ta.key': o.pki.tlsAuth.text, 'tc.key': o.pki.tlsCrypt.text,
    });
  }
  Object.assign(files, o.files ?? {});
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o600 });
  const configPath = join(dir, 'server.conf');
  writeFileSync(configPath, o.config, { mode: 0o600 });
  const proc = o.topo.spawn(o.node ?? 'srv', [process.execPath, BUNDLE, 'serve', '--config', configPath, ...(o.args ?? [])],
    { name: 'nanovpn', cwd: dir, env: o.env });
  return {
    proc, dir, configPath,
    waitForLine: (re, timeoutMs, opts) => proc.waitForLine(re, timeoutMs, opts),
    stop: (graceMs = 5000) => proc.kill('SIGTERM', graceMs),
  };
}

/** One management command over the unix socket: the reply line after the greeting (SUCCESS: or ERROR:). */
export function managementCommand(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const reply = buf.split('\r\n').slice(0, -1).find((l) => /^(SUCCESS|ERROR):/.test(l));
      if (reply) { s.destroy(); resolve(reply); }
    });
    s.on('connect', () => s.write(`${command}\n`));
    s.on('error', reject);
  });
}
