// The no-config development setup (src/cli/dev-setup.ts): first run creates, later runs reuse, nothing is regenerated.
import test from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServerConfig } from '../../src/config/server-config.js';
import { setLogSink } from '../../src/log.js';
import { defaultRemote, devServerConfig, ensureDevSetup } from '../../src/cli/dev-setup.js';
import { serve } from '../../src/cli/serve.js';

setLogSink(() => {});

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'nanovpn-dev-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('first run creates PKI, server.conf and two profiles; the config loads with udp and tcp', async (t) => {
  const state = join(tmp(t), 'state');
  const s = await ensureDevSetup({ stateDir: state, remote: '192.0.2.10', port: 11194 });
  assert.equal(s.created, true);
  assert.equal(s.configPath, join(state, 'server.conf'));
  assert.deepEqual(s.profiles, [join(state, 'alice.ovpn'), join(state, 'bob.ovpn')]);
  const cfg = loadServerConfig(s.configPath);
  assert.deepEqual(cfg.protos, ['udp', 'tcp']);
  assert.equal(cfg.port, 11194);
  assert.equal(cfg.uplink, 'nat');
  assert.equal(cfg.clientToClient, true);
  assert.deepEqual(cfg.keepalive, { interval: 10, timeout: 60 });
  assert.ok(cfg.tlsCrypt);
  assert.equal(cfg.crlVerify, join(state, 'pki', 'crl.pem'));
  assert.deepEqual(cfg.push, [], 'no DNS or redirect-gateway pushed by default');
  for (const f of s.profiles) {
    const text = readFileSync(f, 'utf8');
    assert.match(text, /^remote 192\.0\.2\.10 11194$/m);
    assert.match(text, /<tls-crypt>/);
    assert.equal(statSync(f).mode & 0o777, 0o600);
  }
  for (const [i, name] of ['alice', 'bob'].entries()) {
    const pem = /<cert>\n([\s\S]*?)<\/cert>/.exec(readFileSync(s.profiles[i]!, 'utf8'))![1]!;
    assert.equal(new X509Certificate(pem).subject, `CN=${name}`);
  }
  assert.equal(statSync(state).mode & 0o777, 0o700);
  assert.match(s.caFingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
});

test('a second run reuses everything: same keys, same config; --remote rewrites only the profiles', async (t) => {
  const state = join(tmp(t), 'state');
  const first = await ensureDevSetup({ stateDir: state, remote: '192.0.2.10' });
  const snapshot = (f: string) => readFileSync(join(state, f), 'utf8');
  const before = ['pki/ca.key', 'pki/ca.crt', 'pki/private/server.key', 'pki/private/alice.key', 'pki/tc.key', 'server.conf', 'alice.ovpn'].map((f) => [f, snapshot(f)]);
  const again = await ensureDevSetup({ stateDir: state });
  assert.equal(again.created, false);
  assert.equal(again.caFingerprint, first.caFingerprint);
  for (const [f, text] of before) assert.equal(snapshot(f!), text, `${f} changed`);
  await ensureDevSetup({ stateDir: state, remote: 'vpn.example.org' });
  assert.match(snapshot('alice.ovpn'), /^remote vpn\.example\.org 1194$/m);
  assert.equal(snapshot('pki/private/alice.key'), before.find(([f]) => f === 'pki/private/alice.key')![1]);
});

test('an existing setup keeps its port: a different --port is an error', async (t) => {
  const state = join(tmp(t), 'state');
  await ensureDevSetup({ stateDir: state, remote: '127.0.0.1', port: 2000 });
  await assert.rejects(ensureDevSetup({ stateDir: state, port: 2001 }), /--port 2001 differs from 'port 2000'/);
  assert.equal((await ensureDevSetup({ stateDir: state, port: 2000 })).created, false);
});

test('an unfinished setup (no server.conf yet) is completed without replacing existing keys', async (t) => {
  const state = join(tmp(t), 'state');
  await ensureDevSetup({ stateDir: state, remote: '127.0.0.1' });
  const caKey = readFileSync(join(state, 'pki', 'ca.key'), 'utf8');
  unlinkSync(join(state, 'server.conf'));
  unlinkSync(join(state, 'pki', 'issued', 'bob.crt'));
  unlinkSync(join(state, 'pki', 'private', 'bob.key'));
  const s = await ensureDevSetup({ stateDir: state, remote: '127.0.0.1' });
  assert.equal(s.created, true);
  assert.equal(readFileSync(join(state, 'pki', 'ca.key'), 'utf8'), caKey);
  assert.ok(existsSync(join(state, 'pki', 'issued', 'bob.crt')));
});

test('a state path that is a file is refused', async (t) => {
  const f = join(tmp(t), 'file');
  writeFileSync(f, 'x');
  await assert.rejects(ensureDevSetup({ stateDir: f }), /not a directory/);
});

test('defaultRemote is an IPv4 address; the config text pushes nothing and has a commented DNS hint', () => {
  assert.match(defaultRemote(), /^\d+\.\d+\.\d+\.\d+$/);
  const text = devServerConfig(1194, '192.0.2.53');
  assert.match(text, /^# push "dhcp-option DNS 192\.0\.2\.53"$/m);
  assert.doesNotMatch(text, /^push /m);
});

test('serve refuses --state together with --config, and unknown arguments', async (t) => {
  const errs: string[] = [];
  t.mock.method(console, 'error', (...a: unknown[]) => { errs.push(a.join(' ')); });
  assert.equal(await serve(['--config', '/nonexistent.conf', '--state', '/tmp/x']), 2);
  assert.match(errs.pop()!, /--state only apply without a config/);
  assert.equal(await serve(['--bogus']), 2);
  assert.match(errs.pop()!, /unknown argument '--bogus'/);
});

test('serve: options without a config are the development setup\'s only; any other one is refused', async (t) => {
  const errs: string[] = [];
  t.mock.method(console, 'error', (...a: unknown[]) => { errs.push(a.join(' ')); });
  assert.equal(await serve(['--state', '/tmp/x', '--verb', '4']), 2);
  assert.match(errs.pop()!, /unknown argument '--verb' without a config/);
  assert.equal(await serve(['server.conf']), 2);
  assert.match(errs.pop()!, /'server\.conf' is not an option/);
});
