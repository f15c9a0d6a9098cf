import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { deriveKeyBlockPrf, deriveMasterSecret, tls1Prf } from '../../src/core/crypto/prf.js';

const seq = (a: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (a + i) & 0xff));
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Protocol doc section 11, TV1.
const TV1 = {
  clientPreMaster: seq(0x00, 48),
  clientRandom1: seq(0x40, 32), clientRandom2: seq(0x60, 32),
  serverRandom1: seq(0x80, 32), serverRandom2: seq(0xa0, 32),
  clientSid: hex('0102030405060708'), serverSid: hex('1112131415161718'),
};
const TV1_MASTER = '9999e37f41b205a8183ce835da7daacfd52553e542564d04e4292100b00f5f1fe967f9d4f3888f285a5f119aff451e0d';
const TV1_K: [number, string][] = [
  [0, '5f55fce5fcbf1345f7287765e26b01f71d17712425900e1adf7f5752a3f26131'],
  [32, '49b30744c51aada7351205df906d9d17120b36b17cb64f9f0d643ecc5e53dc7a'],
  [64, 'a1f4ec72dee732398cb5f701a2b3329e901ab0530dcf172c586373c763e24741'],
  [96, 'cf9064a102c5907c12ff88a00b1c6fd77f52779c066fff79b16bdd6782022033'],
  [128, '72cd8a845d827854399052337a6f8cdf947255829e69473b3515b5826b0dc62f'],
  [160, '703cf374d0a73f350ac32be0eb61cf70419010456f1b574f22784767fe07db87'],
  [192, '9aeadb982a7a67672a6c0b42e6df288f50cc1798a7474c466c81f58c58f0ac0b'],
  [224, '5f630743c81e9e870ddf105e91aa4629d3b5cde61746d8e5b0c3440d1cec4058'],
];

test('TV1: master secret', () => {
  assert.equal(deriveMasterSecret(TV1).toString('hex'), TV1_MASTER);
});

test('TV1: master secret equals tls1Prf over label || cr1 || sr1', () => {
  const seed = Buffer.concat([Buffer.from('OpenVPN master secret'), TV1.clientRandom1, TV1.serverRandom1]);
  assert.equal(seed.length, 85);
  assert.equal(tls1Prf(TV1.clientPreMaster, seed, 48).toString('hex'), TV1_MASTER);
});

test('TV1: every 32-byte slice of the key block', () => {
  const k = deriveKeyBlockPrf(TV1);
  assert.equal(k.length, 256);
  for (const [off, want] of TV1_K) assert.equal(k.subarray(off, off + 32).toString('hex'), want, `K[${off}..${off + 32})`);
});

test('session id order matters (client sid first)', () => {
  const swapped = deriveKeyBlockPrf({ ...TV1, clientSid: TV1.serverSid, serverSid: TV1.clientSid });
  assert.notEqual(swapped.subarray(0, 32).toString('hex'), TV1_K[0][1]);
});

test('tls1Prf: prefix-stable across output lengths and odd secret lengths', () => {
  const seed = seq(7, 40);
  for (const secretLen of [1, 13, 48, 49]) {
    const secret = seq(secretLen, secretLen);
    const long = tls1Prf(secret, seed, 200);
    for (const n of [0, 1, 16, 20, 21, 199]) assert.deepEqual(tls1Prf(secret, seed, n), long.subarray(0, n));
  }
});

test('tls1Prf agrees with OpenSSL TLS1-PRF (MD5-SHA1) for odd and even secret lengths', (t) => {
  let openssl: string;
  try {
    openssl = execFileSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).trim();
  } catch {
    t.skip('openssl binary not installed');
    return;
  }
  for (const [secretLen, seedLen, n] of [[5, 3, 32], [1, 20, 100], [47, 64, 48], [64, 101, 256]]) {
    const secret = seq(0x33 + secretLen, secretLen);
    const seed = seq(0x99 + seedLen, seedLen);
    const out = execFileSync(openssl, ['kdf', '-keylen', String(n), '-kdfopt', 'digest:MD5-SHA1',
      '-kdfopt', `hexsecret:${secret.toString('hex')}`, '-kdfopt', `hexseed:${seed.toString('hex')}`, 'TLS1-PRF'],
    { encoding: 'utf8' });
    assert.equal(tls1Prf(secret, seed, n).toString('hex'), out.trim().replace(/:/g, '').toLowerCase(), `secret ${secretLen}`);
  }
});
