// Issue 13 (forward-port): a port on the server's uplink address carried through the tunnel to a client. From the
// inet namespace, curl reaches an HTTP server inside the client's namespace through the server's port (a large
// response: backpressure through the NAT's TCP), the same after the client reconnects (the rule follows its
// common name), a UDP echo through a forwarded UDP port, and with the client offline the connection is reset at
// once and counted in /metrics, with a log line.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { INET_ADDR, SRV_UPLINK_ADDR, haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient, type OpenVpnClient } from '../helpers/openvpn-client.js';

function skipReason(): string | undefined {
  if (netnsUnavailable()) return netnsUnavailable();
  if (!haveCommand('openvpn')) return 'openvpn is not installed; run test/install-deps.sh';
  if (!haveCommand('curl')) return 'curl is not installed; run test/install-deps.sh';
  return undefined;
}

const TCP_PORT = 8080;
const UDP_PORT = 5300;
const METRICS_PORT = 9100;
const RULE_TCP = `tcp ${SRV_UPLINK_ADDR}:${TCP_PORT} client1:8000`;
const RULE_UDP = `udp ${SRV_UPLINK_ADDR}:${UDP_PORT} client1:7000`;
const BODY_BYTES = 3 * 1024 * 1024;

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function count(text: string, re: RegExp): number {
  return [...text.matchAll(new RegExp(re.source, 'g'))].length;
}

function client(topo: Topology, pki: TestPki): OpenVpnClient {
  return startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1', explicitExitNotify: 1 });
}

async function curl(topo: Topology, path: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return topo.exec('inet', ['curl', '-sS', '--max-time', '20', '-o', '-', `http://${SRV_UPLINK_ADDR}:${TCP_PORT}${path}`],
    { check: false, timeoutMs: 30_000 });
}

async function metrics(topo: Topology): Promise<string> {
  const r = await topo.exec('srv', ['curl', '-sS', '--max-time', '10', `http://127.0.0.1:${METRICS_PORT}/metrics`]);
  return r.stdout;
}

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

async function udpAsk(topo: Topology, text: string): Promise<string> {
  const r = await topo.exec('inet', [process.execPath, '-e',
    `const s=require('dgram').createSocket('udp4');s.bind(0,'${INET_ADDR}',()=>{` +
    `const t=setInterval(()=>s.send(${JSON.stringify(text)},${UDP_PORT},'${SRV_UPLINK_ADDR}'),300);s.send(${JSON.stringify(text)},${UDP_PORT},'${SRV_UPLINK_ADDR}');` +
    `s.on('message',(m)=>{console.log(String(m));process.exit(0)});setTimeout(()=>process.exit(4),10000)})`],
  { check: false, timeoutMs: 20_000 });
  assert.equal(r.code, 0, `no UDP answer: ${r.stderr}`);
  return r.stdout.trim();
}

async function withForwards(t: TestContext, fn: (topo: Topology, server: NanovpnServer, pki: TestPki) => Promise<void>): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({
      proto: 'udp', extra: [`forward-port ${RULE_TCP}`, `forward-port ${RULE_UDP}`, `metrics 127.0.0.1 ${METRICS_PORT}`],
    }) });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    await server.waitForLine(/forward-port listening rule="?udp/, 10_000);
    // In the client's namespace: an HTTP server (a short and a large answer) and a UDP echo.
    const http = topo.spawn('cli1', [process.execPath, '-e',
      `const big=Buffer.alloc(${BODY_BYTES},97);require('http').createServer((q,s)=>{` +
      `if(q.url==='/big'){s.writeHead(200,{'content-length':big.length});s.end(big);return}` +
      `s.end('hello from client1 '+q.socket.remoteAddress+'\\n')}).listen(8000,'0.0.0.0',()=>console.log('listening'))`], { name: 'http' });
    await http.waitForLine(/^listening$/, 10_000);
    const echo = topo.spawn('cli1', [process.execPath, '-e',
      `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo '),m]),r.port,r.address));` +
      `s.bind(7000,'0.0.0.0',()=>console.log('listening'))`], { name: 'udp-echo' });
    await echo.waitForLine(/^listening$/, 10_000);
    await fn(topo, server, pki);
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
  });
}

