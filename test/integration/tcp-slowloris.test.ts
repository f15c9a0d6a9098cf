// Issue 11: TCP slowloris. Connections that dribble a byte now and then must neither outlive hand-window (an
// absolute deadline from accept, not an idle timer) nor fill the connection cap and lock a real client out (half-open
// connections have their own cap, and reaching it evicts the busiest address's oldest instead of refusing).
// The dribblers are a small node program in cli1; the real client is Debian's openvpn 2.6 in cli2.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Proc, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

const SERVER_IP = '10.8.0.1';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

// One slot per connection: connect, then behave as its kind says; print a JSON status line every 250 ms.
//   dribble  a length prefix of 1000, then one byte every 500 ms: a packet that would take 500 s to complete
//   half     a length prefix and 3 bytes of the packet, then silence
//   idle     nothing at all
// With reconnect >= 0 a slot connects again that many ms after the server closed it (a flood that keeps up the
// pressure); otherwise the program exits once the server has closed every slot, or after give-up ms.
const DRIBBLER = String.raw`
const net = require('net');
const [host, port, kindsArg, reconnect, giveUp] = process.argv.slice(2);
const kinds = kindsArg.split(',');
const st = { attempts: 0, open: 0, closedByServer: 0, everConnected: 0, bytes: 0, closedByKind: {} };
const seen = new Set();
let ready = false;
function slot(i) {
  const kind = kinds[i];
  st.attempts++;
  const s = net.connect(+port, host);
  let connected = false, timer;
  s.on('connect', () => {
    connected = true; st.open++;
    if (!seen.has(i)) { seen.add(i); st.everConnected++; }
    if (!ready && seen.size === kinds.length) { ready = true; console.log('STATUS ' + JSON.stringify(st)); console.log('every slot connected'); }
    if (kind === 'dribble') {
      s.write(Buffer.from([0x03, 0xe8]));
      timer = setInterval(() => { s.write(Buffer.from([0x38]), (e) => { if (!e) st.bytes++; }); }, 500);
    } else if (kind === 'half') {
      s.write(Buffer.from([0x00, 0x40, 0x38, 0x01, 0x02]));
    }
  });
  s.on('error', () => {});
  s.on('close', () => {
    clearInterval(timer);
    if (connected) { st.open--; st.closedByServer++; st.closedByKind[kind] = (st.closedByKind[kind] || 0) + 1; }
    if (+reconnect >= 0) setTimeout(() => slot(i), +reconnect);
    else if (st.closedByServer === kinds.length) { console.log('STATUS ' + JSON.stringify(st)); console.log('all closed by the server'); process.exit(0); }
  });
}
for (let i = 0; i < kinds.length; i++) slot(i);
setInterval(() => console.log('STATUS ' + JSON.stringify(st)), 250);
if (+giveUp > 0) setTimeout(() => { console.log('STATUS ' + JSON.stringify(st)); console.log('gave up'); process.exit(0); }, +giveUp);
`;

interface DribblerStatus {
  attempts: number; open: number; closedByServer: number; everConnected: number; bytes: number; closedByKind: Record<string, number>;
}

function startDribbler(topo: Topology, kinds: string[], o: { reconnectMs?: number; giveUpMs?: number }): Proc {
  const dir = topo.tempDir('dribbler');
  const file = join(dir, 'dribbler.cjs');
  writeFileSync(file, DRIBBLER);
  return topo.spawn('cli1', [process.execPath, file, srvAddrFor(1), '1194', kinds.join(','), String(o.reconnectMs ?? -1), String(o.giveUpMs ?? 0)],
    { name: 'dribbler@cli1' });
}

function lastStatus(p: Proc): DribblerStatus {
  const all = [...p.output.matchAll(/STATUS (\{.*\})/g)];
  assert.ok(all.length > 0, `no status from the dribbler:\n${p.tail(20)}`);
  return JSON.parse(all[all.length - 1]![1]!) as DribblerStatus;
}

