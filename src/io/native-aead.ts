// The native AEAD engine (src/native/aead): one OpenSSL EVP context per key from the OpenSSL inside Node.
import { randomBytes } from 'node:crypto';
import { nodeCryptoAead, type AeadAlgorithm, type AeadEngine } from '../core/crypto/aead.js';
import { findAddon, loadAddon } from './native-addon.js';

interface AeadAddon {
  create(alg: AeadAlgorithm, key: Buffer, encrypt: boolean): object;
  seal(handle: object, nonce: Buffer, aad: Buffer, plain: Buffer, ctOut: Buffer, ctOffset: number, tagOut: Buffer, tagOffset: number): void;
  open(handle: object, nonce: Buffer, aad: Buffer, ct: Buffer, tag: Buffer, out: Buffer): boolean;
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
