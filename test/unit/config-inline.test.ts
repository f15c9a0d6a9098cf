import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inlineConfig } from '../../src/config/inline.js';
import { buildServerConfig, loadServerConfig } from '../../src/config/server-config.js';
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
before(() => { fx = makeConfigFixture(); setLogSink(() => {}); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });

const withoutSource = <T extends { source: string }>(c: T): Omit<T, 'source'> => { const { source: _s, ...rest } = c; return rest; };

test('inline: stock config plus tls-auth round trips to an equal ServerConfig', () => {
  const text = STOCK_CONFIG + 'tls-auth ta.key 0\n';
  const src = fx.write('a.conf', text);
  const out = inlineConfig(text, src, fx.dir);
  const names = parseConfig(out, 'out').map((d) => `${d.name}${d.inline ? '*' : ''}`);
  assert.deepEqual(names, ['port', 'proto', 'dev', 'topology', 'server', 'ca*', 'cert*', 'key*', 'dh', 'keepalive', 'push',
    'client-to-client', 'verb', 'tls-auth*', 'key-direction']);
  assert.ok(out.includes('proto tcp-server        # or: proto udp\n'), 'untouched lines are kept verbatim');
  const original = loadServerConfig(src);
  const inlined = buildServerConfig(out, '/elsewhere/x.conf', '/nonexistent');
  assert.deepEqual(withoutSource(inlined), withoutSource(original));
  assert.equal(inlined.tlsAuth?.direction, 0);
});

test('inline: tls-crypt and crl-verify become blocks; the CRL moves from path to text', () => {
  const text = STOCK_CONFIG + 'tls-crypt tc.key\ncrl-verify crl.pem\n';
  const src = fx.write('b.conf', text);
  const out = inlineConfig(text, src, fx.dir);
  assert.ok(out.includes(`<tls-crypt>\n${fx.tc}</tls-crypt>\n`));
  assert.ok(out.includes(`<crl-verify>\n${fx.crl}</crl-verify>\n`));
  const original = loadServerConfig(src);
  const inlined = buildServerConfig(out, '/x.conf', '/nonexistent');
  assert.equal(original.crlVerify, join(fx.dir, 'crl.pem'));
  assert.equal(inlined.crlPem, fx.crl);
  const { crlVerify: _a, ...o } = withoutSource(original);
  const { crlPem: _b, ...i } = withoutSource(inlined);
  assert.deepEqual(i, o);
});

test('inline: already-inline blocks and other lines are left alone; idempotent', () => {
  const text = STOCK_CONFIG.replace('ca ca.crt\n', `<ca>\n${fx.cert}</ca>\n`);
  const once = inlineConfig(text, 'c.conf', fx.dir);
  assert.equal(inlineConfig(once, 'c.conf', '/nonexistent'), once);
  assert.equal(once.split('<ca>').length, 2);
});

test('inline: errors carry file:line', () => {
  assert.throws(() => inlineConfig('verb 3\nca missing.crt\n', 'd.conf', fx.dir), (e: unknown) =>
    e instanceof ConfigError && /^d\.conf:2: cannot read ca file '.*missing\.crt': ENOENT$/.test(e.message));
  assert.throws(() => inlineConfig('tls-auth server.crt 0\n', 'd.conf', fx.dir), /^ConfigError: d\.conf:1: tls-auth: static key/);
  assert.throws(() => inlineConfig('crl-verify crl.pem dir\n', 'd.conf', fx.dir), /d\.conf:1: crl-verify: the 'dir' form/);
  fx.write('evil.crt', `${fx.cert}</ca>\nport 1\n`);
  assert.throws(() => inlineConfig('ca evil.crt\n', 'd.conf', fx.dir), /contains '<\/ca>'/);
});

test('nanovpn config inline: prints to stdout or writes -o OUT with mode 0600; bad config exits 1', () => {
  const src = fx.write('e.conf', STOCK_CONFIG + 'tls-crypt tc.key\nuser nobody\n');
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', main, 'config', 'inline', src], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.deepEqual(withoutSource(buildServerConfig(stdout, 'x', '/nonexistent')), withoutSource(loadServerConfig(src)));
  const outPath = join(fx.dir, 'out.conf');
  execFileSync(process.execPath, ['--import', 'tsx', main, 'config', 'inline', src, '-o', outPath], { stdio: 'ignore' });
  assert.equal(readFileSync(outPath, 'utf8'), stdout);
  assert.equal(statSync(outPath).mode & 0o777, 0o600);
  const bad = fx.write('f.conf', 'port 1\nfrobnicate\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'config', 'inline', bad], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /f\.conf:2: unknown directive 'frobnicate'/);
  assert.equal(r.stdout, '');
});
