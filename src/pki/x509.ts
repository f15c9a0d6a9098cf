// nanovpn's built-in CA: a self-signed CA, server and client certificates, CRLs and tls-crypt keys.
// Certificates are built with pkijs and signed through node:crypto's WebCrypto; keys are PKCS#8 PEM.
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { formatStaticKey, STATIC_KEY_BYTES } from '../config/static-key.js';
import { checkKeyMatchesCert } from './check.js';
import { PkiError } from './errors.js';
import * as X from './extensions.js';
import { generateKey, importSigningKey, type KeyAlgo } from './keys.js';
import { fromPem, toPem } from './pem.js';
import { randomSerial, serialFromHex, serialToHex } from './serial.js';

export type { KeyAlgo } from './keys.js';
export { PkiError } from './errors.js';
export { checkKeyMatchesCert, checkSignedBy, parseCert } from './check.js';

export interface Issued { certPem: string; keyPem: string; serial: string /* hex */ }

const DAY = 86_400_000;
export const CA_DAYS = 3650;
export const CERT_DAYS = 825;
export const CRL_DAYS = 3650;
/** Default notBefore is a little in the past so a peer whose clock lags ours still accepts a fresh certificate. */
const BACKDATE_MS = 10 * 60_000;

let engine: pkijs.CryptoEngine | undefined;
function cryptoEngine(): pkijs.CryptoEngine {
  engine ??= new pkijs.CryptoEngine({ name: 'nanovpn', crypto: webcrypto as unknown as Crypto });
  return engine;
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5); whole seconds only. */
function asnTime(d: Date): pkijs.Time {
  const value = new Date(Math.floor(d.getTime() / 1000) * 1000);
  return new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? 0 : 1, value });
}

function validity(days: number, notBefore?: Date, notAfter?: Date): { from: Date; to: Date } {
  for (const [k, d] of [['notBefore', notBefore], ['notAfter', notAfter]] as const) {
    if (d !== undefined && (!(d instanceof Date) || Number.isNaN(d.getTime()))) throw new PkiError(`${k} is not a valid date`);
  }
  let from = notBefore ?? new Date(Date.now() - BACKDATE_MS);
  if (!notBefore && notAfter && notAfter <= from) from = new Date(notAfter.getTime() - days * DAY);
  const to = notAfter ?? new Date(from.getTime() + days * DAY);
  if (to <= from) throw new PkiError('notAfter must be later than notBefore');
  return { from, to };
}

function checkCn(cn: unknown): string {
  if (typeof cn !== 'string' || cn.trim() === '') throw new PkiError('common name (cn) must be a non-empty string');
  if (cn.length > 64) throw new PkiError(`common name '${cn.slice(0, 20)}...' is longer than 64 characters`);
  if (/[\u0000-\u001f\u007f]/.test(cn)) throw new PkiError('common name contains control characters');
  return cn;
}

function nameWithCn(cn: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: X.OID.commonName, value: new asn1js.Utf8String({ value: cn }) })],
  });
}

function parsePkijsCert(pem: string, what: string): pkijs.Certificate {
  const der = fromPem('CERTIFICATE', pem, what);
  try {
    return pkijs.Certificate.fromBER(new Uint8Array(der));
  } catch {
    throw new PkiError(`${what}: the certificate PEM is damaged (not a DER X.509 certificate)`);
  }
}

interface Signer { cert: pkijs.Certificate; key: CryptoKey; keyId: Buffer }

/** Loads a CA cert and key and checks that they belong together and that the cert may sign. */
async function loadSigner(ca: { certPem: string; keyPem: string }): Promise<Signer> {
  if (!ca || typeof ca.certPem !== 'string' || typeof ca.keyPem !== 'string') throw new PkiError('CA certPem and keyPem are required');
  const cert = parsePkijsCert(ca.certPem, 'CA certificate');
  checkKeyMatchesCert(ca.certPem, ca.keyPem, 'CA');
  if (!new X509Certificate(ca.certPem).ca) throw new PkiError('CA certificate: basicConstraints does not say CA:TRUE, it cannot sign');
  const key = await importSigningKey(ca.keyPem, 'CA key');
  const skiExt = cert.extensions?.find((e) => e.extnID === X.OID.subjectKeyIdentifier);
  const keyId = skiExt
    ? Buffer.from((asn1js.fromBER(skiExt.extnValue.valueBlock.valueHexView).result as asn1js.OctetString).valueBlock.valueHexView)
    : X.keyIdentifier(cert.subjectPublicKeyInfo);
  return { cert, key, keyId };
}

async function build(opts: {
  subject: string; issuer: pkijs.RelativeDistinguishedNames | undefined; publicKey: CryptoKey; signingKey: CryptoKey;
  from: Date; to: Date; extensions: (spki: pkijs.PublicKeyInfo) => pkijs.Extension[];
}): Promise<{ certPem: string; serial: string }> {
  const e = cryptoEngine();
  const serial = randomSerial();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  cert.subject = nameWithCn(opts.subject);
  cert.issuer = opts.issuer ?? cert.subject;
  cert.notBefore = asnTime(opts.from);
  cert.notAfter = asnTime(opts.to);
  await cert.subjectPublicKeyInfo.importKey(opts.publicKey, e);
  cert.extensions = opts.extensions(cert.subjectPublicKeyInfo);
  await cert.sign(opts.signingKey, 'SHA-256', e);
  return { certPem: toPem('CERTIFICATE', cert.toSchema(true).toBER(false)), serial: serialToHex(serial) };
}

