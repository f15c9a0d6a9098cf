// Issue 3: the userspace NAT uplink end to end. nanovpn in srv (no ip_forward, no iptables) carries a stock openvpn
// client's traffic to the "Internet" namespace inet with its own sockets: HTTP downloads and uploads, iperf3, UDP,
// DNS against dnsmasq, many parallel connections, the flush of a disconnecting client's flows, and ECN with a client
// that asks for it.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  INET_ADDR, SRV_UPLINK_ADDR, haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Proc, type Topology,
} from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { BUNDLE, nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient, type OpenVpnClient } from '../helpers/openvpn-client.js';
import { existsSync } from 'node:fs';

const HTTP_PORT = 8080;
const ECHO_PORT = 7000;
const UDP_PORT = 7001;
const BLOB_MB = 50;
const METRICS = '127.0.0.1:9100';  // the server's `metrics` listener, on srv's loopback

function skipReason(): string | undefined {
  for (const cmd of ['openvpn', 'iperf3', 'curl', 'dnsmasq', 'ss']) {
    if (!haveCommand(cmd)) return `${cmd} is not installed; run test/install-deps.sh`;
  }
  return netnsUnavailable() ?? (existsSync(BUNDLE) ? undefined : `${BUNDLE} is missing: run npm run build`);
}

// The "Internet" side: an HTTP server (GET /blob: 50 MB of random bytes, POST /upload: sha256 of the body,
// GET /echo-conns: open echo connections), a TCP echo server and a UDP echo server, all on inet's address.
const INET_SERVICES = `
const http = require('http'), net = require('net'), dgram = require('dgram'), crypto = require('crypto');
const blob = crypto.randomBytes(${BLOB_MB} * 1024 * 1024);
let echoOpen = 0, echoTotal = 0;
http.createServer((q, s) => {
  if (q.url === '/blob') { s.setHeader('content-length', blob.length); s.end(blob); return; }
  if (q.url === '/echo-conns') { s.end(JSON.stringify({ open: echoOpen, total: echoTotal })); return; }
  if (q.url === '/upload') {
    const h = crypto.createHash('sha256'); let n = 0;
    q.on('data', (d) => { h.update(d); n += d.length; });
    q.on('end', () => s.end(h.digest('hex') + ' ' + n));
    return;
  }
  s.statusCode = 404; s.end();
}).listen(${HTTP_PORT}, '${INET_ADDR}');
net.createServer({ allowHalfOpen: true }, (c) => {
  echoOpen++; echoTotal++;
  c.on('error', () => {});
  c.on('close', () => { echoOpen--; });
  c.pipe(c);
}).listen(${ECHO_PORT}, '${INET_ADDR}');
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
u.bind(${UDP_PORT}, '${INET_ADDR}', () => console.log('ready blob=' + crypto.createHash('sha256').update(blob).digest('hex')));
`;

// Client side helpers, run with node inside cli1.
const PARALLEL_TCP = `
const net = require('net'), crypto = require('crypto');
const N = Number(process.argv[2]), SIZE = Number(process.argv[3]);
let ok = 0, failed = 0, done = 0;
for (let i = 0; i < N; i++) {
  const data = crypto.randomBytes(SIZE);
  const chunks = [];
  const s = net.connect({ host: '${INET_ADDR}', port: ${ECHO_PORT}, allowHalfOpen: true });
  s.on('connect', () => s.end(data));
  s.on('data', (d) => chunks.push(d));
  s.on('end', () => { if (Buffer.concat(chunks).equals(data)) ok++; else failed++; });
  s.on('error', (e) => { failed++; console.error('conn ' + i + ': ' + e.message); });
  s.on('close', () => { if (++done === N) { console.log('ok=' + ok + ' failed=' + failed); process.exit(failed ? 1 : 0); } });
}
setTimeout(() => { console.log('timeout ok=' + ok + ' failed=' + failed + ' done=' + done); process.exit(2); }, 60000);
`;

const UDP_PINGS = `
const dgram = require('dgram');
const s = dgram.createSocket('udp4');
const N = 20; let got = 0, i = 0;
const next = () => { if (i === N) { console.log('udp ok=' + got); process.exit(got === N ? 0 : 1); } s.send('ping-' + i, ${UDP_PORT}, '${INET_ADDR}'); };
s.on('message', (m) => { if (m.toString() === 'echo:ping-' + i) { got++; i++; next(); } });
const retry = setInterval(() => s.send('ping-' + i, ${UDP_PORT}, '${INET_ADDR}'), 1000);
setTimeout(() => { console.log('udp timeout ok=' + got); process.exit(2); }, 20000);
next();
`;

