// Consistency checks a person can act on: does this key belong to this cert, did this CA sign this cert.
// Each throws a PkiError whose message names the thing that is wrong; they return nothing when all is well.
import { X509Certificate } from 'node:crypto';
import { PkiError } from './errors.js';
import { parsePrivateKey } from './keys.js';
import { fromPem, hasPemBlock } from './pem.js';

/** The first certificate in a PEM text; `what` names it in error messages (e.g. a file name). */
export function parseCert(pem: string, what = 'certificate'): X509Certificate {
  if (typeof pem !== 'string' || !hasPemBlock('CERTIFICATE', pem)) {
    throw new PkiError(`${what}: not a PEM certificate (no '-----BEGIN CERTIFICATE-----' block)`);
  }
  const der = fromPem('CERTIFICATE', pem, what);
  try {
    return new X509Certificate(der);
  } catch {
    throw new PkiError(`${what}: the certificate PEM is damaged (not a DER X.509 certificate)`);
  }
}

/** `name` qualifies messages, e.g. 'CA' gives "CA key: ..." and "does not match the CA certificate". */
export function checkKeyMatchesCert(certPem: string, keyPem: string, name?: string): void {
  const pre = name ? `${name} ` : '';
  const cert = parseCert(certPem, `${pre}certificate`);
  if (typeof keyPem !== 'string') throw new PkiError(`${pre}key: not a PEM private key`);
  const key = parsePrivateKey(keyPem, `${pre}key`);
  if (!cert.checkPrivateKey(key)) {
    throw new PkiError(`the private key does not match the ${pre}certificate (CN=${cnOf(cert)})`);
  }
}

export function checkSignedBy(certPem: string, caPem: string, name?: string): void {
  const what = name ? `${name} certificate` : 'certificate';
  const cert = parseCert(certPem, what);
  // A bundle (several CAs in `ca`, or those of capath) is fine if any of its certificates signed it.
  const cas = (caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [caPem]).map((p) => parseCert(p, 'CA certificate'));
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    throw new PkiError(`${what} (CN=${cnOf(cert)}) was not signed by ${cas.length === 1 ? `this CA (CN=${cnOf(cas[0]!)})` : `any of the ${cas.length} CAs`}`);
  }
}

export function cnOf(cert: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
  return m ? m[1]! : cert.subject.replace(/\n/g, ', ');
}
