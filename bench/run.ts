// `npm run bench` (as root): nanovpn against Debian's OpenVPN 2.6 on the namespace test bed, interleaved rounds,
// results in bench/results/latest.{md,json,png}. It reports; it never asserts a timing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { haveCommand, netnsUnavailable, withTopology, type Topology } from '../test/helpers/netns.js';
import { makeTestPki } from '../test/helpers/pki.js';
import { BUNDLE } from '../test/helpers/nanovpn-server.js';
import { renderThroughputChart } from './chart.js';
import { burstCn, connectTimes, dataSession, handshakeBurst, idleSessions, IperfServer, type Ctx } from './lib/measure.js';
import { parseOptions, USAGE, type BenchOptions } from './lib/options.js';
import { PATH_SERVERS, runPathMatrix } from './lib/path-matrix.js';
import { pathCells, pathMetricDefs, PATHS, type PathsSection } from './lib/paths.js';
import { rssMiB } from './lib/procstat.js';
import { buildReport, metricDefs, renderMarkdown, renderRatioText, Samples, type BenchMeta, type Proto, type ServerId } from './lib/report.js';
import { prepareSrv, startServer, tunUplinkUnavailable, type RunningServer } from './lib/servers.js';

const t0 = performance.now();
const stamp = (): string => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s]`;
const log = (msg: string): void => { process.stderr.write(`${stamp()} ${msg}\n`); };
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
const loadAtStart = load();

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch (e) {
    // openvpn --version exits 1 after printing.
    const out = (e as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]!.trim() || 'unknown';
  }
}

let tcpCc = 'unknown';

/** The TCP congestion control of the measured connections: iperf3's -C when --tcp-cc names one, else each
 *  namespace's default (read back here). OpenVPN's figures depend on it: BBR ignores random loss, CUBIC backs off
 *  on it as the NAT's TCP does. OpenVPN's own TCP transport keeps the namespace default either way. */
async function describeTcpCc(topo: Topology, cc: string | undefined): Promise<string> {
  const seen = new Set<string>();
  for (const n of ['inet', 'srv', 'cli1', 'cli2'] as const) {
    seen.add((await topo.exec(n, ['sysctl', '-n', 'net.ipv4.tcp_congestion_control'])).stdout.trim());
  }
  const dflt = [...seen].join(', ');
  return cc ? `${cc} (iperf3 -C; namespace default ${dflt})` : `${dflt} (the kernel's default)`;
}

