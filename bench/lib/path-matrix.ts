// The path matrix of `npm run bench`: OpenVPN 2.6 and nanovpn (NAT) take turns on the same emulated client link
// (bench/lib/paths.ts), round after round; the emulator's counters of every session go into the report.
import { performance } from 'node:perf_hooks';
import { iperfClientArgs, parseIperf3Json } from './iperf.js';
import { cpuSeconds } from './procstat.js';
import { openImpairLink, impairUnavailable, netemAvailable, type ImpairLink } from './impair-link.js';
import { CLIENT_FATAL, runPing, throughputCell, type Ctx, type IperfServer } from './measure.js';
import type { BenchOptions } from './options.js';
import { checkPath, pathCells, pathKey, pathSeed, PATHS, TRANSPARENT, CEILING_RUNS, type EmulatorCeiling, type PathId, type PathRecord, type PathsSection } from './paths.js';
import { cellId, type Proto, type ServerId } from './report.js';
import { startServer, type RunningServer } from './servers.js';
import { srvAddrFor } from '../../test/helpers/netns.js';
import { startOpenVpnClient } from '../../test/helpers/openvpn-client.js';

/** Only these two: the matrix compares nanovpn's own NAT with OpenVPN's kernel forwarding and MASQUERADE. */
export const PATH_SERVERS: readonly ServerId[] = ['openvpn', 'nanovpn'];
const CEILING_PORT = 5299;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

export async function runPathMatrix(ctx: Ctx, o: BenchOptions, iperf: IperfServer): Promise<PathsSection | undefined> {
  const netem = o.pathImpair !== 'bridge' && await netemAvailable(ctx.topo);
  if (o.pathImpair === 'netem' && !netem) {
    ctx.note('path matrix left out: --path-impair netem, but this kernel has no sch_netem');
    return undefined;
  }
  const why = impairUnavailable(netem);
  if (why) { ctx.note(`path matrix left out: ${why}`); return undefined; }
  const link = await openImpairLink(ctx.topo, netem ? 'netem' : 'bridge', ctx.topo.tempDir('impair'));
  try {
    ctx.log(`path matrix over ${link.backend === 'netem' ? 'tc netem' : 'the userspace bridge (no sch_netem in this kernel)'}`);
    const section: PathsSection = { backend: link.backend, ceiling: await ceiling(ctx, link), records: [] };
    const records = new Map<PathId, PathRecord>(o.paths.map((p) => [p, { ...PATHS[p], backend: link.backend, sessions: [] }]));
    for (let round = 0; round < o.rounds; round++) {
      for (const p of o.paths) {
        for (const proto of ['udp', 'tcp'] as const) {
          for (const id of PATH_SERVERS) await pathSession(ctx, o, link, records.get(p)!, id, proto, round, iperf);
        }
      }
    }
    section.records = [...records.values()].map(checkPath);
    for (const r of section.records) if (!r.ok) ctx.note(`path (${r.id}) did not match its spec: see the path check table`);
    return section;
  } finally {
    await link.close();
  }
}

async function pathSession(ctx: Ctx, o: BenchOptions, link: ImpairLink, rec: PathRecord, id: ServerId, proto: Proto,
  round: number, iperf: IperfServer): Promise<void> {
  const label = `round ${round + 1}, ${id} over ${proto}`;
  ctx.log(`path (${rec.id}) ${label}`);
  const imp = await link.start(rec.spec, pathSeed(rec.id, proto, round));
  let srv: RunningServer | undefined;
  try {
    await iperf.restart();
    srv = await startServer(ctx.topo, ctx.pki, id, proto, { nanovpn: ctx.nanovpnLines });
    const client = startOpenVpnClient({ topo: ctx.topo, node: 'cli1', proto, remote: srvAddrFor(1), pki: ctx.pki, cn: 'client1', name: `path-${rec.id}(${id},${proto})` });
    try {
      await client.waitInitialized({ timeoutMs: 60_000, failOn: CLIENT_FATAL });
      const warm = await runPing(ctx.topo, 'cli1', 5, 0.2);
      if (!warm || warm.samples === 0) throw new Error('no ping reply from 10.8.0.1 through the tunnel');
      const idle = await runPing(ctx.topo, 'cli1', o.quick ? 20 : 40, 0.05);
      if (idle) ctx.samples.add(pathKey(rec.id, `ping.${proto}.idle.avg`), id, idle.avg);
      for (const cell of pathCells(o.quick).filter((c) => c.proto === proto)) {
        // A lossy path can leave iperf3 -s stuck in the last test (its end-of-test exchange went missing): one retry,
        // after throughputCell restarted it.
        const key = pathKey(rec.id, `tput.${cellId(cell)}`);
        for (let attempt = 0; attempt < 2; attempt++) {
          const before = ctx.samples.get(key, id).length;
          await iperf.ensure();
          await throughputCell(ctx, srv, cell, iperf, pathKey(rec.id, ''));
          if (ctx.samples.get(key, id).length > before) break;
        }
        await sleep(500);
      }
    } finally {
      await client.stop('SIGTERM', 3000);
    }
  } catch (err) {
    ctx.note(`path (${rec.id}) ${label}: ${errLine(err)}`);
  } finally {
    if (srv) await srv.stop();
    try {
      rec.sessions.push({ label, report: await imp.stop() });
    } catch (err) {
      ctx.note(`path (${rec.id}) ${label}: no emulator counters: ${errLine(err)}`);
    }
  }
}

/** Plain iperf3 (no VPN) between cli1 and srv across the emulator with no impairment: what it can carry at most. */
async function ceiling(ctx: Ctx, link: ImpairLink): Promise<EmulatorCeiling> {
  const imp = await link.start(TRANSPARENT, 1);
  const server = ctx.topo.spawn('srv', ['iperf3', '-s', '-B', srvAddrFor(1), '-p', String(CEILING_PORT), '--forceflush'], { name: 'iperf3-ceiling' });
  const out: EmulatorCeiling = { mbit: {} };
  const cpu0 = imp.pid !== undefined ? cpuSeconds(imp.pid) : undefined;
  const t0 = performance.now();
  try {
    await server.waitForLine(/Server listening/, 10_000);
    for (const key of CEILING_RUNS) {
      const argv = iperfClientArgs({ host: srvAddrFor(1), seconds: ctx.iperfSeconds, parallel: key.endsWith('8') ? 8 : 1,
        reverse: key.startsWith('down'), port: CEILING_PORT, congestion: ctx.tcpCc });
      const r = await ctx.topo.exec('cli1', argv, { check: false, timeoutMs: ctx.iperfSeconds * 1000 + 30_000 });
      try {
        out.mbit[key] = parseIperf3Json(r.stdout).bitsPerSecond / 1e6;
      } catch (err) {
        ctx.note(`emulator ceiling ${key}: ${errLine(err)}`);
      }
    }
    if (cpu0 !== undefined) out.cpuShare = (cpuSeconds(imp.pid!) - cpu0) / ((performance.now() - t0) / 1000);
    const m = out.mbit;
    ctx.log(`  emulator ceiling (plain TCP, no VPN): up ${m.up?.toFixed(0)}/${m.up8?.toFixed(0)}, down ${m.down?.toFixed(0)}/${m.down8?.toFixed(0)} Mbit/s (1/8 streams)` +
      `${out.cpuShare !== undefined ? `; the bridge used ${(out.cpuShare * 100).toFixed(0)} % of a core meanwhile` : ''}`);
  } finally {
    await server.kill('SIGTERM', 2000);
    out.counters = await imp.stop();
  }
  return out;
}
