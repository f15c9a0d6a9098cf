// The non-AEAD primitives under the control-channel wraps (tls-crypt: AES-256-CTR and HMAC-SHA256; tls-auth: HMAC)
// and the CBC data channel (AES-CBC with PKCS#7 padding, HMAC),
// behind an engine like aead.ts: node:crypto (a new cipher or HMAC object per call) or the native addon (one
// OpenSSL context per key). Each vetted first packet of a flood costs one of each, so the engine is what a flood
// costs.
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

export interface SymmetricCipher {
  /** Runs `input` through the cipher with `iv` into out[outOffset..]: the bytes written, or -1 (bad padding). */
  run(iv: Buffer, input: Buffer, out: Buffer, outOffset: number): number;
}

export interface Mac {
  /** Output size in bytes. */
  readonly size: number;
  /** HMAC over `a`, `b` and `c` in that order, written to out[outOffset..outOffset+size). */
  digest(a: Buffer, b: Buffer, c: Buffer, out: Buffer, outOffset: number): void;
}

export interface SymmetricEngine {
  readonly name: string;
  /** `alg` is an OpenSSL name of a non-AEAD cipher ('aes-256-ctr', 'aes-128-cbc', …). */
  cipher(alg: string, key: Buffer, encrypt: boolean): SymmetricCipher;
  /** `digest` is a node:crypto hash name ('sha256', 'sha1', …). */
  mac(digest: string, key: Buffer): Mac;
}

export const nodeCryptoSymmetric: SymmetricEngine = {
  name: 'node:crypto',
  cipher(alg, key, encrypt) {
    const k = createSecretKey(key);
    return {
      run(iv, input, out, outOffset) {
        const c = encrypt ? createCipheriv(alg, k, iv) : createDecipheriv(alg, k, iv);
        try {
          const n = c.update(input).copy(out, outOffset);
          return n + c.final().copy(out, outOffset + n);
        } catch {
          return -1;
        }
      },
    };
  },
  mac(digest, key) {
    const k: KeyObject = createSecretKey(key);
    const size = createHmac(digest, k).digest().length;
    return {
      size,
      digest(a, b, c, out, outOffset) { createHmac(digest, k).update(a).update(b).update(c).digest().copy(out, outOffset); },
    };
  },
};

let current: SymmetricEngine = nodeCryptoSymmetric;

/** The engine control-channel wraps created from now on use. */
export function symmetricEngine(): SymmetricEngine { return current; }

/** Chooses the engine for wraps created from now on (existing ones keep theirs). */
export function useSymmetricEngine(engine: SymmetricEngine): void { current = engine; }
