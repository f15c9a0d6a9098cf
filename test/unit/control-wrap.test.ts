import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  hmacDigest, plainWrap, tlsAuthWrap, tlsCryptWrap, TLS_CRYPT_OVERHEAD, type ControlWrap,
} from '../../src/core/session/control-wrap.js';

const seq = (a: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (a + i) & 0xff));
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** The "pattern" static key of TV7-TV9: bytes 00..ff. */
const PATTERN = seq(0, 256);

// TV7: real tls-auth client reset (client `tls-auth pattern.key 1`, auth SHA1).
const TV7 = hex('38 7ed4bcee869e7b7b 0d12a39ada75e13bf74fe9e3c362efb5b830e6d8 00000001 6b02c495 00 00000000');
const TV7_PLAIN = hex('38 7ed4bcee869e7b7b 00 00000000');
// TV8: real tls-crypt client reset.
const TV8 = hex('38 e320f1a90035306b 00000001 6b02c497 2f08623f5d4c210f2c868b652ae2dc0f33ed0aaf4e03a8f8974aafe7463eeafd 2ab821382e');
const TV8_PLAIN = hex('38 e320f1a90035306b 00 00000000');
// TV9: synthetic server reset.
const TV9_PLAIN = hex('40 1112131415161718 01 00000000 0102030405060708 00000000');
const TV9_CRYPT = hex(`40 1112131415161718 00000001 65000000
  916c21bc5d66000ca71f818325982ca7144e1e830dfa355ba6a36731fc080406 eb9321d5176ad919439633cb4220c3a5bb`);
const TV9_AUTH = hex('40 1112131415161718 2053010ed42448803522a65ffc89bfca1d0f67e2 00000001 65000000 01 00000000 0102030405060708 00000000');

test('TV7: a real tls-auth client reset unwraps with a server wrap, key-direction 0', () => {
  const w = tlsAuthWrap(PATTERN, 0, 'SHA1', 'server');
  assert.equal(w.overhead, 28);
  assert.deepEqual(w.unwrap(TV7, 0), TV7_PLAIN);
});

test('TV7: wrong key direction or digest fails', () => {
  assert.equal(tlsAuthWrap(PATTERN, undefined, 'SHA1', 'server').unwrap(TV7, 0), undefined);
  assert.equal(tlsAuthWrap(PATTERN, 1, 'SHA1', 'server').unwrap(TV7, 0), undefined);
  assert.equal(tlsAuthWrap(PATTERN, 0, 'SHA256', 'server').unwrap(TV7, 0), undefined);
});

test('TV8: a real tls-crypt client reset unwraps with a server wrap', () => {
  const w = tlsCryptWrap(PATTERN, 'server');
  assert.equal(w.overhead, 40);
  assert.deepEqual(w.unwrap(TV8, 0), TV8_PLAIN);
  assert.equal(tlsCryptWrap(PATTERN, 'client').unwrap(TV8, 0), undefined);
});

test('TV9: tls-crypt server wrap matches byte for byte, and a client unwraps it', () => {
  const w = tlsCryptWrap(PATTERN, 'server', { replayTime: 0x65000000 });
  const wire = w.wrap(TV9_PLAIN, 0);
  assert.deepEqual(wire, TV9_CRYPT);
  assert.deepEqual(tlsCryptWrap(PATTERN, 'client').unwrap(wire, 0), TV9_PLAIN);
});

test('TV9: tls-auth SHA1 key-direction 0 server wrap matches byte for byte, and a direction-1 client unwraps it', () => {
  const w = tlsAuthWrap(PATTERN, 0, 'SHA1', 'server', { replayTime: 0x65000000 });
  const wire = w.wrap(TV9_PLAIN, 0);
  assert.deepEqual(wire, TV9_AUTH);
  assert.deepEqual(tlsAuthWrap(PATTERN, 1, 'SHA1', 'client').unwrap(wire, 0), TV9_PLAIN);
});

