// Issue 12: topologies net30, p2p and subnet with real OpenVPN 2.6 clients: the addresses 2.6 hands out, two clients
// reaching each other with client-to-client, ifconfig-push from a client-config-dir, and OpenVPN 2.6.0's sample
// configs (no topology line: net30) with their ifconfig-pool-persist file in 2.6's format across a restart.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';
import { VPN_SERVER_IP } from '../helpers/openvpn-server.js';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

async function ping(topo: Topology, node: 'cli1' | 'cli2', to: string): Promise<void> {
  const r = await topo.exec(node, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], { check: false, timeoutMs: 20_000 });
  assert.equal(r.code, 0, `${node} → ${to}: ${r.stdout}`);
}

const TOPOLOGIES = [
  { topology: 'net30', first: '10.8.0.6', second: '10.8.0.10', peer: '10.8.0.5' },
  { topology: 'p2p', first: '10.8.0.4', second: '10.8.0.5', peer: '10.8.0.1' },
  { topology: 'subnet', first: '10.8.0.2', second: '10.8.0.3', peer: undefined },
] as const;

for (const t of TOPOLOGIES) {
  test(`topology ${t.topology}: two clients get 2.6's addresses and reach the server and each other`, { timeout: 120_000 }, async (ctx: TestContext) => {
    const skip = skipReason();
    if (skip) return ctx.skip(skip);
    await withTopology({ clients: 2 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
      const config = nanovpnConfig({ proto: 'udp' }).replace(/^topology subnet$/m, `topology ${t.topology}`);
      const server = startNanovpn({ topo, pki, config });
      await server.waitForLine(/Initialization Sequence Completed/, 10_000);
      const a = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
      await a.waitInitialized();
      const b = startOpenVpnClient({ topo, node: 'cli2', proto: 'udp', remote: srvAddrFor(2), pki, cn: 'client2' });
      await b.waitInitialized();
      assert.equal(await a.tunAddress(), t.first);
      assert.equal(await b.tunAddress(), t.second);
      const addr = await topo.exec('cli1', ['ip', '-4', '-o', 'addr', 'show', 'dev', a.tunDevice()]);
      if (t.peer) assert.match(addr.stdout, new RegExp(`inet ${t.first} peer ${t.peer}/32`));
      else assert.match(addr.stdout, new RegExp(`inet ${t.first}/24`));
      assert.match(a.proc.output, new RegExp(`PUSH: Received control message: .*topology ${t.topology}`));
      await ping(topo, 'cli1', VPN_SERVER_IP);
      await ping(topo, 'cli2', VPN_SERVER_IP);
      await ping(topo, 'cli1', t.second);
      await ping(topo, 'cli2', t.first);
    });
  });
}

test('topology net30 without client-to-client: the client is pushed a route to the server and reaches it', { timeout: 120_000 }, async (ctx: TestContext) => {
  const skip = skipReason();
  if (skip) return ctx.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const config = nanovpnConfig({ proto: 'tcp' }).replace(/^topology subnet$/m, 'topology net30').replace(/^client-to-client\n/m, '');
    const server = startNanovpn({ topo, pki, config });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const a = startOpenVpnClient({ topo, node: 'cli1', proto: 'tcp', remote: srvAddrFor(1), pki });
    await a.waitInitialized();
    assert.match(a.proc.output, /PUSH: Received control message: .*route 10\.8\.0\.1,topology net30/);
    await ping(topo, 'cli1', VPN_SERVER_IP);
  });
});

test('topology net30 and p2p: ifconfig-push IP PEER from a client-config-dir', { timeout: 120_000 }, async (ctx: TestContext) => {
  const skip = skipReason();
  if (skip) return ctx.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    for (const [topology, push, peer] of [['net30', '10.8.0.9 10.8.0.10', '10.8.0.10'], ['p2p', '10.8.0.77 10.8.0.1', '10.8.0.1']] as const) {
      const config = nanovpnConfig({ proto: 'udp', extra: ['client-config-dir ccd'] }).replace(/^topology subnet$/m, `topology ${topology}`);
      const server = startNanovpn({ topo, pki, config });
      mkdirSync(join(server.dir, 'ccd'));
      writeFileSync(join(server.dir, 'ccd', 'client1'), `ifconfig-push ${push}\n`);
      await server.waitForLine(/Initialization Sequence Completed/, 10_000);
      const a = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki });
      try {
        await a.waitInitialized();
        const ip = push.split(' ')[0]!;
        assert.equal(await a.tunAddress(), ip);
        const addr = await topo.exec('cli1', ['ip', '-4', '-o', 'addr', 'show', 'dev', a.tunDevice()]);
        assert.match(addr.stdout, new RegExp(`inet ${ip} peer ${peer}/32`));
        await ping(topo, 'cli1', VPN_SERVER_IP);
      } finally {
        await a.stop();
        await server.stop();
      }
    }
  });
});

