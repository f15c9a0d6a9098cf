// Data-channel AEAD ciphers: OpenVPN names, key lengths and the node:crypto algorithm behind each.
/** The data-channel ciphers nanovpn speaks, by their OpenVPN names (`data-ciphers`). */
export type CipherName = 'AES-256-GCM' | 'AES-128-GCM' | 'CHACHA20-POLY1305';

export const CIPHER_KEY_LEN: Record<CipherName, number> = {
  'AES-256-GCM': 32,
  'AES-128-GCM': 16,
  'CHACHA20-POLY1305': 32,
};

export const NODE_CIPHER: Record<CipherName, 'aes-256-gcm' | 'aes-128-gcm' | 'chacha20-poly1305'> = {
  'AES-256-GCM': 'aes-256-gcm',
  'AES-128-GCM': 'aes-128-gcm',
  'CHACHA20-POLY1305': 'chacha20-poly1305',
};

/** AEAD tag length (all three ciphers). */
export const AEAD_TAG_LEN = 16;
/** Implicit IV length: the 12-byte nonce minus the 4-byte packet id (section 5.1). */
export const IMPLICIT_IV_LEN = 8;

export function isCipherName(s: string): s is CipherName {
  return Object.prototype.hasOwnProperty.call(CIPHER_KEY_LEN, s);
}
