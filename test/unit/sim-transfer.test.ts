// The whole pipeline on a virtual clock (test/helpers/sim/pipeline.ts): client TCP → data channel → Session →
// Router → Nat → in-memory Internet and back, over links that lose, duplicate, reorder and delay datagrams.
// Every run is seeded, so a failure replays exactly. Wall time is reported, never asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { LinkKnobs } from '../helpers/sim/link.js';
import { CLIENT_IP, HOST, SimNet, type SimOptions } from '../helpers/sim/pipeline.js';

const MB = 1 << 20;
const digest = (b: Buffer | Buffer[]) => createHash('sha256').update(Buffer.isBuffer(b) ? b : Buffer.concat(b)).digest('hex');

function blob(n: number, salt: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 9) + salt) & 0xff;
  return b;
}

interface Outcome {
  ok: boolean; bytes: number; virtualMs: number;
  trace: Record<string, unknown>;
}

/** The client GETs `size` bytes from HOST:80, then closes after the server's FIN. */
function download(net: SimNet, size: number): Outcome & { data: Buffer[]; sent: Buffer } {
  const sent = blob(size, 1);
  net.internet.listen(HOST, 80, (c) => {
    c.onData = () => { c.write(sent); c.end(); };
  });
  const tcp = net.tcp(40000, HOST, 80);
  const data: Buffer[] = [];
  tcp.onData = (b) => data.push(b);
  tcp.onFin = () => tcp.end(net.now);
  const start = net.now;
  tcp.connect(net.now);
  tcp.write(Buffer.from('GET /blob'), net.now);
  net.sim.runUntil(() => tcp.done, { maxTime: 120_000, what: 'download' });
  return { ok: tcp.state !== 'reset', bytes: tcp.received, virtualMs: net.now - start, data, sent, trace: trace(net, tcp.stats) };
}

/** The client sends `size` bytes to HOST:81 and half-closes; the server answers with the digest and closes. */
function upload(net: SimNet, size: number): Outcome & { reply: string; sent: Buffer; got: Buffer[] } {
  const sent = blob(size, 2);
  const got: Buffer[] = [];
  net.internet.listen(HOST, 81, (c) => {
    c.onData = (b) => got.push(b);
    c.onEnd = () => { c.write(Buffer.from(digest(got))); c.end(); };
  });
  const tcp = net.tcp(40001, HOST, 81);
  const reply: Buffer[] = [];
  tcp.onData = (b) => reply.push(b);
  const start = net.now;
  tcp.connect(net.now);
  tcp.write(sent, net.now);
  tcp.end(net.now);
  net.sim.runUntil(() => tcp.done, { maxTime: 120_000, what: 'upload' });
  return {
    ok: tcp.state !== 'reset', bytes: size, virtualMs: net.now - start, reply: Buffer.concat(reply).toString(), sent, got,
    trace: trace(net, tcp.stats),
  };
}

function trace(net: SimNet, client: object): Record<string, unknown> {
  const st = net.nat.stats();
  return {
    now: net.now, turns: net.sim.turns, up: { ...net.up.stats }, down: { ...net.down.stats }, client: { ...client },
    nat: { packetsIn: st.packetsIn, packetsOut: st.packetsOut, retransmits: st.tcpRetransmits, drops: st.drops },
  };
}

/** After the transfers: TIME-WAIT and the idle sweep run out, and nothing is left. */
function assertNothingLeft(net: SimNet): void {
  net.sim.runUntil(() => net.nat.size === 0, { maxTime: 30_000, what: 'flows to leave' });
  net.sim.runFor(2_000);
  const st = net.nat.stats();
  assert.equal(st.flowsOpen, 0);
  assert.equal(st.tcpFlows + st.udpFlows, 0);
  assert.equal(st.flowsExpired + st.flowsEvicted, 0, 'every flow ended by its protocol, none by a timeout');
  assert.deepEqual(net.internet.sockets.openTcp(), []);
  assert.equal(net.nat.nextDeadline(), undefined, 'the NAT wants no more wake-ups');
  assert.equal(net.nat.batchPending(), false);
}

/** 20 Mbit/s, 10 ms each way, 3% loss. */
const LOSSY: Partial<LinkKnobs> = { loss: 0.03, latency: 10, rate: 2500 };

test('sim: a 1 MB download with 3% loss each way arrives byte-exact, and no flow is left', (t) => {
  const w0 = performance.now();
  const net = new SimNet({ seed: 1, up: LOSSY, down: LOSSY });
  const r = download(net, MB);
  assert.ok(r.ok, 'not reset');
  assert.equal(digest(r.data), digest(r.sent));
  assert.ok(net.up.stats.lost > 0 && net.down.stats.lost > 0, 'the links did lose packets');
  assert.ok(net.nat.stats().tcpRetransmits.timeout + net.nat.stats().tcpRetransmits.fast > 0, 'the NAT recovered losses');
  assertNothingLeft(net);
  assert.equal(net.counters.clientOpenFailed + net.counters.serverOpenFailed, 0);
  t.diagnostic(`download: ${r.virtualMs} ms virtual, ${(performance.now() - w0).toFixed(0)} ms wall, ${JSON.stringify(r.trace)}`);
});

