import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { nodeCryptoAead, type AeadAlgorithm, type AeadEngine } from '../../src/core/crypto/aead.js';
import { clientDataKeys, AeadDataChannel, serverDataKeys } from '../../src/core/crypto/data-channel.js';
import { findAddon } from '../../src/io/native-addon.js';
import { crossCheck, loadNativeAead } from '../../src/io/native-aead.js';
import { makeTestPki } from '../helpers/pki.js';

const ALGS: [AeadAlgorithm, number][] = [['aes-256-gcm', 32], ['aes-128-gcm', 16], ['chacha20-poly1305', 32]];
const addonFile = findAddon('aead');
const skip = addonFile ? false : 'dist/aead.node is not built (./build.sh addon)';
const native = (): AeadEngine => {
  const r = loadNativeAead();
  assert.ok(r.engine, `native engine did not load: ${r.error}`);
  return r.engine;
};

function nobleSeal(alg: AeadAlgorithm, key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const c = alg === 'chacha20-poly1305' ? chacha20poly1305(key, nonce, aad) : gcm(key, nonce, aad);
  return Buffer.from(c.encrypt(plain)); // ciphertext || tag
}

test('native AEAD: output equals @noble/ciphers and node:crypto, and each opens the others', { skip }, () => {
  const engine = native();
  for (const [alg, keyLen] of ALGS) {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1600 }), fc.integer({ min: 0, max: 24 }), (len, aadLen) => {
      const key = randomBytes(keyLen), nonce = randomBytes(12), aad = randomBytes(aadLen), plain = randomBytes(len);
      const head = Buffer.alloc(24);
      const ct = engine.sealer(alg, key).seal(nonce, aad, plain, head, 8);
      assert.deepEqual(Buffer.concat([ct, head.subarray(8)]), nobleSeal(alg, key, nonce, aad, plain));
      const refHead = Buffer.alloc(16);
      const refCt = nodeCryptoAead.sealer(alg, key).seal(nonce, aad, plain, refHead, 0);
      assert.deepEqual(refCt, ct);
      assert.deepEqual(engine.opener(alg, key).open(nonce, aad, refCt, refHead), plain);
      assert.deepEqual(nodeCryptoAead.opener(alg, key).open(nonce, aad, ct, head.subarray(8)), plain);
    }), { numRuns: 60 });
  }
});

test('native AEAD: a changed tag, ciphertext, AAD, nonce or key is refused', { skip }, () => {
  const engine = native();
  for (const [alg, keyLen] of ALGS) {
    const key = randomBytes(keyLen), nonce = randomBytes(12), aad = randomBytes(8), plain = randomBytes(300);
    const tag = Buffer.alloc(16);
    const ct = engine.sealer(alg, key).seal(nonce, aad, plain, tag, 0);
    const opener = engine.opener(alg, key);
    const flip = (b: Buffer, i: number) => { const c = Buffer.from(b); c[i]! ^= 0x01; return c; };
    assert.equal(opener.open(nonce, aad, ct, flip(tag, 15)), null, `${alg} tag`);
    assert.equal(opener.open(nonce, aad, flip(ct, 299), tag), null, `${alg} ciphertext`);
    assert.equal(opener.open(nonce, flip(aad, 0), ct, tag), null, `${alg} aad`);
    assert.equal(opener.open(flip(nonce, 0), aad, ct, tag), null, `${alg} nonce`);
    assert.equal(engine.opener(alg, randomBytes(keyLen)).open(nonce, aad, ct, tag), null, `${alg} key`);
    assert.deepEqual(opener.open(nonce, aad, ct, tag), plain, `${alg} still opens after refusals`);
  }
});

test('native AEAD: bad arguments throw clear errors instead of crashing', { skip }, () => {
  const addon = { exports: {} as Record<string, (...a: unknown[]) => unknown> };
  process.dlopen(addon, addonFile as string);
  const { create, seal, open } = addon.exports as {
    create: (...a: unknown[]) => object; seal: (...a: unknown[]) => void; open: (...a: unknown[]) => boolean;
  };
  assert.throws(() => create('aes-256-gcm', randomBytes(16), true), /wrong key length/);
  assert.throws(() => create('des-cbc', randomBytes(8), true), /unknown cipher/);
  assert.throws(() => create('aes-256-gcm', 'key', true), /key must be a Buffer/);
  const enc = create('aes-128-gcm', randomBytes(16), true);
  const dec = create('aes-128-gcm', randomBytes(16), false);
  const n = randomBytes(12), aad = Buffer.alloc(8), plain = randomBytes(64);
  assert.throws(() => seal(enc, randomBytes(8), aad, plain, Buffer.alloc(64), 0, Buffer.alloc(16), 0), /nonce must be 12 bytes/);
  assert.throws(() => seal(enc, n, aad, plain, Buffer.alloc(63), 0, Buffer.alloc(16), 0), /ciphertext output is too small/);
  assert.throws(() => seal(enc, n, aad, plain, Buffer.alloc(64), 1, Buffer.alloc(16), 0), /ciphertext output is too small/);
  assert.throws(() => seal(enc, n, aad, plain, Buffer.alloc(64), 0, Buffer.alloc(24), 9), /tag output is too small/);
  assert.throws(() => seal(dec, n, aad, plain, Buffer.alloc(64), 0, Buffer.alloc(16), 0), /not an encrypting AEAD handle/);
  assert.throws(() => seal({}, n, aad, plain, Buffer.alloc(64), 0, Buffer.alloc(16), 0), /not an encrypting AEAD handle/);
  assert.throws(() => open(enc, n, aad, plain, Buffer.alloc(16), Buffer.alloc(64)), /not a decrypting AEAD handle/);
  assert.throws(() => open(dec, n, aad, plain, Buffer.alloc(15), Buffer.alloc(64)), /tag must be 16 bytes/);
  assert.throws(() => open(dec, n, aad, plain, Buffer.alloc(16), Buffer.alloc(63)), /out is too small/);
  assert.equal(open(dec, n, aad, plain, Buffer.alloc(16), Buffer.alloc(64)), false);
});