const DNS_QUERY = `
const { Resolver } = require('dns').promises;
const r = new Resolver({ timeout: 2000, tries: 3 });
r.setServers(['${INET_ADDR}']);
r.resolve4('host.nanovpn.test').then((a) => { console.log('dns=' + a.join(',')); }, (e) => { console.error(e.message); process.exit(1); });
`;

// A connection that stays open until the peer goes away; prints when established.
const LONG_CONN = `
const s = require('net').connect({ host: '${INET_ADDR}', port: ${ECHO_PORT} }, () => { s.write('x'); });
s.once('data', () => console.log('connected'));
s.on('error', () => {});
setInterval(() => {}, 1000);
`;

interface Env { topo: Topology; pki: TestPki; server: NanovpnServer; client: OpenVpnClient; blobSha: string; dir: string }

async function withNatEnv(t: TestContext, proto: 'udp' | 'tcp', fn: (e: Env) => Promise<void>, more: string[] = []): Promise<void> {
  const extra = [`metrics ${METRICS.replace(':', ' ')}`, ...more];
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const dir = topo.tempDir('nat-scripts');
    for (const [name, src] of Object.entries({ 'inet.js': INET_SERVICES, 'parallel.js': PARALLEL_TCP, 'udp.js': UDP_PINGS, 'dns.js': DNS_QUERY, 'long.js': LONG_CONN })) {
      writeFileSync(join(dir, name), src);
    }
    const inet = topo.spawn('inet', [process.execPath, join(dir, 'inet.js')], { name: 'inet-services' });
    const ready = await inet.waitForLine(/^ready blob=/, 20_000);
    const blobSha = /blob=([0-9a-f]{64})/.exec(ready)![1]!;
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto, extra }) });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const client = startOpenVpnClient({ topo, node: 'cli1', proto, remote: srvAddrFor(1), pki, cn: 'client1', explicitExitNotify: proto === 'udp' ? 1 : undefined });
    await client.waitInitialized();
    await fn({ topo, pki, server, client, blobSha, dir });
    await client.stop();
    const exit = await server.stop();
    const stopped = await server.waitForLine(/NOTICE stopped/, 1_000);
    assert.doesNotMatch(stopped, /open-handles/, 'every socket (listeners and NAT flows) was closed before exit');
    // The harness signals the process group and then the pid: when the clean shutdown finishes between the two,
    // the second SIGTERM can land while node is exiting. Either way the server stopped by itself first.
    assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `server exit ${JSON.stringify(exit)}`);
  });
}

async function sha256In(topo: Topology, file: string): Promise<string> {
  const r = await topo.exec('cli1', ['sha256sum', file]);
  return r.stdout.split(/\s+/)[0]!;
}

async function echoConns(topo: Topology): Promise<{ open: number; total: number }> {
  // Asked from srv, which reaches inet directly (not through the VPN).
  const r = await topo.exec('srv', ['curl', '-sS', '--max-time', '5', `http://${INET_ADDR}:${HTTP_PORT}/echo-conns`]);
  return JSON.parse(r.stdout) as { open: number; total: number };
}

/** The server's metrics (Prometheus text from the `metrics` listener), read with the regex's one capture. */
async function scrapeMetrics(topo: Topology): Promise<(re: RegExp) => number> {
  const r = await topo.exec('srv', ['curl', '-sS', '--max-time', '5', `http://${METRICS}/metrics`]);
  return (re) => {
    const m = re.exec(r.stdout);
    assert.ok(m, `metric ${re} in ${r.stdout.slice(0, 300)}`);
    return Number(m[1]);
  };
}

/** The NAT's counters as the server exports them. */
async function natMetrics(topo: Topology): Promise<{ open: number; created: number; closed: number; evicted: number; expired: number }> {
  const get = await scrapeMetrics(topo);
  return {
    open: get(/^nanovpn_nat_flows_open (\d+)$/m),
    created: get(/^nanovpn_nat_flows_total\{event="created"\} (\d+)$/m),
    closed: get(/^nanovpn_nat_flows_total\{event="closed"\} (\d+)$/m),
    evicted: get(/^nanovpn_nat_flows_total\{event="evicted"\} (\d+)$/m),
    expired: get(/^nanovpn_nat_flows_total\{event="expired"\} (\d+)$/m),
  };
}

