// End to end for the built-in PKI: a CA, server and client certs and a tls-crypt key made by `nanovpn pki`, and
// client profiles made by `nanovpn profile`, used unchanged (except `dev null`) by Debian openvpn 2.6 as client
// against Debian openvpn 2.6 as server on 127.0.0.1, over UDP and TCP. A revoked client is refused by the server's
// crl-verify. Every openvpn process is bounded by a deadline and killed by PID in a finally block.
import { test, before, after, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pki } from '../../src/cli/pki.js';
import { profile } from '../../src/cli/profile.js';

const haveOpenvpn = spawnSync('openvpn', ['--version'], { timeout: 10_000 }).status !== null &&
  /OpenVPN 2\.6/.test(spawnSync('openvpn', ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '');

let dir: string;
let D: string;

/** Runs a CLI command function, returning its exit code and what it printed. */
async function cli(fn: (a: string[]) => Promise<number | undefined>, args: string[]): Promise<string> {
  let out = '', err = '';
  const log = mock.method(console, 'log', (...a: unknown[]) => { out += a.join(' ') + '\n'; });
  const error = mock.method(console, 'error', (...a: unknown[]) => { err += a.join(' ') + '\n'; });
  let code: number | undefined;
  try { code = await fn(args); } finally { log.mock.restore(); error.mock.restore(); }
  assert.equal(code, 0, `${args.join(' ')}: ${err}`);
  return out;
}

async function freePort(proto: 'udp' | 'tcp'): Promise<number> {
  if (proto === 'tcp') {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
    return port;
  }
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

class Ovpn {
  readonly child: ChildProcess;
  log = '';
  exited = false;
  private waiters = new Set<() => void>();

  constructor(readonly name: string, configPath: string) {
    this.child = spawn('openvpn', ['--config', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const add = (b: Buffer) => { this.log += b.toString(); for (const w of this.waiters) w(); };
    this.child.stdout!.on('data', add);
    this.child.stderr!.on('data', add);
    this.child.on('exit', () => { this.exited = true; for (const w of this.waiters) w(); });
  }

  /** Resolves with the matching line; rejects on `failOn`, on exit, or after `ms`, quoting the log. */
  waitFor(re: RegExp, ms: number, failOn?: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = re.exec(this.log);
        const bad = failOn?.exec(this.log);
        if (hit) done(() => resolve(hit[0]));
        else if (bad) done(() => reject(new Error(`${this.name}: '${bad[0]}'\n${this.tail()}`)));
        else if (this.exited) done(() => reject(new Error(`${this.name} exited before ${re}\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${this.name}: no ${re} within ${ms} ms\n${this.tail()}`))), ms);
      const done = (f: () => void) => { clearTimeout(timer); this.waiters.delete(check); f(); };
      this.waiters.add(check);
      check();
    });
  }

  tail(): string { return this.log.split('\n').slice(-25).map((l) => `  [${this.name}] ${l}`).join('\n'); }

  /** SIGTERM by PID, SIGKILL by PID if it is still there after a grace period. */
  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const pid = this.child.pid;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    try { process.kill(pid, 'SIGTERM'); } catch { return; }
    const timer = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }, 5000);
    await gone;
    clearTimeout(timer);
  }
}

function serverConfig(proto: 'udp' | 'tcp', port: number): string {
  // Point-to-point TLS server: `mode server` needs a tun/tap device, this one runs with `dev null`.
  const path = join(dir, `server-${proto}.conf`);
  writeFileSync(path, [
    'tls-server',
    `proto ${proto === 'tcp' ? 'tcp-server' : 'udp'}`,
    'local 127.0.0.1',
    `port ${port}`,
    'dev null',
    `ca ${join(D, 'ca.crt')}`,
    `cert ${join(D, 'issued', 'server.crt')}`,
    `key ${join(D, 'private', 'server.key')}`,
    'dh none',
    `tls-crypt ${join(D, 'tc.key')}`,
    `crl-verify ${join(D, 'crl.pem')}`,
    'verb 3',
    '',
  ].join('\n'));
  return path;
}