test('replay ids: pid counts from 1 (or initialPid) on every wrap, time is fixed per instance', () => {
  const w = tlsCryptWrap(PATTERN, 'server', { replayTime: 1234, initialPid: 7 });
  for (let i = 0; i < 3; i++) {
    const wire = w.wrap(TV9_PLAIN, 999_999);
    assert.equal(wire.readUInt32BE(9), 7 + i);
    assert.equal(wire.readUInt32BE(13), 1234);
  }
  const a = tlsAuthWrap(PATTERN, 0, 'SHA256', 'server');
  const first = a.wrap(TV9_PLAIN, 1_700_000_000_500);
  assert.equal(first.readUInt32BE(9 + 32), 1);
  assert.equal(first.readUInt32BE(9 + 32 + 4), 1_700_000_000);   // default: seconds of the first nowMs
  assert.equal(a.wrap(TV9_PLAIN, 1_800_000_000_000).readUInt32BE(9 + 32 + 4), 1_700_000_000);
});

test('replay ids: at pid 0xFFFFFFFF the epoch moves forward and the receiver keeps accepting', () => {
  const tx = tlsCryptWrap(PATTERN, 'server', { replayTime: 50, initialPid: 0xffffffff });
  const rx = tlsCryptWrap(PATTERN, 'client');
  const last = tx.wrap(TV9_PLAIN, 0);
  const next = tx.wrap(TV9_PLAIN, 0);
  assert.deepEqual([last.readUInt32BE(9), last.readUInt32BE(13)], [0xffffffff, 50]);
  assert.deepEqual([next.readUInt32BE(9), next.readUInt32BE(13)], [1, 51]);
  assert.ok(rx.unwrap(last, 0));
  assert.ok(rx.unwrap(next, 0));
});

type Pair = { name: string; server: () => ControlWrap; client: () => ControlWrap; overhead: number };
const key = randomBytes(256);
const PAIRS: Pair[] = [
  { name: 'tls-crypt', server: () => tlsCryptWrap(key, 'server'), client: () => tlsCryptWrap(key, 'client'), overhead: 40 },
  ...(['SHA1', 'SHA256', 'SHA512'] as const).flatMap((d): Pair[] => {
    const h = hmacDigest(d).len;
    return [
      { name: `tls-auth ${d} dir 0/1`, server: () => tlsAuthWrap(key, 0, d, 'server'), client: () => tlsAuthWrap(key, 1, d, 'client'), overhead: h + 8 },
      { name: `tls-auth ${d} no direction`, server: () => tlsAuthWrap(key, undefined, d, 'server'), client: () => tlsAuthWrap(key, undefined, d, 'client'), overhead: h + 8 },
    ];
  }),
];

function randomPlain(payload: number): Buffer {
  const p = randomBytes(10 + payload);
  p[0] = 0x20;   // P_CONTROL_V1 kid 0
  return p;
}