/** TCP sockets of srv towards inet that are still open (TIME-WAIT excluded: it belongs to no process). */
async function srvSocketsToInet(topo: Topology): Promise<string[]> {
  const r = await topo.exec('srv', ['ss', '-Htan', 'exclude', 'time-wait', 'dst', INET_ADDR]);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`nat over ${proto}: 50 MB download and upload through the NAT arrive intact`, { timeout: 300_000 }, async (t) => {
    await withNatEnv(t, proto, async ({ topo, blobSha, dir }) => {
      const file = join(dir, 'blob.bin');
      const url = `http://${INET_ADDR}:${HTTP_PORT}`;
      await topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '120', '-o', file, `${url}/blob`], { timeoutMs: 130_000 });
      assert.equal(await sha256In(topo, file), blobSha, 'download sha256');
      const up = await topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '120', '--data-binary', `@${file}`,
        '-H', 'content-type: application/octet-stream', `${url}/upload`], { timeoutMs: 130_000 });
      assert.equal(up.stdout.trim(), `${blobSha} ${BLOB_MB * 1024 * 1024}`, 'upload sha256 and length seen by inet');
      // inet saw srv's uplink address: the traffic was re-originated by nanovpn, not routed.
      const ss = await topo.exec('inet', ['ss', '-Htan', 'sport', `= :${HTTP_PORT}`]);
      assert.ok(!ss.stdout.includes('10.8.0.'), 'no tunnel address reaches inet');
    });
  });
}

test('nat with nat-tcp-pacing on: the 50 MB download through the paced NAT arrives intact', { timeout: 300_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo, blobSha, dir }) => {
    const file = join(dir, 'blob-paced.bin');
    await topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '120', '-o', file, `http://${INET_ADDR}:${HTTP_PORT}/blob`], { timeoutMs: 130_000 });
    assert.equal(await sha256In(topo, file), blobSha, 'download sha256');
  }, ['nat-tcp-pacing on']);
});

test('nat with nat-tcp-congestion bbr: the 50 MB download through the NAT arrives intact', { timeout: 300_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo, blobSha, dir }) => {
    const file = join(dir, 'blob-bbr.bin');
    await topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '120', '-o', file, `http://${INET_ADDR}:${HTTP_PORT}/blob`], { timeoutMs: 130_000 });
    assert.equal(await sha256In(topo, file), blobSha, 'download sha256');
  }, ['nat-tcp-congestion bbr']);
});

test('nat: iperf3 TCP both directions for 10 s', { timeout: 180_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo }) => {
    const srv = topo.spawn('inet', ['iperf3', '-s', '-B', INET_ADDR, '--forceflush'], { name: 'iperf3-s' });
    await srv.waitForLine(/Server listening/, 10_000);
    for (const reverse of [false, true]) {
      const r = await topo.exec('cli1', ['iperf3', '-c', INET_ADDR, '-t', '10', '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: 60_000, check: false });
      assert.equal(r.code, 0, `iperf3 ${reverse ? '-R' : ''}: ${r.stdout.slice(-500)} ${r.stderr}`);
      type IperfEnd = { sum_received: { bytes: number; bits_per_second: number }; sum_sent: { retransmits?: number } };
      const j = JSON.parse(r.stdout) as { end: IperfEnd };
      assert.ok(j.end.sum_received.bytes > 0, 'bytes arrived');
      t.diagnostic(`iperf3 ${reverse ? 'inet→client' : 'client→inet'}: ${(j.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s`);
    }
    await srv.kill();
  });
});

test('nat: UDP request/response and a DNS query against dnsmasq in inet', { timeout: 120_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo, dir }) => {
    const dns = topo.spawn('inet', ['dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
      `--listen-address=${INET_ADDR}`, '--bind-interfaces', '--port=53', '--address=/host.nanovpn.test/198.18.0.77',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-queries'], { name: 'dnsmasq' });
    await dns.waitForLine(/started, version/, 10_000);
    const u = await topo.exec('cli1', [process.execPath, join(dir, 'udp.js')], { timeoutMs: 30_000, check: false });
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.match(u.stdout, /udp ok=20/);
    const d = await topo.exec('cli1', [process.execPath, join(dir, 'dns.js')], { timeoutMs: 30_000, check: false });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /dns=198\.18\.0\.77/);
    // dnsmasq saw the query coming from srv's uplink address.
    await dns.waitForLine(new RegExp(`query\\[A\\] host\\.nanovpn\\.test from ${SRV_UPLINK_ADDR.replace(/\./g, '\\.')}`), 5_000);
    await dns.kill();
  });
});