test('sim: a 1 MB upload with 3% loss each way arrives byte-exact, and no flow is left', (t) => {
  const w0 = performance.now();
  const net = new SimNet({ seed: 2, up: LOSSY, down: LOSSY });
  const r = upload(net, MB);
  assert.ok(r.ok, 'not reset');
  assert.equal(digest(r.got), digest(r.sent));
  assert.equal(r.reply, digest(r.sent), 'the server saw the same bytes');
  assert.ok(net.up.stats.lost > 0 && net.down.stats.lost > 0, 'the links did lose packets');
  assert.ok((r.trace.client as { retransmits: number }).retransmits > 0, 'the client recovered losses');
  assertNothingLeft(net);
  t.diagnostic(`upload: ${r.virtualMs} ms virtual, ${(performance.now() - w0).toFixed(0)} ms wall, ${JSON.stringify(r.trace)}`);
});

test('sim: the same seed gives the same run, packet for packet; another seed a different one', () => {
  const run = (seed: number) => {
    const net = new SimNet({ seed, up: LOSSY, down: LOSSY });
    const d = download(net, 256 * 1024);
    return JSON.stringify({ ...d.trace, digest: digest(d.data) });
  };
  const a = run(5), b = run(5), c = run(6);
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('sim: reordering, duplication, jitter and a 1400-byte path MTU (MSS clamped) still deliver byte-exact', (t) => {
  const knobs: Partial<LinkKnobs> = { loss: 0.01, duplicate: 0.02, reorder: 0.05, reorderDelay: 15, jitter: 3, latency: 20, mtu: 1400 };
  const opts: SimOptions = { seed: 3, up: knobs, down: knobs, routerMss: 1300 };
  const w0 = performance.now();
  const net = new SimNet(opts);
  const d = download(net, 512 * 1024);
  assert.equal(digest(d.data), digest(d.sent));
  const u = upload(net, 512 * 1024);
  assert.equal(digest(u.got), digest(u.sent));
  for (const l of [net.up, net.down]) {
    assert.ok(l.stats.duplicated > 0 && l.stats.reordered > 0, 'the knobs did act');
    assert.equal(l.stats.tooBig, 0, 'the clamp keeps every datagram under the MTU');
  }
  assertNothingLeft(net);
  t.diagnostic(`mixed faults: ${(performance.now() - w0).toFixed(0)} ms wall, ${JSON.stringify(trace(net, {}))}`);
});

test('sim: without the MSS clamp the same MTU drops the full-sized segments and the NAT gives up with a reset', () => {
  const net = new SimNet({ seed: 4, down: { mtu: 1400 } });
  const r = download(net, 64 * 1024);
  assert.equal(r.ok, false, 'the client was reset');
  assert.ok(net.down.stats.tooBig > 0);
  assert.ok(net.nat.stats().tcpRetransmits.timeout >= 8, 'every retransmission was too big as well');
  net.sim.runUntil(() => net.nat.size === 0, { maxTime: 10_000, what: 'the flow to leave' });
  assert.deepEqual(net.internet.sockets.openTcp(), []);
});

test('sim: 20 parallel echo connections with loss complete; a client that leaves mid-transfer has its flows flushed', () => {
  const net = new SimNet({ seed: 8, up: LOSSY, down: LOSSY });
  net.internet.listen(HOST, 7, (c) => { c.onData = (b) => c.write(b); c.onEnd = () => c.end(); });
  const conns = Array.from({ length: 20 }, (_, i) => {
    const data = blob(20_000 + i * 1000, i);
    const tcp = net.tcp(41000 + i, HOST, 7);
    const got: Buffer[] = [];
    tcp.onData = (b) => got.push(b);
    tcp.connect(net.now);
    tcp.write(data, net.now);
    tcp.end(net.now);
    return { tcp, data, got };
  });
  net.sim.runUntil(() => conns.every((c) => c.tcp.done), { maxTime: 60_000, what: 'parallel echo' });
  for (const c of conns) assert.equal(digest(c.got), digest(c.data));
  assertNothingLeft(net);

  // Ten more connections; the client goes away while they transfer.
  const later = Array.from({ length: 10 }, (_, i) => {
    const tcp = net.tcp(42000 + i, HOST, 7);
    tcp.connect(net.now);
    tcp.write(blob(200_000, i), net.now);
    return tcp;
  });
  const started = () => net.internet.conns.length === 30 && net.internet.conns.slice(20).every((c) => c.received > 0);
  net.sim.runUntil(started, { maxTime: 10_000, what: 'the transfers to start' });
  const open = net.internet.sockets.openTcp();
  assert.equal(open.length, 10);
  const rc = net.router.lookup(CLIENT_IP);
  assert.ok(rc);
  const delivered = net.down.stats.sent;
  net.router.remove(rc);
  assert.equal(net.nat.size, 0, 'router.remove flushed the client\'s flows');
  assert.equal(net.down.stats.sent, delivered, 'nothing was sent to the client that left');
  assert.ok(open.every((s) => s.closed === 'reset'), 'the servers were reset');
  assert.ok(later.every((t) => !t.done));
  net.sim.runFor(2_000);
  assert.equal(net.nat.nextDeadline(), undefined);
});