/** Sums the 'client refused' lines for `reason`: the first of an interval (count 1) and the summaries (count=N). */
function refusals(server: NanovpnServer, reason: RegExp): number {
  let n = 0;
  for (const line of server.proc.output.split('\n')) {
    if (!/client refused/.test(line) || !reason.test(line)) continue;
    const m = /count=(\d+)/.exec(line);
    n += m ? Number(m[1]) : 1;
  }
  return n;
}

async function withServer(t: TestContext, extra: string[],
  fn: (topo: Topology, pki: TestPki, server: NanovpnServer) => Promise<void>): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'tcp', extra }) });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    await fn(topo, pki, server);
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
  });
}

test('a real client connects and pings while 200 connections from another address dribble and keep reconnecting',
  { timeout: 150_000 }, async (t) => {
    // max-clients 4: the old connection cap (2 x max-clients, at least 64) is full after 64 dribblers, and the
    // half-open cap (16) is far below the 200 the flood keeps trying to hold.
    await withServer(t, ['max-clients 4', 'hand-window 60'], async (topo, pki, server) => {
      const flood = startDribbler(topo, Array(200).fill('dribble'), { reconnectMs: 1000 });
      await flood.waitForLine(/every slot connected/, 30_000);
      const before = lastStatus(flood);
      assert.ok(before.open > 0, `the flood holds connections: ${JSON.stringify(before)}`);

      const c = startOpenVpnClient({ topo, node: 'cli2', proto: 'tcp', remote: srvAddrFor(2), pki, cn: 'client2' });
      await c.waitInitialized({ timeoutMs: 45_000 });
      const p = await topo.exec('cli2', ['ping', '-c', '5', '-i', '0.2', '-W', '2', SERVER_IP], { check: false, timeoutMs: 30_000 });
      assert.equal(p.code, 0, p.stdout);

      const after = lastStatus(flood);
      assert.equal(flood.exit, undefined, 'the flood was still running');
      assert.ok(after.open > 0, `the flood still held connections while the client connected: ${JSON.stringify(after)}`);
      assert.ok(after.bytes > before.bytes, 'and kept dribbling');
      assert.ok(after.closedByServer > 0, 'the server closed flood connections to make room');
      await flood.kill();
      await c.stop();
      assert.ok(refusals(server, /half-open cap reached/) > 0, 'evictions are logged by reason');
      assert.ok((server.proc.output.match(/client refused/g) ?? []).length < 20,
        `a flood of refusals is summarized, not one line each:\n${server.proc.output.split('\n').filter((l) => /refused/.test(l)).slice(0, 30).join('\n')}`);
    });
  });

test('dribbling, idle and half-sent connections are closed at the hand-window deadline counted from accept',
  { timeout: 120_000 }, async (t) => {
    // A byte every 500 ms never leaves a connection idle for the 5 s hand-window, so only an absolute deadline
    // closes the dribblers; the idle and half-sent ones were closed at hand-window before and still are.
    await withServer(t, ['max-clients 4', 'hand-window 5'], async (_topo, _pki, server) => {
      const kinds = [...Array(8).fill('dribble'), 'idle', 'idle', 'half', 'half'];
      const d = startDribbler(_topo, kinds, { giveUpMs: 60_000 });
      await d.exited;
      const st = lastStatus(d);
      assert.match(d.output, /all closed by the server/, `not every connection was closed: ${JSON.stringify(st)}`);
      assert.deepEqual(st.closedByKind, { dribble: 8, idle: 2, half: 2 });
      assert.equal(st.attempts, kinds.length, 'each connection was accepted once (no reconnects)');
      assert.ok(st.bytes >= 8, 'the dribblers were sending while they were open');
      await server.stop();
      assert.equal(refusals(server, /TLS handshake did not finish within 5 s/), kinds.length,
        'each was closed by the hand-window deadline, none by the half-open cap');
      assert.equal(refusals(server, /half-open cap/), 0);
    });
  });
