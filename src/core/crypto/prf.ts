// OpenVPN's legacy key derivation (key-method 2 without TLS-EKM): the TLS 1.0 PRF, P_MD5 xor P_SHA1.
// Source: openvpn ssl.c generate_key_expansion_openvpn_prf / crypto_openssl.c ssl_tls1_PRF.
import { createHmac } from 'node:crypto';

const MASTER_LABEL = Buffer.from('OpenVPN master secret', 'ascii');
const EXPANSION_LABEL = Buffer.from('OpenVPN key expansion', 'ascii');

export const KEY_BLOCK_LEN = 256;
const MASTER_LEN = 48;

/** P_hash(secret, seed) truncated to n bytes (RFC 2246 section 5). */
function pHash(alg: 'md5' | 'sha1', secret: Buffer, seed: Buffer, n: number): Buffer {
  const out = Buffer.alloc(n);
  let a: Buffer = seed;
  let off = 0;
  while (off < n) {
    a = createHmac(alg, secret).update(a).digest();
    const chunk = createHmac(alg, secret).update(a).update(seed).digest();
    off += chunk.copy(out, off);
  }
  return out;
}

/** TLS 1.0/1.1 PRF: the secret's halves (overlapping by one byte when odd) feed P_MD5 and P_SHA1. */
export function tls1Prf(secret: Buffer, seed: Buffer, n: number): Buffer {
  const half = Math.ceil(secret.length / 2);
  const s1 = secret.subarray(0, half);
  const s2 = secret.subarray(secret.length - half);
  const md5 = pHash('md5', s1, seed, n);
  const sha1 = pHash('sha1', s2, seed, n);
  for (let i = 0; i < n; i++) md5[i] ^= sha1[i];
  return md5;
}

export interface PrfInputs {
  clientPreMaster: Buffer;  // 48
  clientRandom1: Buffer;    // 32
  clientRandom2: Buffer;    // 32
  serverRandom1: Buffer;    // 32
  serverRandom2: Buffer;    // 32
  clientSid: Buffer;        // 8, the TLS client's control-channel session id
  serverSid: Buffer;        // 8
}

export function deriveMasterSecret(p: PrfInputs): Buffer {
  return tls1Prf(p.clientPreMaster, Buffer.concat([MASTER_LABEL, p.clientRandom1, p.serverRandom1]), MASTER_LEN);
}

/** The 256-byte key block K of section 5.1, derived with the legacy PRF (section 5.3). */
export function deriveKeyBlockPrf(p: PrfInputs): Buffer {
  const master = deriveMasterSecret(p);
  const seed = Buffer.concat([EXPANSION_LABEL, p.clientRandom2, p.serverRandom2, p.clientSid, p.serverSid]);
  const k = tls1Prf(master, seed, KEY_BLOCK_LEN);
  master.fill(0);
  return k;
}