test('forward-port: curl from the Internet side reaches a client\'s HTTP server, again after it reconnects; refused at once while it is offline', { timeout: 180_000 }, async (t) => {
  await withForwards(t, async (topo, server, pki) => {
    const first = client(topo, pki);
    await first.waitInitialized();

    const hello = await curl(topo, '/');
    assert.equal(hello.code, 0, hello.stderr);
    // The inner connection comes from the server's tunnel address.
    assert.equal(hello.stdout.trim(), 'hello from client1 10.8.0.1');
    const big = await curl(topo, '/big');
    assert.equal(big.code, 0, big.stderr);
    assert.equal(big.stdout.length, BODY_BYTES);
    assert.ok(/^a+$/.test(big.stdout), 'the body arrived unchanged');

    // The client goes and comes back (a new session, maybe a new address): the rule follows its common name.
    await first.stop();
    await until('the server to see client1 leave', () => (count(server.proc.output, /client disconnected cn=client1/) >= 1 ? true : undefined));
    const second = client(topo, pki);
    await second.waitInitialized();
    const again = await curl(topo, '/');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^hello from client1/);

    // Offline: the outer connection is reset, not left to time out (curl 56 = connection reset, 7 = refused;
    // 28 would be its own timeout), counted, and logged.
    await second.stop();
    await until('the server to see client1 leave again', () => (count(server.proc.output, /client disconnected cn=client1/) >= 2 ? true : undefined));
    const refused = await curl(topo, '/');
    assert.ok(refused.code === 56 || refused.code === 52 || refused.code === 7, `curl exit ${refused.code}: ${refused.stderr}`);
    await server.waitForLine(/forward-port: refused rule="?tcp .*reason="?client offline/, 5_000);

    const m = await metrics(topo);
    assert.equal(metric(m, 'nanovpn_forward_connections_total', `rule="${RULE_TCP}",result="accepted"`), 3, m);
    assert.equal(metric(m, 'nanovpn_forward_connections_total', `rule="${RULE_TCP}",result="refused",reason="client offline"`), 1, m);
    assert.equal(metric(m, 'nanovpn_forward_active', `rule="${RULE_TCP}"`), 0, m);
    assert.ok((metric(m, 'nanovpn_forward_bytes_total', `rule="${RULE_TCP}",direction="out"`) ?? 0) > BODY_BYTES, m);
    assert.ok((metric(m, 'nanovpn_forward_bytes_total', `rule="${RULE_TCP}",direction="in"`) ?? 0) > 0, m);
  });
});

test('forward-port: UDP datagrams reach a client\'s echo and come back; dropped and counted while it is offline', { timeout: 120_000 }, async (t) => {
  await withForwards(t, async (topo, server, pki) => {
    const c = client(topo, pki);
    await c.waitInitialized();
    assert.equal(await udpAsk(topo, 'one'), 'echo one');
    assert.equal(await udpAsk(topo, 'two'), 'echo two');
    let m = await metrics(topo);
    // One flow per outer source: each udpAsk binds a new port.
    assert.equal(metric(m, 'nanovpn_forward_connections_total', `rule="${RULE_UDP}",result="accepted"`), 2, m);

    await c.stop();
    await until('the server to see client1 leave', () => (count(server.proc.output, /client disconnected cn=client1/) >= 1 ? true : undefined));
    await topo.exec('inet', [process.execPath, '-e',
      `const s=require('dgram').createSocket('udp4');s.send('lost',${UDP_PORT},'${SRV_UPLINK_ADDR}',()=>s.close())`]);
    await server.waitForLine(/forward-port: refused rule="?udp .*reason="?client offline/, 5_000);
    m = await metrics(topo);
    assert.equal(metric(m, 'nanovpn_forward_connections_total', `rule="${RULE_UDP}",result="refused",reason="client offline"`), 1, m);
    assert.equal(metric(m, 'nanovpn_forward_active', `rule="${RULE_UDP}"`), 0, m);
  });
});
