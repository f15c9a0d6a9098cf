// Static-key mode in the config: secret (file, inline, direction), ifconfig, ping timers, the cipher rule and the
// directives 2.6 refuses alongside secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildConfig, buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { isStaticKeyConfig, type StaticKeyServerConfig } from '../../src/config/types.js';
import { parseStaticKey } from '../../src/config/static-key.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });
const src = (): string => join(fx.dir, 'server.conf');
const BASE = 'dev tun\nproto udp\nifconfig 10.8.0.1 10.8.0.2\nsecret ta.key 0\ncipher AES-256-CBC\nauth SHA256\n';

function build(text: string): StaticKeyServerConfig {
  logs = [];
  const c = buildConfig(text, src(), fx.dir);
  assert.ok(isStaticKeyConfig(c));
  return c;
}
function fails(text: string, re: RegExp, line?: number): void {
  assert.throws(() => buildConfig(text, src(), fx.dir), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.reason, re);
    if (line !== undefined) assert.equal(e.line, line);
    return true;
  });
}

test('the tutorial config: key, direction, addresses, cipher, auth; UDP by default; the 2.6 deprecation warning', () => {
  const c = build(BASE.replace('proto udp\n', ''));
  assert.deepEqual(c.secret.bytes, parseStaticKey(fx.ta));
  assert.equal(c.keyDirection, 0);
  assert.deepEqual(c.ifconfig, { local: 0x0a080001, remote: 0x0a080002 });
  assert.equal(c.cipher, 'AES-256-CBC');
  assert.equal(c.auth, 'SHA256');
  assert.deepEqual(c.protos, ['udp']);
  assert.equal(c.compression, 'none');
  assert.deepEqual([c.ping, c.pingRestart], [0, 0]);
  assert.equal(logs.filter((l) => /WARN config: static-key mode \('secret'\) is deprecated since OpenVPN 2\.6, and 2\.7 refuses it unless 'allow-deprecated-insecure-static-crypto'/.test(l)).length, 1);
  assert.ok(!logs.some((l) => /topology/.test(l)), 'no topology warning in p2p mode');
});

test("2.7's allow-deprecated-insecure-static-crypto turns the warning into a note", () => {
  build(BASE + 'allow-deprecated-insecure-static-crypto\n');
  assert.ok(!logs.some((l) => / WARN .*deprecated/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => / INFO config: static-key mode \(secret\) allowed by allow-deprecated-insecure-static-crypto/.test(l)));
});

test('direction: secret FILE 0|1, key-direction (for an inline block), none = bidirectional; the last one wins', () => {
  assert.equal(build(BASE.replace('ta.key 0', 'ta.key 1')).keyDirection, 1);
  assert.equal(build(BASE.replace('ta.key 0', 'ta.key')).keyDirection, undefined);
  const inline = BASE.replace('secret ta.key 0\n', `<secret>\n${fx.ta}</secret>\nkey-direction 1\n`);
  const c = build(inline);
  assert.equal(c.keyDirection, 1);
  assert.deepEqual(c.secret.bytes, parseStaticKey(fx.ta));
  fails(BASE.replace('ta.key 0', 'ta.key 2'), /'2' must be one of: 0, 1/);
  fails(BASE.replace('ta.key 0', 'server.crt'), /secret: static key line 1/);
});

test('keepalive I T is ping I + ping-restart T in p2p mode; ping/ping-restart alone; not both', () => {
  const k = build(BASE + 'keepalive 10 60\n');
  assert.deepEqual([k.ping, k.pingRestart], [10, 60]);
  const p = build(BASE + 'ping 5\nping-restart 30\n');
  assert.deepEqual([p.ping, p.pingRestart], [5, 30]);
  fails(BASE + 'keepalive 10 60\nping 5\n', /'ping' conflicts with keepalive/, 8);
});

