// Data-channel ciphers: OpenVPN names, key lengths and the node:crypto algorithm behind each. The AEAD ones run
// in data-channel.ts, the CBC ones (with an HMAC, `auth`) in cbc-hmac-channel.ts.
export type AeadCipherName = 'AES-256-GCM' | 'AES-128-GCM' | 'CHACHA20-POLY1305';
export type CbcCipherName = 'AES-256-CBC' | 'AES-192-CBC' | 'AES-128-CBC';
/** The data-channel ciphers nanovpn speaks, by their OpenVPN names (`data-ciphers`). */
export type CipherName = AeadCipherName | CbcCipherName;

export const CIPHER_KEY_LEN: Record<CipherName, number> = {
  'AES-256-GCM': 32,
  'AES-128-GCM': 16,
  'CHACHA20-POLY1305': 32,
  'AES-256-CBC': 32,
  'AES-192-CBC': 24,
  'AES-128-CBC': 16,
};

export const NODE_CIPHER: Record<AeadCipherName, 'aes-256-gcm' | 'aes-128-gcm' | 'chacha20-poly1305'> = {
  'AES-256-GCM': 'aes-256-gcm',
  'AES-128-GCM': 'aes-128-gcm',
  'CHACHA20-POLY1305': 'chacha20-poly1305',
};

export const NODE_CBC_CIPHER: Record<CbcCipherName, 'aes-256-cbc' | 'aes-192-cbc' | 'aes-128-cbc'> = {
  'AES-256-CBC': 'aes-256-cbc',
  'AES-192-CBC': 'aes-192-cbc',
  'AES-128-CBC': 'aes-128-cbc',
};

/** AEAD tag length (all three ciphers). */
export const AEAD_TAG_LEN = 16;
/** Implicit IV length: the 12-byte nonce minus the 4-byte packet id (section 5.1). */
export const IMPLICIT_IV_LEN = 8;
/** AES block size: the CBC IV length and the padding unit. */
export const CBC_BLOCK_LEN = 16;

export function isCipherName(s: string): s is CipherName {
  return Object.prototype.hasOwnProperty.call(CIPHER_KEY_LEN, s);
}

export function isAeadCipher(c: CipherName): c is AeadCipherName {
  return Object.prototype.hasOwnProperty.call(NODE_CIPHER, c);
}