for (const p of PAIRS) {
  test(`${p.name}: client <-> server round trips`, () => {
    const s = p.server(), c = p.client();
    assert.equal(s.overhead, p.overhead);
    for (let i = 0; i < 30; i++) {
      const a = randomPlain(i * 41);
      const wa = c.wrap(a, i * 100);
      assert.equal(wa.length, a.length + p.overhead);
      assert.deepEqual(wa.subarray(0, 9), a.subarray(0, 9), 'op and session id stay in the clear');
      assert.deepEqual(s.unwrap(wa, i * 100), a);
      const b = randomPlain(i * 37);
      assert.deepEqual(c.unwrap(s.wrap(b, i * 100), i * 100), b);
    }
  });

  test(`${p.name}: any tampered byte is rejected and does not burn the replay id`, () => {
    const s = p.server(), c = p.client();
    const wire = c.wrap(randomPlain(20), 0);
    for (let i = 0; i < wire.length; i++) {
      const bad = Buffer.from(wire);
      bad[i] ^= 1 << (i % 8);
      assert.equal(s.unwrap(bad, 0), undefined, `byte ${i}`);
    }
    assert.equal(s.unwrap(wire.subarray(0, wire.length - 1), 0), undefined);
    assert.equal(s.unwrap(Buffer.concat([wire, Buffer.from([0])]), 0), undefined);
    assert.ok(s.unwrap(wire, 0), 'the untouched packet still unwraps');
  });

  test(`${p.name}: a replayed wire packet is rejected; reordering inside the window is fine`, () => {
    const s = p.server(), c = p.client();
    const wires = Array.from({ length: 5 }, () => c.wrap(randomPlain(5), 0));
    assert.ok(s.unwrap(wires[0], 0));
    assert.equal(s.unwrap(wires[0], 0), undefined);
    assert.ok(s.unwrap(wires[3], 0));
    assert.ok(s.unwrap(wires[1], 0));
    assert.equal(s.unwrap(wires[1], 0), undefined);
    assert.ok(s.unwrap(wires[2], 14_000));
    assert.ok(s.unwrap(wires[4], 0));
  });

  test(`${p.name}: a wrap does not accept its own packets (directional keys) unless keys are shared`, () => {
    const s = p.server();
    const own = s.wrap(randomPlain(3), 0);
    const echoed = p.server().unwrap(own, 0);
    if (p.name.includes('no direction')) assert.ok(echoed, 'bidirectional tls-auth key');
    else assert.equal(echoed, undefined);
  });
}

test('replay epochs: a packet from an older sender epoch is rejected after a newer one', () => {
  const rx = tlsAuthWrap(key, 0, 'SHA1', 'server');
  const oldTx = tlsAuthWrap(key, 1, 'SHA1', 'client', { replayTime: 100 });
  const newTx = tlsAuthWrap(key, 1, 'SHA1', 'client', { replayTime: 101 });
  const old1 = oldTx.wrap(randomPlain(1), 0), old2 = oldTx.wrap(randomPlain(1), 0);
  assert.ok(rx.unwrap(old1, 0));
  assert.ok(rx.unwrap(newTx.wrap(randomPlain(1), 0), 0));
  assert.equal(rx.unwrap(old2, 0), undefined);
});

test('each wrap instance has its own replay window', () => {
  const c = tlsCryptWrap(key, 'client');
  const wire = c.wrap(randomPlain(2), 0);
  assert.ok(tlsCryptWrap(key, 'server').unwrap(wire, 0));
  assert.ok(tlsCryptWrap(key, 'server').unwrap(wire, 0));
});

test('plain wrap passes packets through and rejects runts', () => {
  const w = plainWrap();
  assert.equal(w.overhead, 0);
  assert.deepEqual(w.wrap(TV7_PLAIN, 0), TV7_PLAIN);
  assert.deepEqual(w.unwrap(TV7_PLAIN, 0), TV7_PLAIN);
  assert.equal(w.unwrap(TV7_PLAIN.subarray(0, 9), 0), undefined);
  assert.throws(() => w.wrap(Buffer.alloc(9), 0));
});

test('digest names and key checks', () => {
  assert.deepEqual(hmacDigest('SHA1'), { alg: 'sha1', len: 20 });
  assert.deepEqual(hmacDigest('sha256'), { alg: 'sha256', len: 32 });
  assert.deepEqual(hmacDigest('SHA-384'), { alg: 'sha384', len: 48 });
  assert.equal(hmacDigest('SHA512').len, 64);
  assert.throws(() => hmacDigest('BOGUS'));
  assert.equal(tlsAuthWrap(key, 0, 'SHA512', 'server').overhead, 72);
  assert.throws(() => tlsAuthWrap(key.subarray(0, 128), 0, 'SHA1', 'server'));
  assert.throws(() => tlsCryptWrap(key.subarray(0, 255), 'server'));
  assert.equal(TLS_CRYPT_OVERHEAD, 40);
});

