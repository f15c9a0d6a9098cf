// Certificates, CRLs and static keys from src/pki/x509.ts, checked with node:crypto, openssl and node:tls.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import * as tls from 'node:tls';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  checkKeyMatchesCert, checkSignedBy, createCa, issueCert, makeCrl, makeStaticKey, PkiError, type Issued,
} from '../../src/pki/x509.js';
import { parseStaticKey } from '../../src/config/static-key.js';
import { normalizeSerial, serialFromHex } from '../../src/pki/serial.js';

const DAY = 86_400_000;
let dir: string;
let ca: Issued, server: Issued, client: Issued, foreignCa: Issued, rsaCa: Issued, rsaServer: Issued;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}
function text(pem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text', '-in', file('t.pem', pem)], { encoding: 'utf8', timeout: 20_000 });
}
/** The lines under an "X509v3 <name>:" heading in openssl's text dump. */
function extText(dump: string, name: string): string {
  const m = new RegExp(`X509v3 ${name}:( critical)?[ \\t]*\\n\\s*(.*)`).exec(dump);
  assert.ok(m, `no ${name} in\n${dump}`);
  return `${m[1] ? 'critical ' : ''}${m[2]!.trim()}`;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nanovpn-pki-'));
  ca = await createCa({ cn: 'Test CA' });
  server = await issueCert(ca, { cn: 'vpn.example.test', kind: 'server', sans: ['127.0.0.1', 'DNS:alt.example.test', '::1'] });
  client = await issueCert(ca, { cn: 'alice', kind: 'client' });
  foreignCa = await createCa({ cn: 'Test CA' });
  rsaCa = await createCa({ cn: 'RSA CA', algo: 'rsa2048' });
  rsaServer = await issueCert(rsaCa, { cn: 'rsa-server', kind: 'server', algo: 'rsa2048' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('createCa', () => {
  test('is a self-signed EC P-256 CA with critical CA:TRUE, keyCertSign+cRLSign and an SKI', () => {
    const x = new X509Certificate(ca.certPem);
    assert.equal(x.subject, 'CN=Test CA');
    assert.equal(x.issuer, 'CN=Test CA');
    assert.equal(x.ca, true);
    assert.equal(x.publicKey.asymmetricKeyType, 'ec');
    assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(x.verify(x.publicKey));
    const t = text(ca.certPem);
    assert.equal(extText(t, 'Basic Constraints'), 'critical CA:TRUE');
    assert.equal(extText(t, 'Key Usage'), 'critical Certificate Sign, CRL Sign');
    assert.match(extText(t, 'Subject Key Identifier'), /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    assert.match(t, /Signature Algorithm: ecdsa-with-SHA256/);
  });

  test('key is PKCS#8 PEM and matches the certificate; serial is the certificate serial', () => {
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(new X509Certificate(ca.certPem).checkPrivateKey(createPrivateKey(ca.keyPem)));
    assert.equal(ca.serial, new X509Certificate(ca.certPem).serialNumber);
  });

  test('defaults to 10 years of validity starting about now', () => {
    const x = new X509Certificate(ca.certPem);
    const from = Date.parse(x.validFrom), to = Date.parse(x.validTo);
    assert.ok(Math.abs(from - Date.now()) < DAY, x.validFrom);
    assert.equal(Math.round((to - from) / DAY), 3650);
  });

  test('rsa2048 CA has a 2048-bit RSA key and signs with sha256WithRSAEncryption', () => {
    const x = new X509Certificate(rsaCa.certPem);
    assert.equal(x.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.match(text(rsaCa.certPem), /Signature Algorithm: sha256WithRSAEncryption/);
  });

  test('honours notBefore/notAfter and rejects bad input', async () => {
    const nb = new Date('2030-01-02T03:04:05Z'), na = new Date('2055-06-07T08:09:10Z');
    const x = new X509Certificate((await createCa({ cn: 'Dated', notBefore: nb, notAfter: na })).certPem);
    assert.equal(Date.parse(x.validFrom), nb.getTime());
    assert.equal(Date.parse(x.validTo), na.getTime()); // after 2049: GeneralizedTime
    await assert.rejects(createCa({ cn: '' }), PkiError);
    await assert.rejects(createCa({ cn: 'x'.repeat(65) }), /longer than 64/);
    await assert.rejects(createCa({ cn: 'x', notBefore: na, notAfter: nb }), /notAfter must be later/);
    await assert.rejects(createCa({ cn: 'x', algo: 'dsa' as never }), /unknown key algorithm/);
  });
});

describe('issueCert', () => {
  test('server: serverAuth EKU, digitalSignature+keyAgreement, SAN DNS:<cn> plus extras, AKI = CA SKI, CA:FALSE', () => {
    const x = new X509Certificate(server.certPem);
    assert.equal(x.subject, 'CN=vpn.example.test');
    assert.equal(x.issuer, 'CN=Test CA');
    assert.equal(x.ca, false);
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(x.subjectAltName, 'DNS:vpn.example.test, IP Address:127.0.0.1, DNS:alt.example.test, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(x.checkHost('vpn.example.test'), 'vpn.example.test');
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
    const t = text(server.certPem), caText = text(ca.certPem);
    assert.equal(extText(t, 'Key Usage'), 'critical Digital Signature, Key Agreement');
    assert.equal(extText(t, 'Extended Key Usage'), 'TLS Web Server Authentication');
    assert.equal(extText(t, 'Authority Key Identifier'), extText(caText, 'Subject Key Identifier').replace(/^keyid:/, ''));
    assert.equal(extText(t, 'Basic Constraints'), 'CA:FALSE');
    const days = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / DAY;
    assert.equal(Math.round(days), 825);
  });

  test('RSA server: digitalSignature+keyEncipherment', () => {
    assert.equal(extText(text(rsaServer.certPem), 'Key Usage'), 'critical Digital Signature, Key Encipherment');
    assert.equal(new X509Certificate(rsaServer.certPem).subjectAltName, 'DNS:rsa-server');
  });

  test('client: clientAuth EKU, digitalSignature only, no SAN', () => {
    const x = new X509Certificate(client.certPem);
    assert.equal(x.subject, 'CN=alice');
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(x.subjectAltName, undefined);
    assert.equal(extText(text(client.certPem), 'Key Usage'), 'critical Digital Signature');
    assert.match(client.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  test('a server CN that is not a host name gets no DNS SAN for it', async () => {
    const s = await issueCert(ca, { cn: 'My Server', kind: 'server' });
    assert.equal(new X509Certificate(s.certPem).subjectAltName, undefined);
  });

  test('serials are random, positive, 16 bytes, and equal the certificate serial', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const c = await issueCert(ca, { cn: `c${i}`, kind: 'client' });
      assert.match(c.serial, /^[4-7][0-9A-F]{31}$/);
      assert.equal(c.serial, new X509Certificate(c.certPem).serialNumber);
      serials.add(c.serial);
    }
    assert.equal(serials.size, 8);
  });

  test('openssl verify accepts server and client against their CA, refuses them against a foreign CA', () => {
    const caFile = file('ca.pem', ca.certPem);
    for (const c of [server, client]) {
      const r = openssl(['verify', '-CAfile', caFile, file('leaf.pem', c.certPem)]);
      assert.ok(r.ok, r.out);
      assert.match(r.out, /: OK/);
    }
    const purposes = [['sslserver', server], ['sslclient', client]] as const;
    for (const [purpose, c] of purposes) assert.ok(openssl(['verify', '-purpose', purpose, '-CAfile', caFile, file('leaf.pem', c.certPem)]).ok);
    assert.equal(openssl(['verify', '-purpose', 'sslserver', '-CAfile', caFile, file('leaf.pem', client.certPem)]).ok, false);
    const foreign = file('foreign.pem', foreignCa.certPem);
    for (const c of [server, client]) assert.equal(openssl(['verify', '-CAfile', foreign, file('leaf.pem', c.certPem)]).ok, false);
    const rsaOk = openssl(['verify', '-CAfile', file('rsaca.pem', rsaCa.certPem), file('leaf.pem', rsaServer.certPem)]);
    assert.ok(rsaOk.ok, rsaOk.out);
  });

  test('an EC leaf can be issued by an RSA CA and vice versa', async () => {
    const ecUnderRsa = await issueCert(rsaCa, { cn: 'mixed', kind: 'client' });
    const rsaUnderEc = await issueCert(ca, { cn: 'mixed2', kind: 'client', algo: 'rsa2048' });
    checkSignedBy(ecUnderRsa.certPem, rsaCa.certPem);
    checkSignedBy(rsaUnderEc.certPem, ca.certPem);
  });

  test('notBefore/notAfter make an expired certificate that openssl rejects as expired', async () => {
    const old = await issueCert(ca, {
      cn: 'old', kind: 'client', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY),
    });
    const r = openssl(['verify', '-CAfile', file('ca.pem', ca.certPem), file('leaf.pem', old.certPem)]);
    assert.equal(r.ok, false);
    assert.match(r.out, /certificate has expired/);
    const onlyAfter = await issueCert(ca, { cn: 'old2', kind: 'client', notAfter: new Date(Date.now() - DAY) });
    const x = new X509Certificate(onlyAfter.certPem);
    assert.ok(Date.parse(x.validFrom) < Date.parse(x.validTo));
  });

  test('rejects a CA key that does not match, a non-CA signer, a bad kind and bad SANs', async () => {
    await assert.rejects(issueCert({ certPem: ca.certPem, keyPem: foreignCa.keyPem }, { cn: 'x', kind: 'client' }),
      /private key does not match the CA certificate/);
    await assert.rejects(issueCert(server, { cn: 'x', kind: 'client' }), /cannot sign/);
    await assert.rejects(issueCert(ca, { cn: 'x', kind: 'peer' as never }), /kind must be/);
    await assert.rejects(issueCert(ca, { cn: 'x', kind: 'server', sans: ['not a name'] }), /not a DNS name/);
    await assert.rejects(issueCert(ca, { cn: 'x', kind: 'server', sans: ['IP:300.1.1.1'] }), /not an IP address/);
    await assert.rejects(issueCert({ certPem: 'junk', keyPem: ca.keyPem }, { cn: 'x', kind: 'client' }), /no '-----BEGIN CERTIFICATE-----'/);
  });

  test('accepts a CA key in SEC1 ("EC PRIVATE KEY") form as written by openssl', async () => {
    const sec1 = createPrivateKey(ca.keyPem).export({ type: 'sec1', format: 'pem' }) as string;
    const c = await issueCert({ certPem: ca.certPem, keyPem: sec1 }, { cn: 'sec1', kind: 'client' });
    checkSignedBy(c.certPem, ca.certPem);
  });
});

describe('makeCrl', () => {
  test('verifies with openssl against the CA and lists the revoked serial and date', async () => {
    const when = new Date('2030-05-06T07:08:09Z');
    const crl = await makeCrl(ca, [{ serial: client.serial, date: when }], { thisUpdate: new Date('2030-05-06T08:00:00Z') });
    assert.match(crl, /^-----BEGIN X509 CRL-----\n/);
    const r = openssl(['crl', '-in', file('crl.pem', crl), '-CAfile', file('ca.pem', ca.certPem), '-noout', '-text']);
    assert.ok(r.ok, r.out);
    assert.match(r.out, /verify OK/);
    assert.match(r.out, new RegExp(`Serial Number: ${client.serial}\\n\\s+Revocation Date: May  6 07:08:09 2030 GMT`));
    assert.match(r.out, /Issuer: CN = Test CA/);
    assert.match(r.out, /Last Update: May {2}6 08:00:00 2030 GMT/);
    assert.match(r.out, /X509v3 CRL Number:/);
    assert.match(r.out, /X509v3 Authority Key Identifier/);
  });

  test('fails verification against a foreign CA with the same name', async () => {
    const crl = await makeCrl(ca, []);
    const r = openssl(['crl', '-in', file('crl.pem', crl), '-CAfile', file('foreign.pem', foreignCa.certPem), '-noout']);
    // OpenSSL 3.0's `crl` exits 0 after a failed signature check; the verdict is in its output.
    assert.match(r.out, /verify failure/);
    assert.doesNotMatch(r.out, /verify OK/);
  });

  test('an empty CRL has no revoked list; openssl verify -crl_check then accepts the server cert', async () => {
    const crl = await makeCrl(ca, []);
    const r = openssl(['crl', '-in', file('crl.pem', crl), '-noout', '-text']);
    assert.match(r.out, /No Revoked Certificates/);
    const chain = file('chain.pem', ca.certPem + crl);
    const v = openssl(['verify', '-crl_check', '-CAfile', chain, file('leaf.pem', server.certPem)]);
    assert.ok(v.ok, v.out);
  });

  test('openssl verify -crl_check refuses a revoked certificate and accepts the others', async () => {
    const crl = await makeCrl(ca, [{ serial: client.serial.toLowerCase(), date: new Date() }]);
    const chain = file('chain.pem', ca.certPem + crl);
    const revoked = openssl(['verify', '-crl_check', '-CAfile', chain, file('leaf.pem', client.certPem)]);
    assert.equal(revoked.ok, false);
    assert.match(revoked.out, /certificate revoked/);
    assert.ok(openssl(['verify', '-crl_check', '-CAfile', chain, file('leaf.pem', server.certPem)]).ok);
  });

  test('defaults to a ten-year nextUpdate and rejects bad input', async () => {
    const crl = await makeCrl(rsaCa, [{ serial: '01', date: new Date() }]);
    const r = openssl(['crl', '-in', file('crl.pem', crl), '-CAfile', file('rsaca.pem', rsaCa.certPem), '-noout', '-lastupdate', '-nextupdate']);
    assert.ok(r.ok, r.out);
    const last = Date.parse(/lastUpdate=(.*)/.exec(r.out)![1]!), next = Date.parse(/nextUpdate=(.*)/.exec(r.out)![1]!);
    assert.equal(Math.round((next - last) / DAY), 3650);
    await assert.rejects(makeCrl(ca, [{ serial: 'xyz', date: new Date() }]), /not a hex number/);
    await assert.rejects(makeCrl(ca, [{ serial: '0', date: new Date() }]), /positive/);
    await assert.rejects(makeCrl(ca, [{ serial: '01', date: new Date(NaN) }]), /not a valid date/);
    await assert.rejects(makeCrl(ca, [], { thisUpdate: new Date(2e12), nextUpdate: new Date(1e12) }), /nextUpdate must be later/);
  });
});

describe('serial hex', () => {
  test('normalizes case, separators and leading zeros; DER stays positive', () => {
    assert.equal(normalizeSerial('0x00ab:cd'), 'ABCD');
    assert.deepEqual([...serialFromHex('80')], [0, 0x80]);
    assert.deepEqual([...serialFromHex('7f')], [0x7f]);
    assert.throws(() => serialFromHex('00'), /positive/);
  });
});

describe('makeStaticKey', () => {
  test('is a 2048-bit OpenVPN Static key V1 that re-parses, differs each time, and openvpn loads', () => {
    const a = makeStaticKey(), b = makeStaticKey();
    assert.match(a, /-----BEGIN OpenVPN Static key V1-----\n([0-9a-f]{32}\n){16}-----END OpenVPN Static key V1-----\n$/);
    assert.equal(parseStaticKey(a).length, 256);
    assert.notDeepEqual(parseStaticKey(a), parseStaticKey(b));
    const r = spawnSync('openvpn', ['--test-crypto', '--secret', file('tc.key', a), '--cipher', 'AES-256-CBC', '--verb', '1'],
      { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /self-test mode SUCCEEDED/);
  });
});

describe('checkKeyMatchesCert / checkSignedBy', () => {
  test('pass for matching pairs and issuers', () => {
    checkKeyMatchesCert(server.certPem, server.keyPem);
    checkKeyMatchesCert(ca.certPem, ca.keyPem);
    checkSignedBy(server.certPem, ca.certPem);
    checkSignedBy(client.certPem, ca.certPem);
    checkSignedBy(ca.certPem, ca.certPem);
  });

  test('fail with one clear line for a wrong key, a foreign CA with the same name, and bad PEM', () => {
    assert.throws(() => checkKeyMatchesCert(server.certPem, client.keyPem), /^PkiError: the private key does not match the certificate \(CN=vpn.example.test\)$/);
    assert.throws(() => checkKeyMatchesCert(server.certPem, rsaServer.keyPem), /does not match/);
    assert.throws(() => checkSignedBy(server.certPem, foreignCa.certPem), /was not signed by this CA \(CN=Test CA\)/);
    assert.throws(() => checkSignedBy(rsaServer.certPem, ca.certPem), /was not signed by this CA/);
    assert.throws(() => checkKeyMatchesCert('hello', server.keyPem), /not a PEM certificate/);
    assert.throws(() => checkKeyMatchesCert(server.certPem, 'hello'), /not a PEM private key/);
    assert.throws(() => checkKeyMatchesCert(server.certPem.replace(/\n[A-Za-z0-9+/]{64}\n/, '\nAAAA\n'), server.keyPem), /damaged/);
    assert.throws(() => checkKeyMatchesCert(server.certPem, server.keyPem.replace('PRIVATE KEY-----\n', 'PRIVATE KEY-----\nAAAA')), /damaged|unsupported/);
    assert.throws(() => checkSignedBy(server.certPem, '-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n'), /CA certificate: .*not valid base64/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assert.throws(() => checkKeyMatchesCert(server.certPem, ed), /does not match/);
    for (const f of [() => checkKeyMatchesCert(server.certPem, client.keyPem), () => checkSignedBy(server.certPem, foreignCa.certPem)]) {
      assert.throws(f, (e: Error) => e instanceof PkiError && !e.message.includes('\n'));
    }
  });
});

describe('node:tls', () => {
  async function handshake(srv: Issued, cli: Issued,
    trust: Issued): Promise<{ serverSawClient: string | undefined; authorized: boolean; error?: string }> {
    const server = tls.createServer({ key: srv.keyPem, cert: srv.certPem, ca: trust.certPem, requestCert: true, rejectUnauthorized: true });
    let serverSawClient: string | undefined;
    server.on('secureConnection', (s) => { const cn = s.getPeerCertificate().subject?.CN; serverSawClient = Array.isArray(cn) ? cn.join(',') : cn; s.end('hi'); });
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      return await new Promise((resolve) => {
        const sock = tls.connect({ host: '127.0.0.1', port, servername: 'vpn.example.test', key: cli.keyPem, cert: cli.certPem, ca: ca.certPem });
        const timer = setTimeout(() => { sock.destroy(); resolve({ serverSawClient, authorized: false, error: 'timeout' }); }, 10_000);
        sock.on('data', () => { clearTimeout(timer); sock.end(); resolve({ serverSawClient, authorized: sock.authorized }); });
        sock.on('error', (e) => { clearTimeout(timer); resolve({ serverSawClient, authorized: false, error: e.message }); });
        sock.on('close', () => { clearTimeout(timer); resolve({ serverSawClient, authorized: false, error: 'closed before any data' }); });
      });
    } finally {
      server.close();
    }
  }

  test('a client cert from our CA authenticates to a server cert from our CA, both ways', async () => {
    const r = await handshake(server, client, ca);
    assert.equal(r.error, undefined);
    assert.equal(r.authorized, true);
    assert.equal(r.serverSawClient, 'alice');
  });

  test('the server refuses a client cert from a foreign CA', async () => {
    const stranger = await issueCert(foreignCa, { cn: 'mallory', kind: 'client' });
    const r = await handshake(server, stranger, ca);
    assert.equal(r.serverSawClient, undefined);
    assert.ok(r.error, 'handshake should fail');
  });
});