function hostInfo(): Record<string, string> {
  const repo = fileURLToPath(new URL('../', import.meta.url));
  const c = cpus();
  return {
    cpus: `${c.length}× ${c[0]?.model.trim() ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: release(),
    openvpn: firstLine('openvpn', ['--version']).split(' ').slice(0, 2).join(' '),
    iperf3: firstLine('iperf3', ['--version']).split(' ').slice(0, 2).join(' '),
    node: process.version,
    nanovpn: firstLine('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']),
    // The machine may be shared: other work running during the benchmark shows up here.
    'load average (1/5/15 min) at start and end': `${loadAtStart}; ${load()}`,
  };
}

function preflight(): string | undefined {
  const why = netnsUnavailable();
  if (why) return why;
  for (const cmd of ['openvpn', 'iperf3', 'ping', 'iptables']) if (!haveCommand(cmd)) return `${cmd} is not installed (bash test/install-deps.sh)`;
  if (!existsSync(BUNDLE)) return `${BUNDLE} is missing: run \`npm run build\` first`;
  return undefined;
}

/** The data-channel AEAD engine each nanovpn contender logged at start (see data-crypto in the README). */
const cryptoEngines = new Set<string>();

async function session(ctx: Ctx, o: BenchOptions, id: ServerId, proto: Proto, round: number, iperf: IperfServer,
  connectsThisRound: number): Promise<void> {
  log(`round ${round + 1}/${o.rounds}: ${id} over ${proto}`);
  let srv: RunningServer | undefined;
  try {
    srv = await startServer(ctx.topo, ctx.pki, id, proto, { nanovpn: ctx.nanovpnLines });
    const engine = srv.proc.output.match(/data-crypto engine="([^"]+)"/)?.[1];
    if (engine) cryptoEngines.add(`${id}: ${engine}`);
    await new Promise((r) => setTimeout(r, 1000));
    ctx.samples.add(`rss.${proto}.0`, id, rssMiB(srv.proc.pid));
    await dataSession(ctx, srv, iperf, o.quick ? 20 : 40);
    if (connectsThisRound > 0) await connectTimes(ctx, srv, connectsThisRound);
    await handshakeBurst(ctx, srv, o.burst);
  } catch (err) {
    ctx.note(`${id} ${proto} round ${round + 1}: ${(err as Error).message.split('\n')[0]}`);
    log(`  failed: ${(err as Error).message}`);
  } finally {
    if (srv) await srv.stop();
  }
}

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) { process.stdout.write(`${USAGE}\n`); return 0; }
  let o: BenchOptions;
  try {
    o = parseOptions(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const why = preflight();
  if (why) { process.stderr.write(`bench: ${why}\n`); return 1; }

  const outDir = o.outDir ?? fileURLToPath(new URL('./results/', import.meta.url));
  const samples = new Samples();
  const notes: string[] = [];
  const servers: ServerId[] = ['openvpn', 'nanovpn'];
  const date = new Date().toISOString();
  let paths: PathsSection | undefined;

  await withTopology({ clients: 2, capture: false }, async (topo) => {
    log(`topology ${topo.prefix}; issuing certificates`);
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const need = o.onlyPaths ? 0 : Math.max(o.burst, ...o.sessions);
    for (let i = 0; i < need; i++) await pki.issueClient(burstCn(i));
    await prepareSrv(topo);
    tcpCc = await describeTcpCc(topo, o.tcpCc);
    log(`Linux TCP congestion control in the namespaces: ${tcpCc}`);
    const ctx: Ctx = {
      topo, pki, samples, iperfSeconds: o.iperfSeconds, tcpCc: o.tcpCc, nanovpnLines: o.nanovpnLines, log,
      note: (m) => { notes.push(m); log(`  note: ${m}`); },
    };
    if (o.tun && !o.onlyPaths) {
      const tunWhy = await tunUplinkUnavailable(topo, pki);
      if (tunWhy) ctx.note(`nanovpn's tun uplink is left out: ${tunWhy}`);
      else servers.push('nanovpn-tun');
    }
    const iperf = new IperfServer(topo);
    await iperf.ensure();
    for (let round = 0; round < (o.onlyPaths ? 0 : o.rounds); round++) {
      // Spread the connect-time samples over the rounds: o.connects in total per server and transport.
      const connects = Math.floor(o.connects / o.rounds) + (round < o.connects % o.rounds ? 1 : 0);
      for (const proto of ['udp', 'tcp'] as const) {
        for (const id of servers) await session(ctx, o, id, proto, round, iperf, connects);
      }
    }
    for (const n of o.onlyPaths ? [] : o.sessions) {
      if (n === o.burst) continue;
      for (const id of servers) {
        log(`${n} idle sessions: ${id} over udp`);
        let srv: RunningServer | undefined;
        try {
          // A /24 pool holds 253 clients; both servers get the same wider pool for this figure.
          srv = await startServer(topo, pki, id, 'udp', { extra: n > 250 ? ['server 10.8.0.0 255.255.240.0'] : [], nanovpn: o.nanovpnLines });
          await idleSessions(ctx, srv, n);
        } catch (err) {
          ctx.note(`${id} ${n} idle sessions: ${(err as Error).message.split('\n')[0]}`);
        } finally {
          if (srv) await srv.stop();
        }
      }
    }
    // Last: with the userspace bridge it re-links cli1 through a namespace of its own.
    if (o.paths.length) {
      try {
        paths = await runPathMatrix(ctx, o, iperf);
      } catch (err) {
        ctx.note(`path matrix failed: ${(err as Error).message.split('\n')[0]}`);
        log(`  path matrix failed: ${(err as Error).stack ?? err}`);
      }
    }
  });

  notes.push(...methodNotes(o, servers));
  if (cryptoEngines.size) notes.push(`nanovpn's data-channel crypto engine, as it logged at start: ${[...cryptoEngines].join('; ')}.`);
  const meta: BenchMeta = {
    date, mode: o.quick ? 'quick' : 'full', rounds: o.rounds, iperfSeconds: o.iperfSeconds, burst: o.burst, sessions: o.sessions,
    host: {
      ...hostInfo(), 'Linux TCP congestion control (iperf3, clients, OpenVPN TCP)': tcpCc,
      ...(o.nanovpnLines.length ? { 'nanovpn config lines beyond the shared ones': o.nanovpnLines.join('; ') } : {}),
    }, durationSeconds: (performance.now() - t0) / 1000, ...(o.onlyPaths ? { onlyPaths: true } : {}),
  };
  const defs = [...(o.onlyPaths ? [] : metricDefs({ burst: o.burst, sessions: o.sessions })), ...pathMetricDefs(o.paths, o.quick)];
  const report = buildReport(meta, o.onlyPaths ? [...PATH_SERVERS] : servers, defs, samples, notes, paths);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), renderMarkdown(report));
  writeFileSync(join(outDir, 'latest.png'), renderThroughputChart(report));
  process.stdout.write(`${renderRatioText(report)}\n\nwrote ${join(outDir, 'latest.{md,json,png}')}\n`);
  return 0;
}

