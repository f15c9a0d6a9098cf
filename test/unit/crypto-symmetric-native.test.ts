import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { nodeCryptoSymmetric, type SymmetricEngine } from '../../src/core/crypto/symmetric.js';
import { tlsAuthWrap, tlsCryptWrap } from '../../src/core/session/control-wrap.js';
import { findAddon } from '../../src/io/native-addon.js';
import { loadNativeSymmetric } from '../../src/io/native-aead.js';

const skip = findAddon('aead') ? false : 'dist/aead.node is not built (./build.sh addon)';
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const native = (): SymmetricEngine => {
  const r = loadNativeSymmetric();
  assert.ok(r.engine, `native engine did not load: ${r.error}`);
  return r.engine;
};
const engines = (): SymmetricEngine[] => (skip ? [nodeCryptoSymmetric] : [nodeCryptoSymmetric, native()]);

// NIST SP 800-38A F.5.5 (CTR-AES256.Encrypt), the first two blocks.
const CTR_KEY = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
const CTR_IV = hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
const CTR_PLAIN = hex('6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51');
const CTR_CIPHER = hex('601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5');
// NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), first block; EVP adds one block of PKCS#7 padding.
const CBC_KEY = hex('2b7e151628aed2a6abf7158809cf4f3c');
const CBC_IV = hex('000102030405060708090a0b0c0d0e0f');
const CBC_PLAIN = hex('6bc1bee22e409f96e93d7e117393172a');
const CBC_FIRST = hex('7649abac8119b246cee98e9b12e9197d');
// RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
const HMAC_KEY = Buffer.from('Jefe');
const HMAC_DATA = Buffer.from('what do ya want for nothing?');
const HMAC_SHA256 = hex('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');

for (const name of ['node:crypto', 'native']) {
  const get = (): SymmetricEngine => (name === 'native' ? native() : nodeCryptoSymmetric);
  const opts = name === 'native' ? { skip } : {};

  test(`${name}: AES-256-CTR and AES-128-CBC known answers (SP 800-38A), both directions`, opts, () => {
    const e = get();
    const out = Buffer.alloc(64);
    assert.equal(e.cipher('aes-256-ctr', CTR_KEY, true).run(CTR_IV, CTR_PLAIN, out, 3), 32);
    assert.deepEqual(out.subarray(3, 35), CTR_CIPHER);
    assert.equal(e.cipher('aes-256-ctr', CTR_KEY, false).run(CTR_IV, CTR_CIPHER, out, 0), 32);
    assert.deepEqual(out.subarray(0, 32), CTR_PLAIN);
    const cbc = Buffer.alloc(48);
    assert.equal(e.cipher('aes-128-cbc', CBC_KEY, true).run(CBC_IV, CBC_PLAIN, cbc, 0), 32, 'one block of padding');
    assert.deepEqual(cbc.subarray(0, 16), CBC_FIRST);
    const back = Buffer.alloc(48);
    assert.equal(e.cipher('aes-128-cbc', CBC_KEY, false).run(CBC_IV, cbc.subarray(0, 32), back, 0), 16);
    assert.deepEqual(back.subarray(0, 16), CBC_PLAIN);
  });

  test(`${name}: CBC with bad padding returns -1 and the context keeps working`, opts, () => {
    const e = get();
    const dec = e.cipher('aes-128-cbc', CBC_KEY, false);
    const out = Buffer.alloc(64);
    assert.equal(dec.run(CBC_IV, randomBytes(16).fill(0x55), out, 0) === 16, false);
    const good = Buffer.alloc(48);
    const n = e.cipher('aes-128-cbc', CBC_KEY, true).run(CBC_IV, CBC_PLAIN, good, 0);
    assert.equal(dec.run(CBC_IV, good.subarray(0, n), out, 0), 16);
    assert.deepEqual(out.subarray(0, 16), CBC_PLAIN);
  });

  test(`${name}: HMAC-SHA256 known answer (RFC 4231 case 2) over three pieces`, opts, () => {
    const m = get().mac('sha256', HMAC_KEY);
    assert.equal(m.size, 32);
    const out = Buffer.alloc(40);
    m.digest(HMAC_DATA.subarray(0, 4), HMAC_DATA.subarray(4, 20), HMAC_DATA.subarray(20), out, 8);
    assert.deepEqual(out.subarray(8), HMAC_SHA256);
    m.digest(HMAC_DATA, Buffer.alloc(0), Buffer.alloc(0), out, 0);
    assert.deepEqual(out.subarray(0, 32), HMAC_SHA256, 'the same context gives the same answer again');
  });
}

