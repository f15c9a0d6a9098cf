// Issue 14: `capath DIR`, a folder made by `openssl rehash`: a client whose CA is only in the folder gets in, one
// revoked by a CRL in the folder is refused, and a CRL that appears while the server runs is read again (as
// crl-verify's file is), all with real OpenVPN 2.6 clients.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology } from '../helpers/netns.js';
import { makeTestPki, type CertKey } from '../helpers/pki.js';
import { BUNDLE, nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { CLIENT_FAILURE, startOpenVpnClient } from '../helpers/openvpn-client.js';
import { VPN_SERVER_IP } from '../helpers/openvpn-server.js';
import { createCa, issueCert, makeCrl } from '../../src/pki/x509.js';

function skipReason(): string | undefined {
  if (!existsSync(BUNDLE)) return `${BUNDLE} is missing: npm run build`;
  if (!haveCommand('openssl')) return 'openssl is not installed; run test/install-deps.sh';
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

test('capath: a CA only in the hashed folder is trusted; its CRLs there refuse revoked clients, also ones added while running', { timeout: 180_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    // The server's own CA (ca.crt) and a second one that is only in capath.
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const other = await createCa({ cn: 'capath-only CA' });
    const issue = async (cn: string): Promise<CertKey> => {
      const c = await issueCert(other, { cn, kind: 'client' });
      return { cn, cert: c.certPem, key: c.keyPem, serial: c.serial, certPath: '', keyPath: '' };
    };
    const good = await issue('capath-good');
    const revoked = await issue('capath-revoked');
    const later = await issue('capath-later');
    const dir = topo.tempDir('capath');
    const crl = async (certs: CertKey[]) => makeCrl(other, certs.map((c) => ({ serial: c.serial, date: new Date(Date.now() - 60_000) })));
    writeFileSync(join(dir, 'other-ca.pem'), other.certPem);
    writeFileSync(join(dir, 'other-crl.pem'), await crl([revoked]));
    // With CRLs in play every CA needs one (README, capath; 2.6 would let a CA without one pass): the server CA's, revoking nobody.
    writeFileSync(join(dir, 'server-ca-crl.pem'), (await pki.crl([])).text);
    execFileSync('openssl', ['rehash', dir], { stdio: 'ignore' });
    const hashed = readdirSync(dir).filter((n) => /^[0-9a-f]{8}\.r?\d+$/.test(n));
    assert.equal(hashed.filter((n) => /\.\d+$/.test(n)).length, 1, `one CA file: ${hashed.join(' ')}`);
    assert.equal(hashed.filter((n) => /\.r\d+$/.test(n)).length, 2, `two CRL files: ${hashed.join(' ')}`);

    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: [`capath ${dir}`] }) });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const login = (node: 'cli1' | 'cli2', cert: CertKey) =>
      startOpenVpnClient({ topo, node, proto: 'udp', remote: srvAddrFor(node === 'cli1' ? 1 : 2), pki, cert, name: cert.cn });

    // The CA of `ca` still works next to capath.
    const c1 = login('cli1', pki.clients.client1!);
    try { await c1.waitInitialized(); } catch (e) { await new Promise((r) => setTimeout(r, 1500)); console.log('SERVER:' + server.proc.output); throw e; }
    await c1.stop();

    const g = login('cli1', good);
    await g.waitInitialized();
    const ping = await topo.exec('cli1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', VPN_SERVER_IP], { check: false, timeoutMs: 20_000 });
    assert.equal(ping.code, 0, ping.stdout);

    const r = login('cli2', revoked);
    await assert.rejects(r.waitInitialized({ timeoutMs: 15_000, failOn: CLIENT_FAILURE }));
    await r.stop();
    await server.waitForLine(/client refused cn=capath-revoked .*CERT_REVOKED/, 10_000);

    // A new CRL revoking one more client, rehashed into the folder while the server runs.
    const l = login('cli2', later);
    await l.waitInitialized();
    await l.stop();
    writeFileSync(join(dir, 'other-crl.pem'), await crl([revoked, later]));
    execFileSync('openssl', ['rehash', dir], { stdio: 'ignore' });
    await server.waitForLine(/capath: CRLs reloaded/, 15_000);
    const l2 = login('cli2', later);
    await assert.rejects(l2.waitInitialized({ timeoutMs: 15_000, failOn: CLIENT_FAILURE }));
    await l2.stop();
    await server.waitForLine(/client refused cn=capath-later .*CERT_REVOKED/, 10_000);

    await g.stop();
    assert.equal((await server.stop()).code, 0);
  });
});
