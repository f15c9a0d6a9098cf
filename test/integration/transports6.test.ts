// Issue 13 (transports): real openvpn 2.6 clients reach nanovpn over IPv6, UDP and TCP, a dual-stack socket serves
// IPv4 and IPv6 clients (the IPv4 one shown as plain IPv4), `bind ipv6only` turns IPv4 away, 2.7's multi-socket
// `local ADDR PORT PROTO` lines serve one client each, an IPv6 UDP client floats to a new address, and `local ::1`
// over UDP (once "bind EINVAL") serves a client. Each client pings the server's tunnel address through the tunnel.
// The veths carry ULA IPv6 next to their IPv4 addresses (addIpv6Links: fd00:198:19:k::/64 per client link).
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addIpv6Links, cliAddr, cliAddr6, haveCommand, netnsUnavailable, srvAddr6For, srvAddrFor, withTopology, type NodeName, type Topology,
} from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient, type OpenVpnClient } from '../helpers/openvpn-client.js';

const SERVER_IP = '10.8.0.1';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

async function pingServer(topo: Topology, node: NodeName): Promise<void> {
  const r = await topo.exec(node, ['ping', '-c', '3', '-i', '0.2', '-W', '2', SERVER_IP], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 0, `${node} pings ${SERVER_IP} through the tunnel:\n${r.stdout}${r.stderr}`);
}

/** The server with `lines` in place of the baseline's proto line, and a status file (version 2) every second. */
function server(topo: Topology, pki: TestPki, lines: string[]): NanovpnServer {
  const config = nanovpnConfig({ proto: 'udp', extra: ['status status.log 1', 'status-version 2', ...lines] }).replace(/^proto udp\n/m, '');
  return startNanovpn({ topo, pki, config });
}

/** A client of `proto` (udp, udp6, tcp-client, tcp6-client) to remote:port. */
function client(topo: Topology, pki: TestPki, node: `cli${number}`, cn: string, proto: string, remote: string, port = 1194): OpenVpnClient {
  return startOpenVpnClient({ topo, node, proto: proto.startsWith('tcp') ? 'tcp' : 'udp', remote, port, pki, cn, extra: [`proto ${proto}`] });
}