test('native: bad arguments throw instead of reading past a buffer', { skip }, () => {
  const e = native();
  assert.throws(() => e.cipher('aes-256-gcm', randomBytes(32), true), /AEAD/);
  assert.throws(() => e.cipher('aes-256-ctr', randomBytes(16), true), /key length/);
  assert.throws(() => e.cipher('no-such-cipher', randomBytes(16), true), /unknown/);
  assert.throws(() => e.mac('no-such-digest', randomBytes(16)), /unknown digest/);
  const c = e.cipher('aes-256-ctr', CTR_KEY, true);
  assert.throws(() => c.run(Buffer.alloc(8), CTR_PLAIN, Buffer.alloc(64), 0), /iv length/);
  assert.throws(() => c.run(CTR_IV, CTR_PLAIN, Buffer.alloc(40), 20), /too small/);
  assert.throws(() => e.mac('sha256', HMAC_KEY).digest(HMAC_DATA, HMAC_DATA, HMAC_DATA, Buffer.alloc(40), 10), /too small/);
});

test('tls-crypt and tls-auth wraps: the engines agree byte for byte and open each other, large packets too', { skip }, () => {
  const [a, b] = engines();
  assert.ok(a && b);
  const key = randomBytes(256);
  const pairs = [
    (e: SymmetricEngine, role: 'server' | 'client') => tlsCryptWrap(key, role, { replayTime: 0x65000000, engine: e }),
    (e: SymmetricEngine, role: 'server' | 'client') => tlsAuthWrap(key, role === 'server' ? 0 : 1, 'SHA256', role, { replayTime: 0x65000000, engine: e }),
    (e: SymmetricEngine, role: 'server' | 'client') => tlsAuthWrap(key, undefined, 'SHA512', role, { replayTime: 0x65000000, engine: e }),
  ];
  for (const make of pairs) {
    const sa = make(a, 'server'), sb = make(b, 'server');
    const ca = make(a, 'client'), cb = make(b, 'client');
    fc.assert(fc.property(fc.integer({ min: 1, max: 3000 }), (len) => {
      const plain = randomBytes(9 + len);
      plain[0] = 0x20;
      const wa = sa.wrap(plain, 0), wb = sb.wrap(plain, 0);
      assert.deepEqual(wa, wb);
      assert.deepEqual(cb.peek(wa), plain);
      assert.deepEqual(ca.peek(wb), plain);
      const bad = Buffer.from(wa);
      bad[bad.length - 1] ^= 1;
      assert.equal(cb.peek(bad), undefined);
    }), { numRuns: 60 });
  }
});

test('tls-crypt peek: what it returns is the caller\'s, not a view of a buffer the next packet reuses', { skip }, () => {
  const key = randomBytes(256);
  const s = tlsCryptWrap(key, 'server', { engine: native() }), c = tlsCryptWrap(key, 'client', { engine: native() });
  const p1 = Buffer.concat([Buffer.from([0x20]), randomBytes(60)]);
  const p2 = Buffer.concat([Buffer.from([0x20]), randomBytes(60)]);
  const got1 = s.peek(c.wrap(p1, 0));
  const got2 = s.peek(c.wrap(p2, 0));
  assert.deepEqual(got1, p1);
  assert.deepEqual(got2, p2);
});
