// The tun uplink end to end: nanovpn in srv with `uplink tun` hands client packets to a kernel tun device; srv's
// kernel forwards them (ip_forward=1 + MASQUERADE out of the uplink). A stock openvpn client in cli1 reaches the
// HTTP server in inet, which sees srv's uplink address.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  INET_ADDR, SRV_UPLINK_ADDR, ensureTun, haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology,
} from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { BUNDLE, REPO_ROOT, nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';
import { echoClientArgv, echoServerArgv, lanBehind } from '../helpers/lan.js';

const SERVER_IP = '10.8.0.1';
const ADDON = join(REPO_ROOT, 'dist', 'tun.node');

/** The bundle loads tun.node from its own folder: build it there if it is missing. */
function ensureAddon(): string | undefined {
  if (existsSync(ADDON)) return undefined;
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
  const gyp = join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const dir = join(REPO_ROOT, 'src', 'native', 'tun');
  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--nodedir=/usr'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return `cannot build the tun addon: ${r.stderr.slice(-300)}`;
  copyFileSync(join(dir, 'build', 'Release', 'tun.node'), ADDON);
  return undefined;
}

function skipReason(): string | undefined {
  return netnsUnavailable()
    ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh')
    ?? (haveCommand('iptables') ? undefined : 'iptables is not installed; run test/install-deps.sh')
    ?? (existsSync(BUNDLE) ? undefined : `${BUNDLE} is missing: run npm run build`)
    ?? ensureAddon();
}

async function startWhoami(topo: Topology): Promise<void> {
  const src = `require('http').createServer((q, s) => s.end(q.socket.remoteAddress.replace(/^::ffff:/, '')))` +
    `.listen(8080, '${INET_ADDR}', () => console.log('listening'))`;
  const p = topo.spawn('inet', [process.execPath, '-e', src], { name: 'whoami' });
  await p.waitForLine(/^listening$/, 10_000);
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`tun uplink over ${proto}: a stock client reaches inet through nanovpn's tun and srv's kernel`, { timeout: 120_000 },
    async (t: TestContext) => {
      const skip = skipReason();
      if (skip) return t.skip(skip);
      await ensureTun();
      await withTopology({ clients: 1 }, async (topo) => {
        const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
        await startWhoami(topo);
        await topo.enableForwarding({ masquerade: '10.8.0.0/24' });
        const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto, extra: ['uplink tun'] }) });
        const up = await server.waitForLine(/tun uplink up/, 10_000, { failOn: /tun addon not found|ERROR/ });
        const dev = /dev=(\S+)/.exec(up)![1]!;
        await server.waitForLine(/Initialization Sequence Completed/, 10_000);

        // The device exists in srv with the server's tunnel address, and the kernel routes the VPN subnet to it.
        const addr = await topo.exec('srv', ['ip', '-4', '-o', 'addr', 'show', 'dev', dev]);
        assert.match(addr.stdout, /inet 10\.8\.0\.1\/24/);
        const route = await topo.exec('srv', ['ip', 'route', 'get', '10.8.0.2']);
        assert.match(route.stdout, new RegExp(`dev ${dev}`));

        const c = startOpenVpnClient({ topo, node: 'cli1', proto, remote: srvAddrFor(1), pki, cn: 'client1' });
        await c.waitInitialized();
        const ping = await topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', INET_ADDR], { check: false });
        assert.equal(ping.code, 0, `ping inet through the tunnel and srv's kernel: ${ping.stdout}`);
        const who = await topo.exec('cli1', ['curl', '-sS', '--max-time', '10', `http://${INET_ADDR}:8080/`]);
        assert.equal(who.stdout.trim(), SRV_UPLINK_ADDR, 'inet sees the MASQUERADEd uplink address');
        // srv's own tun address, which nanovpn answers itself.
        const self = await topo.exec('cli1', ['ping', '-c', '1', '-W', '2', SERVER_IP], { check: false });
        assert.equal(self.code, 0, self.stdout);

        await c.stop();
        const exit = await server.stop();
        assert.equal(exit.code, 0, `server exits cleanly on SIGTERM (tun reader stopped): ${JSON.stringify(exit)}`);
        const gone = await topo.exec('srv', ['ip', 'link', 'show', 'dev', dev], { check: false });
        assert.notEqual(gone.code, 0, 'the non-persistent tun device disappears with the process');
      });
    });
}