function methodNotes(o: BenchOptions, servers: ServerId[]): string[] {
  const n = o.onlyPaths ? [] : [
    `Order within each round: for UDP then TCP transport, ${servers.join(', ')} one after another (A B A B …); each server is started fresh for its turn.`,
    'OpenVPN runs with kernel forwarding and MASQUERADE in srv. nanovpn (NAT) runs with ip_forward=0 and carries the traffic itself. nanovpn (tun) hands packets to a kernel tun device and uses the same kernel forwarding and MASQUERADE as OpenVPN.',
    'Throughput: one openvpn 2.6 client (dev tun) in cli1, iperf3 -s in inet; up = client→inet, down = iperf3 -R; 8 streams = iperf3 -P 8; receiver-side goodput.',
    'CPU s/GB: utime+stime of the server process over the iperf3 run, divided by the bytes iperf3 received. Kernel forwarding and MASQUERADE run in softirq context and are not charged to the openvpn process, so this figure flatters the kernel-forwarding servers.',
    'Ping: 10.8.0.1 from cli1 through the tunnel every 50 ms; idle before the iperf3 runs, under load during the single-stream inet→client run. avg and nearest-rank p99 per round.',
    `Connect time: ${o.connects} fresh openvpn clients (dev tun) per server and transport, one at a time, spread over the rounds; from spawn (includes openvpn's own start-up) to "Initialization Sequence Completed"; the cell shows the median and min–max of those samples.`,
    `Handshakes/s: ${o.burst} openvpn --dev null clients with distinct certificates started at once in one client namespace (nobind); connected clients divided by the time from the first spawn to the last "Initialization Sequence Completed". The clients share the machine's ${cpus().length} cores with the server, so this is a figure for the whole box. RSS with ${o.burst} sessions is read 2 s later.`,
  ];
  if (o.paths.length) n.push(...pathNotes(o));
  if (o.onlyPaths) return n;
  n.push('RSS is VmRSS of the server process. nanovpn runs in Node: its RSS includes the V8 heap, whose garbage is collected lazily, so it does not grow in proportion to the sessions.');
  if (o.sessions.length) {
    n.push(`Large idle-session counts (${o.sessions.join(', ')}): real openvpn --dev null clients over UDP, connected in batches of 100, once per server after the rounds; the pool is widened to 10.8.0.0/20 for both servers (a /24 holds 253 clients). RSS is read 3 s after the last batch.`);
  } else {
    n.push('No large idle-session count in this run (quick mode or --sessions 0).');
  }
  return n;
}

function pathNotes(o: BenchOptions): string[] {
  const cells = pathCells(o.quick);
  return [
    `Path matrix (${o.paths.map((p) => `(${p}) ${PATHS[p].title}`).join('; ')}): after the clean-path figures, cli1's link to srv is impaired in both directions alike; ` +
      `in each of ${o.rounds} round${o.rounds === 1 ? '' : 's'}, for every path and for UDP then TCP transport, ${PATH_SERVERS.join(', ')} take turns, each started fresh with a fresh emulator (its counters start at 0; both servers get the same random seed). ` +
      `Per session: idle ping, then ${cells.length / 2} iperf3 cells per transport (${[...new Set(cells.map((c) => `${c.streams} stream${c.streams === 1 ? '' : 's'}`))].join(' and ')}, both directions), ping under load during the 1-stream download.`,
    'Path rates are per direction: loss, duplication and reordering are the chance for each frame each way, a delay is one-way (so 20 ms RTT is 10 ms each way). In (b) jitter does not reorder by itself; the 5 % reordered frames skip the delay and overtake what is held (netem\'s reorder). In (d) the bottleneck serializes at 20 Mbit/s and tail-drops a frame that would wait more than 50 ms.',
  ];
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