export async function createCa(opts: { cn: string; algo?: KeyAlgo; notBefore?: Date; notAfter?: Date }): Promise<Issued> {
  const cn = checkCn(opts?.cn);
  const { from, to } = validity(CA_DAYS, opts.notBefore, opts.notAfter);
  const k = await generateKey(opts.algo ?? 'ec-p256');
  const { certPem, serial } = await build({
    subject: cn, issuer: undefined, publicKey: k.publicKey, signingKey: k.privateKey, from, to,
    extensions: (spki) => [
      X.basicConstraints(true),
      X.keyUsage([X.KU.keyCertSign, X.KU.cRLSign]),
      X.subjectKeyIdentifier(X.keyIdentifier(spki)),
    ],
  });
  return { certPem, keyPem: k.keyPem, serial };
}

export async function issueCert(ca: { certPem: string; keyPem: string }, opts: {
  cn: string; kind: 'server' | 'client'; algo?: KeyAlgo; notBefore?: Date; notAfter?: Date; sans?: string[];
}): Promise<Issued> {
  const cn = checkCn(opts?.cn);
  if (opts.kind !== 'server' && opts.kind !== 'client') throw new PkiError(`certificate kind must be 'server' or 'client', got '${String(opts.kind)}'`);
  const algo = opts.algo ?? 'ec-p256';
  const sans = opts.kind === 'server' ? serverSans(cn, opts.sans ?? []) : (opts.sans ?? []).map(X.generalName);
  const { from, to } = validity(CERT_DAYS, opts.notBefore, opts.notAfter);
  const signer = await loadSigner(ca);
  const k = await generateKey(algo);
  const usage = opts.kind === 'client' ? [X.KU.digitalSignature]
    : algo === 'rsa2048' ? [X.KU.digitalSignature, X.KU.keyEncipherment] : [X.KU.digitalSignature, X.KU.keyAgreement];
  const { certPem, serial } = await build({
    subject: cn, issuer: signer.cert.subject, publicKey: k.publicKey, signingKey: signer.key, from, to,
    extensions: (spki) => [
      X.basicConstraints(false),
      X.keyUsage(usage),
      X.extKeyUsage([opts.kind === 'server' ? X.OID.serverAuth : X.OID.clientAuth]),
      X.subjectKeyIdentifier(X.keyIdentifier(spki)),
      X.authorityKeyIdentifier(signer.keyId),
      ...(sans.length ? [X.subjectAltName(sans)] : []),
    ],
  });
  return { certPem, keyPem: k.keyPem, serial };
}

/** DNS:<cn> (or IP:<cn>) first when the CN is usable as a name, then the extra entries, without duplicates. */
function serverSans(cn: string, extra: string[]): pkijs.GeneralName[] {
  const seen = new Set<string>();
  const out: pkijs.GeneralName[] = [];
  const add = (g: pkijs.GeneralName): void => {
    const key = `${g.type}:${g.type === 7 ? Buffer.from((g.value as asn1js.OctetString).valueBlock.valueHexView).toString('hex') : String(g.value).toLowerCase()}`;
    if (!seen.has(key)) { seen.add(key); out.push(g); }
  };
  let cnName: pkijs.GeneralName | undefined;
  try { cnName = X.generalName(cn); } catch { /* a CN like "My Server" is not a host name: no SAN for it */ }
  if (cnName) add(cnName);
  for (const s of extra) {
    if (typeof s !== 'string') throw new PkiError('sans must be strings');
    add(X.generalName(s));
  }
  return out;
}

export async function makeCrl(ca: { certPem: string; keyPem: string }, revoked: { serial: string; date: Date }[],
  opts?: { thisUpdate?: Date; nextUpdate?: Date; number?: bigint }): Promise<string> {
  if (!Array.isArray(revoked)) throw new PkiError('revoked must be a list of { serial, date }');
  const entries = revoked.map((r) => {
    if (!(r?.date instanceof Date) || Number.isNaN(r.date.getTime())) throw new PkiError(`revocation date for serial ${r?.serial} is not a valid date`);
    return new pkijs.RevokedCertificate({
      userCertificate: new asn1js.Integer({ valueHex: serialFromHex(String(r.serial)) }),
      revocationDate: asnTime(r.date),
    });
  });
  const thisUpdate = opts?.thisUpdate ?? new Date();
  const nextUpdate = opts?.nextUpdate ?? new Date(thisUpdate.getTime() + CRL_DAYS * DAY);
  if (nextUpdate <= thisUpdate) throw new PkiError('nextUpdate must be later than thisUpdate');
  const signer = await loadSigner(ca);
  const crl = new pkijs.CertificateRevocationList();
  crl.version = 1;
  crl.issuer = signer.cert.subject;
  crl.thisUpdate = asnTime(thisUpdate);
  crl.nextUpdate = asnTime(nextUpdate);
  // RFC 5280 5.1.2.6: with nothing revoked the list is absent, not empty.
  if (entries.length) crl.revokedCertificates = entries;
  crl.crlExtensions = new pkijs.Extensions({
    extensions: [X.authorityKeyIdentifier(signer.keyId), X.crlNumber(opts?.number ?? BigInt(Math.floor(thisUpdate.getTime() / 1000)))],
  });
  await crl.sign(signer.key, 'SHA-256', cryptoEngine());
  return toPem('X509 CRL', crl.toSchema(true).toBER(false));
}

/** A fresh tls-crypt / tls-auth key in "OpenVPN Static key V1" format. */
export function makeStaticKey(): string {
  return formatStaticKey(randomBytes(STATIC_KEY_BYTES));
}
