import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CipherName } from '../../src/config/types.js';
import { type Negotiated, negotiate, type OccCrypto, occString, type PushParams, pushReplies } from '../../src/core/session/negotiate.js';
import type { Framing } from '../../src/core/compression/framing.js';

const ALL: CipherName[] = ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'];
const CLIENT_OCC = 'V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method 2,tls-client';
/** Peer info of a default Debian 2.6.14 client (protocol doc §4.4). */
const DEFAULT_PI: Record<string, string> = {
  IV_VER: '2.6.14', IV_PLAT: 'linux', IV_TCPNL: '1', IV_MTU: '1600', IV_NCP: '2',
  IV_CIPHERS: 'AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305', IV_PROTO: '990',
  IV_LZO_STUB: '1', IV_COMP_STUB: '1', IV_COMP_STUBv2: '1',
};
const pi = (over: Record<string, string | undefined> = {}) => {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries({ ...DEFAULT_PI, ...over })) if (v !== undefined) m.set(k, v);
  return m;
};

function ok(r: Negotiated | { error: string }): Negotiated {
  assert.ok(!('error' in r), `negotiation failed: ${'error' in r ? r.error : ''}`);
  return r;
}

// ---- cipher choice (protocol doc §4.4) ------------------------------------------------------------------------------

