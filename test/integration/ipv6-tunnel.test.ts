// Issue 13: IPv6 inside the tunnel, over IPv4 and over IPv6 transport, with OpenVPN 2.6 clients. `server-ipv6` gives each client
// an address from NET+0x1000; the client pings the server's NET+1, two clients reach each other over IPv6, the NAT
// carries TCP (curl -6) and UDP to an IPv6 server in the inet namespace, and a destination the server's host has no
// IPv6 route to is answered with ICMPv6 unreachable (the client's connect fails with ENETUNREACH, not a timeout).
// The inet and srv namespaces get their uplink IPv6 addresses here; the srv namespace has no IPv6 default route.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  cliAddr6, ensureTun, haveCommand, netnsUnavailable, srvAddr6For, srvAddrFor, SRV_UPLINK_DEV, withTopology, type NodeName, type Topology,
} from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { nanovpnConfig, REPO_ROOT, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient, type OpenVpnClient } from '../helpers/openvpn-client.js';

const INET6 = '2001:db8:18::1';
const SRV6 = '2001:db8:18::2';
/** Covered by the pushed route-ipv6, but the server's host has no route there. */
const UNROUTED6 = '2001:db8:77::1';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh')
    ?? (haveCommand('curl') ? undefined : 'curl is not installed; run test/install-deps.sh');
}

async function addUplinkIpv6(topo: Topology): Promise<void> {
  await topo.exec('inet', ['ip', '-6', 'addr', 'add', `${INET6}/64`, 'dev', 'up0', 'nodad']);
  await topo.exec('srv', ['ip', '-6', 'addr', 'add', `${SRV6}/64`, 'dev', SRV_UPLINK_DEV, 'nodad']);
}

async function tunAddress6(topo: Topology, c: OpenVpnClient, node: 'cli1' | 'cli2'): Promise<string> {
  const r = await topo.exec(node, ['ip', '-6', '-o', 'addr', 'show', 'dev', c.tunDevice(), 'scope', 'global']);
  const m = /inet6 ([0-9a-f:]+)\/(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`no global IPv6 address on ${c.tunDevice()}: ${r.stdout.trim()}`);
  return `${m[1]}/${m[2]}`;
}