async function clientConfig(name: string, proto: 'udp' | 'tcp', port: number): Promise<string> {
  const ovpn = await cli(profile, ['--dir', D, '--name', name, '--remote', '127.0.0.1', '--port', String(port), '--proto', proto]);
  assert.equal(ovpn.match(/^dev tun$/gm)?.length, 1);
  const path = join(dir, `${name}-${proto}.ovpn`);
  writeFileSync(path, ovpn.replace(/^dev tun$/m, 'dev null'), { mode: 0o600 });
  return path;
}

const CLIENT_FAIL = /VERIFY ERROR|TLS Error|Options error|Exiting due to fatal error|AUTH_FAILED/;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nanovpn-pki-ovpn-'));
  D = join(dir, 'pki');
  await cli(pki, ['init', '--dir', D, '--cn', 'Integration CA']);
  await cli(pki, ['issue', '--dir', D, '--server', 'server']);
  await cli(pki, ['issue', '--dir', D, '--client', 'alice']);
  await cli(pki, ['issue', '--dir', D, '--client', 'mallory']);
  await cli(pki, ['tls-crypt', '--dir', D]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const proto of ['udp', 'tcp'] as const) {
  test(`openvpn 2.6 client with a nanovpn profile connects to openvpn 2.6 server (${proto})`, { timeout: 90_000 }, async (t: TestContext) => {
    if (!haveOpenvpn) return t.skip('openvpn 2.6 is not installed; run test/install-deps.sh');
    const port = await freePort(proto);
    const procs: Ovpn[] = [];
    try {
      const srv = new Ovpn(`server-${proto}`, serverConfig(proto, port));
      procs.push(srv);
      await srv.waitFor(proto === 'udp' ? /UDPv4 link local \(bound\)/ : /Listening for incoming TCP connection/, 20_000, /Exiting due to fatal error|Options error/);
      const alice = new Ovpn(`alice-${proto}`, await clientConfig('alice', proto, port));
      procs.push(alice);
      await alice.waitFor(/Initialization Sequence Completed/, 30_000, CLIENT_FAIL);
      // remote-cert-tls server checked the server certificate's key usage and EKU.
      assert.match(alice.log, /VERIFY KU OK/);
      assert.match(alice.log, /VERIFY EKU OK/);
      assert.match(alice.log, /VERIFY OK: depth=0, CN=server/);
      await srv.waitFor(/\[alice\] Peer Connection Initiated/, 10_000);
    } finally {
      for (const p of procs.reverse()) await p.stop();
    }
  });
}

test('a client revoked with `nanovpn pki revoke` is refused by openvpn crl-verify; others still connect', { timeout: 120_000 }, async (t: TestContext) => {
  if (!haveOpenvpn) return t.skip('openvpn 2.6 is not installed; run test/install-deps.sh');
  const port = await freePort('udp');
  const malloryConf = await clientConfig('mallory', 'udp', port);   // made while mallory was still valid
  await cli(pki, ['revoke', '--dir', D, 'mallory']);
  const aliceConf = await clientConfig('alice', 'udp', port);
  const procs: Ovpn[] = [];
  try {
    const srv = new Ovpn('server-crl', serverConfig('udp', port));
    procs.push(srv);
    await srv.waitFor(/UDPv4 link local \(bound\)/, 20_000, /Exiting due to fatal error|Options error/);
    assert.match(srv.log, /CRL: loaded 1 CRLs from file/);

    const mallory = new Ovpn('mallory', malloryConf);
    procs.push(mallory);
    await srv.waitFor(/VERIFY ERROR: depth=0, error=certificate revoked: CN=mallory/, 30_000);
    await mallory.stop();
    assert.doesNotMatch(mallory.log, /Initialization Sequence Completed/);
    assert.doesNotMatch(srv.log, /\[mallory\] Peer Connection Initiated/);

    const alice = new Ovpn('alice-after-revoke', aliceConf);
    procs.push(alice);
    await alice.waitFor(/Initialization Sequence Completed/, 60_000, /VERIFY ERROR|Options error|Exiting due to fatal error/);
    await srv.waitFor(/\[alice\] Peer Connection Initiated/, 10_000);
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
});
