import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type ClientKm2, emitClientKm2, emitServerKm2, IV_PROTO, ivProto, newServerKm2, parseClientKm2, splitTextMessages,
  textMessage,
} from '../../src/core/session/key-method2.js';

const seq = (a: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (a + i) & 0xff));
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Default Debian 2.6.14 client (protocol doc §4.3, §4.4, §9).
const CLIENT_OCC = 'V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method 2,tls-client';
const SERVER_OCC = 'V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method 2,tls-server';
const PEER_INFO: [string, string][] = [
  ['IV_VER', '2.6.14'], ['IV_PLAT', 'linux'], ['IV_TCPNL', '1'], ['IV_MTU', '1600'], ['IV_NCP', '2'],
  ['IV_CIPHERS', 'AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305'], ['IV_PROTO', '990'], ['IV_LZO_STUB', '1'],
  ['IV_COMP_STUB', '1'], ['IV_COMP_STUBv2', '1'],
];
const KM2: ClientKm2 = {
  preMaster: seq(0x00, 48), random1: seq(0x40, 32), random2: seq(0x60, 32),
  options: CLIENT_OCC, username: '', password: '', peerInfo: new Map(PEER_INFO),
};
const KM2_BYTES = emitClientKm2(KM2);

function complete(r: ReturnType<typeof parseClientKm2>): { msg: ClientKm2; consumed: number } {
  assert.ok(r !== 'incomplete' && !('error' in r), `expected a complete message, got ${JSON.stringify(r)}`);
  return r;
}
function isError(r: ReturnType<typeof parseClientKm2>): boolean { return r !== 'incomplete' && 'error' in r; }

/** Client message by hand, strings given as raw [length, bytes] so odd encodings can be built. */
function rawKm2(strings: Buffer[], method = 2): Buffer {
  return Buffer.concat([hex('00000000'), Buffer.from([method]), seq(0, 48), seq(0x40, 32), seq(0x60, 32), ...strings]);
}
const str = (s: string, nul = true) => {
  const body = Buffer.from(nul ? `${s}\0` : s);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([len, body]);
};
const EMPTY_STR = hex('0000');

// ---- client message ---------------------------------------------------------------------------------------------

test('client message with the default 2.6.14 config is 399 bytes (observed size)', () => {
  assert.equal(CLIENT_OCC.length, 100);
  assert.equal(KM2_BYTES.length, 399);
});

test('client message: full parse', () => {
  const r = complete(parseClientKm2(KM2_BYTES, false));
  assert.equal(r.consumed, KM2_BYTES.length);
  assert.deepEqual(r.msg, KM2);
  assert.equal(ivProto(r.msg.peerInfo), 990);
});

test('client message: every strict prefix is incomplete, then the whole message parses', () => {
  for (let k = 0; k < KM2_BYTES.length; k++) {
    assert.equal(parseClientKm2(KM2_BYTES.subarray(0, k), false), 'incomplete', `prefix of ${k} bytes`);
  }
  assert.equal(complete(parseClientKm2(KM2_BYTES, false)).consumed, 399);
});

test('client message: trailing text messages are left for the caller', () => {
  const trailing = Buffer.concat([textMessage('PUSH_REQUEST'), Buffer.from('EXI')]);
  const buf = Buffer.concat([KM2_BYTES, trailing]);
  const r = complete(parseClientKm2(buf, false));
  assert.equal(r.consumed, 399);
  assert.deepEqual(r.msg, KM2);
  const split = splitTextMessages(buf.subarray(r.consumed));
  assert.deepEqual(split.messages, ['PUSH_REQUEST']);
  assert.deepEqual(split.rest, Buffer.from('EXI'));
});

test('client message: username and password with auth-user-pass', () => {
  const m = { ...KM2, username: 'alice', password: 'pä ss' };
  const bytes = emitClientKm2(m);
  assert.deepEqual(bytes.subarray(117 + 2 + 101, 117 + 2 + 101 + 8), hex('0006 616c69636500'));
  assert.deepEqual(complete(parseClientKm2(bytes, false)).msg, m);
});

test('client message: empty strings are written as length 0 (no NUL), non-empty ones count their NUL', () => {
  assert.deepEqual(emitClientKm2({ ...KM2, options: 'abc', peerInfo: new Map() }).subarray(117),
    hex('0004 61626300 0000 0000 0000'));
});

