// Key pairs through WebCrypto (what pkijs signs with) and PKCS#8 PEM (what OpenVPN and node:tls read).
import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';
import { PkiError } from './errors.js';
import { toPem } from './pem.js';

export type KeyAlgo = 'ec-p256' | 'rsa2048';

type SignAlg = RsaHashedImportParams | EcKeyImportParams;

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function genParams(algo: KeyAlgo): RsaHashedKeyGenParams | EcKeyGenParams {
  if (algo === 'ec-p256') return { name: 'ECDSA', namedCurve: 'P-256' };
  if (algo === 'rsa2048') {
    return { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  }
  throw new PkiError(`unknown key algorithm '${String(algo)}' (use ec-p256 or rsa2048)`);
}

export interface GeneratedKey { privateKey: CryptoKey; publicKey: CryptoKey; keyPem: string }

export async function generateKey(algo: KeyAlgo): Promise<GeneratedKey> {
  const pair = (await webcrypto.subtle.generateKey(genParams(algo), true, ['sign', 'verify'])) as CryptoKeyPair;
  const der = await webcrypto.subtle.exportKey('pkcs8', pair.privateKey);
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, keyPem: toPem('PRIVATE KEY', der) };
}

/** Parses a private key in any PEM form OpenSSL writes (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY"). */
export function parsePrivateKey(pem: string, what: string): KeyObject {
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(pem)) {
    if (pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) throw new PkiError(`${what}: encrypted private keys are not supported`);
    throw new PkiError(`${what}: not a PEM private key (no '-----BEGIN PRIVATE KEY-----' block)`);
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new PkiError(`${what}: the private key PEM is damaged or in an unsupported format`);
  }
}

/** A CA key as a WebCrypto signing key, whichever PEM form it came in. */
export async function importSigningKey(pem: string, what: string): Promise<CryptoKey> {
  const key = parsePrivateKey(pem, what);
  let alg: SignAlg;
  if (key.asymmetricKeyType === 'rsa') {
    alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) throw new PkiError(`${what}: EC curve '${key.asymmetricKeyDetails?.namedCurve}' is not supported (use P-256)`);
    alg = { name: 'ECDSA', namedCurve: curve };
  } else {
    throw new PkiError(`${what}: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported (use EC P-256 or RSA)`);
  }
  const der = key.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, alg, false, ['sign']);
}
