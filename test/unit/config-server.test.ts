import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { buildServerConfig, loadServerConfig } from '../../src/config/server-config.js';
import { parseStaticKey } from '../../src/config/static-key.js';
import { ConfigError } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });

const ip = (s: string): number => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const src = (): string => join(fx.dir, 'server.conf');
/** Stock config with some lines appended (later lines win, proto/push accumulate). */
const build = (extra = '', base = STOCK_CONFIG) => buildServerConfig(base + extra, src(), fx.dir);
/** Asserts the config fails with `file:LINE: <matching reason>`. */
function fails(text: string, line: number | undefined, re: RegExp): void {
  assert.throws(() => buildServerConfig(text, src(), fx.dir), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.line, line, e.message);
    assert.equal(e.file, src());
    assert.match(e.reason, re);
    assert.ok(e.message.startsWith(line === undefined ? `${src()}: ` : `${src()}:${line}: `), e.message);
    return true;
  });
}
const stockLines = STOCK_CONFIG.split('\n').length - 1; // 13
const failsExtra = (extra: string, re: RegExp, lineOffset = 1): void => fails(STOCK_CONFIG + extra, stockLines + lineOffset, re);

test('the stock config loads unchanged, from a file', () => {
  const path = fx.write('server.conf', STOCK_CONFIG);
  const c = loadServerConfig(path);
  assert.deepEqual(c, {
    source: path, port: 1194, protos: ['tcp'], tcpQueueLimit: 64, listeners: [{ proto: 'tcp', family: 'any', port: 1194 }], bindIpv6Only: false, dev: 'tun', topology: 'subnet',
    server: { network: ip('10.8.0.0'), netmask: ip('255.255.255.0') },
    ca: fx.cert, cert: fx.cert, key: fx.key, auth: 'SHA1',
    dataCiphers: ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'], keepalive: { interval: 10, timeout: 60 },
    push: ['route 198.18.0.0 255.255.255.0'], clientToClient: true, maxClients: 1024, renegSec: 3600,
    handWindow: 60, tlsTimeout: 2, tranWindow: 3600, verb: 3, explicitExitNotify: 0, duplicateCn: false,
    tunMtu: 1500, mssfix: 1492, compression: 'none', compressionPushed: false, statusVersion: 1, routes: [], routesIpv6: [], verifyClientCert: 'require', usernameAsCommonName: false, uplink: 'nat', dataCrypto: 'auto', udpSocket: 'auto',
  });
  const udp = loadServerConfig(fx.write('udp.conf', STOCK_CONFIG.replace('proto tcp-server        # or: proto udp', 'proto udp')));
  assert.deepEqual(udp.protos, ['udp']);
});

test('a relative config path resolves against the cwd, files against the config folder', () => {
  mkdirSync(join(fx.dir, 'sub'), { recursive: true });
  writeFileSync(join(fx.dir, 'sub', 'x.conf'), STOCK_CONFIG.replace(/^(ca|cert|key) /gm, '$1 ../'));
  const c = loadServerConfig(join(fx.dir, 'sub', 'x.conf'));
  assert.equal(c.ca, fx.cert);
  assert.throws(() => loadServerConfig(join(fx.dir, 'nope.conf')), /nope\.conf: cannot read config file: no such file/);
});

test('proto: lines accumulate; variants map; default udp', () => {
  assert.deepEqual(build('proto udp\nproto tcp\n').protos, ['tcp', 'udp']);
  assert.deepEqual(build('proto udp4\nproto tcp4-server\nproto tcp4\n').protos, ['tcp', 'udp']);
  assert.deepEqual(build('', STOCK_CONFIG.replace(/^proto.*\n/m, '')).protos, ['udp']);
  failsExtra('proto tcp-client\n', /is for clients/);
  failsExtra('proto sctp\n', /unknown protocol 'sctp'/);
  failsExtra('proto\n', /'proto' takes 1 argument, got 0/);
  failsExtra('proto udp tcp\n', /'proto' takes 1 argument, got 2/);
});