// The directive lines of OpenVPN 2.6.0's sample/sample-config-files (tag v2.6_rc1, 84e70c47), which shipped
// ';topology subnet' commented out: a 2.6 server on it runs net30. Only the file names differ.
const SAMPLE_SERVER = ['port 1194', 'proto udp', 'dev tun', 'ca ca.crt', 'cert server.crt', 'key server.key', 'dh dh2048.pem',
  'server 10.8.0.0 255.255.255.0', 'ifconfig-pool-persist ipp.txt', 'keepalive 10 120', 'tls-auth ta.key 0', 'cipher AES-256-CBC',
  'persist-key', 'persist-tun', 'status openvpn-status.log', 'verb 3', 'explicit-exit-notify 1'];
function sampleClient(pki: TestPki, remote: string): string[] {
  return ['client', 'dev tun', 'proto udp', `remote ${remote} 1194`, 'resolv-retry infinite', 'nobind', 'persist-key', 'persist-tun',
    `ca ${pki.ca.certPath}`, `cert ${pki.clients.client1!.certPath}`, `key ${pki.clients.client1!.keyPath}`, 'remote-cert-tls server',
    `tls-auth ${pki.tlsAuth.path} 1`, 'cipher AES-256-CBC', 'verb 3'];
}

test("OpenVPN 2.6.0's sample server.conf and client.conf: net30 addresses, and ipp.txt as 2.6 writes it across a restart", { timeout: 120_000 }, async (ctx: TestContext) => {
  const skip = skipReason();
  if (skip) return ctx.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const clientDir = topo.tempDir('sample-client');
    const clientConf = join(clientDir, 'client.conf');
    writeFileSync(clientConf, sampleClient(pki, srvAddrFor(1)).join('\n') + '\n', { mode: 0o600 });
    {
      const server = startNanovpn({ topo, pki, config: SAMPLE_SERVER.join('\n') + '\n', files: { 'ta.key': pki.tlsAuth.text } });
      await server.waitForLine(/Initialization Sequence Completed/, 10_000);
      assert.match(server.proc.output, /no 'topology' line: OpenVPN 2\.6's default 'topology net30' is used/);
      const client = topo.spawn('cli1', ['openvpn', '--config', clientConf], { name: 'sample-client', cwd: clientDir });
      try {
        await client.waitForLine(/Initialization Sequence Completed/, 30_000, { failOn: /AUTH_FAILED|Exiting due to fatal error|Options error/ });
        const addr = await topo.exec('cli1', ['ip', '-4', '-o', 'addr', 'show']);
        assert.match(addr.stdout, /inet 10\.8\.0\.6 peer 10\.8\.0\.5\/32/);
        await ping(topo, 'cli1', VPN_SERVER_IP);
        const deadline = Date.now() + 5000;
        while (!/^client1,10\.8\.0\.4,$/m.test(readFileSync(join(server.dir, 'ipp.txt'), { encoding: 'utf8', flag: 'a+' })) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(readFileSync(join(server.dir, 'ipp.txt'), 'utf8'), 'client1,10.8.0.4,\n', "2.6 stores a net30 client's /30 base");
      } finally {
        await client.kill('SIGTERM', 5000);
        await server.stop();
      }
    }
    // A pool file as 2.6 persists it, with client1 at the /30 10.8.0.8: the client gets 10.8.0.10.
    const server = startNanovpn({ topo, pki, config: SAMPLE_SERVER.join('\n') + '\n', files: { 'ta.key': pki.tlsAuth.text, 'ipp.txt': 'client1,10.8.0.8,\n' } });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const client = topo.spawn('cli1', ['openvpn', '--config', clientConf], { name: 'sample-client-2', cwd: clientDir });
    try {
      await client.waitForLine(/Initialization Sequence Completed/, 30_000);
      const addr = await topo.exec('cli1', ['ip', '-4', '-o', 'addr', 'show']);
      assert.match(addr.stdout, /inet 10\.8\.0\.10 peer 10\.8\.0\.9\/32/);
    } finally {
      await client.kill('SIGTERM', 5000);
      await server.stop();
    }
  });
});
