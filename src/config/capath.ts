// `capath DIR`: OpenSSL's hashed folder of trusted certificates, as `openssl rehash` (c_rehash) lays it out: CA
// certificates in HASH.N, CRLs in HASH.rN (HASH: 8 hex digits of the name hash, N: 0, 1, … for names that share
// it). OpenSSL looks files up by that name while it verifies; nanovpn reads every file so named instead: the CAs
// at startup (trusted together with those of `ca`), the CRLs at startup and again whenever one changes
// (server/capath-crls.ts). Other files in the folder are not read, as OpenSSL would never look them up; the hash
// itself is not recomputed, so a file is taken for what its PEM blocks say it is.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CA_FILE = /^[0-9a-f]{8}\.\d+$/;
const CRL_FILE = /^[0-9a-f]{8}\.r\d+$/;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----\n?/g;

export interface CapathFile { name: string; text: string }

/** The PEM blocks of one label in a file, or an error naming the file. */
function blocks(dir: string, name: string, label: string): string[] {
  const text = readFileSync(join(dir, name), 'utf8');
  const found = [...text.matchAll(PEM_BLOCK)];
  if (found.length === 0 || found.some((m) => m[1] !== label)) {
    throw new Error(`${join(dir, name)}: expected PEM ${label === 'X509 CRL' ? 'CRL' : 'certificate'}s ('-----BEGIN ${label}-----') only`);
  }
  return found.map((m) => m[0].endsWith('\n') ? m[0] : m[0] + '\n');
}

function names(dir: string, re: RegExp): string[] {
  return readdirSync(dir).filter((n) => re.test(n)).sort();
}

/** Every CA certificate of the folder, as one PEM bundle ('' when there are none). Throws on an unreadable folder
 *  or a HASH.N file that holds anything but certificates. */
export function readCapathCas(dir: string): { pem: string; files: number } {
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  const files = names(dir, CA_FILE);
  return { pem: files.flatMap((n) => blocks(dir, n, 'CERTIFICATE')).join(''), files: files.length };
}

/** What the CRL files look like now (names, sizes, mtimes): a change means they must be read again. */
export function capathCrlStamp(dir: string): string {
  return names(dir, CRL_FILE).map((n) => {
    const st = statSync(join(dir, n));
    return `${n}:${st.size}:${st.mtimeMs}`;
  }).join('/');
}

/** Every CRL of the folder, as one PEM bundle ('' when there are none). Throws like readCapathCas. */
export function readCapathCrls(dir: string): { pem: string; files: number } {
  const files = names(dir, CRL_FILE);
  return { pem: files.flatMap((n) => blocks(dir, n, 'X509 CRL')).join(''), files: files.length };
}