test('native AEAD: data channels on different engines talk to each other (V1 and V2)', { skip }, () => {
  const block = randomBytes(256);
  for (const cipher of ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'] as const) {
    const server = new AeadDataChannel(serverDataKeys(block, cipher), { aead: native() });
    const client = new AeadDataChannel(clientDataKeys(block, cipher), { aead: nodeCryptoAead });
    for (let i = 0; i < 20; i++) {
      const payload = randomBytes(i * 70);
      const parts = server.sealV2Parts(i & 7, 0x123456, payload);
      const r = client.open(Buffer.concat(parts), 0);
      assert.ok(r.ok && r.plain.equals(payload), `${cipher} server->client ${i}`);
      const back = server.open(client.sealV1(0, payload), 0);
      assert.ok(back.ok && back.plain.equals(payload), `${cipher} client->server ${i}`);
    }
    const forged = Buffer.concat(server.sealV2Parts(0, 1, randomBytes(100)));
    forged[forged.length - 1]! ^= 0x80;
    assert.deepEqual(client.open(forged, 0), { ok: false, reason: 'auth' });
  }
});

test('crossCheck refuses an engine that disagrees with node:crypto', () => {
  const flipsTag: AeadEngine = {
    name: 'broken',
    sealer: (alg, key) => {
      const s = nodeCryptoAead.sealer(alg, key);
      return { seal: (n, a, p, h, o) => { const ct = s.seal(n, a, p, h, o); h[o]! ^= 1; return ct; } };
    },
    opener: nodeCryptoAead.opener,
  };
  assert.throws(() => crossCheck(flipsTag, nodeCryptoAead), /output differs/);
  const acceptsAnything: AeadEngine = { name: 'lax', sealer: nodeCryptoAead.sealer, opener: () => ({ open: (_n, _a, ct) => Buffer.from(ct) }) };
  assert.throws(() => crossCheck(acceptsAnything, nodeCryptoAead), /cannot open|accepts a bad tag/);
  assert.doesNotThrow(() => crossCheck(nodeCryptoAead, nodeCryptoAead));
});

test('serve with data-crypto native and an addon that does not load stops with a clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-aead-'));
  try {
    const pki = await makeTestPki(dir);
    const bogus = join(dir, 'aead.node');
    writeFileSync(bogus, 'not an ELF file');
    const cfg = join(dir, 'server.conf');
    writeFileSync(cfg, `port 1\nlocal 127.0.0.1\ndev tun\ntopology subnet\nserver 10.8.0.0 255.255.255.0\nca ${pki.ca.certPath}\ncert ${pki.server.certPath}\nkey ${pki.server.keyPath}\ndh none\ndata-crypto native\n`);
    const main = join(import.meta.dirname, '..', '..', 'src', 'main.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'serve', '--config', cfg], {
      encoding: 'utf8', env: { ...process.env, NANOVPN_AEAD_ADDON: bogus }, timeout: 30_000,
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /data-crypto native: .*(invalid ELF|file too short|aead\.node)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The UDP socket hands data packets on as views into its receive ring, reused by the next batch: what open returns
// must not share memory with the packet, with either engine.
test('DataChannel.open returns a plaintext that does not alias the packet (node:crypto and native)', { skip }, () => {
  for (const engine of [nodeCryptoAead, native()]) {
    for (const cipher of ['AES-256-GCM', 'CHACHA20-POLY1305'] as const) {
      const k = randomBytes(256);
      const server = new AeadDataChannel(serverDataKeys(k, cipher), { aead: engine });
      const client = new AeadDataChannel(clientDataKeys(k, cipher), { aead: engine });
      const plain = randomBytes(1400);
      const ring = Buffer.alloc(4096);
      const wire = server.sealV2(0, 7, plain);
      wire.copy(ring, 100);
      const r = client.open(ring.subarray(100, 100 + wire.length), 0);
      assert.ok(r.ok, `${engine.name} ${cipher}: open failed`);
      const p = r.plain;
      const overlaps = p.buffer === ring.buffer
        && p.byteOffset < ring.byteOffset + ring.length && ring.byteOffset < p.byteOffset + p.length;
      assert.ok(!overlaps, `${engine.name} ${cipher}: plaintext shares the packet's memory`);
      ring.fill(0xee);
      assert.deepEqual(p, plain, `${engine.name} ${cipher}: plaintext changed when the ring was reused`);
    }
  }
});