test('no cipher line: 2.6 would use BF-CBC; refused with what to set on both ends', () => {
  fails(BASE.replace('cipher AES-256-CBC\n', ''), /BF-CBC \(Blowfish\), which Node's OpenSSL 3 does not have; set 'cipher AES-256-CBC' on both ends/, 4);
  fails(BASE.replace('AES-256-CBC', 'BF-CBC'), /BF-CBC \(Blowfish\) is not available.*'cipher AES-256-CBC' on both ends/, 5);
  fails(BASE.replace('AES-256-CBC', 'AES-256-GCM'), /static-key mode has no AEAD ciphers/, 5);
  assert.equal(build(BASE.replace('AES-256-CBC', 'aes128')).cipher, 'AES-128-CBC');
  assert.equal(build(BASE.replace('cipher AES-256-CBC', 'data-ciphers-fallback AES-192-CBC')).cipher, 'AES-192-CBC');
});

test('ifconfig is required, two distinct usable addresses', () => {
  fails(BASE.replace('ifconfig 10.8.0.1 10.8.0.2\n', ''), /needs 'ifconfig LOCAL REMOTE'/);
  fails(BASE.replace('10.8.0.2', '10.8.0.1'), /must differ/);
  fails(BASE.replace('10.8.0.2', '224.0.0.1'), /cannot be 0\.0\.0\.0, broadcast, multicast or loopback/);
  fails(BASE.replace('10.8.0.2', 'x'), /'x' is not an IPv4 address/);
});

test('server, mode server, TLS options and many-client options are refused with secret, as 2.6 does', () => {
  fails(BASE + 'server 10.8.0.0 255.255.255.0\n', /'server' and 'secret' \(static-key mode\) cannot be used together/, 7);
  fails(BASE + 'mode server\n', /'mode server' needs TLS/);
  for (const line of ['ca ca.crt', 'tls-auth ta.key', 'tls-server', 'reneg-sec 60', 'hand-window 30']) {
    fails(`${BASE}${line}\n`, /is a TLS-mode directive and cannot be used with 'secret'/, 7);
  }
  for (const line of ['push "route 10.0.0.0 255.0.0.0"', 'client-to-client', 'max-clients 5']) fails(`${BASE}${line}\n`, /is for a server of many clients/, 7);
  fails(BASE + 'topology subnet\n', /'topology subnet' does not fit/);
  fails(BASE + 'compress migrate\n', /'compress migrate' needs a server that pushes/);
  fails(BASE + 'uplink tun\n', /'uplink tun' is not available in nanovpn's static-key mode/);
  assert.equal(build(BASE + 'mode p2p\ntopology p2p\n').mode, 'static-key');
});

test('compression options frame as elsewhere; TCP; explicit-exit-notify', () => {
  assert.equal(build(BASE + 'comp-lzo\n').compression, 'lzo');
  assert.equal(build(BASE + 'compress lz4-v2\n').compression, 'lz4-v2');
  const c = build(BASE.replace('proto udp', 'proto tcp-server') + 'explicit-exit-notify 2\n');
  assert.deepEqual(c.protos, ['tcp']);
  assert.equal(c.explicitExitNotify, 2);
});

test('without secret: ifconfig, ping, ping-restart and mode p2p say they belong to static-key mode', () => {
  const tls = (extra: string) => () => buildServerConfig(STOCK_CONFIG + extra, src(), fx.dir);
  assert.throws(tls('ifconfig 10.8.0.1 10.8.0.2\n'), /'ifconfig LOCAL REMOTE' is for static-key mode/);
  assert.throws(tls('ping 10\n'), /'ping' is for static-key mode .*use 'keepalive INTERVAL TIMEOUT'/);
  assert.throws(tls('ping-restart 60\n'), /'ping-restart' is for static-key mode/);
  assert.throws(tls('mode p2p\n'), /'mode p2p' is static-key mode here and needs 'secret'/);
  assert.throws(() => buildServerConfig(BASE, src(), fx.dir), /a static-key \('secret'\) config where a TLS server config is needed/);
});

test("'nanovpn config inline' inlines secret, its direction becoming a key-direction line", async () => {
  const { inlineConfig } = await import('../../src/config/inline.js');
  const text = inlineConfig(BASE.replace('ta.key 0', 'ta.key 1'), src(), fx.dir);
  assert.match(text, /<secret>\n[\s\S]*-----END OpenVPN Static key V1-----\n<\/secret>\nkey-direction 1\n/);
  const c = build(text);
  assert.equal(c.keyDirection, 1);
  assert.deepEqual(c.secret.bytes, parseStaticKey(fx.ta));
});