test('tun uplink: each `route` becomes a kernel route into the tun, so inet reaches a LAN behind a client through srv\'s kernel; removed at stop',
  { timeout: 120_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await ensureTun();
    await withTopology({ clients: 1 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
      const lan = lanBehind(topo, 'cli1', '192.168.77');
      try {
        await topo.enableForwarding();
        // inet's way to the LAN is srv, as an upstream router would be configured.
        await topo.exec('inet', ['ip', 'route', 'add', '192.168.77.0/24', 'via', SRV_UPLINK_ADDR]);
        const server = startNanovpn({ topo, pki, config: nanovpnConfig({
          proto: 'udp', extra: ['uplink tun', 'client-config-dir ccd', 'route 192.168.77.0 255.255.255.0'],
        }) });
        mkdirSync(join(server.dir, 'ccd'));
        writeFileSync(join(server.dir, 'ccd', 'client1'), 'iroute 192.168.77.0 255.255.255.0\n');
        const up = await server.waitForLine(/tun uplink up/, 10_000, { failOn: /tun addon not found|ERROR/ });
        const dev = /dev=(\S+)/.exec(up)![1]!;
        await server.waitForLine(/route: host route added route=192\.168\.77\.0\/24/, 10_000, { failOn: /ERROR/ });
        await server.waitForLine(/Initialization Sequence Completed/, 10_000);
        const route = await topo.exec('srv', ['ip', 'route', 'show', '192.168.77.0/24']);
        assert.match(route.stdout, new RegExp(`192\\.168\\.77\\.0/24 dev ${dev}`));

        const c = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
        await c.waitInitialized();
        const ping = await topo.exec('inet', ['ping', '-c', '3', '-i', '0.2', '-W', '2', lan.host], { check: false });
        assert.equal(ping.code, 0, `inet pings the LAN host through srv's kernel and the tunnel: ${ping.stdout}`);
        await lan.spawnIn(echoServerArgv(lan.host, 9300), /listening/);
        const said = await topo.exec('inet', echoClientArgv(lan.host, 9300, 'from inet'));
        assert.equal(said.stdout.trim(), 'from inet');

        await c.stop();
        const exit = await server.stop();
        assert.equal(exit.code, 0, JSON.stringify(exit));
        assert.match(server.proc.output, /route: host route removed route=192\.168\.77\.0\/24/);
        const after = await topo.exec('srv', ['ip', 'route', 'show', '192.168.77.0/24']);
        assert.equal(after.stdout.trim(), '');
      } finally {
        lan.remove();
      }
    });
  });

test('dev-node: the tun uplink opens the node it names (a missing one stops startup with its path); the NAT says it has no effect', { timeout: 120_000 },
  async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await ensureTun();
    await withTopology({ clients: 1 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
      // A second node of the tun clone device (char 10:200), so only dev-node can lead nanovpn to it.
      const nodeDir = topo.tempDir('dev');
      const node = join(nodeDir, 'my-tun');
      const mk = spawnSync('mknod', [node, 'c', '10', '200']);
      if (mk.status !== 0) return t.skip(`mknod: ${String(mk.stderr)}`);
      await topo.enableForwarding({ masquerade: '10.8.0.0/24' });
      const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: ['uplink tun', `dev-node ${node}`] }) });
      await server.waitForLine(/tun uplink up/, 10_000, { failOn: /ERROR|open / });
      await server.waitForLine(/Initialization Sequence Completed/, 10_000);
      const c = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
      await c.waitInitialized();
      const ping = await topo.exec('cli1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', SERVER_IP], { check: false });
      assert.equal(ping.code, 0, ping.stdout);
      await c.stop();
      assert.equal((await server.stop()).code, 0);

      const missing = join(nodeDir, 'no-such-node');
      const bad = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: ['uplink tun', `dev-node ${missing}`] }) });
      const exit = await bad.proc.exited;
      assert.notEqual(exit.code, 0);
      assert.match(bad.proc.output, new RegExp(`open ${missing}: No such file or directory`));

      const nat = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: [`dev-node ${node}`] }) });
      await nat.waitForLine(/WARN config: 'dev-node' has no effect with the NAT uplink/, 10_000);
      await nat.waitForLine(/Initialization Sequence Completed/, 10_000);
      assert.equal((await nat.stop()).code, 0);
    });
  });
