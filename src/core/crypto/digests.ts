// The `auth` digests of the CBC data channel's HMAC (and of tls-auth): OpenVPN accepts any OpenSSL digest whose
// output fits its 64-byte HMAC key slot (crypto_openssl.c md_get); these are the ones Node's OpenSSL also has.
export type DigestName =
  | 'SHA1' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512' | 'SHA512-224' | 'SHA512-256'
  | 'SHA3-224' | 'SHA3-256' | 'SHA3-384' | 'SHA3-512' | 'BLAKE2B512' | 'BLAKE2S256' | 'RIPEMD160' | 'SM3' | 'MD5';

/** node:crypto hash name and output size of each digest. */
export const DIGESTS: Record<DigestName, { node: string; size: number }> = {
  'SHA1': { node: 'sha1', size: 20 },
  'SHA224': { node: 'sha224', size: 28 },
  'SHA256': { node: 'sha256', size: 32 },
  'SHA384': { node: 'sha384', size: 48 },
  'SHA512': { node: 'sha512', size: 64 },
  'SHA512-224': { node: 'sha512-224', size: 28 },
  'SHA512-256': { node: 'sha512-256', size: 32 },
  'SHA3-224': { node: 'sha3-224', size: 28 },
  'SHA3-256': { node: 'sha3-256', size: 32 },
  'SHA3-384': { node: 'sha3-384', size: 48 },
  'SHA3-512': { node: 'sha3-512', size: 64 },
  'BLAKE2B512': { node: 'blake2b512', size: 64 },
  'BLAKE2S256': { node: 'blake2s256', size: 32 },
  'RIPEMD160': { node: 'ripemd160', size: 20 },
  'SM3': { node: 'sm3', size: 32 },
  'MD5': { node: 'md5', size: 16 },
};

// OpenSSL's other spellings of the same digests (names are case-insensitive there too).
const ALIASES: Record<string, DigestName> = {
  'SHA-1': 'SHA1', 'SHA2-224': 'SHA224', 'SHA2-256': 'SHA256', 'SHA2-384': 'SHA384', 'SHA2-512': 'SHA512',
  'SHA-224': 'SHA224', 'SHA-256': 'SHA256', 'SHA-384': 'SHA384', 'SHA-512': 'SHA512',
  'SHA2-512/224': 'SHA512-224', 'SHA512/224': 'SHA512-224', 'SHA-512/224': 'SHA512-224',
  'SHA2-512/256': 'SHA512-256', 'SHA512/256': 'SHA512-256', 'SHA-512/256': 'SHA512-256',
  'BLAKE2B-512': 'BLAKE2B512', 'BLAKE2S-256': 'BLAKE2S256', 'RIPEMD-160': 'RIPEMD160', 'RIPEMD': 'RIPEMD160',
  'RMD160': 'RIPEMD160',
};

/** The digest a config's `auth` names, or undefined when nanovpn has no such digest. */
export function digestByName(s: string): DigestName | undefined {
  const u = s.toUpperCase();
  if (Object.hasOwn(DIGESTS, u)) return u as DigestName;
  return Object.hasOwn(ALIASES, u) ? ALIASES[u] : undefined;
}