/** A node one-liner run in `node`: its exit code and output. */
async function run(topo: Topology, node: 'cli1' | 'cli2', src: string): Promise<{ code: number | null; out: string }> {
  const r = await topo.exec(node, [process.execPath, '-e', src], { check: false, timeoutMs: 30_000 });
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

/** The client links' IPv6 (as addIpv6Links, without its default route: the srv namespace must have none here). */
async function addClientLinkIpv6(topo: Topology): Promise<void> {
  for (let k = 1; k <= topo.clients; k++) {
    await topo.exec('srv', ['ip', '-6', 'addr', 'add', `${srvAddr6For(k)}/64`, 'dev', `cl${k}`, 'nodad']);
    await topo.exec(`cli${k}` as NodeName, ['ip', '-6', 'addr', 'add', `${cliAddr6(k)}/64`, 'dev', 'eth0', 'nodad']);
  }
}

for (const transport of ['udp', 'udp6'] as const) {
  test(`IPv6 in the tunnel over ${transport === 'udp' ? 'IPv4' : 'IPv6'} transport: addresses, ping, client-to-client, TCP and UDP through the NAT, ICMPv6 unreachable`, { timeout: 180_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await tunnelTest(transport);
  });
}

async function tunnelTest(transport: 'udp' | 'udp6'): Promise<void> {
  await withTopology({ clients: 2 }, async (topo) => {
    await addUplinkIpv6(topo);
    if (transport === 'udp6') await addClientLinkIpv6(topo);
    const remote = (k: number): string => (transport === 'udp6' ? srvAddr6For(k) : srvAddrFor(k));
    const http = `require('http').createServer((q,s)=>s.end('hello over ipv6 from '+q.socket.remoteAddress)).listen(8080,'${INET6}',()=>console.log('listening'))`;
    await topo.spawn('inet', [process.execPath, '-e', http], { name: 'http6' }).waitForLine(/^listening$/, 10_000);
    const udpEcho = `const u=require('dgram').createSocket('udp6');u.on('message',(m,r)=>u.send(m,r.port,r.address));u.bind(7007,'${INET6}',()=>console.log('listening'))`;
    await topo.spawn('inet', [process.execPath, '-e', udpEcho], { name: 'udp6-echo' }).waitForLine(/^listening$/, 10_000);

    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const config = nanovpnConfig({ proto: 'udp', extra: ['server-ipv6 fd00:8::/64', 'push "route-ipv6 2001:db8::/32"'] });
    // The baseline's `proto udp` becomes `proto udp6` (another proto line would add a second listener on the port).
    const server = startNanovpn({ topo, pki, config: transport === 'udp6' ? config.replace(/^proto udp$/m, 'proto udp6') : config });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const a = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: remote(1), pki, cn: 'client1' });
    const b = startOpenVpnClient({ topo, node: 'cli2', proto: 'udp', remote: remote(2), pki, cn: 'client2' });
    await Promise.all([a.waitInitialized(), b.waitInitialized()]);
    const link = transport === 'udp6' ? `UDPv6 link remote: [AF_INET6]${srvAddr6For(1)}:1194` : `UDPv4 link remote: [AF_INET]${srvAddrFor(1)}:1194`;
    assert.ok(a.proc.output.includes(link), `client1's transport: ${link}`);

    const a6 = await tunAddress6(topo, a, 'cli1');
    const b6 = await tunAddress6(topo, b, 'cli2');
    assert.deepEqual([a6, b6].sort(), ['fd00:8::1000/64', 'fd00:8::1001/64'], 'the pool from NET+0x1000, as OpenVPN 2.6');

    const ping = await topo.exec('cli1', ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', 'fd00:8::1'], { check: false, timeoutMs: 20_000 });
    assert.equal(ping.code, 0, `ping -6 the server's tunnel address: ${ping.stdout}`);

    const bAddr = b6.split('/')[0]!;
    const c2c = await topo.exec('cli1', ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', bAddr], { check: false, timeoutMs: 20_000 });
    assert.equal(c2c.code, 0, `client-to-client over IPv6: ${c2c.stdout}`);

    const curl = await topo.exec('cli1', ['curl', '-6', '-sS', '--max-time', '15', `http://[${INET6}]:8080/`], { check: false, timeoutMs: 30_000 });
    assert.equal(curl.code, 0, curl.stderr);
    assert.equal(curl.stdout, `hello over ipv6 from ${SRV6}`, 'the NAT re-opened the connection from the server\'s IPv6 address');

    const udp = await run(topo, 'cli1', `const u=require('dgram').createSocket('udp6');u.on('message',(m)=>{console.log(String(m));process.exit(0)});` +
      `const go=()=>u.send('echo me over ipv6',7007,'${INET6}');go();setInterval(go,1000);setTimeout(()=>{console.log('timeout');process.exit(5)},15000)`);
    assert.equal(udp.code, 0, udp.out);
    assert.equal(udp.out, 'echo me over ipv6');

    const unreach = await run(topo, 'cli1', `const s=require('net').connect(80,'${UNROUTED6}');s.on('connect',()=>{console.log('connected');process.exit(1)});` +
      `s.on('error',(e)=>{console.log(e.code);process.exit(0)});setTimeout(()=>{console.log('timeout');process.exit(5)},20000)`);
    assert.equal(unreach.code, 0, unreach.out);
    assert.equal(unreach.out, 'ENETUNREACH', 'an ICMPv6 no-route from the server, not silence');
  });
}

test('IPv6 in the tunnel with the tun uplink: the kernel forwards the clients\' IPv6 packets', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason() ?? (existsSync(join(REPO_ROOT, 'dist', 'tun.node')) ? undefined
    : 'dist/tun.node is missing (test/integration/tun-uplink.test.ts builds it)');
  if (skip) return t.skip(skip);
  await ensureTun();
  await withTopology({ clients: 1 }, async (topo) => {
    await addUplinkIpv6(topo);
    // No NAT66: inet routes the VPN's IPv6 network back to srv, which forwards between the tun and its uplink.
    await topo.exec('inet', ['ip', '-6', 'route', 'add', 'fd00:8::/64', 'via', SRV6]);
    await topo.exec('srv', ['sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    const http = `require('http').createServer((q,s)=>s.end(q.socket.remoteAddress)).listen(8080,'${INET6}',()=>console.log('listening'))`;
    await topo.spawn('inet', [process.execPath, '-e', http], { name: 'http6' }).waitForLine(/^listening$/, 10_000);
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const config = nanovpnConfig({ proto: 'udp', extra: ['uplink tun', 'server-ipv6 fd00:8::/64', 'push "route-ipv6 2001:db8::/32"'] });
    const server = startNanovpn({ topo, pki, config });
    const up = await server.waitForLine(/tun uplink up/, 10_000, { failOn: /tun addon not found|ERROR/ });
    const dev = /dev=(\S+)/.exec(up)![1]!;
    await topo.exec('srv', ['ip', '-6', 'route', 'add', 'fd00:8::/64', 'dev', dev]);
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const c = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
    await c.waitInitialized();
    assert.equal(await tunAddress6(topo, c, 'cli1'), 'fd00:8::1000/64');
    const self = await topo.exec('cli1', ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '3', 'fd00:8::1'], { check: false, timeoutMs: 20_000 });
    assert.equal(self.code, 0, `the server's own address, answered by nanovpn: ${self.stdout}`);
    const ping = await topo.exec('cli1', ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', INET6], { check: false, timeoutMs: 20_000 });
    assert.equal(ping.code, 0, `ping -6 inet through srv's kernel: ${ping.stdout}`);
    const who = await topo.exec('cli1', ['curl', '-6', '-sS', '--max-time', '10', `http://[${INET6}]:8080/`], { check: false, timeoutMs: 30_000 });
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, 'fd00:8::1000', 'routed, not NATed: inet sees the client\'s own IPv6 address');
  });
});