/** Waits for the status file to list `cn` at a Real Address matching `re`; returns that address. */
async function statusAddress(s: NanovpnServer, cn: string, re: RegExp): Promise<string> {
  const end = Date.now() + 15_000;
  let text: string;
  for (;;) {
    try { text = readFileSync(join(s.dir, 'status.log'), 'utf8'); } catch { text = ''; }
    const row = text.split('\n').find((l) => l.startsWith(`CLIENT_LIST,${cn},`));
    const addr = row?.split(',')[2];
    if (addr && re.test(addr)) return addr;
    if (Date.now() > end) assert.fail(`status.log has no CLIENT_LIST row for ${cn} at ${re}:\n${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const escape = (s: string): string => s.replace(/[.[\]]/g, '\\$&');

test('IPv6 UDP (proto udp6) and IPv6 TCP (tcp6-server, dual-stack): 2.6 clients connect to fd00:198:19:k::1 (and 198.19.1.1 over TCP) and ping through the tunnel', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    await addIpv6Links(topo);
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const udp = server(topo, pki, ['proto udp6']);
    await udp.waitForLine(/listening proto=udp address=:: port=1194 link=UDPv6\(dual-stack\)/, 10_000);
    await udp.waitForLine(/Initialization Sequence Completed/, 10_000);
    const c1 = client(topo, pki, 'cli1', 'client1', 'udp6', srvAddr6For(1));
    await c1.waitInitialized();
    await pingServer(topo, 'cli1');
    await statusAddress(udp, 'client1', new RegExp(`^\\[${escape(cliAddr6(1))}\\]:\\d+$`));
    await udp.waitForLine(new RegExp(`client connected cn=client1 remote=\\[${escape(cliAddr6(1))}\\]:\\d+ proto=udp`), 5_000);
    await c1.stop();
    await udp.stop();

    const tcp = server(topo, pki, ['proto tcp6-server']);
    await tcp.waitForLine(/listening proto=tcp address=:: port=1194 link=TCPv6_SERVER\(dual-stack\)/, 10_000);
    await tcp.waitForLine(/Initialization Sequence Completed/, 10_000);
    const c2 = client(topo, pki, 'cli2', 'client2', 'tcp6-client', srvAddr6For(2));
    await c2.waitInitialized();
    await pingServer(topo, 'cli2');
    await statusAddress(tcp, 'client2', new RegExp(`^\\[${escape(cliAddr6(2))}\\]:\\d+$`));
    // The TCP socket is dual-stack too: an IPv4 client is served and shown as plain IPv4.
    const c1v4 = client(topo, pki, 'cli1', 'client1', 'tcp-client', srvAddrFor(1));
    await c1v4.waitInitialized();
    await pingServer(topo, 'cli1');
    await statusAddress(tcp, 'client1', new RegExp(`^${escape(cliAddr(1))}:\\d+$`));
    assert.doesNotMatch(tcp.proc.output, /::ffff:/i);
  });
});

for (const socket of ['native', 'node'] as const) {
  test(`dual-stack (proto udp6, udp-socket ${socket}): an IPv4 and an IPv6 client on one socket, the IPv4 one shown as plain IPv4`, { timeout: 120_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await withTopology({ clients: 2 }, async (topo) => {
      await addIpv6Links(topo);
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
      const s = server(topo, pki, ['proto udp6', `udp-socket ${socket}`]);
      await s.waitForLine(new RegExp(`listening proto=udp .*socket=${socket}`), 10_000);
      await s.waitForLine(/Initialization Sequence Completed/, 10_000);
      const v4 = client(topo, pki, 'cli1', 'client1', 'udp', srvAddrFor(1));
      const v6 = client(topo, pki, 'cli2', 'client2', 'udp6', srvAddr6For(2));
      await v4.waitInitialized();
      await v6.waitInitialized();
      await pingServer(topo, 'cli1');
      await pingServer(topo, 'cli2');
      await statusAddress(s, 'client1', new RegExp(`^${escape(cliAddr(1))}:\\d+$`));
      await statusAddress(s, 'client2', new RegExp(`^\\[${escape(cliAddr6(2))}\\]:\\d+$`));
      assert.doesNotMatch(s.proc.output, /::ffff:/i, 'no IPv4-mapped address in the log');
    });
  });
}

test('bind ipv6only: the IPv6 client connects, the IPv4 one is refused by the kernel (no IPv4 socket)', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    await addIpv6Links(topo);
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const s = server(topo, pki, ['proto udp6', 'bind ipv6only']);
    await s.waitForLine(/listening proto=udp address=:: port=1194 link=UDPv6\(ipv6only\)/, 10_000);
    await s.waitForLine(/Initialization Sequence Completed/, 10_000);
    const v6 = client(topo, pki, 'cli2', 'client2', 'udp6', srvAddr6For(2));
    await v6.waitInitialized();
    await pingServer(topo, 'cli2');
    const v4 = client(topo, pki, 'cli1', 'client1', 'udp', srvAddrFor(1));
    await v4.proc.waitForLine(/ECONNREFUSED|Connection refused/, 30_000, { failOn: /Initialization Sequence Completed/ });
    assert.doesNotMatch(s.proc.output, /cn=client1/);
  });
});

test('multi-socket (2.7): local 198.19.1.1 1197 tcp and local fd00:198:19:2::1 1197 udp serve one client each', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    await addIpv6Links(topo);
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const s = server(topo, pki, ['proto udp', `local ${srvAddrFor(1)} 1197 tcp`, `local ${srvAddr6For(2)} 1197 udp`]);
    await s.waitForLine(new RegExp(`listening proto=tcp address=${escape(srvAddrFor(1))} port=1197 link=TCPv4_SERVER`), 10_000);
    await s.waitForLine(new RegExp(`listening proto=udp address=${escape(srvAddr6For(2))} port=1197 link=UDPv6`), 10_000);
    await s.waitForLine(/Initialization Sequence Completed/, 10_000);
    const overTcp = client(topo, pki, 'cli1', 'client1', 'tcp-client', srvAddrFor(1), 1197);
    const overUdp6 = client(topo, pki, 'cli2', 'client2', 'udp6', srvAddr6For(2), 1197);
    await overTcp.waitInitialized();
    await overUdp6.waitInitialized();
    await pingServer(topo, 'cli1');
    await pingServer(topo, 'cli2');
    await statusAddress(s, 'client1', new RegExp(`^${escape(cliAddr(1))}:\\d+$`));
    await statusAddress(s, 'client2', new RegExp(`^\\[${escape(cliAddr6(2))}\\]:\\d+$`));
    assert.match(s.proc.output, /client connected cn=client1 .*proto=tcp/);
    assert.match(s.proc.output, /client connected cn=client2 .*proto=udp/);
  });
});

test('float: an IPv6 UDP client whose address changes keeps its session and is shown at its new address', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    await addIpv6Links(topo);
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const s = server(topo, pki, ['proto udp6']);
    await s.waitForLine(/Initialization Sequence Completed/, 10_000);
    const c = client(topo, pki, 'cli1', 'client1', 'udp6', srvAddr6For(1));
    await c.waitInitialized();
    await pingServer(topo, 'cli1');
    await statusAddress(s, 'client1', new RegExp(`^\\[${escape(cliAddr6(1))}\\]:\\d+$`));
    // The client's only IPv6 address becomes fd00:198:19:1::3: its unbound socket sends from there from now on.
    const moved = 'fd00:198:19:1::3';
    await topo.exec('cli1', ['ip', '-6', 'addr', 'add', `${moved}/64`, 'dev', 'eth0', 'nodad']);
    await topo.exec('cli1', ['ip', '-6', 'addr', 'del', `${cliAddr6(1)}/64`, 'dev', 'eth0']);
    await pingServer(topo, 'cli1');
    await s.waitForLine(new RegExp(`client address changed cn=client1 remote=\\[${escape(moved)}\\]:\\d+`), 10_000);
    await statusAddress(s, 'client1', new RegExp(`^\\[${escape(moved)}\\]:\\d+$`));
    assert.equal((s.proc.output.match(/client connected cn=client1/g) ?? []).length, 1, 'one session, no reconnect');
  });
});

test('local ::1 over UDP (once bind EINVAL): a client in the server namespace connects to ::1 and pings', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 0 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const s = server(topo, pki, ['proto udp', 'local ::1']);
    await s.waitForLine(/listening proto=udp address=::1 port=1194 link=UDPv6\(dual-stack\)/, 10_000);
    await s.waitForLine(/Initialization Sequence Completed/, 10_000);
    // srv holds the pushed route's network on its uplink already: the client takes only its address.
    const c = startOpenVpnClient({
      topo, node: 'srv', proto: 'udp', remote: '::1', pki, cn: 'client1', extra: ['proto udp6', 'pull-filter ignore "route 198.18.0.0"'],
    });
    await c.waitInitialized();
    await pingServer(topo, 'srv');
    await statusAddress(s, 'client1', /^\[::1\]:\d+$/);
  });
});

for (const proto of ['udp6', 'tcp6'] as const) {
  test(`static-key mode over IPv6 (${proto}, local fd00:198:19:1::1): the peer pings through the tunnel`, { timeout: 120_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await withTopology({ clients: 1 }, async (topo) => {
      await addIpv6Links(topo);
      const keyPath = join(topo.tempDir('key'), 'static.key');
      execFileSync('openvpn', ['--genkey', 'secret', keyPath]);
      const key = readFileSync(keyPath, 'utf8');
      const common = ['dev tun', 'secret static.key', 'cipher AES-256-CBC', 'auth SHA256', 'keepalive 10 60', 'verb 3'];
      const s = startNanovpn({
        topo, files: { 'static.key': key },
        config: [...common, `proto ${proto === 'udp6' ? 'udp6' : 'tcp6-server'}`, `local ${srvAddr6For(1)}`, 'ifconfig 10.8.0.1 10.8.0.2'].join('\n') + '\n',
      });
      await s.waitForLine(/Initialization Sequence Completed/, 10_000);
      const dir = topo.tempDir('peer');
      writeFileSync(join(dir, 'static.key'), key, { mode: 0o600 });
      writeFileSync(join(dir, 'peer.conf'), [...common, `proto ${proto === 'udp6' ? 'udp6' : 'tcp6-client'}`, `remote ${srvAddr6For(1)} 1194`,
        'nobind', 'ifconfig 10.8.0.2 10.8.0.1'].join('\n') + '\n');
      const peer = topo.spawn('cli1', ['openvpn', '--config', join(dir, 'peer.conf')], { name: 'openvpn-peer@cli1', cwd: dir });
      await peer.waitForLine(/Initialization Sequence Completed/, 30_000, { failOn: /Exiting due to fatal error|Options error/ });
      await pingServer(topo, 'cli1');
      const kind = proto === 'udp6' ? 'udp' : 'tcp';
      assert.match(await s.waitForLine(/peer connected/, 5_000), new RegExp(`remote="?${kind} \\[${escape(cliAddr6(1))}\\]:\\d+`));
    });
  });
}
