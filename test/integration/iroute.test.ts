// Issue 13 (routed VPN): a client gateway with a LAN namespace behind it (iroute in its client-config-dir file,
// `route` on the server, the route pushed to the others). Another client reaches a host on that LAN and the host
// reaches it back; a `route` subnet that no client claims is unreachable instead of leaking to the Internet.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INET_ADDR, haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

const LAN_HOST = '192.168.77.10';
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** A namespace with LAN_HOST behind cli1 (cli1 forwards), removed by the returned function. */
function lanBehind(topo: Topology): { ns: string; remove(): void } {
  const ns = `${topo.ns('cli1')}-lan`;
  const [a, b] = [`lan${process.pid % 10000}a`, `lan${process.pid % 10000}b`];
  ip('netns', 'add', ns);
  try {
    ip('link', 'add', a, 'netns', topo.ns('cli1'), 'type', 'veth', 'peer', 'name', b, 'netns', ns);
    ip('-n', topo.ns('cli1'), 'addr', 'add', '192.168.77.1/24', 'dev', a);
    ip('-n', topo.ns('cli1'), 'link', 'set', a, 'up');
    ip('-n', ns, 'addr', 'add', `${LAN_HOST}/24`, 'dev', b);
    ip('-n', ns, 'link', 'set', b, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', '192.168.77.1');
    execFileSync('ip', ['netns', 'exec', topo.ns('cli1'), 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  } catch (e) {
    ip('netns', 'del', ns);
    throw e;
  }
  return { ns, remove: () => { try { ip('netns', 'del', ns); } catch { /* already gone */ } } };
}

async function ping(topo: Topology, node: 'cli2', to: string): Promise<{ code: number | null; out: string }> {
  const r = await topo.exec(node, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to], { check: false, timeoutMs: 20_000 });
  return { code: r.code, out: r.stdout };
}

test('iroute: another client reaches a host on the LAN behind a client gateway, and back; the host reaches the Internet through the NAT', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const lan = lanBehind(topo);
    try {
      const config = nanovpnConfig({
        proto: 'udp',
        extra: ['client-config-dir ccd', 'route 192.168.77.0 255.255.255.0', 'push "route 192.168.77.0 255.255.255.0"',
          'route 192.168.99.0 255.255.255.0', 'push "route 192.168.99.0 255.255.255.0"'],
      });
      const server = startNanovpn({ topo, pki, config });
      mkdirSync(join(server.dir, 'ccd'));
      // push-reset: the gateway must not take the pushed route to its own LAN (its kernel would then send that LAN's
      // packets back into the tunnel); that is the client's routing, whatever the server.
      writeFileSync(join(server.dir, 'ccd', 'client1'), 'iroute 192.168.77.0 255.255.255.0\npush-reset\npush "route 198.18.0.0 255.255.255.0"\n');
      await server.waitForLine(/Initialization Sequence Completed/, 10_000);
      const gw = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
      await gw.waitInitialized();
      const other = startOpenVpnClient({ topo, node: 'cli2', proto: 'udp', remote: srvAddrFor(2), pki, cn: 'client2' });
      await other.waitInitialized();
      const otherAddr = await other.tunAddress();

      const toLan = await ping(topo, 'cli2', LAN_HOST);
      assert.equal(toLan.code, 0, toLan.out);
      const back = execFileSync('ip', ['netns', 'exec', lan.ns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', otherAddr], { encoding: 'utf8' });
      assert.match(back, / 0% packet loss/);
      // The LAN host through its gateway and the userspace NAT to a TCP echo server on the Internet.
      const echo = topo.spawn('inet', [process.execPath, '-e',
        `require('net').createServer((s)=>s.pipe(s)).listen(9100,'${INET_ADDR}',()=>console.log('listening'))`], { name: 'echo' });
      await echo.waitForLine(/^listening$/, 10_000);
      const said = execFileSync('ip', ['netns', 'exec', lan.ns, process.execPath, '-e',
        `const s=require('net').connect(9100,'${INET_ADDR}',()=>s.end('from the LAN'));let b='';s.on('data',(d)=>b+=d);` +
        `s.on('close',()=>{console.log(b);process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(3)});setTimeout(()=>process.exit(5),8000)`],
      { encoding: 'utf8', timeout: 15_000 });
      assert.equal(said.trim(), 'from the LAN');
      // 192.168.99.0/24 is routed into the VPN but no client iroutes it: unreachable, as behind OpenVPN's tun.
      const unclaimed = await ping(topo, 'cli2', '192.168.99.5');
      assert.notEqual(unclaimed.code, 0);
      assert.match(unclaimed.out, /Destination Host Unreachable|100% packet loss/);
    } finally {
      lan.remove();
    }
  });
});

test('iroute: a second client claiming the same subnet is refused with the client-config-dir file and line', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: ['client-config-dir ccd'] }) });
    mkdirSync(join(server.dir, 'ccd'));
    writeFileSync(join(server.dir, 'ccd', 'client1'), 'iroute 192.168.77.0 255.255.255.0\n');
    writeFileSync(join(server.dir, 'ccd', 'client2'), '# the same LAN\n\niroute 192.168.77.128 255.255.255.128\n');
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const a = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
    await a.waitInitialized();
    const b = startOpenVpnClient({ topo, node: 'cli2', proto: 'udp', remote: srvAddrFor(2), pki, cn: 'client2' });
    await b.proc.waitForLine(/AUTH_FAILED/, 30_000);
    await server.waitForLine(/ccd\/client2:3: iroute 192\.168\.77\.128\/25 is already routed to another client \(client1\)/, 10_000);
  });
});
