// The measurements, each bounded by timeouts: iperf3 cells with server CPU, ping RTT idle and under load,
// connect time, a handshake burst, and server RSS with idle sessions.
import { performance } from 'node:perf_hooks';
import { INET_ADDR, srvAddrFor, type NodeName, type Proc, type Topology } from '../../test/helpers/netns.js';
import type { TestPki } from '../../test/helpers/pki.js';
import { VPN_SERVER_IP } from '../../test/helpers/openvpn-server.js';
import { startOpenVpnClient, type OpenVpnClient } from '../../test/helpers/openvpn-client.js';
import { iperfClientArgs, parseIperf3Json, type IperfResult } from './iperf.js';
import { parsePing, pingStats, type PingStats } from './ping.js';
import { cpuSeconds, rssMiB } from './procstat.js';
import { THROUGHPUT_CELLS, cellId, type Proto, type Samples, type ServerId, type ThroughputCell } from './report.js';
import type { RunningServer } from './servers.js';

/** Client log lines after which openvpn gives up for good (TLS errors alone are retried within hand-window). */
export const CLIENT_FATAL = /AUTH_FAILED|Exiting due to fatal error|Options error|Cannot load|VERIFY ERROR/;

export interface Ctx {
  topo: Topology;
  pki: TestPki;
  samples: Samples;
  iperfSeconds: number;
  /** --tcp-cc: iperf3's congestion control (-C), else the kernel's default. */
  tcpCc?: string;
  /** --nanovpn-line: config lines only the nanovpn contenders get. */
  nanovpnLines?: string[];
  note(msg: string): void;
  log(msg: string): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long the idle sessions sit before their RSS is read: the figure is the idle steady state, and nanovpn gives the
 *  memory a busy stretch grew back within 15 s of going quiet (src/io/idle-memory.ts); OpenVPN's does not move. */
export const IDLE_SETTLE_MS = 18_000;
const errLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

export class IperfServer {
  private proc: Proc | undefined;
  constructor(private topo: Topology) {}

  async ensure(): Promise<void> {
    if (this.proc && !this.proc.exit) return;
    this.proc = this.topo.spawn('inet', ['iperf3', '-s', '-B', INET_ADDR, '--forceflush'], { name: 'iperf3-server' });
    await this.proc.waitForLine(/Server listening/, 10_000);
  }

  /** After a failed run iperf3 -s may be stuck in the old test: start a fresh one. */
  async restart(): Promise<void> {
    if (this.proc) await this.proc.kill('SIGKILL', 1000);
    this.proc = undefined;
    await this.ensure();
  }
}

export async function runIperf(topo: Topology, node: NodeName, cell: { streams: number; dir: 'up' | 'down' }, seconds: number,
  congestion?: string): Promise<IperfResult> {
  const argv = iperfClientArgs({ host: INET_ADDR, seconds, parallel: cell.streams, reverse: cell.dir === 'down', congestion });
  const r = await topo.exec(node, argv, { check: false, timeoutMs: seconds * 1000 + 30_000 });
  if (r.timedOut) throw new Error(`iperf3 timed out after ${seconds + 30} s`);
  return parseIperf3Json(r.stdout);
}

export async function runPing(topo: Topology, node: NodeName, count: number, intervalS: number,
  addr = VPN_SERVER_IP): Promise<PingStats | undefined> {
  const r = await topo.exec(node, ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '2', addr],
    { check: false, timeoutMs: Math.ceil(count * intervalS * 1000) + 15_000 });
  return pingStats(parsePing(r.stdout));
}

