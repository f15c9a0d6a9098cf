// Issue 12: static-key point-to-point mode against an unmodified Debian openvpn 2.6 peer, configured as OpenVPN's
// static-key tutorial has it: `dev tun`, `ifconfig 10.8.0.2 10.8.0.1`, `secret static.key [direction]`, `cipher
// AES-256-CBC`, `auth SHA256`, `remote SERVER`, over UDP and over TCP, with key direction 0/1 and without one.
// The peer pings the server's tunnel address, and reaches an HTTP server in inet through nanovpn's NAT (inet sees
// srv's uplink address, so the request was re-originated, not routed). A peer with the wrong key direction gets
// nothing through; a config without `cipher` stops with the BF-CBC message.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { haveCommand, INET_ADDR, netnsUnavailable, srvAddrFor, SRV_UPLINK_ADDR, withTopology, type Topology } from '../helpers/netns.js';
import { startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';

const SERVER_IP = '10.8.0.1';
const HTTP_PORT = 8099;

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

type Dir = 0 | 1 | undefined;
const secretLine = (dir: Dir): string => `secret static.key${dir === undefined ? '' : ` ${dir}`}`;

function serverConfig(proto: 'udp' | 'tcp', dir: Dir, extra: string[] = []): string {
  return [
    'dev tun', `proto ${proto === 'udp' ? 'udp' : 'tcp-server'}`, 'port 1194', 'ifconfig 10.8.0.1 10.8.0.2',
    secretLine(dir), 'cipher AES-256-CBC', 'auth SHA256', 'keepalive 10 60', 'verb 3', ...extra,
  ].join('\n') + '\n';
}

function peerConfig(proto: 'udp' | 'tcp', dir: Dir): string {
  return [
    'dev tun', `proto ${proto === 'udp' ? 'udp' : 'tcp-client'}`, `remote ${srvAddrFor(1)} 1194`, 'nobind',
    'ifconfig 10.8.0.2 10.8.0.1', secretLine(dir), 'cipher AES-256-CBC', 'auth SHA256', 'keepalive 10 60', 'verb 3',
    // The "Internet" is reached through the tunnel: p2p routes go to ifconfig's remote end, nanovpn.
    `route ${INET_ADDR} 255.255.255.255`,
  ].join('\n') + '\n';
}

interface Env { topo: Topology; server: NanovpnServer; key: string }

async function withStaticServer(t: TestContext, config: string, fn: (e: Env) => Promise<void>): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const keyPath = join(topo.tempDir('key'), 'static.key');
    execFileSync('openvpn', ['--genkey', 'secret', keyPath]);
    const key = readFileSync(keyPath, 'utf8');
    const server = startNanovpn({ topo, config, files: { 'static.key': key } });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    await fn({ topo, server, key });
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
  });
}

function startPeer(e: Env, proto: 'udp' | 'tcp', dir: Dir) {
  const dir2 = e.topo.tempDir('peer');
  writeFileSync(join(dir2, 'static.key'), e.key, { mode: 0o600 });
  writeFileSync(join(dir2, 'peer.conf'), peerConfig(proto, dir));
  const proc = e.topo.spawn('cli1', ['openvpn', '--config', join(dir2, 'peer.conf')], { name: 'openvpn-peer@cli1', cwd: dir2 });
  return proc;
}

async function ping(topo: Topology, count: number, size = 56): Promise<{ code: number | null; out: string }> {
  const r = await topo.exec('cli1', ['ping', '-c', String(count), '-i', '0.2', '-W', '2', '-s', String(size), SERVER_IP],
    { check: false, timeoutMs: 30_000 });
  return { code: r.code, out: r.stdout };
}

/** An HTTP server in inet that answers with the address it saw the request come from. */
function startInetHttp(topo: Topology) {
  const src = `require('http').createServer((q, s) => s.end('seen ' + q.socket.remoteAddress.replace('::ffff:', '')))` +
    `.listen(${HTTP_PORT}, '${INET_ADDR}', () => console.log('ready'));`;
  return topo.spawn('inet', [process.execPath, '-e', src], { name: 'inet-http' });
}

