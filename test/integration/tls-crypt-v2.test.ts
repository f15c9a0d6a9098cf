// tls-crypt-v2 (issue 14) with unmodified Debian openvpn 2.6 clients in network namespaces: the server config of
// angristan/openvpn-install and PiVPN (`tls-crypt-v2 SERVERKEY`, no tls-auth/tls-crypt) and clients with an inline
// <tls-crypt-v2> client key, over UDP (the stateless cookie handshake with RESEND_WKC and P_CONTROL_WKC_V1) and TCP.
// Keys come from `openvpn --genkey` and from `nanovpn pki`; a client key wrapped by another server key is refused.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { BUNDLE, nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

const SERVER_IP = '10.8.0.1';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

interface Keys { server: string; client: string }

function openvpnKeys(dir: string, tag: string): Keys {
  const server = join(dir, `${tag}-server.key`), client = join(dir, `${tag}-client.key`);
  execFileSync('openvpn', ['--genkey', 'tls-crypt-v2-server', server]);
  execFileSync('openvpn', ['--tls-crypt-v2', server, '--genkey', 'tls-crypt-v2-client', client]);
  return { server: readFileSync(server, 'utf8'), client: readFileSync(client, 'utf8') };
}

function nanovpnKeys(dir: string): Keys {
  execFileSync(process.execPath, [BUNDLE, 'pki', 'tls-crypt-v2-server', '--dir', dir]);
  execFileSync(process.execPath, [BUNDLE, 'pki', 'tls-crypt-v2-client', '--dir', dir, 'client1']);
  return { server: readFileSync(join(dir, 'tc2-server.key'), 'utf8'), client: readFileSync(join(dir, 'tc2', 'client1.key'), 'utf8') };
}

interface Env { topo: Topology; pki: TestPki; server: NanovpnServer }

async function withServer(t: TestContext, proto: 'udp' | 'tcp', keys: (dir: string) => Keys & { other?: string },
  fn: (e: Env, k: Keys & { other?: string }) => Promise<void>): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const k = keys(topo.tempDir('tc2'));
    const server = startNanovpn({
      topo, pki, files: { 'tc2-server.key': k.server },
      config: nanovpnConfig({ proto, extra: ['tls-crypt-v2 tc2-server.key'] }),
    });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    // The server has no tls-auth or tls-crypt key: a client that gets through used its tls-crypt-v2 key.
    assert.doesNotMatch(readFileSync(server.configPath, 'utf8'), /^tls-(auth|crypt) /m);
    await fn({ topo, pki, server }, k);
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
  });
}

function client(e: Env, proto: 'udp' | 'tcp', clientKey: string) {
  return startOpenVpnClient({
    topo: e.topo, node: 'cli1', proto, remote: srvAddrFor(1), pki: e.pki, cn: 'client1',
    extra: ['<tls-crypt-v2>', clientKey.trim(), '</tls-crypt-v2>'],
  });
}

async function connectsAndPings(e: Env, proto: 'udp' | 'tcp', clientKey: string): Promise<void> {
  const c = client(e, proto, clientKey);
  await c.waitInitialized();
  const r = await e.topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', SERVER_IP], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /3 packets transmitted, 3 received/);
  await c.stop();
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`${proto}: a 2.6 client with keys from openvpn --genkey connects and pings`, { timeout: 90_000 }, async (t) => {
    await withServer(t, proto, (dir) => openvpnKeys(dir, 'ovpn'), (e, k) => connectsAndPings(e, proto, k.client));
  });

  test(`${proto}: a 2.6 client with keys from nanovpn pki connects and pings`, { timeout: 90_000 }, async (t) => {
    await withServer(t, proto, nanovpnKeys, (e, k) => connectsAndPings(e, proto, k.client));
  });

  test(`${proto}: a client key wrapped by another server key is refused`, { timeout: 90_000 }, async (t) => {
    await withServer(t, proto, (dir) => ({ ...openvpnKeys(dir, 'ours'), other: openvpnKeys(dir, 'theirs').client }), async (e, k) => {
      const c = client(e, proto, k.other!);
      const line = await e.server.waitForLine(/tls-crypt-v2 client key failed verification/, 20_000);
      assert.ok(line);
      assert.doesNotMatch(c.proc.output, /Initialization Sequence Completed/);
      await c.stop();
      // The right key still connects to the same server.
      await connectsAndPings(e, proto, k.client);
    });
  });
}
