// The native crypto engines (src/native/aead): one OpenSSL context per key from the OpenSSL inside Node, for the
// data channel's AEAD and for the control-channel wraps' ciphers and HMACs.
import { randomBytes } from 'node:crypto';
import { nodeCryptoAead, type AeadAlgorithm, type AeadEngine } from '../core/crypto/aead.js';
import { DIGESTS } from '../core/crypto/digests.js';
import { nodeCryptoSymmetric, type SymmetricEngine } from '../core/crypto/symmetric.js';
import { findAddon, loadAddon } from './native-addon.js';

interface AeadAddon {
  create(alg: AeadAlgorithm, key: Buffer, encrypt: boolean): object;
  seal(handle: object, nonce: Buffer, aad: Buffer, plain: Buffer, ctOut: Buffer, ctOffset: number, tagOut: Buffer, tagOffset: number): void;
  open(handle: object, nonce: Buffer, aad: Buffer, ct: Buffer, tag: Buffer, out: Buffer): boolean;
}

interface SymmetricAddon {
  cipherCreate(alg: string, key: Buffer, encrypt: boolean): object;
  cipherRun(handle: object, iv: Buffer, input: Buffer, out: Buffer, outOffset: number): number;
  macCreate(digest: string, key: Buffer): object;
  mac(handle: object, a: Buffer, b: Buffer, c: Buffer, out: Buffer, outOffset: number): number;
}

export function symmetricFromAddon(addon: SymmetricAddon, file: string): SymmetricEngine {
  return {
    name: `native (${file})`,
    cipher(alg, key, encrypt) {
      const h = addon.cipherCreate(alg, key, encrypt);
      return { run: (iv, input, out, outOffset) => addon.cipherRun(h, iv, input, out, outOffset) };
    },
    mac(digest, key) {
      const h = addon.macCreate(digest, key);
      const size = addon.mac(h, EMPTY, EMPTY, EMPTY, Buffer.alloc(64), 0);
      return { size, digest: (a, b, c, out, outOffset) => { addon.mac(h, a, b, c, out, outOffset); } };
    },
  };
}

const EMPTY = Buffer.alloc(0);

/** Runs the control-channel primitives through both engines on random input; throws on any difference. */
export function crossCheckSymmetric(engine: SymmetricEngine, reference: SymmetricEngine): void {
  for (const [alg, keyLen, ivLen] of [['aes-256-ctr', 32, 16], ['aes-128-cbc', 16, 16], ['aes-192-cbc', 24, 16], ['aes-256-cbc', 32, 16]] as const) {
    const key = randomBytes(keyLen), iv = randomBytes(ivLen), plain = randomBytes(97);
    const ct = Buffer.alloc(128), refCt = Buffer.alloc(128);
    const n = engine.cipher(alg, key, true).run(iv, plain, ct, 0);
    const m = reference.cipher(alg, key, true).run(iv, plain, refCt, 0);
    if (n !== m || !ct.equals(refCt)) throw new Error(`${alg}: output differs from ${reference.name}`);
    const back = Buffer.alloc(128);
    const k = engine.cipher(alg, key, false).run(iv, refCt.subarray(0, m), back, 0);
    if (k !== plain.length || !back.subarray(0, k).equals(plain)) throw new Error(`${alg}: cannot decrypt ${reference.name}'s output`);
  }
  // Every `auth` digest a CBC data channel may use (core/crypto/digests.ts).
  for (const { node: digest } of Object.values(DIGESTS)) {
    const key = randomBytes(32), a = randomBytes(5), b = randomBytes(40), c = randomBytes(3);
    const mac = engine.mac(digest, key), ref = reference.mac(digest, key);
    const out = Buffer.alloc(mac.size), refOut = Buffer.alloc(ref.size);
    mac.digest(a, b, c, out, 0);
    ref.digest(a, b, c, refOut, 0);
    if (mac.size !== ref.size || !out.equals(refOut)) throw new Error(`HMAC-${digest}: output differs from ${reference.name}`);
  }
}

export function engineFromAddon(addon: AeadAddon, file: string): AeadEngine {
  return {
    name: `native (${file})`,
    sealer(alg, key) {
      const h = addon.create(alg, key, true);
      return {
        seal(nonce, aad, plain, head, tagOffset) {
          const ct = Buffer.allocUnsafe(plain.length);
          addon.seal(h, nonce, aad, plain, ct, 0, head, tagOffset);
          return ct;
        },
      };
    },
    opener(alg, key) {
      const h = addon.create(alg, key, false);
      return {
        open(nonce, aad, ct, tag) {
          const out = Buffer.allocUnsafe(ct.length);
          return addon.open(h, nonce, aad, ct, tag, out) ? out : null;
        },
      };
    },
  };
}

/** Seals and opens one random message with both engines for every algorithm; throws on any difference. */
export function crossCheck(engine: AeadEngine, reference: AeadEngine): void {
  for (const [alg, keyLen] of [['aes-256-gcm', 32], ['aes-128-gcm', 16], ['chacha20-poly1305', 32]] as const) {
    const key = randomBytes(keyLen), nonce = randomBytes(12), aad = randomBytes(8), plain = randomBytes(97);
    const head = Buffer.alloc(16), refHead = Buffer.alloc(16);
    const ct = engine.sealer(alg, key).seal(nonce, aad, plain, head, 0);
    const refCt = reference.sealer(alg, key).seal(nonce, aad, plain, refHead, 0);
    if (!ct.equals(refCt) || !head.equals(refHead)) throw new Error(`${alg}: output differs from ${reference.name}`);
    const back = engine.opener(alg, key).open(nonce, aad, refCt, refHead);
    if (!back || !back.equals(plain)) throw new Error(`${alg}: cannot open ${reference.name}'s output`);
    refHead[0] ^= 1;
    if (engine.opener(alg, key).open(nonce, aad, refCt, refHead) !== null) throw new Error(`${alg}: accepts a bad tag`);
  }
}

let loaded: { engine: AeadEngine | null; error?: string } | undefined;
let loadedSymmetric: { engine: SymmetricEngine | null; error?: string } | undefined;

/** Like loadNativeAead, for the control-channel ciphers and HMACs (the same addon file). */
export function loadNativeSymmetric(): { engine: SymmetricEngine | null; error?: string } {
  if (loadedSymmetric) return loadedSymmetric;
  const file = findAddon('aead');
  if (!file) return (loadedSymmetric = { engine: null, error: 'aead.node not found (build it with ./build.sh addon)' });
  try {
    const engine = symmetricFromAddon(loadAddon<SymmetricAddon>(file), file);
    crossCheckSymmetric(engine, nodeCryptoSymmetric);
    return (loadedSymmetric = { engine });
  } catch (e) {
    return (loadedSymmetric = { engine: null, error: (e as Error).message });
  }
}

/**
 * The native engine when its addon is built, loads and agrees with node:crypto on a test message for every
 * algorithm; otherwise null and the reason (callers fall back to node:crypto).
 */
export function loadNativeAead(): { engine: AeadEngine | null; error?: string } {
  if (loaded) return loaded;
  const file = findAddon('aead');
  if (!file) return (loaded = { engine: null, error: 'aead.node not found (build it with ./build.sh addon)' });
  try {
    const engine = engineFromAddon(loadAddon<AeadAddon>(file), file);
    crossCheck(engine, nodeCryptoAead);
    return (loaded = { engine });
  } catch (e) {
    return (loaded = { engine: null, error: (e as Error).message });
  }
}