test('nat: 200 parallel TCP connections open, transfer and close; no flow is left behind', { timeout: 180_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo, dir }) => {
    const r = await topo.exec('cli1', [process.execPath, join(dir, 'parallel.js'), '200', String(64 * 1024)], { timeoutMs: 90_000, check: false });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok=200 failed=0/);
    const conns = await until('echo connections open in inet', () => echoConns(topo), (c) => c.open === 0, 20_000);
    assert.equal(conns.total, 200);
    await until('srv sockets towards inet', () => srvSocketsToInet(topo), (l) => l.length === 0, 20_000);
    // The NAT's own counters: every flow was created and has left the table through an orderly close.
    const m = await until('NAT flows open', () => natMetrics(topo), (x) => x.open === 0, 20_000);
    assert.deepEqual(m, { open: 0, created: 200, closed: 200, evicted: 0, expired: 0 });
  });
});

test('nat: a disconnecting client has its flows flushed (outbound connections closed)', { timeout: 120_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo, server, client, dir }) => {
    const longs: Proc[] = [];
    for (let i = 0; i < 3; i++) {
      const p = topo.spawn('cli1', [process.execPath, join(dir, 'long.js')], { name: `long${i}` });
      await p.waitForLine(/^connected$/, 15_000);
      longs.push(p);
    }
    assert.equal((await echoConns(topo)).open, 3);
    assert.equal((await srvSocketsToInet(topo)).length, 3);
    assert.equal((await natMetrics(topo)).open, 3);
    // explicit-exit-notify: the server ends the session at once and the router tells the NAT.
    await client.stop();
    const line = await server.waitForLine(/nat: client flows flushed/, 10_000);
    assert.match(line, /client=10\.8\.0\.2 /);
    assert.match(line, /flows=3 /);
    await until('echo connections open in inet', () => echoConns(topo), (c) => c.open === 0, 10_000);
    assert.deepEqual(await srvSocketsToInet(topo), []);
    const m = await natMetrics(topo);
    assert.equal(m.open, 0);
    assert.equal(m.closed, 3);
    for (const p of longs) await p.kill('SIGKILL');
  });
});

/** The lines tcpdump -v printed for the packets matching filter on cli1's tunnel while fn ran. */
async function tunPacketsDuring(topo: Topology, dev: string, filter: string, fn: () => Promise<void>): Promise<string[]> {
  const cap = topo.spawn('cli1', ['tcpdump', '-i', dev, '-nn', '-l', '-v', filter], { name: 'tcpdump-ecn' });
  await cap.waitForLine(/listening on/, 10_000);
  await fn();
  await new Promise((r) => setTimeout(r, 500));
  await cap.kill('SIGINT');
  // -v prints each packet's IP header on one line and its TCP header on the next: join them.
  return cap.output.replace(/\n\s+(?=\d+\.\d+\.\d+\.\d+\.\d+ > )/g, ' ').split('\n').filter((l) => l.includes(' > '));
}

/** The TCP flags of the ECE/CWR-flagged non-SYN packets of port HTTP_PORT seen while fn ran, by direction. */
async function ecnFlagsDuring(topo: Topology, dev: string, fn: () => Promise<void>): Promise<{ toInet: string[]; toClient: string[] }> {
  const lines = await tunPacketsDuring(topo, dev, `tcp port ${HTTP_PORT} and tcp[13] & 0xc0 != 0`, fn);
  const toInet: string[] = [], toClient: string[] = [];
  for (const line of lines) {
    const flags = /Flags \[([^\]]*)\]/.exec(line)?.[1];
    if (flags === undefined || flags.includes('S')) continue;  // the handshake's ECN-setup flags are not signals
    if (line.includes(` > ${INET_ADDR}.${HTTP_PORT}:`)) toInet.push(flags);
    else if (line.includes(` ${INET_ADDR}.${HTTP_PORT} > `)) toClient.push(flags);
  }
  return { toInet, toClient };
}

async function ecnMetric(topo: Topology, event: string): Promise<number> {
  return (await scrapeMetrics(topo))(new RegExp(`^nanovpn_nat_tcp_ecn_total\\{event="${event}"\\} (\\d+)$`, 'm'));
}

