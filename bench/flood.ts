// `npm run bench:flood` (as root): nanovpn and Debian's OpenVPN 2.6 under the same bounded UDP flood on the namespace
// test bed, interleaved, with the same tls-crypt config (the test bed's baseline at verb 3). It reports; it never
// asserts a timing. Results: bench/results/flood.{md,json}.
//
//   cli1  a connected client pinging 10.8.0.1 every 50 ms for the whole flood: its loss
//   cli2  bench/lib/flood.py: RATE packets/s for SECONDS from PORTS source ports to srv:1194 (forged resets, or garbage)
//   cli3  a new client started 5 s into the flood: seconds until "Initialization Sequence Completed" (60 s cap)
//   srv   the server, logging to a file: its RSS growth over the flood (max of 1 s samples) and its log lines
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { cliAddr, haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Proc, type Topology } from '../test/helpers/netns.js';
import { BUNDLE } from '../test/helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../test/helpers/openvpn-client.js';
import { baselineServerConfig, VPN_SERVER_IP } from '../test/helpers/openvpn-server.js';
import { makeTestPki, type TestPki } from '../test/helpers/pki.js';
import { rssAnonMiB, rssMiB } from './lib/procstat.js';

type ServerId = 'openvpn' | 'nanovpn';
type Kind = 'reset' | 'garbage';

const FLOOD_PY = fileURLToPath(new URL('./lib/flood.py', import.meta.url));
const REPO = fileURLToPath(new URL('../', import.meta.url));
const NEWCOMER_AFTER_MS = 5000;
const NEWCOMER_CAP_MS = 60_000;

const USAGE = `usage: npm run bench:flood -- [--rounds N] [--seconds S] [--rate PPS] [--ports N] [--out DIR]
  --rounds N    interleaved rounds (default 2)
  --seconds S   flood length (default 20)
  --rate PPS    packets per second from one sender (default 80000)
  --ports N     distinct source ports (default 20000)
  --warmup S    flood S seconds (same kind) before the measured flood, so RSS growth leaves out the warm-up (default 0)
  --warmup-traffic S  before the measured flood, cli1 sends S seconds of flood ping (1300-byte payload) through its
                tunnel: a server that has carried client traffic, with no flood before (default 0)
  --node-flags "F"  node options for nanovpn, before the bundle (e.g. "--max-semi-space-size=1"; default none)
  --out DIR     where flood.md/.json go (default bench/results)
  --keep-logs DIR  copy each server's log there (SERVER-KIND-ROUND.log)`;

interface Options {
  rounds: number; seconds: number; rate: number; ports: number; outDir: string; nodeFlags: string[]; keepLogs?: string;
  warmup: number; warmupTraffic: number;
}

