// Command-line flags (and BENCH_* environment fallbacks) of `npm run bench`.
import { PATH_IDS, type PathId } from './paths.js';

export type PathImpair = 'auto' | 'bridge' | 'netem';

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  /** iperf3 -t */
  iperfSeconds: number;
  /** Clients in the handshake burst (also the "many idle sessions" RSS figure). */
  burst: number;
  /** Extra idle-session counts measured once per server over UDP (e.g. 1000); empty to skip. */
  sessions: number[];
  /** Connect-time samples per server and transport, spread over the rounds. */
  connects: number;
  tun: boolean;
  /** Emulated client paths of the path matrix (bench/lib/paths.ts); empty to skip it. */
  paths: PathId[];
  /** Only the path matrix: no clean-path rounds, no idle-session figures. */
  onlyPaths: boolean;
  /** auto: tc netem when the kernel has it, else the userspace bridge. */
  pathImpair: PathImpair;
  /** The TCP congestion control of the measured iperf3 connections (iperf3 -C); undefined: the kernel's default. */
  tcpCc: string | undefined;
  /** --nanovpn-line: config lines only the nanovpn contenders get (e.g. 'nat-tcp-congestion bbr'). */
  nanovpnLines: string[];
  outDir: string | undefined;
}

export const USAGE = `usage: npm run bench -- [--quick] [--rounds N] [--time S] [--burst N] [--sessions N[,N...]|0]
                        [--connects N] [--no-tun] [--paths a,b,c,d|0] [--no-paths] [--only-paths]
                        [--path-impair auto|bridge|netem] [--tcp-cc NAME] [--nanovpn-line LINE]... [--out DIR]
  --quick        1 round, iperf3 -t 3, 20-client burst, 3 connects, no large session count, single-stream
                 path cells only (for development)
  --rounds N     interleaved rounds (default 3)             env BENCH_ROUNDS
  --time S       iperf3 seconds per run (default 8)          env BENCH_TIME
  --burst N      clients connecting at once (default 100)    env BENCH_BURST
  --sessions N   idle sessions for the RSS figure beyond the burst, UDP, once per server (default 1000; 0 = skip)
                                                             env BENCH_SESSIONS
  --connects N   connect-time samples per server and transport (default 10)
  --no-tun       leave out nanovpn's tun uplink               env BENCH_NO_TUN=1
  --paths LIST   emulated client paths (default a,b,c,d; 0 = none)   env BENCH_PATHS
                   a: 1 % loss, 20 ms RTT     b: 25 ± 10 ms each way, 2 % loss, 1 % dup, 5 % reorder
                   c: 100 ms RTT, no loss     d: 20 Mbit/s bottleneck, 50 ms queue
  --no-paths     the same as --paths 0                        env BENCH_NO_PATHS=1
  --only-paths   only the path matrix (no clean-path rounds)  env BENCH_ONLY_PATHS=1
  --path-impair  auto (tc netem if the kernel has it, else the userspace bridge), bridge or netem
                                                             env BENCH_PATH_IMPAIR
  --tcp-cc NAME  TCP congestion control of the measured iperf3 connections (iperf3 -C: cubic, Debian's default;
                 bbr; reno); default: the kernel's, which the report names    env BENCH_TCP_CC
  --nanovpn-line LINE  a config line for the nanovpn contenders only, repeatable (e.g. 'nat-tcp-congestion bbr');
                 the report lists them
  --out DIR      where latest.md/.json/.png go (default bench/results)`;

function int(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new Error(`${name} needs an integer in ${min}..${max}, got '${v ?? ''}'`);
  return n;
}

function pathList(name: string, v: string | undefined): PathId[] {
  if (v === undefined) throw new Error(`${name} needs a value`);
  if (v.trim() === '0' || v.trim() === '') return [];
  const out: PathId[] = [];
  for (const x of v.split(',').map((y) => y.trim().toLowerCase())) {
    if (!(PATH_IDS as readonly string[]).includes(x)) throw new Error(`${name}: unknown path '${x}' (paths: ${PATH_IDS.join(', ')})`);
    if (!out.includes(x as PathId)) out.push(x as PathId);
  }
  return out;
}