/** What tcpdump saw on cli1's tunnel of one connection to the echo service, opened and closed by long.js. */
function echoConnectionPackets(topo: Topology, dev: string, dir: string): Promise<string[]> {
  return tunPacketsDuring(topo, dev, `tcp port ${ECHO_PORT}`, async () => {
    const conn = topo.spawn('cli1', [process.execPath, join(dir, 'long.js')], { name: 'long-ecn' });
    await conn.waitForLine(/^connected$/, 15_000);
    await conn.kill('SIGKILL');
  });
}

// cli1's kernel asks for ECN (net.ipv4.tcp_ecn=1, per namespace); iptables in cli1 plays a congested router that marks
// every 20th TCP packet CE, first on the NAT's packets towards the client (the client's kernel echoes ECE, the NAT
// must answer with CWR), then on the client's own (the NAT must echo ECE, the client's kernel answers with CWR).
test('nat: ECN with a Linux client that asks for it: negotiated, ECT(0) data, CE marks echoed both ways, transfers intact', { timeout: 300_000 }, async (t) => {
  for (const cmd of ['tcpdump', 'iptables']) if (!haveCommand(cmd)) { t.skip(`${cmd} is not installed; run test/install-deps.sh`); return; }
  await withNatEnv(t, 'udp', async ({ topo, client, blobSha, dir }) => {
    const dev = client.tunDevice();
    await topo.exec('cli1', ['sysctl', '-qw', 'net.ipv4.tcp_ecn=1']);
    // (ss on this kernel does not report the negotiated options, so the handshake is read off the wire.)
    const hs = await echoConnectionPackets(topo, dev, dir);
    const toClient = hs.filter((l) => l.includes(`) ${INET_ADDR}.${ECHO_PORT} > `));
    const text = hs.join('\n');
    assert.ok(hs.some((l) => l.includes(` > ${INET_ADDR}.${ECHO_PORT}:`) && /Flags \[SEW\]/.test(l)), `the client's SYN asks for ECN:\n${text}`);
    assert.ok(toClient.some((l) => /Flags \[S\.E\]/.test(l)), `the NAT's SYN-ACK accepts it:\n${text}`);
    assert.match(toClient.find((l) => /length 1$/.test(l)) ?? '', /tos 0x2,/, `the NAT's data (the echoed 'x') is ECT(0):\n${text}`);
    assert.ok(toClient.filter((l) => /length 0$/.test(l)).every((l) => /tos 0x0,/.test(l)),
      `the NAT's SYN-ACK, pure ACKs and FIN are not ECN-capable:\n${text}`);
    const mark = (chain: string, match: string[]): string[] =>
      ['iptables', '-t', 'mangle', '-A', chain, '-p', 'tcp', ...match, '-m', 'statistic', '--mode', 'nth', '--every', '20',
        '--packet', '0', '-j', 'TOS', '--set-tos', '0x03/0x03'];
    const url = `http://${INET_ADDR}:${HTTP_PORT}`;
    const file = join(dir, 'blob-ecn.bin');

    await topo.exec('cli1', mark('PREROUTING', ['-i', dev, '--sport', String(HTTP_PORT)]));
    const down = await ecnFlagsDuring(topo, dev, async () => {
      await topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '120', '-o', file, `${url}/blob`], { timeoutMs: 130_000 });
    });
    assert.equal(await sha256In(topo, file), blobSha, 'download sha256');
    assert.ok(down.toInet.some((f) => f.includes('E')), 'the client echoed the CE marks on our data with ECE');
    const cwr = down.toClient.filter((f) => f.includes('W')).length;
    assert.ok(cwr > 0, `the NAT answered the ECEs with CWR (flags towards the client: ${down.toClient.slice(0, 20).join(' ')})`);
    assert.ok(await ecnMetric(topo, 'ece') > 0, 'and counted the ECE signals');
    await topo.exec('cli1', ['iptables', '-t', 'mangle', '-F', 'PREROUTING']);

    await topo.exec('cli1', mark('POSTROUTING', ['-o', dev, '--dport', String(HTTP_PORT)]));
    const up = await ecnFlagsDuring(topo, dev, async () => {
      const r = await topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '120', '--data-binary', `@${file}`,
        '-H', 'content-type: application/octet-stream', `${url}/upload`], { timeoutMs: 130_000 });
      assert.equal(r.stdout.trim(), `${blobSha} ${BLOB_MB * 1024 * 1024}`, 'upload sha256 and length seen by inet');
    });
    assert.ok(up.toClient.some((f) => f.includes('E')), 'the NAT echoed the CE marks on the client\'s data with ECE');
    assert.ok(up.toInet.some((f) => f.includes('W')), 'and the client\'s kernel answered with CWR');
    assert.ok(await ecnMetric(topo, 'ce') > 0, 'the NAT counted the CE marks');
    assert.ok(await ecnMetric(topo, 'negotiated') >= 3, 'three connections negotiated ECN');
    t.diagnostic(`download: ${down.toInet.length} ECE/CWR-flagged packets to inet, ${cwr} CWR to the client; upload: ${up.toClient.length} ECE to the client`);
  });
});

