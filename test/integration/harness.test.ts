// Proves the test harness itself with real peers: the namespace topology, Debian openvpn as server and client
// over UDP and TCP with kernel forwarding + MASQUERADE, and that destroy() leaves nothing behind.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import {
  INET_ADDR, SRV_UPLINK_ADDR, cliAddr, createTopology, haveCommand, netnsUnavailable, pidRunning, srvAddrFor, withTopology,
  type Topology,
} from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { startOpenVpnServer, VPN_SERVER_IP } from '../helpers/openvpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

function skipReason(needOpenvpn: boolean): string | undefined {
  return netnsUnavailable() ?? (needOpenvpn && !haveCommand('openvpn') ? 'openvpn is not installed; run test/install-deps.sh' : undefined);
}

function namespaces(): string[] {
  try { return readdirSync('/run/netns'); } catch { return []; }
}

function nsPids(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

/** An HTTP server in inet that answers with the source address it sees. */
async function startWhoami(topo: Topology): Promise<void> {
  const src = `require('http').createServer((q, s) => s.end(q.socket.remoteAddress.replace(/^::ffff:/, '')))` +
    `.listen(8080, '${INET_ADDR}', () => console.log('listening'))`;
  const p = topo.spawn('inet', [process.execPath, '-e', src], { name: 'whoami' });
  await p.waitForLine(/^listening$/, 10_000);
}

const ping = (topo: Topology, node: 'srv' | 'cli1' | 'cli2', addr: string) =>
  topo.exec(node, ['ping', '-c', '1', '-W', '2', addr], { check: false, timeoutMs: 10_000 });

test('topology: addresses, routes, isolation', { timeout: 60_000 }, async (t: TestContext) => {
  const skip = skipReason(false);
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    assert.equal((await ping(topo, 'srv', INET_ADDR)).code, 0, 'srv reaches inet');
    for (const k of [1, 2] as const) {
      assert.equal((await ping(topo, `cli${k}`, srvAddrFor(k))).code, 0, `cli${k} reaches srv`);
      const addrs = (await topo.exec(`cli${k}`, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
      assert.match(addrs, new RegExp(`inet ${cliAddr(k).replace(/\./g, '\\.')}/24`));
    }
    // The clients have no route to the uplink network at all, even though srv could forward.
    const route = await topo.exec('cli1', ['ip', 'route', 'get', INET_ADDR], { check: false });
    assert.notEqual(route.code, 0, `cli1 has a route to inet: ${route.stdout}`);
    assert.notEqual((await ping(topo, 'cli1', INET_ADDR)).code, 0, 'cli1 must not reach inet directly');
    assert.notEqual((await ping(topo, 'cli1', SRV_UPLINK_ADDR)).code, 0, 'cli1 must not reach the uplink address');
    const fwd = await topo.exec('srv', ['sysctl', '-n', 'net.ipv4.ip_forward']);
    assert.equal(fwd.stdout.trim(), '0', 'srv starts without kernel forwarding');
    // cli1 and cli2 are separate links: no path between them either.
    assert.notEqual((await ping(topo, 'cli1', cliAddr(2))).code, 0);
  });
});

for (const proto of ['udp', 'tcp'] as const) {
  test(`Debian openvpn server + client over ${proto}: tunnel and NAT to inet`, { timeout: 120_000 }, async (t: TestContext) => {
    const skip = skipReason(true);
    if (skip) return t.skip(skip);
    await withTopology({ clients: 2 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
      await startWhoami(topo);
      const server = await startOpenVpnServer({ topo, pki, proto });
      const client = startOpenVpnClient({ topo, node: 'cli1', proto, remote: srvAddrFor(1), pki, cn: 'client1' });
      await client.waitInitialized({ timeoutMs: 30_000 });
      assert.match(await client.tunAddress(), /^10\.8\.0\.\d+$/);
      assert.equal((await ping(topo, 'cli1', VPN_SERVER_IP)).code, 0, 'client pings the server tunnel address');
      assert.equal((await ping(topo, 'cli1', INET_ADDR)).code, 0, 'client reaches inet through the tunnel');
      // inet sees srv's uplink address: the traffic went through the tunnel and MASQUERADE.
      const who = await topo.exec('cli1', ['curl', '-sS', '--max-time', '10', `http://${INET_ADDR}:8080/`]);
      assert.equal(who.stdout.trim(), SRV_UPLINK_ADDR);
      await server.proc.waitForLine(/client1.*Data Channel: cipher/, 5_000);
      // A second client without a tun device (dev null, as load tests use) completes the handshake too.
      const nullClient = startOpenVpnClient({ topo, node: 'cli2', proto, remote: srvAddrFor(2), pki, cn: 'client2', dev: 'null' });
      await nullClient.waitInitialized({ timeoutMs: 30_000 });
      await server.proc.waitForLine(/client2.*Data Channel: cipher/, 5_000);
      assert.throws(() => nullClient.tunDevice(), /no tun device/);
      const exit = await client.stop();
      assert.ok(exit.code === 0 || exit.signal !== null, `client exit ${JSON.stringify(exit)}`);
    });
  });
}

test('destroy() kills every process and deletes every namespace', { timeout: 60_000 }, async (t: TestContext) => {
  const skip = skipReason(false);
  if (skip) return t.skip(skip);
  const topo = await createTopology({ clients: 2 });
  const names = (['inet', 'srv', 'cli1', 'cli2'] as const).map((n) => topo.ns(n));
  let destroyed = false;
  try {
    for (const n of names) assert.ok(namespaces().includes(n), `${n} exists`);
    // One process ignores SIGTERM; another leaves the tracked process group and daemonizes.
    const stubborn = topo.spawn('srv', ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'], { name: 'stubborn' });
    await stubborn.waitForLine(/ready/, 5_000);
    await topo.exec('cli2', ['sh', '-c', 'setsid sleep 600 >/dev/null 2>&1 < /dev/null &']);
    const inside = names.flatMap((n) => nsPids(n));
    assert.ok(inside.includes(stubborn.pid), 'the spawned process runs inside srv');
    assert.ok(nsPids(topo.ns('cli2')).length >= 1, 'the daemonized sleep runs inside cli2');
    const dir = topo.tempDir('check');
    await topo.destroy();
    destroyed = true;
    for (const n of names) assert.ok(!namespaces().includes(n), `${n} was deleted`);
    for (const pid of inside) assert.ok(!pidRunning(pid), `pid ${pid} was killed`);
    assert.equal(existsSync(dir), false, 'temp dir removed');
  } finally {
    if (!destroyed) await topo.destroy();
  }
});

test('pki: a revoked client is refused, and waitInitialized() fails early with the log', { timeout: 90_000 }, async (t: TestContext) => {
  const skip = skipReason(true);
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const crl = await pki.crl([pki.clients.client2!]);
    const server = await startOpenVpnServer({ topo, pki, proto: 'udp', tlsCrypt: true, extra: [`crl-verify ${crl.path}`] });
    const good = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1', tlsCrypt: true, certs: 'files' });
    // The server drops the revoked client silently; a short hand-window makes the client give up quickly.
    const bad = startOpenVpnClient({ topo, node: 'cli2', proto: 'udp', remote: srvAddrFor(2), pki, cn: 'client2', tlsCrypt: true,
      extra: ['hand-window 5'] });
    await good.waitInitialized();
    await assert.rejects(bad.waitInitialized({ timeoutMs: 60_000 }), (err: Error) => {
      assert.match(err.message, /TLS Error|AUTH_FAILED/);
      assert.match(err.message, /openvpn-client@cli2/, 'the error carries the log tail');
      return true;
    });
    assert.match(server.proc.output, /certificate revoked: CN=client2/);
  });
});