/** One tunnel client in cli1: idle ping, then every throughput cell of this transport with the server's CPU time. */
export async function dataSession(ctx: Ctx, srv: RunningServer, iperf: IperfServer, idlePings: number): Promise<void> {
  const { topo, pki, samples } = ctx;
  const proto = srv.proto;
  const client = startOpenVpnClient({ topo, node: 'cli1', proto, remote: srvAddrFor(1), pki, cn: 'client1', name: `tput-client(${srv.id},${proto})` });
  try {
    await client.waitInitialized({ timeoutMs: 30_000, failOn: CLIENT_FATAL });
    const warm = await runPing(topo, 'cli1', 3, 0.2);
    if (!warm || warm.samples === 0) throw new Error('no ping reply from 10.8.0.1 through the tunnel');
    const idle = await runPing(topo, 'cli1', idlePings, 0.05);
    if (idle) {
      samples.add(`ping.${proto}.idle.avg`, srv.id, idle.avg);
      samples.add(`ping.${proto}.idle.p99`, srv.id, idle.p99);
    }
    for (const cell of THROUGHPUT_CELLS.filter((c) => c.proto === proto)) {
      await iperf.ensure();
      await throughputCell(ctx, srv, cell, iperf);
      await sleep(500);
    }
    // Idle again once the data path has run hot: a fresh Node process answers its first pings from code that V8 has
    // not optimized yet, so the first idle figure includes the JIT's warm-up and this one does not.
    const after = await runPing(topo, 'cli1', idlePings, 0.05);
    if (after) {
      samples.add(`ping.${proto}.idle-after-load.avg`, srv.id, after.avg);
      samples.add(`ping.${proto}.idle-after-load.p99`, srv.id, after.p99);
    }
  } finally {
    await client.stop('SIGTERM', 3000);
  }
}

/** One iperf3 run with the server's CPU time (and ping under load on the single-stream download); sample keys start
 * with `prefix` (the path matrix's `path.X.`). */
export async function throughputCell(ctx: Ctx, srv: RunningServer, cell: ThroughputCell, iperf: IperfServer, prefix = ''): Promise<void> {
  const { topo, samples } = ctx;
  const id = cellId(cell);
  // Ping under load rides along the single-stream download, starting after iperf3's first second.
  const withLoadPing = cell.streams === 1 && cell.dir === 'down';
  const cpu0 = cpuSeconds(srv.proc.pid);
  const iperfRun = runIperf(topo, 'cli1', cell, ctx.iperfSeconds, ctx.tcpCc);
  let loadPing: Promise<PingStats | undefined> | undefined;
  if (withLoadPing) {
    const count = Math.max(5, Math.floor(((ctx.iperfSeconds - 1.5) / 0.05)));
    loadPing = sleep(1000).then(() => runPing(topo, 'cli1', count, 0.05));
  }
  try {
    const res = await iperfRun;
    const cpu = cpuSeconds(srv.proc.pid) - cpu0;
    samples.add(`${prefix}tput.${id}`, srv.id, res.bitsPerSecond / 1e6);
    if (res.bytes > 0) samples.add(`${prefix}cpu.${id}`, srv.id, cpu / (res.bytes / 1e9));
    ctx.log(`  ${prefix}${id}: ${(res.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, server CPU ${cpu.toFixed(2)} s for ${(res.bytes / 1e9).toFixed(2)} GB`);
  } catch (err) {
    ctx.note(`${srv.id} ${id}: iperf3 failed: ${errLine(err)}`);
    await iperf.restart();
  }
  if (loadPing) {
    const p = await loadPing;
    if (p) {
      samples.add(`${prefix}ping.${srv.proto}.load.avg`, srv.id, p.avg);
      samples.add(`${prefix}ping.${srv.proto}.load.p99`, srv.id, p.p99);
      ctx.log(`  ping under load: avg ${p.avg.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, loss ${p.lossPct.toFixed(1)}%`);
    } else {
      ctx.note(`${srv.id} ${srv.proto}: no ping reply under load`);
    }
  }
}

