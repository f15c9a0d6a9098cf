// Issue 12: data-channel ciphers with unmodified Debian openvpn 2.6 clients in network namespaces: each AEAD cipher,
// AES-128/192/256-CBC with HMAC digests, over UDP and TCP, and 2.6's cipher negotiation (data-ciphers order, DEFAULT,
// data-ciphers-fallback). Traffic is checked with pings through the tunnel: small ones, ones of many CBC blocks and
// full 1500-byte packets (tun-mtu).
//
// Clients without cipher negotiation (2.3 and older, or built without OCC) cannot be played by a 2.6 client: a 2.6
// pull client always sends IV_CIPHERS (ssl.c push_peer_info), whatever --compat-mode says (it only changes the
// client's own data-ciphers and fallback, see the man page). Those cases (IV_NCP only, OCC cipher only, nothing at
// all, with and without data-ciphers-fallback) are unit tests of negotiate() and of the session
// (test/unit/negotiate.test.ts, test/unit/session-cbc.test.ts). Here the fallback is shown not to rescue a client
// whose ciphers are known, exactly as a 2.6 server behaves.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient, type OpenVpnClientOptions } from '../helpers/openvpn-client.js';

const SERVER_IP = '10.8.0.1';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

async function ping(topo: Topology, size: number, count = 3): Promise<{ code: number | null; out: string }> {
  const r = await topo.exec('cli1', ['ping', '-c', String(count), '-i', '0.2', '-W', '2', '-s', String(size), SERVER_IP],
    { check: false, timeoutMs: 30_000 });
  return { code: r.code, out: r.stdout };
}

interface Env { topo: Topology; pki: TestPki; server: NanovpnServer }

async function withServer(t: TestContext, o: { proto: 'udp' | 'tcp'; extra: string[] }, fn: (e: Env) => Promise<void>): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: o.proto, extra: o.extra }) });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    await fn({ topo, pki, server });
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
  });
}

function client(e: Env, o: Partial<OpenVpnClientOptions> & { proto: 'udp' | 'tcp' }) {
  return startOpenVpnClient({ topo: e.topo, node: 'cli1', remote: srvAddrFor(1), pki: e.pki, cn: 'client1', ...o });
}

/** Connects, pings with a small and a many-block payload, and checks both sides name the cipher (and digest). */
async function connectsWith(e: Env, proto: 'udp' | 'tcp', cipher: string, clientOpts: Partial<OpenVpnClientOptions>, auth?: string) {
  const c = client(e, { proto, ...clientOpts });
  await c.waitInitialized();
  for (const size of [56, 1000, 1472]) {
    const p = await ping(e.topo, size);
    assert.equal(p.code, 0, `ping -s ${size}: ${p.out}`);
    assert.match(p.out, /3 packets transmitted, 3 received/);
  }
  assert.match(await e.server.waitForLine(/client connected/, 5_000), new RegExp(`cipher=${cipher} `));
  const dataChannel = auth ? `Data Channel: cipher '${cipher}', auth '${auth}'` : `Data Channel: cipher '${cipher}'`;
  assert.match(c.proc.output, new RegExp(dataChannel.replace(/[()]/g, '\\$&')));
  await c.stop();
}

for (const cipher of ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305']) {
  test(`udp: AEAD ${cipher}, offered alone by the client, is picked from the server's defaults`, { timeout: 90_000 }, async (t) => {
    await withServer(t, { proto: 'udp', extra: [] }, (e) => connectsWith(e, 'udp', cipher, { dataCiphers: cipher }));
  });
}

const CBC_CASES = [
  { proto: 'udp', cipher: 'AES-128-CBC', auth: 'SHA1' },
  { proto: 'udp', cipher: 'AES-128-CBC', auth: 'SHA256' },
  { proto: 'udp', cipher: 'AES-192-CBC', auth: 'SHA256' },
  { proto: 'udp', cipher: 'AES-192-CBC', auth: 'SHA512' },
  { proto: 'udp', cipher: 'AES-256-CBC', auth: 'SHA1' },
  { proto: 'udp', cipher: 'AES-256-CBC', auth: 'SHA512' },
  { proto: 'tcp', cipher: 'AES-256-CBC', auth: 'SHA256' },
  { proto: 'tcp', cipher: 'AES-128-CBC', auth: 'SHA1' },
] as const;

for (const { proto, cipher, auth } of CBC_CASES) {
  test(`${proto}: ${cipher} with HMAC-${auth} carries pings both ways`, { timeout: 90_000 }, async (t) => {
    await withServer(t, { proto, extra: [`data-ciphers AES-256-GCM:${cipher}`, `auth ${auth}`] }, (e) =>
      connectsWith(e, proto, cipher, { dataCiphers: cipher, extra: [`auth ${auth}`] }, auth));
  });
}

test('udp: AES-256-CBC with HMAC-SHA256 through the node:crypto engine (data-crypto node)', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', extra: ['data-ciphers AES-256-CBC', 'auth SHA256', 'data-crypto node'] }, async (e) => {
    await connectsWith(e, 'udp', 'AES-256-CBC', { dataCiphers: 'AES-256-CBC', extra: ['auth SHA256'] }, 'SHA256');
    assert.match(e.server.proc.output, /data-crypto.*engine=node:crypto/);
  });
});

test('udp: with auth SHA256 on the server and SHA1 on the client the tunnel comes up but no packet authenticates', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', extra: ['data-ciphers AES-256-CBC', 'auth SHA256'] }, async (e) => {
    const c = client(e, { proto: 'udp', dataCiphers: 'AES-256-CBC', extra: ['auth SHA1'] });
    await c.waitInitialized();
    const p = await ping(e.topo, 56, 2);
    assert.notEqual(p.code, 0, p.out);
    assert.match(p.out, /2 packets transmitted, 0 received/);
    await c.stop();
  });
});

test('udp: a client that offers only AES-192-CBC gets it from data-ciphers DEFAULT:AES-192-CBC', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', extra: ['data-ciphers DEFAULT:AES-192-CBC'] }, (e) =>
    connectsWith(e, 'udp', 'AES-192-CBC', { dataCiphers: 'AES-192-CBC' }, 'SHA1'));
});

test("udp: the server's order wins: a client offering CBC first still gets the server's first cipher", { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', extra: ['data-ciphers AES-128-GCM:AES-256-CBC'] }, (e) =>
    connectsWith(e, 'udp', 'AES-128-GCM', { dataCiphers: 'AES-256-CBC:AES-128-GCM' }));
});

test('udp: no shared cipher is refused with AUTH_FAILED, and data-ciphers-fallback does not rescue a client whose ciphers are known',
  { timeout: 90_000 }, async (t) => {
    await withServer(t, { proto: 'udp', extra: ['data-ciphers-fallback AES-256-CBC'] }, async (e) => {
      // --compat-mode 2.3.0 with --cipher: as close to a 2.3 peer as 2.6 gets; it still sends IV_CIPHERS.
      const c = client(e, { proto: 'udp', dataCiphers: 'AES-256-CBC', cipher: 'AES-256-CBC', extra: ['compat-mode 2.3.0'] });
      await assert.rejects(c.waitInitialized({ timeoutMs: 20_000 }), /AUTH_FAILED/);
      assert.match(c.proc.output, /AUTH_FAILED,Data channel cipher negotiation failed \(no shared cipher\)/);
      const line = await e.server.waitForLine(/no common data cipher/, 5_000);
      assert.match(line, /no common data cipher \(client offers AES-256-CBC, server has AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\)/);
      await c.stop();
    });
  });
