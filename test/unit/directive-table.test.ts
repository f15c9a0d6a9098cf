import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIRECTIVES, directiveRule, ignoredText, refusalText } from '../../src/config/directive-table.js';
import { REFERENCE_END, REFERENCE_START, renderDirectiveReference, withDirectiveReference } from '../../src/config/directive-reference.js';
import { buildServerConfig, HANDLED_DIRECTIVES } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

const repo = new URL('../../', import.meta.url);
const OPENVPN_NAMES = readFileSync(new URL('test/data/openvpn-2.6-directives.txt', repo), 'utf8')
  .split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const rows = Object.entries(DIRECTIVES);
const withStatus = (s: string): string[] => rows.filter(([, r]) => r.status === s).map(([n]) => n);
const withOrigin = (o: string): string[] => rows.filter(([, r]) => r.status === 'implemented' && r.origin === o).map(([n]) => n);

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });
const src = (): string => join(fx.dir, 'server.conf');
const build = (extra: string) => buildServerConfig(STOCK_CONFIG + extra, src(), fx.dir);
function refusal(extra: string): ConfigError {
  try { build(extra); } catch (e) { if (e instanceof ConfigError) return e; throw e; }
  assert.fail(`accepted: ${extra}`);
}

test('the names file holds the man page and options.c sections of OpenVPN 2.6, each name once', () => {
  assert.ok(OPENVPN_NAMES.length > 300, `${OPENVPN_NAMES.length} names`);
  assert.equal(new Set(OPENVPN_NAMES).size, OPENVPN_NAMES.length);
  for (const n of ['tls-crypt-v2', 'ns-cert-type', 'win-sys', 'remote', 'ncp-ciphers', 'connection']) assert.ok(OPENVPN_NAMES.includes(n), n);
});

test('every OpenVPN 2.6 directive has a row; every other row is one of 2.7\'s or nanovpn\'s own', () => {
  assert.deepEqual(OPENVPN_NAMES.filter((n) => directiveRule(n) === undefined), []);
  const names = new Set(OPENVPN_NAMES);
  const notOpenvpn = rows.filter(([n]) => !names.has(n));
  const ownOr27 = (r: (typeof rows)[number][1]) => r.status === 'implemented' && (r.origin === 'nanovpn' || r.origin === 'openvpn-2.7');
  assert.deepEqual(notOpenvpn.filter(([, r]) => !ownOr27(r)).map(([n]) => n), []);
  assert.deepEqual(rows.filter(([n, r]) => ownOr27(r) && names.has(n)).map(([n]) => n), []);
  assert.deepEqual(withOrigin('openvpn-2.7'), ['allow-deprecated-insecure-static-crypto']);
});

test('the implemented rows are exactly the directives server-config.ts has handlers for', () => {
  assert.deepEqual([...HANDLED_DIRECTIVES].sort(), withStatus('implemented').sort());
});

test('every ignored row says what changes; every refused row says why and what to do instead', () => {
  for (const [n, r] of rows) {
    if (r.status === 'ignored') assert.ok(r.effect.length > 10, n);
    if (r.status === 'refused') { assert.ok(r.reason.length > 10, n); assert.ok(r.instead.length > 8, n); }
  }
});

test('a config with every ignored directive starts, with one warning each, however often it appears', () => {
  const ignored = withStatus('ignored');
  logs = [];
  const c = build(ignored.map((n) => `${n} 1\n`).join('') + 'user nobody\nmute 20\n');
  assert.equal(c.port, 1194);
  const warns = logs.filter((l) => / WARN config: /.test(l));
  assert.equal(warns.length, ignored.length, warns.join('\n'));
  for (const n of ignored) {
    const rule = DIRECTIVES[n]!;
    assert.ok(rule.status === 'ignored');
    assert.equal(warns.filter((l) => l.includes(`config: ${ignoredText(n, rule)} file=`)).length, 1, n);
  }
});

test('each refused directive stops startup with file:line, its name, the reason and the alternative', () => {
  const line = STOCK_CONFIG.split('\n').length;
  for (const n of withStatus('refused')) {
    const rule = DIRECTIVES[n]!;
    assert.ok(rule.status === 'refused');
    const e = refusal(`${n} x\n`);
    assert.equal(e.line, line, n);
    assert.equal(e.reason, refusalText(n, rule));
    assert.ok(e.reason.startsWith(`'${n}' is not supported by nanovpn: `) && e.reason.includes(rule.reason) && e.reason.endsWith(rule.instead), e.reason);
  }
  assert.equal(refusal('ns-cert-type client\n').message,
    `${src()}:${line}: 'ns-cert-type' is not supported by nanovpn: removed in OpenVPN 2.5: TLS libraries no longer support ` +
    "the nsCertType field; use 'remote-cert-tls client' (reissue certificates that lack key usage fields)");
  assert.match(refusal('<connection>\nremote x\n</connection>\n').reason, /^'connection' is not supported by nanovpn: <connection> blocks/);
});

test('a name OpenVPN 2.6 does not know is an unknown directive', () => {
  for (const n of ['frobnicate', 'setenv-opt', 'constructor']) {
    assert.equal(directiveRule(n), undefined, n);
    assert.equal(refusal(`${n} 1\n`).reason, `unknown directive '${n}'`);
  }
});

test("README's directive reference is the one rendered from the table", () => {
  const readme = readFileSync(new URL('README.md', repo), 'utf8');
  const inReadme = readme.slice(readme.indexOf(REFERENCE_START) + REFERENCE_START.length + 1, readme.indexOf(REFERENCE_END));
  assert.equal(inReadme, renderDirectiveReference() + '\n', 'README.md is stale: run npm run readme:directives');
  assert.equal(withDirectiveReference(readme), readme);
  assert.throws(() => withDirectiveReference('# no markers\n'), /lacks the directive reference markers/);
});

test('the rendered reference lists every row once, under its status', () => {
  const text = renderDirectiveReference();
  for (const [n, r] of rows) {
    const at = [...text.matchAll(new RegExp(`\`${n.replace(/[-]/g, '\\-')}\``, 'g'))].map((m) => m.index);
    assert.equal(at.length, 1, n);
    const section = text.lastIndexOf('### ', at[0]);
    const heading = text.slice(section, text.indexOf('\n', section));
    assert.equal(heading, { implemented: '### Supported', ignored: '### Accepted and ignored', refused: '### Not supported' }[r.status], n);
  }
});
