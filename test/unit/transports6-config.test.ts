// Listening sockets from proto, port, local and bind (src/config/listeners.ts), and the peer-address text the
// sockets hand over (src/io/peer-address.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildConfig, buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseProtoName } from '../../src/config/listeners.js';
import { addressPort, ipWords, plainAddress, socketAddress, wordsText } from '../../src/io/peer-address.js';
import { bindAddress } from '../../src/server/listen-sockets.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
before(() => { fx = makeConfigFixture(); setLogSink(() => {}); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });

const base = (): string => STOCK_CONFIG.replace(/^proto.*\n/m, '');
const src = (): string => join(fx.dir, 'server.conf');
const listeners = (extra: string) => buildServerConfig(base() + extra, src(), fx.dir).listeners;
const failsWith = (extra: string, re: RegExp, line?: number): void => {
  assert.throws(() => buildServerConfig(base() + extra, src(), fx.dir), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.reason, re);
    if (line !== undefined) assert.equal(e.line, base().split('\n').length - 1 + line);
    return true;
  });
};

test('proto names: families as OpenVPN 2.6 (udp/tcp-server either, 4 IPv4, 6 IPv6; a server\'s tcp is tcp-server)', () => {
  assert.deepEqual(parseProtoName('udp'), { proto: 'udp', family: 'any' });
  assert.deepEqual(parseProtoName('UDP6'), { proto: 'udp', family: 'inet6' });
  assert.deepEqual(parseProtoName('udp4'), { proto: 'udp', family: 'inet' });
  for (const n of ['tcp', 'tcp-server']) assert.deepEqual(parseProtoName(n), { proto: 'tcp', family: 'any' });
  for (const n of ['tcp6', 'tcp6-server']) assert.deepEqual(parseProtoName(n), { proto: 'tcp', family: 'inet6' });
  for (const n of ['tcp4', 'tcp4-server']) assert.deepEqual(parseProtoName(n), { proto: 'tcp', family: 'inet' });
  assert.match((parseProtoName('tcp6-client') as { error: string }).error, /is for clients/);
  assert.match((parseProtoName('udp-server') as { error: string }).error, /unknown protocol/);
});

test('no local: one socket per proto line on port, on all addresses; bind ipv6only is kept', () => {
  assert.deepEqual(listeners(''), [{ proto: 'udp', family: 'any', port: 1194 }]);
  assert.deepEqual(listeners('proto udp6\nproto tcp4-server\nport 443\n'),
    [{ proto: 'udp', family: 'inet6', port: 443 }, { proto: 'tcp', family: 'inet', port: 443 }]);
  const c = buildServerConfig(base() + 'proto udp6\nbind ipv6only\n', src(), fx.dir);
  assert.equal(c.bindIpv6Only, true);
  assert.equal(buildServerConfig(base() + 'bind\n', src(), fx.dir).bindIpv6Only, false);
  failsWith('bind ipv4only\n', /not a keyword of bind/);
});

test('local ADDR [PORT [PROTO]] (2.7): each line a socket, PORT and PROTO fall back to port and the proto lines', () => {
  assert.deepEqual(listeners('proto udp\nport 1195\nlocal 198.19.1.1 1197 tcp\nlocal fd00:198:19:1::1 1197 udp\nlocal ::1\nlocal * 1300\n'), [
    { proto: 'tcp', family: 'inet', host: '198.19.1.1', port: 1197 },
    { proto: 'udp', family: 'inet6', host: 'fd00:198:19:1::1', port: 1197 },
    { proto: 'udp', family: 'inet6', host: '::1', port: 1195 },
    { proto: 'udp', family: 'any', port: 1300 },
  ]);
  // A local line without a proto gets every proto line's; a host name keeps the proto's family until it resolves.
  assert.deepEqual(listeners('proto udp\nproto tcp6\nlocal localhost\n'), [
    { proto: 'udp', family: 'any', host: 'localhost', port: 1194 },
    { proto: 'tcp', family: 'inet6', host: 'localhost', port: 1194 },
  ]);
  assert.deepEqual(buildServerConfig(base() + 'local 198.19.1.1 1197 tcp\n', src(), fx.dir).protos, ['tcp']);
});

