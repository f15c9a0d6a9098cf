// Throwaway PKI for tests, made with nanovpn's own src/pki: EC P-256 CA, server cert (CN "server", EKU
// serverAuth), client certs (EKU clientAuth), tls-auth and tls-crypt static keys. Every PEM is also written to
// `dir` (ca.crt/ca.key, <cn>.crt/<cn>.key, ta.key, tc.key) for configs that reference files.
//
//   makeTestPki(dir, { clients: ['client1', 'client2'] }): Promise<TestPki>
//   pki.issueClient(cn, opts?): Promise<CertKey>   one more client cert from the same CA (added to pki.clients)
//   pki.crl(revoked): Promise<FileText>            a CRL from the CA revoking those certs (crl.pem)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCert, makeCrl, makeStaticKey, type Issued, type KeyAlgo } from '../../src/pki/x509.js';

export interface CertKey {
  cn: string;
  cert: string;       // PEM
  key: string;        // PEM (PKCS#8)
  serial: string;     // hex
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
  issueClient(cn: string, opts?: { notBefore?: Date; notAfter?: Date; algo?: KeyAlgo }): Promise<CertKey>;
  crl(revoked: CertKey[]): Promise<FileText>;
}

function save(dir: string, cn: string, fileBase: string, issued: Issued): CertKey {
  const certPath = join(dir, `${fileBase}.crt`);
  const keyPath = join(dir, `${fileBase}.key`);
  writeFileSync(certPath, issued.certPem);
  writeFileSync(keyPath, issued.keyPem, { mode: 0o600 });
  return { cn, cert: issued.certPem, key: issued.keyPem, serial: issued.serial, certPath, keyPath };
}

function saveText(path: string, text: string): FileText {
  writeFileSync(path, text, { mode: 0o600 });
  return { text, path };
}

export async function makeTestPki(dir: string, opts: { clients?: string[]; algo?: KeyAlgo } = {}): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  const caIssued = await createCa({ cn: 'nanovpn test CA', algo: opts.algo });
  const ca = save(dir, 'nanovpn test CA', 'ca', caIssued);
  const caRef = { certPem: caIssued.certPem, keyPem: caIssued.keyPem };
  const server = save(dir, 'server', 'server', await issueCert(caRef, { cn: 'server', kind: 'server', algo: opts.algo }));
  const clients: Record<string, CertKey> = {};
  const issueClient: TestPki['issueClient'] = async (cn, o = {}) => {
    if (!/^[A-Za-z0-9._-]+$/.test(cn) || cn === 'server' || cn === 'ca') throw new Error(`unusable test client name '${cn}'`);
    const c = save(dir, cn, cn, await issueCert(caRef, { cn, kind: 'client', algo: o.algo ?? opts.algo, notBefore: o.notBefore, notAfter: o.notAfter }));
    clients[cn] = c;
    return c;
  };
  for (const cn of opts.clients ?? ['client1', 'client2']) await issueClient(cn);
  return {
    dir, ca, server, clients, issueClient,
    tlsAuth: saveText(join(dir, 'ta.key'), makeStaticKey()),
    tlsCrypt: saveText(join(dir, 'tc.key'), makeStaticKey()),
    crl: async (revoked) => saveText(join(dir, 'crl.pem'),
      await makeCrl(caRef, revoked.map((c) => ({ serial: c.serial, date: new Date(Date.now() - 60_000) })))),
  };
}