test('property: unwrap() never throws and never accepts random or mutated input', () => {
  const wraps = [plainWrap(), tlsCryptWrap(PATTERN, 'server'), tlsAuthWrap(PATTERN, 0, 'SHA1', 'server'),
    tlsAuthWrap(PATTERN, undefined, 'SHA512', 'server')];
  const seeds = [TV7, TV8, TV9_AUTH, TV9_CRYPT];
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(80))
    .map(([s, i, x, cut]) => {
      const b = Buffer.from(s.subarray(0, Math.max(0, s.length - cut)));
      if (b.length) b[i % b.length] ^= x;
      return b;
    });
  const arb = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), mutated);
  fc.assert(fc.property(arb, fc.nat(), (bytes, now) => {
    for (const w of wraps.slice(1)) assert.equal(w.unwrap(bytes, now), undefined);
    const plain = wraps[0].unwrap(bytes, now);
    assert.ok(plain === undefined || plain === bytes);
  }), { numRuns: 2000 });
});

test('tls-crypt peek: agrees with unwrap for every length (scratch views reused, long packets too), refuses any flipped bit, and its result is its own', () => {
  const server = tlsCryptWrap(PATTERN, 'server');
  assert.deepEqual(server.peek(TV8), TV8_PLAIN);
  const client = tlsCryptWrap(PATTERN, 'client');
  const peeked: [Buffer, Buffer][] = [];
  for (const len of [10, 11, 57, 10, 300, 2048 + 9, 2048 + 10, 2048 + 11, 4000, 57]) {
    const plain = Buffer.concat([Buffer.from([0x38]), randomBytes(len - 1)]);
    const wire = client.wrap(plain, 0);
    const got = server.peek(wire);
    assert.deepEqual(got, plain, `length ${len}`);
    peeked.push([got!, plain]);
    const bad = Buffer.from(wire);
    bad[bad.length - 1 - (len % 7)] ^= 0x10;
    assert.equal(server.peek(bad), undefined, `length ${len}: a flipped body bit`);
    const badTag = Buffer.from(wire);
    badTag[20] ^= 1;
    assert.equal(server.peek(badTag), undefined, `length ${len}: a flipped tag bit`);
  }
  for (const [got, plain] of peeked) assert.deepEqual(got, plain, 'a later peek changed an earlier result');
  assert.equal(server.peek(TV8.subarray(0, 9 + 8 + 32)), undefined, 'no body');
});

test('tls-auth peek: the real client reset (TV7) and every length agree with unwrap, any flipped bit is refused, results are their own', () => {
  const server = tlsAuthWrap(PATTERN, 0, 'SHA1', 'server');
  assert.deepEqual(server.peek(TV7), TV7_PLAIN);
  assert.deepEqual(server.peek(TV7), TV7_PLAIN, 'peek keeps no replay state');
  for (const digest of ['SHA1', 'SHA256', 'SHA512']) {
    const srv = tlsAuthWrap(PATTERN, 0, digest, 'server'), client = tlsAuthWrap(PATTERN, 1, digest, 'client');
    const peeked: [Buffer, Buffer][] = [];
    for (const len of [10, 11, 57, 10, 300, 2048 + 9, 2048 + 10, 4000, 57]) {
      const plain = Buffer.concat([Buffer.from([0x38]), randomBytes(len - 1)]);
      const wire = client.wrap(plain, 0);
      const got = srv.peek(wire);
      assert.deepEqual(got, plain, `${digest} length ${len}`);
      peeked.push([got!, plain]);
      for (const at of [0, 5, 12, wire.length - 12, wire.length - 1]) {
        const bad = Buffer.from(wire);
        bad[at]! ^= 0x04;
        assert.equal(srv.peek(bad), undefined, `${digest} length ${len}: bit flipped at ${at}`);
      }
    }
    for (const [got, plain] of peeked) assert.deepEqual(got, plain, 'a later peek changed an earlier result');
  }
});
