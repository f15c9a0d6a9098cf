// Issue 5 (observability): status file, management interface and /metrics with a real openvpn 2.6 client.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, INET_ADDR, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

const MGMT_PORT = 7505;
const METRICS_PORT = 9100;

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

/** Sends each command (pipelined, then quit) to the management port from inside srv; returns the transcript. */
const MGMT_SCRIPT = `
const net = require('net');
const [port, ...cmds] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1');
let out = '';
s.on('data', (d) => { out += d.toString('latin1'); });
s.on('connect', () => s.write(cmds.map((c) => c + '\\n').join('') + 'quit\\n'));
s.on('close', () => { process.stdout.write(out); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error('timeout: ' + JSON.stringify(out)); process.exit(2); }, 10000).unref();
`;

const HTTP_GET_SCRIPT = `
const http = require('http');
http.get({ host: '127.0.0.1', port: Number(process.argv[1]), path: process.argv[2] }, (r) => {
  let b = ''; r.setEncoding('utf8'); r.on('data', (d) => { b += d; });
  r.on('end', () => { process.stdout.write(r.statusCode + '\\n' + r.headers['content-type'] + '\\n' + b); });
}).on('error', (e) => { console.error(e.message); process.exit(1); });
`;

/** A 256 KiB HTTP download in inet, so traffic crosses the NAT. */
const HTTP_SERVER_SCRIPT = `
const http = require('http');
const body = Buffer.alloc(256 * 1024, 0x61);
http.createServer((q, r) => r.end(body)).listen(8080, process.argv[1], () => console.log('http listening'));
`;

async function management(topo: Topology, ...cmds: string[]): Promise<string> {
  const r = await topo.exec('srv', [process.execPath, '-e', MGMT_SCRIPT, String(MGMT_PORT), ...cmds], { timeoutMs: 15_000 });
  return r.stdout;
}

async function httpGet(topo: Topology, path: string): Promise<{ status: number; type: string; body: string }> {
  const r = await topo.exec('srv', [process.execPath, '-e', HTTP_GET_SCRIPT, String(METRICS_PORT), path], { timeoutMs: 15_000 });
  const [status, type, ...rest] = r.stdout.split('\n');
  return { status: Number(status), type: type!, body: rest.join('\n') };
}