/** Sequential fresh clients (dev tun, the same config as the throughput client) in cli2. */
export async function connectTimes(ctx: Ctx, srv: RunningServer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const c = startOpenVpnClient({ topo: ctx.topo, node: 'cli2', proto: srv.proto, remote: srvAddrFor(2), pki: ctx.pki, cn: 'client2', name: `connect-${i}(${srv.id})` });
    try {
      await c.waitInitialized({ timeoutMs: 30_000, failOn: CLIENT_FATAL });
      ctx.samples.add(`connect.${srv.proto}`, srv.id, performance.now() - t0);
    } catch (err) {
      ctx.note(`${srv.id} ${srv.proto}: connect sample ${i} failed: ${errLine(err)}`);
    } finally {
      await c.stop('SIGTERM', 3000);
    }
    await sleep(200);
  }
}

export const burstCn = (i: number): string => `bench${i}`;

interface Crowd { clients: OpenVpnClient[]; connected: number; lastMs: number }

/** Starts `count` dev-null clients in cli2 at once (certs burstCn(first..)), waits for all of them. */
async function crowd(ctx: Ctx, srv: RunningServer, first: number, count: number, timeoutMs: number, t0: number): Promise<Crowd> {
  const clients: OpenVpnClient[] = [];
  for (let i = first; i < first + count; i++) {
    clients.push(startOpenVpnClient({ topo: ctx.topo, node: 'cli2', proto: srv.proto, remote: srvAddrFor(2), pki: ctx.pki, cn: burstCn(i), dev: 'null', name: `idle-${i}(${srv.id})` }));
  }
  let lastMs = 0;
  const done = await Promise.allSettled(clients.map((c) => c.waitInitialized({ timeoutMs, failOn: CLIENT_FATAL })
    .then(() => { lastMs = Math.max(lastMs, performance.now() - t0); })));
  return { clients, connected: done.filter((d) => d.status === 'fulfilled').length, lastMs };
}

async function stopAll(clients: OpenVpnClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.stop('SIGTERM', 3000)));
}

/** `burst` clients connecting at once: handshakes per second, then the server's RSS with them idle. */
export async function handshakeBurst(ctx: Ctx, srv: RunningServer, burst: number): Promise<void> {
  const t0 = performance.now();
  const c = await crowd(ctx, srv, 0, burst, 90_000, t0);
  try {
    if (c.connected > 0) ctx.samples.add(`hs.${srv.proto}`, srv.id, c.connected / (c.lastMs / 1000));
    if (c.connected < burst) ctx.note(`${srv.id} ${srv.proto}: ${burst - c.connected} of ${burst} burst clients did not connect within 90 s`);
    ctx.log(`  burst: ${c.connected}/${burst} connected, last after ${(c.lastMs / 1000).toFixed(2)} s`);
    await sleep(IDLE_SETTLE_MS);
    ctx.samples.add(`rss.${srv.proto}.${burst}`, srv.id, rssMiB(srv.proc.pid));
  } finally {
    await stopAll(c.clients);
  }
}

/** `total` idle sessions over UDP, connected in batches; the server's RSS once they are all up. */
export async function idleSessions(ctx: Ctx, srv: RunningServer, total: number, batch = 100): Promise<void> {
  const all: OpenVpnClient[] = [];
  let connected = 0;
  const t0 = performance.now();
  try {
    for (let first = 0; first < total; first += batch) {
      const c = await crowd(ctx, srv, first, Math.min(batch, total - first), 120_000, performance.now());
      all.push(...c.clients);
      connected += c.connected;
      ctx.log(`  sessions: ${connected}/${first + c.clients.length} connected`);
    }
    await sleep(IDLE_SETTLE_MS);
    const rss = rssMiB(srv.proc.pid);
    ctx.log(`  ${connected} sessions after ${((performance.now() - t0) / 1000).toFixed(0)} s: RSS ${rss.toFixed(1)} MiB`);
    if (connected < total) ctx.note(`${srv.id}: only ${connected} of ${total} idle sessions connected; RSS ${rss.toFixed(1)} MiB is for those`);
    ctx.samples.add(`rss.udp.${total}`, srv.id, rss);
  } finally {
    await stopAll(all);
  }
}

export type { ServerId, Proto };
