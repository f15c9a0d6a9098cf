// The AEAD primitive under the data channel, behind a small interface so the engine can be swapped: node:crypto
// (always there; a new cipher object per packet) or the native addon (src/native/aead, one EVP context per key).
// Nonces are 12 bytes, tags 16.
import {
  createCipheriv, createDecipheriv, createSecretKey,
  type CipherChaCha20Poly1305, type CipherGCM, type DecipherChaCha20Poly1305, type DecipherGCM,
} from 'node:crypto';
import { AEAD_TAG_LEN } from './ciphers.js';

export type AeadAlgorithm = 'aes-256-gcm' | 'aes-128-gcm' | 'chacha20-poly1305';

export interface AeadSealer {
  /** Encrypts plain; writes the tag to head[tagOffset..+16) and returns the ciphertext (plain.length bytes). */
  seal(nonce: Buffer, aad: Buffer, plain: Buffer, head: Buffer, tagOffset: number): Buffer;
}

export interface AeadOpener {
  /** The plaintext, or null when the tag does not verify. */
  open(nonce: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer | null;
}

export interface AeadEngine {
  readonly name: string;
  sealer(alg: AeadAlgorithm, key: Buffer): AeadSealer;
  opener(alg: AeadAlgorithm, key: Buffer): AeadOpener;
}

const TAG = { authTagLength: AEAD_TAG_LEN };

export const nodeCryptoAead: AeadEngine = {
  name: 'node:crypto',
  sealer(alg, key) {
    const k = createSecretKey(key);
    return {
      seal(nonce, aad, plain, head, tagOffset) {
        const c = createCipheriv(alg as 'aes-256-gcm', k, nonce, TAG) as CipherGCM | CipherChaCha20Poly1305;
        c.setAAD(aad, { plaintextLength: plain.length });
        const ct = c.update(plain);
        c.final();
        c.getAuthTag().copy(head, tagOffset);
        return ct;
      },
    };
  },
  opener(alg, key) {
    const k = createSecretKey(key);
    return {
      open(nonce, aad, ct, tag) {
        const d = createDecipheriv(alg as 'aes-256-gcm', k, nonce, TAG) as DecipherGCM | DecipherChaCha20Poly1305;
        d.setAAD(aad, { plaintextLength: ct.length });
        d.setAuthTag(tag);
        const plain = d.update(ct);
        try {
          d.final();
        } catch {
          return null;
        }
        return plain;
      },
    };
  },
};

let current: AeadEngine = nodeCryptoAead;

/** The engine new data channels use. */
export function aeadEngine(): AeadEngine { return current; }

/** Chooses the engine for data channels created from now on (existing ones keep theirs). */
export function useAeadEngine(engine: AeadEngine): void { current = engine; }