function metricValue(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The CLIENT_LIST row of `cn` in status-version 2 text, as columns. */
function clientRow(text: string, cn: string, sep = ','): string[] | undefined {
  return text.split(/\r?\n/).map((l) => l.split(sep)).find((c) => c[0] === 'CLIENT_LIST' && c[1] === cn);
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function withServer(t: TestContext, proto: 'udp' | 'tcp', extra: string[], fn: (topo: Topology, server: NanovpnServer, pki: TestPki) => Promise<void>,
  afterStop?: (server: NanovpnServer) => void): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto, extra }) });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    await fn(topo, server, pki);
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
    afterStop?.(server);
  });
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`${proto}: status file, management status and /metrics show the client; kill over management disconnects it`, { timeout: 120_000 }, async (t) => {
    const extra = ['status status.log 1', 'status-version 2', `management 127.0.0.1 ${MGMT_PORT}`, `metrics 127.0.0.1 ${METRICS_PORT}`];
    await withServer(t, proto, extra, async (topo, server, pki) => {
      await server.waitForLine(/management interface listening address=127\.0\.0\.1 port=7505/, 5_000);
      await server.waitForLine(/metrics endpoint listening address=127\.0\.0\.1 port=9100/, 5_000);
      const web = topo.spawn('inet', [process.execPath, '-e', HTTP_SERVER_SCRIPT, INET_ADDR], { name: 'http' });
      await web.waitForLine(/http listening/, 10_000);

      const c = startOpenVpnClient({ topo, node: 'cli1', proto, remote: srvAddrFor(1), pki, cn: 'client1' });
      await c.waitInitialized();
      const ping = await topo.exec('cli1', ['ping', '-c', '5', '-i', '0.2', '-W', '2', '10.8.0.1'], { check: false, timeoutMs: 30_000 });
      assert.equal(ping.code, 0, ping.stdout);
      const dl = await topo.exec('cli1', ['curl', '-sS', '-o', '/dev/null', '-w', '%{size_download}', `http://${INET_ADDR}:8080/`], { timeoutMs: 30_000 });
      assert.equal(dl.stdout, String(256 * 1024));

      // Status file (rewritten every second): the client's row with nonzero bytes both ways.
      const statusPath = join(server.dir, 'status.log');
      const row = await until('client1 in the status file with traffic', () => {
        if (!existsSync(statusPath)) return undefined;
        const r = clientRow(readFileSync(statusPath, 'utf8'), 'client1');
        return r && Number(r[6]) > 256 * 1024 ? r : undefined;   // Bytes Sent: the download
      });
      assert.equal(row.length, 13);
      assert.match(row[2]!, /^198\.19\.1\.2:\d+$/);
      assert.equal(row[3], '10.8.0.2');
      assert.equal(row[4], '');   // no IPv6 in the tunnel
      assert.ok(Number(row[5]) > 0, `bytes received ${row[5]}`);
      assert.equal(row[12], 'AES-256-GCM');
      const statusText = readFileSync(statusPath, 'utf8');
      assert.match(statusText, /^TITLE,/);
      assert.match(statusText, /\nROUTING_TABLE,10\.8\.0\.2,client1,198\.19\.1\.2:\d+,/);
      assert.match(statusText, /\nEND\n$/);

      // Management: greeting, status 2 and 3, version, unknown command.
      const out = await management(topo, 'status', 'status 3', 'version', 'bogus');
      assert.ok(out.startsWith(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n"), out);
      const mrow = clientRow(out, 'client1');
      assert.ok(mrow, out);
      assert.ok(Number(mrow[5]) > 0 && Number(mrow[6]) > 0, mrow.join(','));
      assert.ok(clientRow(out, 'client1', '\t'), out);
      assert.match(out, /\r\nManagement Version: 5\r\nEND\r\n/);
      assert.match(out, /\r\nERROR: unknown command, enter 'help' for more options\r\n$/);

      // /metrics.
      const m = await httpGet(topo, '/metrics');
      assert.equal(m.status, 200);
      assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(metricValue(m.body, 'nanovpn_sessions'), 1);
      assert.ok(metricValue(m.body, 'nanovpn_client_bytes_total{cn="client1",direction="in"}')! > 0, m.body);
      assert.ok(metricValue(m.body, 'nanovpn_client_bytes_total{cn="client1",direction="out"}')! > 256 * 1024, m.body);
      assert.ok(metricValue(m.body, 'nanovpn_client_packets_total{cn="client1",direction="in"}')! >= 5, m.body);
      assert.equal(metricValue(m.body, 'nanovpn_handshakes_total{result="ok"}'), 1);
      assert.ok(metricValue(m.body, 'nanovpn_nat_flows_total{event="created"}')! >= 1, m.body);
      assert.ok(metricValue(m.body, 'nanovpn_nat_bytes_total{direction="in"}')! > 256 * 1024, m.body);
      assert.equal(metricValue(m.body, 'nanovpn_pool_addresses{state="used"}'), 1);
      assert.ok(metricValue(m.body, 'process_resident_memory_bytes')! > 0);
      assert.equal((await httpGet(topo, '/')).status, 404);

      // kill over management: the session ends, the server says why.
      const k = await management(topo, 'kill client1', 'kill nobody');
      assert.match(k, /\r\nSUCCESS: common name 'client1' found, 1 client\(s\) killed\r\n/);
      assert.match(k, /\r\nERROR: common name 'nobody' not found\r\n/);
      // Over TCP the client answers RESTART by closing its connection, which may end the session first.
      const why = proto === 'udp' ? '"killed by management"' : '("killed by management"|"connection closed by peer")';
      const gone = await server.waitForLine(new RegExp(`client disconnected .*cn=client1 .*reason=${why}`), 10_000);
      assert.match(gone, /remote=198\.19\.1\.2:\d+/);
      assert.match(server.proc.output, /management: killing client cn=client1 remote=198\.19\.1\.2:\d+/);
      // The client was told RESTART: it comes back, and the status file follows.
      await until('client1 back in the status file', () => {
        const r = clientRow(readFileSync(statusPath, 'utf8'), 'client1');
        return r && r[10] !== row[10] ? r : undefined;   // a different Client ID: a new session
      }, 30_000);
    }, (server) => {
    // The last write happens at shutdown, after the sessions closed: no client rows, still a complete file.
      const text = readFileSync(join(server.dir, 'status.log'), 'utf8');
      assert.equal(clientRow(text, 'client1'), undefined, text);
      assert.match(text, /^TITLE,.*\nHEADER,CLIENT_LIST,.*\nHEADER,ROUTING_TABLE,.*\nEND\n$/s);
    });
  });
}

test('an unwritable status path warns once and the server keeps serving; a non-loopback management address is refused', { timeout: 120_000 }, async (t) => {
  const extra = ['status missing-dir/status.log 1', `management ${srvAddrFor(1)} ${MGMT_PORT}`];
  await withServer(t, 'udp', extra, async (topo, server, pki) => {
    await server.waitForLine(/WARN management: refusing a non-loopback address .*address=198\.19\.1\.1/, 5_000);
    const c = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
    await c.waitInitialized();
    // Several status intervals pass while the client works.
    const ping = await topo.exec('cli1', ['ping', '-c', '15', '-i', '0.2', '-W', '2', '10.8.0.1'], { check: false, timeoutMs: 30_000 });
    assert.equal(ping.code, 0, ping.stdout);
    const warns = server.proc.output.match(/WARN status file: cannot write/g) ?? [];
    assert.equal(warns.length, 1, server.proc.tail(30));
    await c.stop();
  });
});