test('nat with nat-tcp-ecn off: a client that asks for ECN does not get it', { timeout: 120_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo, client, dir }) => {
    await topo.exec('cli1', ['sysctl', '-qw', 'net.ipv4.tcp_ecn=1']);
    const hs = await echoConnectionPackets(topo, client.tunDevice(), dir);
    const fromInet = hs.filter((l) => l.includes(` ${INET_ADDR}.${ECHO_PORT} > `));
    assert.ok(hs.some((l) => /Flags \[SEW\]/.test(l)), `the client's SYN asks for ECN:\n${hs.join('\n')}`);
    assert.ok(fromInet.some((l) => /Flags \[S\.\]/.test(l)), `the NAT's SYN-ACK does not accept it:\n${hs.join('\n')}`);
    assert.ok(fromInet.some((l) => /length 1$/.test(l)) && fromInet.every((l) => /tos 0x0,/.test(l)),
      `nothing the NAT sends is ECN-capable:\n${hs.join('\n')}`);
    assert.equal(await ecnMetric(topo, 'negotiated'), 0);
  }, ['nat-tcp-ecn off']);
});

/** The server's memory as its `state` dump reports it (SIGUSR2 logs one). */
async function serverMemory(server: NanovpnServer): Promise<{ rss: number; newSpace: number; heapTotal: number }> {
  const before = server.proc.output.split('\n').length;
  process.kill(server.proc.pid, 'SIGUSR2');
  const line = await until('a state line after SIGUSR2', async () => server.proc.output.split('\n').slice(before).find((l) => l.includes(' state state=')),
    (l) => l !== undefined, 5_000);
  const m = /\\"memMiB\\":(\{[^}]*\})/.exec(line!);
  assert.ok(m, `memory in ${line}`);
  return JSON.parse(m[1]!.replaceAll('\\"', '"')) as { rss: number; newSpace: number; heapTotal: number };
}

test('nat: once a download is over and the server idles, it gives the memory back (young generation, malloc_trim)', { timeout: 180_000 }, async (t) => {
  await withNatEnv(t, 'udp', async ({ topo, server, blobSha, dir }) => {
    const file = join(dir, 'blob-idle.bin');
    await topo.exec('cli1', ['curl', '-sS', '--fail', '--max-time', '120', '-o', file, `http://${INET_ADDR}:${HTTP_PORT}/blob`], { timeoutMs: 130_000 });
    assert.equal(await sha256In(topo, file), blobSha, 'download sha256');
    const busy = await serverMemory(server);
    const trims = (): number => server.proc.output.split('\n').filter((l) => l.includes('idle: memory given back')).length;
    const before = trims();
    // Two collections per busy stretch, each after 2 quiet ticks of 3 s (idle-memory.ts).
    await until('two idle trims after the download', async () => trims() - before, (n) => n >= 2, 40_000);
    const idle = await serverMemory(server);
    t.diagnostic(`after the download: ${JSON.stringify(busy)}; idle: ${JSON.stringify(idle)}`);
    assert.ok(idle.newSpace <= 2 && idle.newSpace < busy.newSpace,
      `the download grew V8's young generation (${busy.newSpace} MiB), idle it is back to its floor (${idle.newSpace} MiB)`);
    assert.ok(idle.rss < busy.rss - busy.newSpace / 2, `RSS ${busy.rss} -> ${idle.rss} MiB`);
    const line = server.proc.output.split('\n').filter((l) => l.includes('idle: memory given back')).pop()!;
    assert.match(line, /mallocTrimmed=(true|false) gcMs=[\d.]+ mallocTrimMs=[\d.]+/, 'the collector and the addon\'s malloc_trim both ran');
  }, ['verb 5']);
});