test('client message: a reader accepts "\\0" (length 1) as an empty string', () => {
  const buf = rawKm2([str(CLIENT_OCC), str(''), str(''), str('IV_PROTO=2\n')]);
  const r = complete(parseClientKm2(buf, false));
  assert.equal(r.msg.username, '');
  assert.equal(r.msg.password, '');
  assert.equal(r.msg.peerInfo.get('IV_PROTO'), '2');
});

test('client message: ending after options (or username) is complete only when the read is final', () => {
  for (const strings of [[str(CLIENT_OCC)], [str(CLIENT_OCC), str('bob')], [str(CLIENT_OCC), EMPTY_STR, EMPTY_STR]]) {
    const buf = rawKm2(strings);
    assert.equal(parseClientKm2(buf, false), 'incomplete');
    const r = complete(parseClientKm2(buf, true));
    assert.equal(r.consumed, buf.length);
    assert.equal(r.msg.options, CLIENT_OCC);
    assert.equal(r.msg.peerInfo.size, 0);
  }
  // The options string itself is mandatory.
  assert.equal(parseClientKm2(rawKm2([]), true), 'incomplete');
});

test('client message: peer_info lines split on the first "=", lines without one are skipped', () => {
  const buf = rawKm2([str(CLIENT_OCC), EMPTY_STR, EMPTY_STR, str('IV_VER=2.6.14\nUV_X=a=b\nnoise\n=x\nIV_GUI_VER=\n')]);
  const pi = complete(parseClientKm2(buf, false)).msg.peerInfo;
  assert.deepEqual([...pi], [['IV_VER', '2.6.14'], ['UV_X', 'a=b'], ['IV_GUI_VER', '']]);
});

test('client message: the key-method byte may carry flags in its high nibble', () => {
  assert.equal(complete(parseClientKm2(rawKm2([str(CLIENT_OCC), EMPTY_STR, EMPTY_STR, EMPTY_STR], 0x82), false)).consumed, 117 + 103 + 6);
});

const ERRORS: { name: string; bytes: Buffer }[] = [
  { name: 'no leading zero word', bytes: Buffer.concat([hex('00000001'), KM2_BYTES.subarray(4)]) },
  { name: 'key method 1', bytes: rawKm2([str(CLIENT_OCC), EMPTY_STR, EMPTY_STR, EMPTY_STR], 1) },
  { name: 'options longer than 512', bytes: rawKm2([str('x'.repeat(512)), EMPTY_STR, EMPTY_STR, EMPTY_STR]) },
  { name: 'username longer than 4096', bytes: rawKm2([str(CLIENT_OCC), str('u'.repeat(4096)), EMPTY_STR, EMPTY_STR]) },
  { name: 'password longer than 4096', bytes: rawKm2([str(CLIENT_OCC), EMPTY_STR, str('p'.repeat(4096)), EMPTY_STR]) },
];
for (const e of ERRORS) {
  test(`client message error: ${e.name}`, () => {
    assert.ok(isError(parseClientKm2(e.bytes, false)));
    assert.ok(isError(parseClientKm2(e.bytes, true)));
  });
}

test('client message: limits are inclusive (512-byte options, 4096-byte auth-token password)', () => {
  const buf = rawKm2([str('o'.repeat(511)), EMPTY_STR, str('p'.repeat(4095)), EMPTY_STR]);
  const r = complete(parseClientKm2(buf, false));
  assert.equal(r.msg.options.length, 511);
  assert.equal(r.msg.password.length, 4095);
});

test('property: parseClientKm2 never throws and never consumes more than it was given', () => {
  const seeds = [KM2_BYTES, ...ERRORS.map((e) => e.bytes)];
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat({ max: 255 }), fc.nat()).map(([b, at, v, cut]) => {
    const c = Buffer.from(b);
    c[at % c.length] = v;
    return c.subarray(0, cut % (c.length + 1));
  });
  fc.assert(fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a))), fc.boolean(), (buf, final) => {
    const r = parseClientKm2(buf, final);
    if (r !== 'incomplete' && !('error' in r)) assert.ok(r.consumed <= buf.length);
  }), { numRuns: 2000 });
});