function parse(argv: string[]): Options {
  const o: Options = { rounds: 2, seconds: 20, rate: 80_000, ports: 20_000, outDir: join(REPO, 'bench', 'results'), nodeFlags: [], warmup: 0, warmupTraffic: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[i + 1];
    const num = (min: number, max: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${a} needs a whole number from ${min} to ${max}\n${USAGE}`);
      i++;
      return n;
    };
    if (a === '--rounds') o.rounds = num(1, 20);
    else if (a === '--seconds') o.seconds = num(5, 120);
    else if (a === '--rate') o.rate = num(1000, 500_000);
    else if (a === '--ports') o.ports = num(1, 40_000);
    else if (a === '--warmup') o.warmup = num(0, 60);
    else if (a === '--warmup-traffic') o.warmupTraffic = num(0, 60);
    else if (a === '--out' && v) { o.outDir = v; i++; }
    else if (a === '--keep-logs' && v) { o.keepLogs = v; i++; }
    else if (a === '--node-flags' && v !== undefined) {
      if (!/^[\w=. -]*$/.test(v)) throw new Error(`--node-flags takes plain node options, got '${v}'`);
      o.nodeFlags = v.split(' ').filter(Boolean);
      i++;
    }
    else throw new Error(`unknown argument '${a}'\n${USAGE}`);
  }
  return o;
}

const t0 = performance.now();
const log = (msg: string): void => { process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Sample {
  server: ServerId; kind: Kind; round: number;
  pingLossPct: number; newcomerSeconds: number | null; rssGrowthMiB: number; anonGrowthMiB: number; logLines: number;
  sent: number; pps: number;
}

function lineCount(file: string): number {
  try { return readFileSync(file, 'utf8').split('\n').length - 1; } catch { return 0; }
}

/** The server in srv with its output in a file (a flood can make millions of lines), ready once it is initialized. */
async function startServer(topo: Topology, pki: TestPki, id: ServerId, nodeFlags: string[]): Promise<{ proc: Proc; logFile: string }> {
  const dir = topo.tempDir(`flood-${id}`);
  const configPath = join(dir, 'server.conf');
  writeFileSync(configPath, baselineServerConfig({ topo, pki, proto: 'udp', tlsCrypt: true }), { mode: 0o600 });
  const logFile = join(dir, 'server.log');
  const cmd = id === 'openvpn' ? `exec openvpn --config ${configPath}` : `exec "${process.execPath}" ${nodeFlags.join(' ')} "${BUNDLE}" serve --config ${configPath}`;
  const proc = topo.spawn('srv', ['sh', '-c', `${cmd} > ${logFile} 2>&1`], { name: id, cwd: dir });
  const deadline = Date.now() + 20_000;
  while (!/Initialization Sequence Completed/.test(readFileSync(logFile, { encoding: 'utf8', flag: 'a+' }))) {
    if (proc.exit || Date.now() > deadline) throw new Error(`${id} did not start: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await sleep(100);
  }
  return { proc, logFile };
}

async function measure(topo: Topology, pki: TestPki, o: Options, id: ServerId, kind: Kind, round: number): Promise<Sample> {
  const srv = await startServer(topo, pki, id, o.nodeFlags);
  const clients: { stop(): Promise<unknown> }[] = [];
  try {
    const legit = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, tlsCrypt: true, name: 'legit' });
    clients.push(legit);
    await legit.waitInitialized({ timeoutMs: 20_000 });
    if (o.warmup > 0) {
      // A short flood of the same kind first: what the measured flood then adds is growth, not the first-flood warm-up
      // (code the JIT compiles for the hot path, allocator pools).
      await topo.exec('cli2', ['python3', FLOOD_PY, kind, cliAddr(2), srvAddrFor(2), '1194', String(o.rate), String(o.warmup), String(o.ports)],
        { timeoutMs: (o.warmup + 30) * 1000 });
      await sleep(2000);
    }
    if (o.warmupTraffic > 0) {
      await topo.exec('cli1', ['ping', '-q', '-n', '-f', '-s', '1300', '-w', String(o.warmupTraffic), VPN_SERVER_IP],
        { check: false, timeoutMs: (o.warmupTraffic + 15) * 1000 });
      await sleep(2000);
    }
    await sleep(1000);
    const rss0 = rssMiB(srv.proc.pid);
    const anon0 = rssAnonMiB(srv.proc.pid);
    const lines0 = lineCount(srv.logFile);
    const pings = o.seconds * 20;
    const ping = topo.exec('cli1', ['ping', '-q', '-n', '-i', '0.05', '-W', '1', '-c', String(pings), VPN_SERVER_IP],
      { check: false, timeoutMs: (o.seconds + 15) * 1000 });
    const flood = topo.exec('cli2', ['python3', FLOOD_PY, kind, cliAddr(2), srvAddrFor(2), '1194', String(o.rate), String(o.seconds), String(o.ports)],
      { timeoutMs: (o.seconds + 30) * 1000 });
    let rssMax = rss0, anonMax = anon0;
    let floodDone = false;
    void flood.finally(() => { floodDone = true; });
    const sampler = (async () => {
      while (!floodDone) {
        try {
          rssMax = Math.max(rssMax, rssMiB(srv.proc.pid));
          anonMax = Math.max(anonMax, rssAnonMiB(srv.proc.pid));
        } catch { /* exited */ }
        await sleep(1000);
      }
    })();
    await sleep(NEWCOMER_AFTER_MS);
    // Its own certificate: with the legit client's, each new login would replace the other (no duplicate-cn).
    const newcomer = startOpenVpnClient({ topo, node: 'cli3', proto: 'udp', remote: srvAddrFor(3), pki, cn: 'client2', tlsCrypt: true, name: 'newcomer' });
    clients.push(newcomer);
    const started = performance.now();
    let newcomerSeconds: number | null = null;
    try {
      await newcomer.waitInitialized({ timeoutMs: NEWCOMER_CAP_MS });
      newcomerSeconds = (performance.now() - started) / 1000;
    } catch { /* not connected within the cap: reported as such */ }
    const sent = JSON.parse((await flood).stdout.trim()) as { sent: number; pps: number };
    await sampler;
    const pingOut = (await ping).stdout;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(pingOut);
    const pingLossPct = m ? 100 * (1 - Number(m[2]) / Number(m[1])) : 100;
    await sleep(500);
    return {
      server: id, kind, round, pingLossPct, newcomerSeconds, rssGrowthMiB: rssMax - rss0, anonGrowthMiB: anonMax - anon0,
      logLines: lineCount(srv.logFile) - lines0, sent: sent.sent, pps: sent.pps,
    };
  } finally {
    for (const c of clients) await c.stop().catch(() => undefined);
    await srv.proc.kill('SIGTERM', 5000);
    if (o.keepLogs) {
      mkdirSync(o.keepLogs, { recursive: true });
      cpSync(srv.logFile, join(o.keepLogs, `${id}-${kind}-${round}.log`));
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function cell(xs: (number | null)[], fmt: (x: number) => string): string {
  const ok = xs.filter((x): x is number => x !== null);
  const failed = xs.length - ok.length;
  if (ok.length === 0) return `not connected in ${NEWCOMER_CAP_MS / 1000} s (${failed}/${xs.length})`;
  const range = ok.length > 1 ? ` (${fmt(Math.min(...ok))}–${fmt(Math.max(...ok))})` : '';
  return `${fmt(median(ok))}${range}${failed ? `, ${failed}/${xs.length} not connected in ${NEWCOMER_CAP_MS / 1000} s` : ''}`;
}

function render(samples: Sample[], o: Options, meta: Record<string, string>): string {
  const rows: string[] = [];
  const kinds: [Kind, string][] = [['reset', 'forged HARD_RESET flood'], ['garbage', 'garbage flood']];
  const figures: [string, (s: Sample) => number | null, (x: number) => string][] = [
    ["legit client's ping loss", (s) => s.pingLossPct, (x) => `${x.toFixed(1)} %`],
    ['a new legit client connects after', (s) => s.newcomerSeconds, (x) => `${x.toFixed(1)} s`],
    ['server RSS growth', (s) => s.rssGrowthMiB, (x) => `+${x.toFixed(1)} MiB`],
    ['server anonymous RSS growth (RssAnon: heap and malloc, not pages of the binary)', (s) => s.anonGrowthMiB, (x) => `+${x.toFixed(1)} MiB`],
    ['server log lines during the flood', (s) => s.logLines, (x) => `${Math.round(x).toLocaleString('en-US')}`],
    ['packets sent per second', (s) => s.pps, (x) => `${Math.round(x).toLocaleString('en-US')}`],
  ];
  for (const [kind, label] of kinds) {
    for (const [name, get, fmt] of figures) {
      const of = (id: ServerId) => samples.filter((s) => s.kind === kind && s.server === id).map(get);
      rows.push(`| ${label}: ${name} | ${cell(of('nanovpn'), fmt)} | ${cell(of('openvpn'), fmt)} |`);
    }
  }
  return [
    '# UDP flood: nanovpn next to OpenVPN 2.6',
    '',
    `${o.rounds} interleaved rounds; one python sender, ${o.rate.toLocaleString('en-US')} packets/s for ${o.seconds} s from ` +
      `${o.ports.toLocaleString('en-US')} source ports; both servers with the test bed's baseline config, tls-crypt, verb 3. ` +
      `nanovpn ran as \`node ${o.nodeFlags.length ? `${o.nodeFlags.join(' ')} ` : ''}dist/nanovpn.js\`. ` +
      (o.warmup > 0 ? `Each server first took a ${o.warmup} s flood of the same kind (a warm-up, not measured). `
        : o.warmupTraffic > 0 ? `Each server was started fresh for each flood and first carried ${o.warmupTraffic} s of flood ping (1300 bytes) from cli1 through its tunnel, with no flood before. `
        : 'Each server was started fresh for each flood (no warm-up). ') +
      'Median over the rounds (min–max).',
    '',
    '| | nanovpn | OpenVPN 2.6 |',
    '|---|---|---|',
    ...rows,
    '',
    "How: cli1 holds a tunnel and pings 10.8.0.1 every 50 ms for the flood's length; cli2 floods srv:1194; cli3 starts a",
    'new client 5 s into the flood; RSS is sampled every second (growth = max during the flood - before); log lines are',
    "the server's output lines from the flood's start to its end. Packets per second is what the sender reached.",
    '',
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  let o: Options;
  try { o = parse(process.argv.slice(2)); } catch (e) { console.error((e as Error).message); return 2; }
  const why = netnsUnavailable() ?? (['openvpn', 'python3', 'ping'].find((c) => !haveCommand(c)) ? 'openvpn, python3 and ping are needed (bash test/install-deps.sh)' : undefined);
  if (why) { console.error(`bench:flood: ${why}`); return 1; }
  try { statSync(BUNDLE); } catch { console.error(`bench:flood: ${BUNDLE} is missing: npm run build`); return 1; }
  const samples: Sample[] = [];
  await withTopology({ clients: 3, capture: false }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    for (let round = 0; round < o.rounds; round++) {
      for (const kind of ['reset', 'garbage'] as const) {
        const order: ServerId[] = round % 2 ? ['nanovpn', 'openvpn'] : ['openvpn', 'nanovpn'];
        for (const id of order) {
          log(`round ${round + 1}/${o.rounds}: ${kind} flood against ${id}`);
          const s = await measure(topo, pki, o, id, kind, round);
          log(`  ping loss ${s.pingLossPct.toFixed(1)} %, newcomer ${s.newcomerSeconds?.toFixed(1) ?? 'none'} s, ` +
            `RSS +${s.rssGrowthMiB.toFixed(1)} MiB (anon +${s.anonGrowthMiB.toFixed(1)}), ${s.logLines} log lines, ${s.pps} pps sent`);
          samples.push(s);
        }
      }
    }
  });
  const meta = {
    date: new Date().toISOString(),
    nanovpn: execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
    openvpn: execFileSync('sh', ['-c', 'openvpn --version | head -1 || true'], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' '),
    node: process.version,
  };
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'flood.json'), JSON.stringify({ options: o, meta, samples }, null, 2) + '\n');
  writeFileSync(join(o.outDir, 'flood.md'), render(samples, o, meta));
  log(`wrote ${join(o.outDir, 'flood.md')}`);
  process.stdout.write(render(samples, o, meta));
  return 0;
}

process.exitCode = await main();