test('local lines that cannot be: a family against its proto, a socket twice, a bad port or proto', () => {
  failsWith('proto udp4\nlocal ::1\n', /local ::1: not an IPv4 address, as proto udp4 needs/, 2);
  failsWith('local 127.0.0.1 1194 udp6\n', /not an IPv6 address/, 1);
  failsWith('local 127.0.0.1 1194 udp\nlocal 127.0.0.1\n', /udp 127\.0\.0\.1 port 1194 is listed twice/, 2);
  failsWith('local 127.0.0.1 0\n', /'0' is not an integer from 1 to 65535/, 1);
  failsWith('local 127.0.0.1 1194 tcp-client\n', /is for clients/, 1);
  failsWith('local 127.0.0.1 1194 udp extra\n', /'local' takes 1 to 3 arguments, got 4/, 1);
});

test('static-key mode takes one local line (2.7: several only in server mode)', () => {
  const sk = 'secret s.key\nifconfig 10.8.0.1 10.8.0.2\ncipher AES-256-CBC\n';
  fx.write('s.key', `-----BEGIN OpenVPN Static key V1-----\n${'ab'.repeat(256).replace(/(.{32})/g, '$1\n')}-----END OpenVPN Static key V1-----\n`);
  const one = buildConfig(`${sk}proto udp6\nlocal ::1 1200\n`, src(), fx.dir);
  assert.deepEqual(one.listeners, [{ proto: 'udp', family: 'inet6', host: '::1', port: 1200 }]);
  assert.throws(() => buildConfig(`${sk}local ::1\nlocal 127.0.0.1\n`, src(), fx.dir), /several 'local' lines/);
});

test('bind address: wildcards as OpenVPN 2.6.14 binds them, literals as given, a host name to its first address', async () => {
  assert.equal(await bindAddress({ proto: 'udp', family: 'any', port: 1 }), '0.0.0.0');
  assert.equal(await bindAddress({ proto: 'udp', family: 'inet', port: 1 }), '0.0.0.0');
  assert.equal(await bindAddress({ proto: 'udp', family: 'inet6', port: 1 }), '::');
  assert.equal(await bindAddress({ proto: 'tcp', family: 'inet6', host: 'fd00::1', port: 1 }), 'fd00::1');
  assert.equal(await bindAddress({ proto: 'udp', family: 'inet6', host: 'localhost', port: 1 }).catch(() => '::1'), '::1');
  assert.equal(await bindAddress({ proto: 'udp', family: 'inet', host: 'localhost', port: 1 }), '127.0.0.1');
  await assert.rejects(bindAddress({ proto: 'udp', family: 'any', host: 'no-such-host.invalid', port: 1 }), /local no-such-host\.invalid: cannot resolve it/);
});

test('peer addresses: IPv4-mapped as IPv4, IPv6 canonical (RFC 5952), and back to the socket\'s form', () => {
  assert.equal(plainAddress('::ffff:198.19.1.2'), '198.19.1.2');
  assert.equal(plainAddress('::FFFF:c613:102'), '198.19.1.2');
  assert.equal(plainAddress('FD00:0198:0019:0001:0000:0000:0000:0002'), 'fd00:198:19:1::2');
  assert.equal(plainAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(plainAddress('198.19.1.2'), '198.19.1.2');
  assert.equal(wordsText(ipWords('::')!), '::');
  assert.equal(wordsText(ipWords('1:0:0:2:0:0:0:3')!), '1:0:0:2::3');
  assert.equal(ipWords('fe80::1%eth0'), undefined);
  assert.equal(ipWords('example.com'), undefined);
  assert.equal(socketAddress('198.19.1.2', 6), '::ffff:198.19.1.2');
  assert.equal(socketAddress('198.19.1.2', 4), '198.19.1.2');
  assert.equal(socketAddress('fd00::2', 4), undefined);
  assert.equal(addressPort('fd00::2', 1194), '[fd00::2]:1194');
  assert.equal(addressPort('198.19.1.2', 1194), '198.19.1.2:1194');
});