const LEGACY = { IV_CIPHERS: undefined, IV_NCP: undefined };
const CIPHER_CASES: {
  name: string; server: CipherName[]; peer: Record<string, string | undefined>; options?: string; want: CipherName | 'error';
  fallback?: CipherName; error?: RegExp;
}[] = [
  { name: 'default client and server', server: ALL, peer: {}, want: 'AES-256-GCM' },
  { name: "the server's order wins over the client's", server: ['AES-128-GCM', 'AES-256-GCM'], peer: {}, want: 'AES-128-GCM' },
  { name: 'first server cipher the client offers', server: ['CHACHA20-POLY1305', 'AES-256-GCM'], peer: { IV_CIPHERS: 'AES-256-GCM' }, want: 'AES-256-GCM' },
  { name: 'client list is case-insensitive', server: ALL, peer: { IV_CIPHERS: 'aes-128-gcm:bf-cbc' }, want: 'AES-128-GCM' },
  { name: 'only CHACHA in common', server: ALL, peer: { IV_CIPHERS: 'CHACHA20-POLY1305' }, want: 'CHACHA20-POLY1305' },
  { name: 'no common cipher in IV_CIPHERS', server: ALL, peer: { IV_CIPHERS: 'AES-256-CBC:BF-CBC' }, want: 'error' },
  { name: 'IV_CIPHERS wins over IV_NCP=2', server: ['AES-256-GCM'], peer: { IV_CIPHERS: 'CHACHA20-POLY1305', IV_NCP: '2' }, want: 'error' },
  { name: 'IV_NCP=2 fallback: first GCM cipher of the server', server: ['CHACHA20-POLY1305', 'AES-128-GCM', 'AES-256-GCM'], peer: { IV_CIPHERS: undefined }, want: 'AES-128-GCM' },
  { name: 'IV_NCP=2 fallback without a GCM cipher on the server', server: ['CHACHA20-POLY1305'], peer: { IV_CIPHERS: undefined }, want: 'error' },
  { name: 'OCC "cipher" fallback', server: ALL, peer: { IV_CIPHERS: undefined, IV_NCP: undefined }, options: `${CLIENT_OCC},cipher AES-128-GCM`, want: 'AES-128-GCM' },
  { name: 'OCC "cipher" in the middle of the string', server: ALL, peer: { IV_CIPHERS: undefined, IV_NCP: '1' }, options: 'V4,dev-type tun,cipher CHACHA20-POLY1305,auth SHA1', want: 'CHACHA20-POLY1305' },
  { name: 'OCC cipher the server does not have', server: ALL, peer: { IV_CIPHERS: undefined, IV_NCP: undefined }, options: `${CLIENT_OCC},cipher BF-CBC`, want: 'error' },
  { name: 'nothing offered at all', server: ALL, peer: { IV_CIPHERS: undefined, IV_NCP: undefined }, want: 'error',
    error: /client announces no cipher \(no IV_CIPHERS, IV_NCP or OCC cipher\) and data-ciphers-fallback is not set/ },
  // CBC ciphers in data-ciphers (2.6 accepts CBC there) and the client's IV_CIPHERS.
  { name: 'CBC offered alone', server: [...ALL, 'AES-192-CBC'], peer: { IV_CIPHERS: 'AES-192-CBC' }, want: 'AES-192-CBC' },
  { name: "CBC first on the client, the server's order wins", server: ['AES-256-GCM', 'AES-128-CBC'], peer: { IV_CIPHERS: 'AES-128-CBC:AES-256-GCM' }, want: 'AES-256-GCM' },
  { name: 'CBC first on the server', server: ['AES-256-CBC', 'AES-256-GCM'], peer: { IV_CIPHERS: 'AES-256-GCM:AES-256-CBC' }, want: 'AES-256-CBC' },
  { name: 'CBC the client offers but the server lacks', server: ALL, peer: { IV_CIPHERS: 'AES-256-CBC' }, want: 'error', error: /client offers AES-256-CBC, server has AES-256-GCM/ },
  // IV_NCP=2 without IV_CIPHERS (2.4): the OCC cipher counts beside the two GCM ciphers, in the server's order.
  { name: 'IV_NCP=2 client whose OCC cipher comes first on the server', server: ['AES-256-CBC', 'AES-256-GCM'], peer: { IV_CIPHERS: undefined }, options: `${CLIENT_OCC},cipher AES-256-CBC`, want: 'AES-256-CBC' },
  { name: 'IV_NCP=2 client: GCM before its OCC cipher', server: ['AES-128-GCM', 'AES-256-CBC'], peer: { IV_CIPHERS: undefined }, options: `${CLIENT_OCC},cipher AES-256-CBC`, want: 'AES-128-GCM' },
  // With IV_CIPHERS the OCC cipher does not count (ssl_ncp.c: newer clients may not accept it).
  { name: 'IV_CIPHERS client: its OCC cipher is ignored', server: ['AES-256-CBC'], peer: { IV_CIPHERS: 'AES-256-GCM' }, options: `${CLIENT_OCC},cipher AES-256-CBC`, want: 'error' },
  // Clients without negotiation (2.3): OCC cipher, else data-ciphers-fallback.
  { name: '2.3 client with an OCC CBC cipher in data-ciphers', server: ['AES-256-GCM', 'AES-128-CBC'], peer: LEGACY, options: `${CLIENT_OCC},cipher AES-128-CBC`, want: 'AES-128-CBC' },
  { name: '2.3 client without OCC cipher gets the fallback', server: ALL, peer: LEGACY, fallback: 'AES-256-CBC', want: 'AES-256-CBC' },
  { name: 'the fallback does not have to be in data-ciphers', server: ['AES-256-GCM'], peer: LEGACY, fallback: 'AES-128-CBC', want: 'AES-128-CBC' },
  { name: 'an OCC cipher the server lacks is refused even with a fallback (multi.c)', server: ALL, peer: LEGACY, options: `${CLIENT_OCC},cipher AES-192-CBC`,
    fallback: 'AES-256-CBC', want: 'error', error: /client uses AES-192-CBC \(no cipher negotiation\)/ },
  { name: 'known client ciphers are refused even with a fallback', server: ALL, peer: { IV_CIPHERS: 'AES-256-CBC' }, fallback: 'AES-256-CBC', want: 'error' },
  { name: 'IV_NCP=2 without a GCM cipher on the server is refused even with a fallback', server: ['CHACHA20-POLY1305'], peer: { IV_CIPHERS: undefined }, fallback: 'AES-256-CBC', want: 'error' },
  { name: "OCC '[null-cipher]' (cipher none) never matches", server: ALL, peer: LEGACY, options: `${CLIENT_OCC},cipher [null-cipher]`, fallback: 'AES-256-CBC', want: 'error', error: /client uses NONE/ },
  { name: 'a BF-CBC-only client is told why', server: ALL, peer: { IV_CIPHERS: 'BF-CBC' }, want: 'error', error: /BF-CBC is not supported: Node's OpenSSL 3 has no Blowfish/ },
  { name: 'a BF-CBC OCC client is told why', server: ALL, peer: LEGACY, options: `${CLIENT_OCC},cipher BF-CBC`, want: 'error', error: /client uses BF-CBC.*BF-CBC is not supported/ },
];

for (const c of CIPHER_CASES) {
  test(`cipher: ${c.name}`, () => {
    const r = negotiate(c.server, c.options ?? CLIENT_OCC, pi(c.peer), c.fallback);
    if (c.want === 'error') {
      assert.ok('error' in r, `expected an error, got ${JSON.stringify(r)}`);
      assert.match(r.error, /no common data cipher/);
      if (c.error) assert.match(r.error, c.error);
    } else {
      assert.equal(ok(r).cipher, c.want);
    }
  });
}

// ---- IV_PROTO flags -----------------------------------------------------------------------------------------------

test('IV_PROTO bits map to the negotiated flags', () => {
  const table: [string, Partial<Negotiated>][] = [
    ['990', { dataV2: true, requestPush: true, ekm: true, ccExit: true }],
    ['0', { dataV2: false, requestPush: false, ekm: false, ccExit: false }],
    ['2', { dataV2: true, requestPush: false, ekm: false, ccExit: false }],
    ['4', { dataV2: false, requestPush: true, ekm: false, ccExit: false }],
    ['8', { dataV2: false, requestPush: false, ekm: true, ccExit: false }],
    ['128', { dataV2: false, requestPush: false, ekm: false, ccExit: true }],
  ];
  for (const [proto, want] of table) {
    const n = ok(negotiate(ALL, CLIENT_OCC, pi({ IV_PROTO: proto })));
    assert.deepEqual({ dataV2: n.dataV2, requestPush: n.requestPush, ekm: n.ekm, ccExit: n.ccExit }, want, `IV_PROTO=${proto}`);
  }
  assert.equal(ok(negotiate(ALL, CLIENT_OCC, pi())).tunMtu, true);
  assert.equal(ok(negotiate(ALL, CLIENT_OCC, pi({ IV_MTU: undefined }))).tunMtu, false);
});

// ---- PUSH_REPLY (protocol doc §7.4, §10) ---------------------------------------------------------------------------

const PARAMS: PushParams = {
  configPush: ['redirect-gateway def1', 'dhcp-option DNS 10.88.0.1'],
  clientIp: '10.88.0.2', netmask: '255.255.255.0', gateway: '10.88.0.1', peerId: 0,
  ping: { interval: 10, restart: 60 }, tunMtu: 1500,
};

test('PUSH_REPLY for a default 2.6 client', () => {
  const n = ok(negotiate(ALL, CLIENT_OCC, pi()));
  assert.deepEqual(pushReplies(n, PARAMS), [
    'PUSH_REPLY,redirect-gateway def1,dhcp-option DNS 10.88.0.1,route-gateway 10.88.0.1,topology subnet,' +
    'ping 10,ping-restart 60,ifconfig 10.88.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,' +
    'protocol-flags cc-exit tls-ekm,key-derivation tls-ekm,tun-mtu 1500',
  ]);
});

test('PUSH_REPLY: protocol-flags only with announced bits, never dyn-tls-crypt', () => {
  const table: [string, string | undefined][] = [
    ['990', 'protocol-flags cc-exit tls-ekm'],
    ['1022', 'protocol-flags cc-exit tls-ekm'],   // every bit, DYN_TLS_CRYPT included
    ['128', 'protocol-flags cc-exit'],
    ['8', 'protocol-flags tls-ekm'],
    ['6', undefined],
  ];
  for (const [proto, want] of table) {
    const [reply] = pushReplies(ok(negotiate(ALL, CLIENT_OCC, pi({ IV_PROTO: proto }))), PARAMS);
    const opts = reply.split(',');
    assert.deepEqual(opts.filter((o) => o.startsWith('protocol-flags')), want ? [want] : [], `IV_PROTO=${proto}`);
    assert.ok(!reply.includes('dyn-tls-crypt'));
    assert.equal(opts.includes('key-derivation tls-ekm'), want?.includes('tls-ekm') ?? false);
  }
});

test('PUSH_REPLY: peer-id only for DATA_V2 clients, tun-mtu only with IV_MTU, ping only when configured', () => {
  const old = ok(negotiate(['AES-256-GCM'], CLIENT_OCC, pi({ IV_PROTO: '0', IV_MTU: undefined })));
  assert.deepEqual(pushReplies(old, { ...PARAMS, configPush: [], peerId: 3, ping: undefined }), [
    'PUSH_REPLY,route-gateway 10.88.0.1,topology subnet,ifconfig 10.88.0.2 255.255.255.0,cipher AES-256-GCM',
  ]);
  const v2 = ok(negotiate(ALL, CLIENT_OCC, pi({ IV_PROTO: '2' })));
  const [r] = pushReplies(v2, { ...PARAMS, peerId: 0xabcde });
  assert.ok(r.split(',').includes('peer-id 703710'));
});

test('PUSH_REPLY: a long push list is split with push-continuation 2 … 1, each message ≤ 1024 bytes', () => {
  const n = ok(negotiate(ALL, CLIENT_OCC, pi()));
  const routes = Array.from({ length: 120 }, (_, i) => `route 10.${i >> 8}.${i & 255}.0 255.255.255.0`);
  const replies = pushReplies(n, { ...PARAMS, configPush: routes });
  assert.ok(replies.length >= 3, `expected several messages, got ${replies.length}`);
  const options: string[] = [];
  replies.forEach((m, i) => {
    assert.ok(m.length <= 1024, `message ${i} is ${m.length} bytes`);
    const parts = m.split(',');
    assert.equal(parts[0], 'PUSH_REPLY');
    assert.equal(parts[parts.length - 1], `push-continuation ${i === replies.length - 1 ? 1 : 2}`);
    options.push(...parts.slice(1, -1));
  });
  const [single] = pushReplies(n, { ...PARAMS, configPush: [] });
  assert.deepEqual(options, [...routes, ...single.split(',').slice(1)]);
});

test('PUSH_REPLY: a list that fits stays one message without push-continuation', () => {
  const n = ok(negotiate(ALL, CLIENT_OCC, pi()));
  const replies = pushReplies(n, { ...PARAMS, configPush: ['route 192.168.77.0 255.255.255.0'] });
  assert.equal(replies.length, 1);
  assert.ok(!replies[0].includes('push-continuation'));
});

// ---- OCC string (protocol doc §9) ---------------------------------------------------------------------------------

const OCC_CASES: { proto: 'udp' | 'tcp'; tlsAuth: boolean; want: string }[] = [
  { proto: 'udp', tlsAuth: false, want: 'V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method 2,tls-server' },
  { proto: 'tcp', tlsAuth: false, want: 'V4,dev-type tun,link-mtu 1543,tun-mtu 1500,proto TCPv4_SERVER,auth SHA1,keysize 128,key-method 2,tls-server' },
  { proto: 'udp', tlsAuth: true, want: 'V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,keydir 0,auth SHA1,keysize 128,tls-auth,key-method 2,tls-server' },
  { proto: 'tcp', tlsAuth: true, want: 'V4,dev-type tun,link-mtu 1543,tun-mtu 1500,proto TCPv4_SERVER,keydir 0,auth SHA1,keysize 128,tls-auth,key-method 2,tls-server' },
];
for (const c of OCC_CASES) {
  test(`OCC string: ${c.proto}${c.tlsAuth ? ' + tls-auth' : ''}`, () => {
    const s = occString(c.proto, c.tlsAuth, 1500);
    assert.equal(s, c.want);
    assert.ok(s.length <= 511);
  });
}

// Each string is what a Debian openvpn 2.6.14 server logged as its Local Options String (verb 7) for a client,
// with the same options.
const OCC_CRYPTO_CASES: { name: string; framing?: Framing; crypto: OccCrypto; want: string }[] = [
  { name: 'cipher AES-256-CBC + auth SHA256, in data-ciphers', crypto: { fallback: 'AES-256-CBC', dataCiphers: ['AES-256-GCM', 'AES-256-CBC'], auth: 'SHA256' },
    want: 'V4,dev-type tun,link-mtu 1569,tun-mtu 1500,proto UDPv4,cipher AES-256-CBC,auth SHA256,keysize 256,key-method 2,tls-server' },
  { name: 'data-ciphers-fallback AES-128-CBC (not in data-ciphers: not announced)', crypto: { fallback: 'AES-128-CBC', dataCiphers: ['AES-256-GCM'], auth: 'SHA1' },
    want: 'V4,dev-type tun,link-mtu 1557,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method 2,tls-server' },
  { name: 'data-ciphers-fallback AES-256-GCM', crypto: { fallback: 'AES-256-GCM', dataCiphers: ['AES-256-GCM'], auth: 'SHA1' },
    want: 'V4,dev-type tun,link-mtu 1549,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-server' },
  { name: 'data-ciphers-fallback CHACHA20-POLY1305', crypto: { fallback: 'CHACHA20-POLY1305', dataCiphers: ['CHACHA20-POLY1305'], auth: 'SHA1' },
    want: 'V4,dev-type tun,link-mtu 1534,tun-mtu 1500,proto UDPv4,cipher CHACHA20-POLY1305,auth [null-digest],keysize 256,key-method 2,tls-server' },
  { name: 'cipher AES-192-CBC in data-ciphers', crypto: { fallback: 'AES-192-CBC', dataCiphers: ['AES-256-GCM', 'AES-192-CBC'], auth: 'SHA1' },
    want: 'V4,dev-type tun,link-mtu 1557,tun-mtu 1500,proto UDPv4,cipher AES-192-CBC,auth SHA1,keysize 192,key-method 2,tls-server' },
  { name: 'comp-lzo (a v1 framing adds its byte)', framing: 'lzo-stub', crypto: { dataCiphers: [], auth: 'SHA1' },
    want: 'V4,dev-type tun,link-mtu 1542,tun-mtu 1500,proto UDPv4,comp-lzo,auth SHA1,keysize 128,key-method 2,tls-server' },
  { name: 'compress stub-v2 (no byte in link-mtu, still comp-lzo)', framing: 'stub-v2', crypto: { dataCiphers: [], auth: 'SHA1' },
    want: 'V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,comp-lzo,auth SHA1,keysize 128,key-method 2,tls-server' },
  { name: 'auth SHA512 without a cipher (BF-CBC sums)', crypto: { dataCiphers: [], auth: 'SHA512' },
    want: 'V4,dev-type tun,link-mtu 1585,tun-mtu 1500,proto UDPv4,auth SHA512,keysize 128,key-method 2,tls-server' },
];
for (const c of OCC_CRYPTO_CASES) {
  test(`OCC string: ${c.name}`, () => assert.equal(occString('udp', false, 1500, c.framing, c.crypto), c.want));
}

test('OCC string: default UDP string is 100 chars (server KM2 = 178 bytes); tun-mtu moves link-mtu', () => {
  assert.equal(occString('udp', false, 1500).length, 100);
  assert.ok(occString('udp', false, 1400).includes(',link-mtu 1441,tun-mtu 1400,'));
});
