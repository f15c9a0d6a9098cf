// Throwaway PKI for tests: EC CA, server cert (CN "server", EKU serverAuth), client certs (EKU clientAuth),
// tls-auth and tls-crypt static keys; every PEM is also written to `dir`.
//
//   makeTestPki(dir, { clients: ['client1', 'client2'] }): Promise<TestPki>
//   pki.issueClient(cn): Promise<CertKey>     one more client cert, signed by the same CA
//   pki.crl(revoked): Promise<FileText>       a CRL from the CA revoking those certs
// TEMPORARY: generated with the openssl CLI until src/pki/x509.ts lands.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatStaticKey } from '../../src/config/static-key.js';

const run = promisify(execFile);

export interface CertKey {
  cn: string;
  cert: string;       // PEM
  key: string;        // PEM (PKCS#8)
  certPath: string;
  keyPath: string;
}
export interface FileText { text: string; path: string }
export interface TestPki {
  dir: string;
  ca: CertKey;
  server: CertKey;
  /** Client certs by common name. */
  clients: Record<string, CertKey>;
  tlsAuth: FileText;
  tlsCrypt: FileText;
  issueClient(cn: string): Promise<CertKey>;
  crl(revoked: CertKey[]): Promise<FileText>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd, timeout: 30_000 });
}

async function newKey(dir: string, name: string): Promise<string> {
  const path = join(dir, `${name}.key`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path], dir);
  return path;
}

export async function makeTestPki(dir: string, opts: { clients?: string[] } = {}): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  const caKey = await newKey(dir, 'ca');
  const caCrt = join(dir, 'ca.crt');
  await openssl(['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=nanovpn test CA', '-days', '30', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', caCrt], dir);
  const ca: CertKey = { cn: 'nanovpn test CA', cert: readFileSync(caCrt, 'utf8'), key: readFileSync(caKey, 'utf8'), certPath: caCrt, keyPath: caKey };

  const issue = async (cn: string, eku: 'serverAuth' | 'clientAuth'): Promise<CertKey> => {
    const keyPath = await newKey(dir, cn);
    const csr = join(dir, `${cn}.csr`);
    const ext = join(dir, `${cn}.ext`);
    const certPath = join(dir, `${cn}.crt`);
    writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=${eku}\n`);
    await openssl(['req', '-new', '-key', keyPath, '-subj', `/CN=${cn}`, '-out', csr], dir);
    await openssl(['x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-days', '30', '-sha256',
      '-extfile', ext, '-out', certPath], dir);
    return { cn, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath };
  };

  const staticKey = (name: string): FileText => {
    const path = join(dir, name);
    const text = formatStaticKey(randomBytes(256));
    writeFileSync(path, text, { mode: 0o600 });
    return { text, path };
  };

  const server = await issue('server', 'serverAuth');
  const clients: Record<string, CertKey> = {};
  for (const cn of opts.clients ?? ['client1', 'client2']) clients[cn] = await issue(cn, 'clientAuth');

  return {
    dir, ca, server, clients,
    tlsAuth: staticKey('ta.key'),
    tlsCrypt: staticKey('tc.key'),
    issueClient: async (cn) => (clients[cn] = await issue(cn, 'clientAuth')),
    crl: async (revoked) => {
      const db = join(dir, 'index.txt');
      const cnf = join(dir, 'crl.cnf');
      writeFileSync(db, '');
      writeFileSync(cnf, `[ca]\ndefault_ca=d\n[d]\ndatabase=${db}\ndefault_md=sha256\ndefault_crl_days=30\n`);
      for (const c of revoked) await openssl(['ca', '-config', cnf, '-cert', caCrt, '-keyfile', caKey, '-revoke', c.certPath], dir);
      const path = join(dir, 'crl.pem');
      await openssl(['ca', '-config', cnf, '-cert', caCrt, '-keyfile', caKey, '-gencrl', '-out', path], dir);
      return { text: readFileSync(path, 'utf8'), path };
    },
  };
}
