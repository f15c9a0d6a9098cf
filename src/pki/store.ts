// The on-disk PKI that `nanovpn pki` manages:
//   DIR/ca.crt  DIR/ca.key  DIR/crl.pem  DIR/tc.key  DIR/index.json
//   DIR/issued/NAME.crt  DIR/private/NAME.key  DIR/revoked/NAME-SERIAL.{crt,key}
// index.json records every certificate issued here and when it was revoked; crl.pem is rebuilt from it.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkKeyMatchesCert, checkSignedBy, parseCert } from './check.js';
import { PkiError } from './errors.js';
import { refuseExisting, writeAtomic, writeNew } from './fsutil.js';
import { normalizeSerial } from './serial.js';
import { createCa, issueCert, makeCrl, makeStaticKey, type KeyAlgo } from './x509.js';

export interface IndexEntry {
  name: string;
  kind: 'server' | 'client';
  serial: string;
  notAfter: string;
  issuedAt: string;
  revokedAt?: string;
}
export interface PkiIndex { version: 1; crlNumber: number; certs: IndexEntry[] }

export function paths(dir: string) {
  return {
    caCrt: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    crl: join(dir, 'crl.pem'),
    tc: join(dir, 'tc.key'),
    index: join(dir, 'index.json'),
    crt: (name: string) => join(dir, 'issued', `${name}.crt`),
    key: (name: string) => join(dir, 'private', `${name}.key`),
    revoked: (name: string, serial: string, ext: 'crt' | 'key') => join(dir, 'revoked', `${name}-${serial}.${ext}`),
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new PkiError('a certificate name is required');
  if (!NAME.test(name)) {
    throw new PkiError(`invalid name '${name}': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return name;
}

export function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PkiError(`${what} not found: ${file}`);
    if (code === 'EISDIR') throw new PkiError(`${what}: ${file} is a directory`);
    throw new PkiError(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

function requireDir(dir: string): void {
  let st;
  try { st = statSync(dir); } catch { throw new PkiError(`PKI directory ${dir} does not exist (run 'nanovpn pki init --dir ${dir}' first)`); }
  if (!st.isDirectory()) throw new PkiError(`${dir} is not a directory`);
}

export function loadCaCert(dir: string): string {
  requireDir(dir);
  const p = paths(dir);
  if (!existsSync(p.caCrt)) throw new PkiError(`CA certificate not found: ${p.caCrt} (run 'nanovpn pki init --dir ${dir}' first)`);
  const certPem = readText(p.caCrt, 'CA certificate');
  parseCert(certPem, p.caCrt);
  return certPem;
}

export function loadCa(dir: string): { certPem: string; keyPem: string } {
  const p = paths(dir);
  const certPem = loadCaCert(dir);
  const keyPem = readText(p.caKey, 'CA key');
  checkKeyMatchesCert(certPem, keyPem, 'CA');
  return { certPem, keyPem };
}

export function readIndex(dir: string): PkiIndex {
  const file = paths(dir).index;
  if (!existsSync(file)) return { version: 1, crlNumber: 0, certs: [] };
  let v: unknown;
  try { v = JSON.parse(readText(file, 'index')); } catch (e) {
    if (e instanceof PkiError) throw e;
    throw new PkiError(`${file} is not valid JSON`);
  }
  const idx = v as PkiIndex;
  if (!idx || idx.version !== 1 || !Array.isArray(idx.certs) || typeof idx.crlNumber !== 'number') {
    throw new PkiError(`${file} is not a nanovpn PKI index (version 1)`);
  }
  return idx;
}

function writeIndex(dir: string, idx: PkiIndex): void {
  writeAtomic(paths(dir).index, JSON.stringify(idx, null, 2) + '\n', 0o644);
}

/** Signs a CRL of everything the index marks revoked, then saves the index before the CRL: should the second
 *  write fail, the next CRL made from the index still carries every revocation. */
async function saveIndexAndCrl(dir: string, ca: { certPem: string; keyPem: string }, idx: PkiIndex): Promise<void> {
  idx.crlNumber += 1;
  const revoked = idx.certs.filter((c) => c.revokedAt).map((c) => ({ serial: c.serial, date: new Date(c.revokedAt!) }));
  const pem = await makeCrl(ca, revoked, { number: BigInt(idx.crlNumber) });
  writeIndex(dir, idx);
  writeAtomic(paths(dir).crl, pem, 0o644);
}

export async function initPki(dir: string, opts: { cn?: string; algo?: KeyAlgo } = {}): Promise<{ files: string[] }> {
  const p = paths(dir);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new PkiError(`${dir} exists and is not a directory`);
  refuseExisting(p.caKey, p.caCrt);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa({ cn: opts.cn ?? 'nanovpn CA', algo: opts.algo });
  writeNew(p.caKey, ca.keyPem, 0o600);
  writeNew(p.caCrt, ca.certPem, 0o644);
  const idx: PkiIndex = { version: 1, crlNumber: 0, certs: [] };
  await saveIndexAndCrl(dir, ca, idx);
  return { files: [p.caCrt, p.caKey, p.crl] };
}

export async function issue(dir: string, opts: { name: string; kind: 'server' | 'client'; algo?: KeyAlgo; sans?: string[] })
  : Promise<{ files: string[]; serial: string }> {
  const name = checkName(opts.name);
  const p = paths(dir);
  const ca = loadCa(dir);
  refuseExisting(p.key(name), p.crt(name));
  const idx = readIndex(dir);
  const issued = await issueCert(ca, { cn: name, kind: opts.kind, algo: opts.algo, sans: opts.sans });
  mkdirSync(join(dir, 'private'), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'issued'), { recursive: true, mode: 0o755 });
  writeNew(p.key(name), issued.keyPem, 0o600);
  writeNew(p.crt(name), issued.certPem, 0o644);
  idx.certs.push({
    name, kind: opts.kind, serial: issued.serial, issuedAt: new Date().toISOString(),
    notAfter: new Date(parseCert(issued.certPem).validTo).toISOString(),
  });
  writeIndex(dir, idx);
  return { files: [p.crt(name), p.key(name)], serial: issued.serial };
}

/** Revokes the live certificate called NAME, rebuilds crl.pem and moves its files to DIR/revoked/. */
export async function revoke(dir: string, rawName: string): Promise<{ serial: string; crl: string }> {
  const name = checkName(rawName);
  const p = paths(dir);
  const ca = loadCa(dir);
  const idx = readIndex(dir);
  if (!existsSync(p.crt(name))) {
    const gone = idx.certs.filter((c) => c.name === name && c.revokedAt).pop();
    if (gone) throw new PkiError(`'${name}' is already revoked (serial ${gone.serial}, ${gone.revokedAt})`);
    throw new PkiError(`no certificate named '${name}' in ${dir} (expected ${p.crt(name)})`);
  }
  const certPem = readText(p.crt(name), 'certificate');
  checkSignedBy(certPem, ca.certPem, `'${name}'`);
  const cert = parseCert(certPem);
  const serial = normalizeSerial(cert.serialNumber);
  let entry = idx.certs.find((c) => c.serial === serial);
  if (!entry) {
    // The index lost track of this file (edited by hand, or copied in): record it from the certificate itself.
    entry = {
      name, kind: cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1') ? 'server' : 'client', serial,
      notAfter: new Date(cert.validTo).toISOString(), issuedAt: new Date(cert.validFrom).toISOString(),
    };
    idx.certs.push(entry);
  }
  if (entry.revokedAt) throw new PkiError(`'${name}' (serial ${serial}) is already revoked (${entry.revokedAt})`);
  entry.revokedAt = new Date().toISOString();
  await saveIndexAndCrl(dir, ca, idx);
  mkdirSync(join(dir, 'revoked'), { recursive: true, mode: 0o700 });
  renameSync(p.crt(name), p.revoked(name, serial, 'crt'));
  if (existsSync(p.key(name))) renameSync(p.key(name), p.revoked(name, serial, 'key'));
  return { serial, crl: p.crl };
}

/** Rebuilds crl.pem from the index (a fresh nextUpdate) without revoking anything. */
export async function refreshCrl(dir: string): Promise<string> {
  const ca = loadCa(dir);
  const idx = readIndex(dir);
  await saveIndexAndCrl(dir, ca, idx);
  return paths(dir).crl;
}

export function writeTlsCrypt(dir: string): string {
  requireDir(dir);
  const file = paths(dir).tc;
  writeNew(file, makeStaticKey(), 0o600);
  return file;
}