test('port, local, dev, topology, mode', () => {
  assert.equal(build('port 443\n').port, 443);
  assert.equal(build('lport 53\n').port, 53);
  assert.equal(build('local 127.0.0.1\n').local, '127.0.0.1');
  assert.equal(build('dev tun0\ndev-type tun\nmode server\ntls-server\n').dev, 'tun');
  failsExtra('port 0\n', /'0' is not an integer from 1 to 65535/);
  failsExtra('port 70000\n', /not an integer from 1 to 65535/);
  failsExtra('port 1x\n', /'1x' is not an integer/);
  failsExtra('dev tap\n', /tap devices \(layer 2\) are not supported; use 'dev tun'/);
  failsExtra('dev-type tap\n', /dev-type tap \(layer 2\) is not supported/);
  assert.equal(build('dev tun0\n').devName, 'tun0');
  assert.equal(build('dev tun\n').devName, undefined, 'any free tunN');
  // pfSense: a named tun device, its type given apart.
  assert.equal(build('dev ovpns1\ndev-type tun\n').devName, 'ovpns1');
  fails(`${STOCK_CONFIG}dev ovpns1\n`, stockLines + 1, /dev 'ovpns1': the device type cannot be told from its name; add 'dev-type tun'/);
  failsExtra('dev a/b\n', /not a valid interface name/);
  assert.equal(build('topology net30\n').topology, 'net30');
  assert.equal(build('topology p2p\n').topology, 'p2p');
  failsExtra('topology mesh\n', /'mesh' must be one of: subnet, net30, p2p/);
  failsExtra('mode p2p\n', /'mode p2p' is static-key mode here and needs 'secret'/);
  failsExtra('mode client\n', /'client' must be one of: server, p2p/);
});

test('server NET MASK is validated', () => {
  assert.deepEqual(build('server 172.16.0.0 255.240.0.0\n').server, { network: ip('172.16.0.0'), netmask: ip('255.240.0.0') });
  assert.deepEqual(build('server 10.9.0.8 255.255.255.248\n').server, { network: ip('10.9.0.8'), netmask: ip('255.255.255.248') });
  failsExtra('server 10.8.0.1 255.255.255.0\n', /not the network address/);
  failsExtra('server 10.8.0.0 255.0.255.0\n', /not a valid netmask/);
  failsExtra('server 10.8.0.0 255.255.255.252\n', /too small/);
  failsExtra('server 0.0.0.0 0.0.0.0\n', /too large/);
  failsExtra('server 10.8.0.0 24\n', /'24' is not an IPv4 address/);
  failsExtra('server 10.8.0.0 255.255.255.0 pool\n', /unknown flag 'pool' \(only 'nopool'\)/);
  failsExtra('server 10.8.0.0\n', /'server' takes 2 to 3 arguments, got 1/);
});

test('missing server, ca, cert or key is a clear error', () => {
  for (const [name, re] of [['server', /missing required directive 'server NETWORK NETMASK'/], ['ca', /'ca'/], ['cert', /'cert'/], ['key', /'key'/]] as const) {
    fails(STOCK_CONFIG.replace(new RegExp(`^${name} .*\\n`, 'm'), ''), undefined, re);
  }
});