test('property: emitClientKm2 → parseClientKm2 round trip', () => {
  const text = (max: number) => fc.string({ maxLength: max }).filter((s) => !s.includes('\0'));
  const key = fc.stringMatching(/^[A-Z_]{1,10}$/);
  const value = fc.string({ maxLength: 20 }).filter((s) => !/[\0\n]/.test(s));
  fc.assert(fc.property(text(100), text(60), text(60), fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: 8 }),
    (options, username, password, pi) => {
      const m: ClientKm2 = { ...KM2, options, username, password, peerInfo: new Map(pi) };
      const bytes = emitClientKm2(m);
      const r = complete(parseClientKm2(bytes, false));
      assert.equal(r.consumed, bytes.length);
      assert.deepEqual(r.msg, m);
    }), { numRuns: 300 });
});

// ---- server message -----------------------------------------------------------------------------------------------

test('server message is 78 + len(options) bytes: 178 with the 100-char default string', () => {
  const m = { random1: seq(0x80, 32), random2: seq(0xa0, 32), options: SERVER_OCC };
  const b = emitServerKm2(m);
  assert.equal(b.length, 78 + SERVER_OCC.length);
  assert.equal(b.length, 178);
  assert.deepEqual(b.subarray(0, 5), hex('0000000002'));
  assert.deepEqual(b.subarray(5, 37), m.random1);
  assert.deepEqual(b.subarray(37, 69), m.random2);
  assert.equal(b.readUInt16BE(69), SERVER_OCC.length + 1);
  assert.equal(b.subarray(71, 71 + SERVER_OCC.length).toString(), SERVER_OCC);
  assert.deepEqual(b.subarray(171), hex('00 0000 0000 0000'));
});

test('newServerKm2: fresh 32-byte randoms each time', () => {
  const a = newServerKm2('x');
  const b = newServerKm2('x');
  assert.equal(a.random1.length, 32);
  assert.equal(a.random2.length, 32);
  assert.notDeepEqual(a.random1, b.random1);
  assert.notDeepEqual(a.random1, a.random2);
  assert.equal(a.options, 'x');
});

// ---- text messages ---------------------------------------------------------------------------------------------

const SPLIT: { input: string; messages: string[]; rest: string }[] = [
  { input: 'PUSH_REQUEST\0', messages: ['PUSH_REQUEST'], rest: '' },
  { input: 'PUSH_REQUEST\0EXIT\0', messages: ['PUSH_REQUEST', 'EXIT'], rest: '' },
  { input: 'A\0B\0PART', messages: ['A', 'B'], rest: 'PART' },
  { input: 'partial', messages: [], rest: 'partial' },
  { input: '', messages: [], rest: '' },
  { input: '\0\0', messages: [], rest: '' },
  { input: 'EXIT\r\n\0', messages: ['EXIT'], rest: '' },
  { input: 'INFO,a\nb\0', messages: ['INFO,a\nb'], rest: '' },
];
for (const c of SPLIT) {
  test(`splitTextMessages(${JSON.stringify(c.input)})`, () => {
    const r = splitTextMessages(Buffer.from(c.input));
    assert.deepEqual(r.messages, c.messages);
    assert.equal(r.rest.toString(), c.rest);
  });
}

test('textMessage appends the NUL', () => {
  assert.deepEqual(textMessage('EXIT'), Buffer.from('EXIT\0'));
  assert.deepEqual(splitTextMessages(textMessage('AUTH_FAILED,bad')).messages, ['AUTH_FAILED,bad']);
});

test('ivProto: decimal IV_PROTO, 0 when missing or garbage; bit values from ssl.h', () => {
  assert.equal(ivProto(new Map([['IV_PROTO', '990']])), 990);
  assert.equal(ivProto(new Map()), 0);
  assert.equal(ivProto(new Map([['IV_PROTO', 'x']])), 0);
  const bits = IV_PROTO.DATA_V2 | IV_PROTO.REQUEST_PUSH | IV_PROTO.TLS_KEY_EXPORT | IV_PROTO.AUTH_PENDING_KW |
    IV_PROTO.DNS_OPTION | IV_PROTO.CC_EXIT_NOTIFY | IV_PROTO.AUTH_FAIL_TEMP | IV_PROTO.DYN_TLS_CRYPT;
  assert.equal(bits, 990);
  assert.equal(IV_PROTO.NCP_P2P, 32);
});