async function pingsThrough(e: Env, proto: 'udp' | 'tcp', dir: Dir): Promise<void> {
  const peer = startPeer(e, proto, dir);
  await peer.waitForLine(/Initialization Sequence Completed/, 30_000, { failOn: /Exiting due to fatal error|Options error/ });
  for (const size of [56, 1000, 1400]) {
    const p = await ping(e.topo, 3, size);
    assert.equal(p.code, 0, `ping -s ${size}: ${p.out}`);
    assert.match(p.out, /3 packets transmitted, 3 received/);
  }
  assert.match(await e.server.waitForLine(/peer connected/, 5_000), new RegExp(`remote="?${proto} 198\\.19\\.1\\.2:`));
  assert.match(peer.output, /Data Channel: cipher 'AES-256-CBC', auth 'SHA256'/);
  await peer.kill();
}

for (const proto of ['udp', 'tcp'] as const) {
  for (const [server, peer] of [[0, 1], [1, 0], [undefined, undefined]] as const) {
    const name = server === undefined ? 'no direction on either end' : `server direction ${server}, peer ${peer}`;
    test(`${proto}: static key, ${name}: the peer pings ${SERVER_IP}`, { timeout: 90_000 }, async (t) => {
      await withStaticServer(t, serverConfig(proto, server), (e) => pingsThrough(e, proto, peer));
    });
  }

  test(`${proto}: static key: the peer reaches an Internet host through the NAT`, { timeout: 90_000 }, async (t) => {
    await withStaticServer(t, serverConfig(proto, 0), async (e) => {
      const http = startInetHttp(e.topo);
      await http.waitForLine(/^ready/, 10_000);
      const peer = startPeer(e, proto, 1);
      await peer.waitForLine(/Initialization Sequence Completed/, 30_000, { failOn: /Exiting due to fatal error|Options error/ });
      const r = await e.topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '20', '--retry', '3', '--retry-all-errors',
        `http://${INET_ADDR}:${HTTP_PORT}/`], { timeoutMs: 90_000 });
      assert.equal(r.stdout.trim(), `seen ${SRV_UPLINK_ADDR}`);
      await peer.kill();
    });
  });
}

test('udp: static key, the same direction on both ends: nothing gets through', { timeout: 90_000 }, async (t) => {
  await withStaticServer(t, serverConfig('udp', 0), async (e) => {
    const peer = startPeer(e, 'udp', 0);
    // The peer completes its initialization only once a packet of ours authenticates: wait for its tun address.
    await peer.waitForLine(/net_addr_ptp_v4_add: 10\.8\.0\.2 peer 10\.8\.0\.1/, 30_000, { failOn: /Exiting due to fatal error|Options error/ });
    const p = await ping(e.topo, 3);
    assert.notEqual(p.code, 0, p.out);
    assert.match(p.out, /3 packets transmitted, 0 received/);
    assert.match(await e.server.waitForLine(/packet dropped/, 5_000), /reason=auth/);
    assert.doesNotMatch(e.server.proc.output, /peer connected/);
    assert.doesNotMatch(peer.output, /Peer Connection Initiated|Initialization Sequence Completed/);
    await peer.kill();
  });
});

test('static key without a cipher line: OpenVPN 2.6 would use BF-CBC; nanovpn stops and says what to set', { timeout: 30_000 }, async (t) => {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const keyPath = join(topo.tempDir('key'), 'static.key');
    execFileSync('openvpn', ['--genkey', 'secret', keyPath]);
    const config = serverConfig('udp', 0).replace('cipher AES-256-CBC\n', '');
    const server = startNanovpn({ topo, config, files: { 'static.key': readFileSync(keyPath, 'utf8') } });
    const exit = await server.proc.exited;
    assert.equal(exit.code, 1);
    assert.match(server.proc.output, /server\.conf:5: static-key mode without a 'cipher' line uses OpenVPN 2\.6's default for it, BF-CBC/);
    assert.match(server.proc.output, /set 'cipher AES-256-CBC' on both ends/);
  });
});