test('ca/cert/key: files must exist and be PEM of the right kind', () => {
  fx.write('garbage.pem', 'hello\n');
  fx.write('enc.key', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n');
  failsExtra('ca missing.crt\n', /cannot read ca file '.*missing\.crt': no such file/);
  failsExtra('ca garbage.pem\n', /ca: expected PEM certificate/);
  failsExtra('cert server.key\n', /cert: expected PEM certificate/);
  failsExtra('key server.crt\n', /key: expected exactly one PEM private key/);
  failsExtra('key enc.key\n', /encrypted private keys are not supported/);
  failsExtra('key "" \n', /empty file name/);
});

test('inline ca/cert/key/dh blocks', () => {
  const text = STOCK_CONFIG.replace(/^(ca|cert|key|dh) .*\n/gm, '') +
    `<ca>\n${fx.cert}</ca>\n<cert>\n${fx.cert}</cert>\n<key>\n${fx.key}</key>\n<dh>\nwhatever\n</dh>\n`;
  const c = buildServerConfig(text, src(), fx.dir);
  assert.equal(c.ca, fx.cert);
  assert.equal(c.cert, fx.cert);
  assert.equal(c.key, fx.key);
  fails(STOCK_CONFIG + '<port>\n1\n</port>\n', stockLines + 1, /inline <port> block is not allowed/);
  fails(STOCK_CONFIG + '<connection>\nremote x\n</connection>\n', stockLines + 1, /^'connection' is not supported by nanovpn: /);
  fails(STOCK_CONFIG + '<frobnicate>\nx\n</frobnicate>\n', stockLines + 1, /^unknown directive 'frobnicate'$/);
  fails(STOCK_CONFIG + '<ca>\nnot pem\n</ca>\n', stockLines + 1, /ca: expected PEM certificate/);
});

test('tls-auth with direction, key-direction order, inline; tls-crypt; mutual exclusion', () => {
  const ta = parseStaticKey(fx.ta), tc = parseStaticKey(fx.tc);
  assert.deepEqual(build('tls-auth ta.key 0\n').tlsAuth, { key: { bytes: ta }, direction: 0 });
  assert.deepEqual(build('tls-auth ta.key\n').tlsAuth, { key: { bytes: ta } });
  assert.deepEqual(build('key-direction 1\ntls-auth ta.key\n').tlsAuth, { key: { bytes: ta }, direction: 1 });
  assert.deepEqual(build('tls-auth ta.key 0\nkey-direction 1\n').tlsAuth, { key: { bytes: ta }, direction: 1 }, 'last one wins');
  assert.deepEqual(build(`<tls-auth>\n${fx.ta}</tls-auth>\nkey-direction 0\n`).tlsAuth, { key: { bytes: ta }, direction: 0 });
  assert.deepEqual(build('tls-crypt tc.key\n').tlsCrypt, { bytes: tc });
  assert.deepEqual(build(`<tls-crypt>\n${fx.tc}</tls-crypt>\n`).tlsCrypt, { bytes: tc });
  failsExtra('tls-auth ta.key 2\n', /'2' must be one of: 0, 1/);
  failsExtra('key-direction x\n', /must be one of: 0, 1/);
  failsExtra('tls-crypt server.crt\n', /tls-crypt: static key line 1: expected '-----BEGIN OpenVPN Static key V1-----'/);
  failsExtra('<tls-crypt>\nabc\n</tls-crypt>\n', /tls-crypt: static key/);
  failsExtra('tls-crypt nope.key\n', /cannot read tls-crypt file/);
  failsExtra('tls-auth ta.key\ntls-crypt tc.key\n', /mutually exclusive/, 2);
  failsExtra('tls-crypt-v2 x.key\n', /cannot read tls-crypt-v2 file/);
});

test('auth digest and data-ciphers', () => {
  assert.equal(build('auth sha256\n').auth, 'SHA256');
  assert.equal(build('auth SHA2-512\n').auth, 'SHA512');
  assert.equal(build('auth SHA-1\n').auth, 'SHA1');
  assert.equal(build('auth sha512-256\n').auth, 'SHA512-256');
  assert.equal(build('auth SHA3-384\n').auth, 'SHA3-384');
  assert.equal(build('auth BLAKE2b512\n').auth, 'BLAKE2B512');
  assert.equal(build('auth RIPEMD160\n').auth, 'RIPEMD160');
  assert.equal(build('auth MD5\n').auth, 'MD5');
  failsExtra('auth WHIRLPOOL\n', /unsupported digest 'WHIRLPOOL'; nanovpn supports SHA1, SHA224/);
  failsExtra('auth SHAKE256\n', /unsupported digest 'SHAKE256'/);
  failsExtra('auth none\n', /auth none: nanovpn always authenticates/);
  assert.deepEqual(build('data-ciphers chacha20-poly1305:AES-128-GCM\n').dataCiphers, ['CHACHA20-POLY1305', 'AES-128-GCM']);
  assert.deepEqual(build('data-ciphers AES-256-GCM:?AES-256-CBC:AES-256-GCM\n').dataCiphers, ['AES-256-GCM', 'AES-256-CBC']);
  assert.deepEqual(build('data-ciphers AES-256-GCM:aes-128-cbc\n').dataCiphers, ['AES-256-GCM', 'AES-128-CBC']);
  assert.deepEqual(build('data-ciphers DEFAULT:AES-192-CBC\n').dataCiphers,
    ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305', 'AES-192-CBC']);
  assert.deepEqual(build('data-ciphers AES-128-CBC:DEFAULT:AES-128-GCM\n').dataCiphers,
    ['AES-128-CBC', 'AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305']);
  assert.deepEqual(build('data-ciphers AES256:id-aes128-GCM\n').dataCiphers, ['AES-256-CBC', 'AES-128-GCM'], 'OpenSSL aliases');
  failsExtra('data-ciphers AES-256-GCM:BF-CBC\n', /'data-ciphers': BF-CBC \(Blowfish\) is not available: Node's OpenSSL 3 has Blowfish only in its legacy provider/);
  failsExtra('data-ciphers AES-256-GCM:CAMELLIA-256-CBC\n', /unsupported cipher 'CAMELLIA-256-CBC'; nanovpn supports AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305, AES-256-CBC, AES-192-CBC, AES-128-CBC/);
  failsExtra('data-ciphers AES-256-GCM:none\n', /cipher 'none' \(no encryption\) is not supported/);
  failsExtra('data-ciphers ?BF-CBC\n', /no usable cipher/);
  logs = [];
  assert.deepEqual(build('data-ciphers AES-256-GCM:?BF-CBC\n').dataCiphers, ['AES-256-GCM']);
  assert.equal(logs.filter((l) => / WARN config: optional data cipher 'BF-CBC' skipped: BF-CBC \(Blowfish\)/.test(l)).length, 1);
  assert.deepEqual(build('ncp-ciphers AES-128-GCM\n').dataCiphers, ['AES-128-GCM']);
});

test('cipher and data-ciphers-fallback as OpenVPN 2.6 reads them', () => {
  logs = [];
  const ignored = build('cipher AES-256-CBC\n');
  assert.deepEqual(ignored.dataCiphers, ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'], '2.6 does not append --cipher');
  assert.equal(ignored.dataCiphersFallback, undefined);
  assert.equal(logs.filter((l) => / WARN config: 'cipher AES-256-CBC' ignored: it is not in data-ciphers/.test(l)).length, 1);
  logs = [];
  const listed = build('data-ciphers AES-256-GCM:AES-256-CBC\ncipher AES-256-CBC\n');
  assert.equal(listed.dataCiphersFallback, undefined);
  assert.equal(logs.filter((l) => /'cipher/.test(l)).length, 0, 'a --cipher that is in data-ciphers is fine');
  assert.equal(build('data-ciphers-fallback aes-256-cbc\n').dataCiphersFallback, 'AES-256-CBC');
  assert.deepEqual(build('data-ciphers-fallback AES-256-CBC\n').dataCiphers, ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305']);
  // Both set OpenVPN's one ciphername, the last line winning; the fallback flag stays once set.
  assert.equal(build('data-ciphers-fallback AES-256-CBC\ncipher AES-128-CBC\n').dataCiphersFallback, 'AES-128-CBC');
  assert.equal(build('cipher AES-128-CBC\ndata-ciphers-fallback AES-192-CBC\n').dataCiphersFallback, 'AES-192-CBC');
  failsExtra('data-ciphers-fallback BF-CBC\n', /'data-ciphers-fallback BF-CBC' cannot be the data-ciphers-fallback: BF-CBC \(Blowfish\) is not available/);
  failsExtra('data-ciphers-fallback none\n', /cipher 'none' \(no encryption\) is not supported/);
  logs = [];
  assert.equal(build('cipher BF-CBC\n').dataCiphersFallback, undefined, "2.6 ignores a 'cipher' that is not a fallback");
  assert.equal(logs.filter((l) => / WARN config: 'cipher BF-CBC' ignored/.test(l)).length, 1);
});

test('keepalive, push, numbers and flags', () => {
  const c = build([
    'keepalive 5 30', 'push "dhcp-option DNS 1.1.1.1"', 'push \'redirect-gateway def1\'', 'max-clients 10',
    'reneg-sec 0', 'hand-window 30', 'tls-timeout 5', 'tran-window 60', 'verb 4', 'explicit-exit-notify',
    'duplicate-cn', 'tun-mtu 1400', 'mssfix 1360', '',
  ].join('\n'));
  assert.deepEqual(c.keepalive, { interval: 5, timeout: 30 });
  assert.deepEqual(c.push, ['route 198.18.0.0 255.255.255.0', 'dhcp-option DNS 1.1.1.1', 'redirect-gateway def1']);
  assert.equal(c.maxClients, 10);
  assert.equal(c.renegSec, 0);
  assert.equal(c.handWindow, 30);
  assert.equal(c.tlsTimeout, 5);
  assert.equal(c.tranWindow, 60);
  assert.equal(c.verb, 4);
  assert.equal(c.explicitExitNotify, 1);
  assert.equal(c.duplicateCn, true);
  assert.equal(c.tunMtu, 1400);
  assert.equal(c.mssfix, 1360);
  assert.equal(build('explicit-exit-notify 2\n').explicitExitNotify, 2);
  assert.equal(build('mssfix 0\n').mssfix, 0);
  assert.equal(build('mssfix\n').mssfix, 1492);
  assert.equal(build('mssfix 1400 mtu\n').mssfix, 1400);
  assert.equal(build('reneg-sec 3600 1800\n').renegSec, 3600);
  failsExtra('keepalive 10 15\n', /at least twice the interval/);
  failsExtra('keepalive 0 60\n', /not an integer from 1/);
  failsExtra('keepalive 10\n', /'keepalive' takes 2 arguments, got 1/);
  failsExtra('push route 10.0.0.0 255.0.0.0\n', /'push' takes 1 argument, got 3/);
  failsExtra('push ""\n', /push: empty option/);
  failsExtra('client-to-client yes\n', /'client-to-client' takes 0 arguments, got 1/);
  failsExtra('max-clients 0\n', /not an integer from 1/);
  failsExtra('verb 12\n', /from 0 to 11/);
  failsExtra('tun-mtu 100\n', /from 576 to 65535/);
  failsExtra('mssfix 50\n', /too small/);
  failsExtra('mssfix 1400 both\n', /must be one of: mtu, fixed/);
  failsExtra('hand-window -1\n', /is not an integer/);
  assert.equal(build().tcpQueueLimit, 64, "OpenVPN's default");
  assert.equal(build('tcp-queue-limit 256\n').tcpQueueLimit, 256);
  failsExtra('tcp-queue-limit 0\n', /not an integer from 1/);
});

test('crl-verify, verify-client-cert, remote-cert-tls, tls-version-min', () => {
  assert.equal(build('crl-verify crl.pem\n').crlVerify, join(fx.dir, 'crl.pem'));
  const inl = build(`<crl-verify>\n${fx.crl}</crl-verify>\n`);
  assert.equal(inl.crlPem, fx.crl);
  assert.equal('crlVerify' in inl, false);
  failsExtra('crl-verify crl.pem dir\n', /'dir' form is not supported/);
  failsExtra('crl-verify server.crt\n', /expected a PEM CRL/);
  failsExtra('crl-verify none.pem\n', /cannot read crl-verify file/);
  failsExtra('verify-client-cert none\n', /needs password authentication/);
  failsExtra('verify-client-cert sometimes\n', /must be one of: none, optional, require/);
  assert.equal(build('remote-cert-tls client\n').remoteCertTls, 'client');
  failsExtra('remote-cert-tls server\n', /client option/);
  assert.equal(build('tls-version-min 1.3\n').tlsVersionMin, 'TLSv1.3');
  assert.equal('tlsVersionMin' in build('tls-version-min 1.3\ntls-version-min 1.2\n'), false);
  failsExtra('tls-version-min 2.0\n', /unknown version/);
});

test('auth-user-pass-verify builtin; a script needs an executable file', () => {
  const users = fx.write('users.txt', '');
  const c = build('auth-user-pass-verify users.txt builtin\nverify-client-cert optional\nusername-as-common-name\n');
  assert.equal(c.authUserPassVerify, users);
  assert.equal(c.verifyClientCert, 'optional');
  assert.equal(c.usernameAsCommonName, true);
  assert.equal(build('auth-user-pass-verify users.txt builtin\nverify-client-cert none\n').verifyClientCert, 'none');
  failsExtra('auth-user-pass-verify /etc/openvpn/check.sh via-env\n', /auth-user-pass-verify script '\/etc\/openvpn\/check\.sh': no such file/);
  failsExtra('auth-user-pass-verify users.txt via-file\n', /auth-user-pass-verify script '.*users\.txt': not executable \(chmod \+x\)/);
  failsExtra('auth-user-pass-verify check.sh\n', /requires a second parameter \('via-env' or 'via-file'\), or 'builtin'/);
  failsExtra('auth-user-pass-verify nousers.txt builtin\n', /users file '.*nousers\.txt' does not exist \(create it with 'nanovpn users add nousers\.txt NAME'\)/);
  failsExtra('auth-user-pass-verify users.txt magic\n', /must be 'via-env', 'via-file' or 'builtin'/);
});

test('paths: client-config-dir, ifconfig-pool-persist, status, state-dir are resolved, not read', () => {
  const c = build('client-config-dir ccd\nifconfig-pool-persist ipp.txt\nstatus /var/log/st.log 10\nstatus-version 2\nstate-dir state\n');
  assert.equal(c.clientConfigDir, join(fx.dir, 'ccd'));
  assert.deepEqual(c.ifconfigPoolPersist, { path: join(fx.dir, 'ipp.txt'), seconds: 600 });
  assert.deepEqual(c.status, { path: '/var/log/st.log', seconds: 10 });
  assert.equal(c.stateDir, join(fx.dir, 'state'));
  assert.deepEqual(build('ifconfig-pool-persist ipp.txt 0\nstatus st.log\n').ifconfigPoolPersist, { path: join(fx.dir, 'ipp.txt'), seconds: 0 });
  assert.deepEqual(build('status st.log\n').status, { path: join(fx.dir, 'st.log'), seconds: 60 });
  assert.equal(build('status-version 3\n').statusVersion, 3);
  assert.equal(build('status-version\n').statusVersion, 1);
  assert.equal(build('').statusVersion, 1, "OpenVPN's default");
  failsExtra('status-version 4\n', /'4' must be one of: 1, 2, 3/);
});

test('management, metrics, uplink, nat-source, data-crypto', () => {
  const c = build('management 127.0.0.1 7505\nmetrics 0.0.0.0 9100\nuplink tun\nnat-source 192.0.2.5\ndata-crypto node\n');
  assert.equal(c.dataCrypto, 'node');
  assert.equal(build('data-crypto native\n').dataCrypto, 'native');
  failsExtra('data-crypto openssl\n', /must be one of: auto, native, node/);
  assert.equal(build('').udpSocket, 'auto');
  assert.equal(build('udp-socket node\n').udpSocket, 'node');
  failsExtra('udp-socket raw\n', /must be one of: auto, native, node/);
  assert.deepEqual(c.management, { host: '127.0.0.1', port: 7505 });
  assert.deepEqual(c.metrics, { host: '0.0.0.0', port: 9100 });
  assert.equal(c.uplink, 'tun');
  assert.equal(c.natSource, '192.0.2.5');
  assert.deepEqual(build('management /run/m.sock unix\n').management, { path: '/run/m.sock' });
  assert.deepEqual(build('management m.sock unix\n').management, { path: join(fx.dir, 'm.sock') });
  failsExtra('management 127.0.0.1 7505 pw.txt\n', /password files/);
  failsExtra('metrics 127.0.0.1 0\n', /from 1 to 65535/);
  failsExtra('uplink bridge\n', /must be one of: nat, tun/);
  failsExtra('nat-source eth0\n', /not an IPv4 address/);
});

test('known-but-ignored directives warn once each; unknown and unsupported ones fail', () => {
  logs = [];
  const c = build('persist-key\npersist-tun\nuser nobody\ngroup nogroup\nuser nobody\nmlock\nsndbuf 0\nfast-io\n');
  assert.equal(c.port, 1194);
  const warns = logs.filter((l) => / WARN config: /.test(l));
  assert.equal(warns.length, 7, warns.join('\n'));
  assert.equal(warns.filter((l) => l.includes("'user' ignored: ignored in a unikernel")).length, 1);
  assert.ok(warns.some((l) => l.includes("'group' ignored: ignored in a unikernel")));
  assert.ok(warns.every((l) => l.includes(`file=${src()}`) && / line=\d+/.test(l)));
  failsExtra('frobnicate 1\n', /^unknown directive 'frobnicate'$/);
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) failsExtra(`${name} 1\n`, new RegExp(`^unknown directive '${name}'$`));
  failsExtra('client-connect /bin/x\n', /client-connect script '\/bin\/x': no such file/);
  failsExtra('<persist-key>\nx\n</persist-key>\n', /inline <persist-key> block is not allowed/);
  failsExtra('port-share 127.0.0.1 443\n', /^'port-share' is not supported by nanovpn: nanovpn does not forward other protocols to another server; run the other service on another port$/);
  fails('verb 3\n\n  "unterminated\n', 3, /no closing quotation/);
});

test('dh FILE is accepted and not read', () => {
  logs = [];
  assert.equal(build('dh /nonexistent/dh2048.pem\n').port, 1194);
  assert.ok(logs.some((l) => l.includes('dh parameters ignored')));
});

test('property: buildServerConfig returns a config or throws ConfigError, whatever the directives', () => {
  const names = ['port', 'proto', 'local', 'dev', 'topology', 'server', 'ca', 'cert', 'key', 'dh', 'tls-auth', 'key-direction',
    'tls-crypt', 'auth', 'data-ciphers', 'cipher', 'keepalive', 'push', 'client-to-client', 'max-clients', 'reneg-sec',
    'verb', 'explicit-exit-notify', 'mssfix', 'crl-verify', 'verify-client-cert', 'auth-user-pass-verify', 'status',
    'ifconfig-pool-persist', 'management', 'metrics', 'uplink', 'nat-source', 'tls-version-min', 'user', 'route', 'bogus', 'constructor', '__proto__'];
  const arg = fc.oneof(fc.constantFrom('0', '1', '2', '10', '60', '1194', 'udp', 'tcp-server', 'subnet', 'none', 'builtin',
    'ta.key', 'tc.key', 'crl.pem', 'server.crt', 'server.key', '10.8.0.0', '255.255.255.0', 'AES-128-GCM', 'dir', 'tun', ''),
  fc.string({ maxLength: 6 }));
  const line = fc.tuple(fc.constantFrom(...names), fc.array(arg, { maxLength: 3 }))
    .map(([n, a]) => `${n} ${a.map((s) => JSON.stringify(s)).join(' ')}`);
  logs = [];
  fc.assert(fc.property(fc.array(line, { maxLength: 6 }), fc.boolean(), (lines, withStock) => {
    const text = (withStock ? STOCK_CONFIG : '') + lines.join('\n') + '\n';
    try {
      const c = buildServerConfig(text, src(), fx.dir);
      assert.ok(c.protos.length >= 1 && c.server.netmask !== 0);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      assert.ok(e.message.startsWith(`${src()}:`) || e.message.startsWith(`${src()}: `));
    }
  }), { numRuns: 1500 });
});

test('nat-timeout and nat-flows', () => {
  const c = build('nat-timeout tcp-established 3600\nnat-timeout dns 5\nnat-flows 100 5000\n');
  assert.deepEqual(c.natTimeouts, { tcpEstablished: 3600, dns: 5 });
  assert.deepEqual(c.natFlows, { perClient: 100, total: 5000 });
  assert.deepEqual(build('nat-flows 64\n').natFlows, { perClient: 64, total: undefined });
  assert.equal(build('').natTimeouts, undefined);
  const line = STOCK_CONFIG.split('\n').length;
  fails(STOCK_CONFIG + 'nat-timeout tcp-forever 10\n', line, /nat-timeout/);
  fails(STOCK_CONFIG + 'nat-timeout dns 0\n', line, /nat-timeout/);
  fails(STOCK_CONFIG + 'nat-flows 0\n', line, /nat-flows/);
});

test('nat-tcp-congestion cubic|newreno|bbr', () => {
  assert.equal(build('nat-tcp-congestion newreno\n').natTcpCongestion, 'newreno');
  assert.equal(build('nat-tcp-congestion bbr\n').natTcpCongestion, 'bbr');
  assert.equal(build('nat-tcp-congestion cubic\n').natTcpCongestion, 'cubic');
  assert.equal(build('').natTcpCongestion, undefined);
  const line = STOCK_CONFIG.split('\n').length;
  fails(STOCK_CONFIG + 'nat-tcp-congestion vegas\n', line, /'nat-tcp-congestion': 'vegas' must be one of: cubic, newreno, bbr/);
  fails(STOCK_CONFIG + 'nat-tcp-congestion\n', line, /nat-tcp-congestion/);
});

test('nat-tcp-pacing on|off', () => {
  assert.equal(build('nat-tcp-pacing on\n').natTcpPacing, true);
  assert.equal(build('nat-tcp-pacing off\n').natTcpPacing, false);
  assert.equal(build('').natTcpPacing, undefined);
  const line = STOCK_CONFIG.split('\n').length;
  fails(STOCK_CONFIG + 'nat-tcp-pacing yes\n', line, /'nat-tcp-pacing': 'yes' must be one of: on, off/);
});

test('nat-tcp-ecn on|off', () => {
  assert.equal(build('nat-tcp-ecn on\n').natTcpEcn, true);
  assert.equal(build('nat-tcp-ecn off\n').natTcpEcn, false);
  assert.equal(build('').natTcpEcn, undefined);
  const line = STOCK_CONFIG.split('\n').length;
  fails(STOCK_CONFIG + 'nat-tcp-ecn 1\n', line, /'nat-tcp-ecn': '1' must be one of: on, off/);
});

test('inactive SECONDS [BYTES]', () => {
  assert.deepEqual(build('inactive 600\n').inactive, { seconds: 600, bytes: 0 });
  assert.deepEqual(build('inactive 600 100000\n').inactive, { seconds: 600, bytes: 100000 });
  failsExtra('inactive 0\n', /'0' is not an integer from 1 to/);
});