function impairKind(name: string, v: string | undefined): PathImpair {
  if (v === 'auto' || v === 'bridge' || v === 'netem') return v;
  throw new Error(`${name} needs auto, bridge or netem, got '${v ?? ''}'`);
}

function ccName(name: string, v: string | undefined): string {
  if (v === undefined || !/^[a-z0-9_]+$/.test(v)) throw new Error(`${name} needs a congestion control name (cubic, bbr, reno), got '${v ?? ''}'`);
  return v;
}

function configLine(name: string, v: string | undefined): string {
  if (v === undefined || !/^[a-z][a-z0-9-]*( [^\n]*)?$/.test(v)) throw new Error(`${name} needs one config line, such as 'nat-tcp-congestion bbr', got '${v ?? ''}'`);
  return v;
}

function sessionList(v: string | undefined): number[] {
  if (v === undefined) throw new Error('--sessions needs a value');
  if (v.trim() === '0') return [];
  return v.split(',').map((x) => int('--sessions', x.trim(), 1, 4000));
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = {}): BenchOptions {
  const quick = argv.includes('--quick') || env.BENCH_QUICK === '1';
  const o: BenchOptions = {
    quick,
    rounds: quick ? 1 : 3,
    iperfSeconds: quick ? 3 : 8,
    burst: quick ? 20 : 100,
    sessions: quick ? [] : [1000],
    connects: quick ? 3 : 10,
    tun: env.BENCH_NO_TUN !== '1',
    paths: [...PATH_IDS],
    onlyPaths: env.BENCH_ONLY_PATHS === '1',
    pathImpair: 'auto',
    tcpCc: undefined,
    nanovpnLines: [],
    outDir: undefined,
  };
  if (env.BENCH_TCP_CC !== undefined) o.tcpCc = ccName('BENCH_TCP_CC', env.BENCH_TCP_CC);
  if (env.BENCH_PATHS !== undefined) o.paths = pathList('BENCH_PATHS', env.BENCH_PATHS);
  if (env.BENCH_NO_PATHS === '1') o.paths = [];
  if (env.BENCH_PATH_IMPAIR !== undefined) o.pathImpair = impairKind('BENCH_PATH_IMPAIR', env.BENCH_PATH_IMPAIR);
  if (env.BENCH_ROUNDS !== undefined) o.rounds = int('BENCH_ROUNDS', env.BENCH_ROUNDS, 1, 50);
  if (env.BENCH_TIME !== undefined) o.iperfSeconds = int('BENCH_TIME', env.BENCH_TIME, 1, 120);
  if (env.BENCH_BURST !== undefined) o.burst = int('BENCH_BURST', env.BENCH_BURST, 1, 250);
  if (env.BENCH_SESSIONS !== undefined) o.sessions = sessionList(env.BENCH_SESSIONS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string | undefined => argv[++i];
    switch (a) {
      case '--quick': break;
      case '--rounds': o.rounds = int(a, val(), 1, 50); break;
      case '--time': o.iperfSeconds = int(a, val(), 1, 120); break;
      case '--burst': o.burst = int(a, val(), 1, 250); break;
      case '--sessions': o.sessions = sessionList(val()); break;
      case '--connects': o.connects = int(a, val(), 1, 100); break;
      case '--no-tun': o.tun = false; break;
      case '--paths': o.paths = pathList(a, val()); break;
      case '--no-paths': o.paths = []; break;
      case '--tcp-cc': o.tcpCc = ccName(a, val()); break;
      case '--nanovpn-line': o.nanovpnLines.push(configLine(a, val())); break;
      case '--only-paths': o.onlyPaths = true; break;
      case '--path-impair': o.pathImpair = impairKind(a, val()); break;
      case '--out': o.outDir = val(); if (!o.outDir) throw new Error('--out needs a directory'); break;
      default: throw new Error(`unknown argument '${a}'\n${USAGE}`);
    }
  }
  if (o.onlyPaths && o.paths.length === 0) throw new Error('--only-paths with no paths leaves nothing to measure');
  return o;
}
