// The path matrix: emulated client links (loss, delay, jitter, duplication, reordering, a bottleneck), the cells
// measured on each, and the check of the impairment's own counters against the configured rates. Pure: no I/O.
import { THROUGHPUT_CELLS, cellId, cellLabel, type MetricDef, type Proto, type ThroughputCell } from './report.js';

export const PATH_IDS = ['a', 'b', 'c', 'd'] as const;
export type PathId = (typeof PATH_IDS)[number];

/** One direction of the emulated link; both directions get the same. Probabilities are fractions. */
export interface ImpairSpec {
  delayMs: number;
  jitterMs: number;
  loss: number;
  duplicate: number;
  reorder: number;
  /** 0: no bottleneck. */
  rateMbit: number;
  /** Longest wait in the bottleneck before a frame is tail-dropped. */
  queueMs: number;
}

export interface PathDef { id: PathId; title: string; spec: ImpairSpec }

const NONE: ImpairSpec = { delayMs: 0, jitterMs: 0, loss: 0, duplicate: 0, reorder: 0, rateMbit: 0, queueMs: 0 };

export const PATHS: Record<PathId, PathDef> = {
  a: { id: 'a', title: '1 % loss, 20 ms RTT', spec: { ...NONE, delayMs: 10, loss: 0.01 } },
  b: { id: 'b', title: '25 ± 10 ms each way, 2 % loss, 1 % duplication, 5 % reordering',
    spec: { ...NONE, delayMs: 25, jitterMs: 10, loss: 0.02, duplicate: 0.01, reorder: 0.05 } },
  c: { id: 'c', title: '100 ms RTT, no loss (long fat path)', spec: { ...NONE, delayMs: 50 } },
  d: { id: 'd', title: '20 Mbit/s bottleneck, 50 ms queue', spec: { ...NONE, rateMbit: 20, queueMs: 50 } },
};

export const TRANSPARENT: ImpairSpec = NONE;

/** Throughput cells run on every path: all eight, or only the single-stream ones in quick mode. */
export function pathCells(quick: boolean): ThroughputCell[] {
  return THROUGHPUT_CELLS.filter((c) => !quick || c.streams === 1);
}

export const pathKey = (p: PathId, rest: string): string => `path.${p}.${rest}`;

export function pathMetricDefs(paths: readonly PathId[], quick: boolean): MetricDef[] {
  const defs: MetricDef[] = [];
  for (const p of paths) {
    const at = `(${p}) ${PATHS[p].title}`;
    for (const c of pathCells(quick)) {
      defs.push({ key: pathKey(p, `tput.${cellId(c)}`), group: 'path', label: `${at}: ${cellLabel(c)}`, unit: 'Mbit/s', better: 'higher' });
    }
    for (const proto of ['udp', 'tcp'] as const) {
      const P = proto.toUpperCase();
      defs.push({ key: pathKey(p, `ping.${proto}.idle.avg`), group: 'path', label: `${at}: ${P}, ping idle, avg`, unit: 'ms', better: 'lower' });
      for (const stat of ['avg', 'p99'] as const) {
        defs.push({ key: pathKey(p, `ping.${proto}.load.${stat}`), group: 'path', label: `${at}: ${P}, ping under load (1-stream download), ${stat}`, unit: 'ms', better: 'lower' });
      }
    }
  }
  return defs;
}

/** Command-line arguments of bench/lib/impair.c for a spec. */
export function bridgeArgs(s: ImpairSpec, seed: number): string[] {
  return [`delay=${s.delayMs}`, `jitter=${s.jitterMs}`, `loss=${s.loss}`, `duplicate=${s.duplicate}`, `reorder=${s.reorder}`,
    `rate=${s.rateMbit}`, `queue=${s.queueMs}`, `seed=${seed}`];
}

/** `tc qdisc ... netem` arguments for a spec (the kernel's emulator, where it exists). */
export function netemArgs(s: ImpairSpec): string[] {
  const a = ['netem'];
  if (s.delayMs > 0 || s.reorder > 0) a.push('delay', `${s.delayMs}ms`, ...(s.jitterMs > 0 ? [`${s.jitterMs}ms`] : []));
  if (s.loss > 0) a.push('loss', `${s.loss * 100}%`);
  if (s.duplicate > 0) a.push('duplicate', `${s.duplicate * 100}%`);
  if (s.reorder > 0) a.push('reorder', `${s.reorder * 100}%`);
  if (s.rateMbit > 0) {
    a.push('rate', `${s.rateMbit}mbit`);
    // netem's limit counts packets: the queue's time at the rate, in full-size frames.
    a.push('limit', String(Math.max(1, Math.ceil((s.queueMs / 1000) * s.rateMbit * 1e6 / 8 / 1514))));
  } else {
    a.push('limit', '100000');
  }
  return a;
}

/** The bridge's counters for one direction (bench/lib/impair.c prints them). */
export interface DirCounters {
  in: number; inBytes: number; lost: number; duplicated: number; queueDropped: number; reorderChosen: number;
  reordered: number; scheduled: number; out: number; outBytes: number; sendErrors: number; ringFull: number;
  oversize: number; pending: number; delaySumMs: number; delayMinMs: number; delayMaxMs: number;
  latenessSumMs: number; latenessMaxMs: number; queueMaxMs: number; peakMbit: number; delayHist: number[];
}

export interface BridgeReport { seed: number; seconds: number; bucketsMs: number[]; aToB: DirCounters; bToA: DirCounters }

/** The same direction's counters over several sessions. */
export function sumCounters(xs: readonly DirCounters[]): DirCounters | undefined {
  if (xs.length === 0) return undefined;
  const out = { ...xs[0]!, delayHist: [...xs[0]!.delayHist] };
  for (const x of xs.slice(1)) {
    for (const k of ['in', 'inBytes', 'lost', 'duplicated', 'queueDropped', 'reorderChosen', 'reordered', 'scheduled', 'out',
      'outBytes', 'sendErrors', 'ringFull', 'oversize', 'pending', 'delaySumMs', 'latenessSumMs'] as const) out[k] += x[k];
    out.delayMinMs = Math.min(out.delayMinMs, x.delayMinMs);
    for (const k of ['delayMaxMs', 'latenessMaxMs', 'queueMaxMs', 'peakMbit'] as const) out[k] = Math.max(out[k], x[k]);
    out.delayHist = out.delayHist.map((v, i) => v + (x.delayHist[i] ?? 0));
  }
  return out;
}

export interface RateCheck {
  what: string;
  want: string;
  got: string;
  ok: boolean;
}

/** A configured probability against the count that hit it out of `n` trials: 4 binomial sigmas, at least 0.3 points. */
function probCheck(what: string, p: number, hits: number, n: number): RateCheck {
  const got = n > 0 ? hits / n : 0;
  const tol = Math.max(4 * Math.sqrt((p * (1 - p)) / Math.max(n, 1)), 0.003);
  return { what, want: pct(p), got: `${pct(got)} (${hits} of ${n})`, ok: n > 0 && Math.abs(got - p) <= tol };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
const ms = (x: number): string => `${x.toFixed(1)} ms`;

/** Lateness the bridge may add on average (its loop wakes in time but shares the cores). */
export const LATENESS_SLACK_MS = 1;

/**
 * The achieved impairment of one direction against its spec: loss, duplication and reordering rates within binomial
 * tolerance, the delay's mean and range, the bottleneck's peak rate and queue, and no frame lost by the bridge itself.
 */
export function checkDirection(s: ImpairSpec, c: DirCounters): RateCheck[] {
  const out: RateCheck[] = [];
  const passed = c.in - c.oversize - c.lost;
  out.push(probCheck('loss', s.loss, c.lost, c.in - c.oversize));
  if (s.duplicate > 0) out.push(probCheck('duplication', s.duplicate, c.duplicated, passed));
  const copies = c.scheduled + c.ringFull;
  if (s.reorder > 0) {
    const rc = probCheck('reordering (chosen)', s.reorder, c.reorderChosen, copies);
    rc.got += `; overtook a held frame: ${pct(copies > 0 ? c.reordered / copies : 0)}`;
    out.push(rc);
  }
  if (c.out > 0) {
    const mean = c.delaySumMs / c.out;
    const late = c.latenessSumMs / c.out;
    // Reordered copies skip the delay; the rest spread over delay ± jitter; the bottleneck adds up to its queue.
    const normal = 1 - s.reorder;
    const lo = normal * Math.max(0, s.delayMs - s.jitterMs);
    const hi = normal * (s.delayMs + s.jitterMs) + (s.rateMbit > 0 ? s.queueMs + 1 : 0) + LATENESS_SLACK_MS;
    out.push({ what: 'delay (mean, min–max)', want: s.jitterMs > 0 ? `${ms(s.delayMs)} ± ${ms(s.jitterMs)}` : ms(s.delayMs) + (s.rateMbit > 0 ? ` + queue ≤ ${ms(s.queueMs)}` : ''),
      got: `${ms(mean)} (${ms(c.delayMinMs)}–${ms(c.delayMaxMs)})`, ok: mean >= lo - 0.05 && mean <= hi });
    out.push({ what: 'bridge lateness (mean, max)', want: `≤ ${ms(LATENESS_SLACK_MS)} mean`, got: `${ms(late)}, ${ms(c.latenessMaxMs)}`, ok: late <= LATENESS_SLACK_MS });
  }
  if (s.rateMbit > 0) {
    // One second's bytes may include one frame more than the rate allows.
    out.push({ what: 'bottleneck (peak 1 s rate, longest wait)', want: `≤ ${s.rateMbit} Mbit/s, ≤ ${ms(s.queueMs)}`,
      got: `${c.peakMbit.toFixed(1)} Mbit/s, ${ms(c.queueMaxMs)}; tail drops ${c.queueDropped}`,
      ok: c.peakMbit <= s.rateMbit * 1.02 + 0.02 && c.queueMaxMs <= s.queueMs + 1 });
  }
  const own = c.sendErrors + c.ringFull + c.oversize;
  out.push({ what: 'frames the bridge itself failed to carry', want: '0', got: `${own} (send errors ${c.sendErrors}, ring full ${c.ringFull}, oversize ${c.oversize})`, ok: own === 0 });
  return out;
}

/** What the benchmark keeps about one path: every session's counters and the check of their sums. */
export interface PathRecord {
  id: PathId;
  title: string;
  spec: ImpairSpec;
  backend: 'bridge' | 'netem';
  sessions: { label: string; report: BridgeReport | NetemStats }[];
  checks?: { dir: 'client→srv' | 'srv→client'; results: RateCheck[] }[];
  ok?: boolean;
}

/** What `tc -s qdisc` says of a netem qdisc: it does not count duplicates or reordering. */
export interface NetemStats { netem: true; up: { packets: number; drops: number }; down: { packets: number; drops: number } }

const isBridge = (r: BridgeReport | NetemStats): r is BridgeReport => !('netem' in r);

/** The checks of a path from its sessions' counters (both directions summed over every session). */
export function checkPath(rec: PathRecord): PathRecord {
  const bridged = rec.sessions.map((s) => s.report).filter(isBridge);
  const checks: NonNullable<PathRecord['checks']> = [];
  if (bridged.length) {
    const up = sumCounters(bridged.map((b) => b.aToB));
    const down = sumCounters(bridged.map((b) => b.bToA));
    if (up) checks.push({ dir: 'client→srv', results: checkDirection(rec.spec, up) });
    if (down) checks.push({ dir: 'srv→client', results: checkDirection(rec.spec, down) });
  } else {
    const nets = rec.sessions.map((s) => s.report).filter((r): r is NetemStats => !isBridge(r));
    for (const dir of ['up', 'down'] as const) {
      const packets = nets.reduce((a, n) => a + n[dir].packets, 0);
      const drops = nets.reduce((a, n) => a + n[dir].drops, 0);
      const results = rec.spec.rateMbit > 0 || rec.spec.duplicate > 0
        ? [{ what: 'drops (netem: loss and queue together)', want: '—', got: `${drops} of ${packets + drops}`, ok: true }]
        : [probCheck('loss (netem drops)', rec.spec.loss, drops, packets + drops)];
      checks.push({ dir: dir === 'up' ? 'client→srv' : 'srv→client', results });
    }
  }
  return { ...rec, checks, ok: checks.length > 0 && checks.every((c) => c.results.every((r) => r.ok)) };
}

/** A deterministic bridge seed for one session of the matrix; both servers see the same random stream. */
export function pathSeed(p: PathId, proto: Proto, round: number): number {
  return 1 + PATH_IDS.indexOf(p) * 1000 + (proto === 'udp' ? 0 : 100) + round;
}

export const CEILING_RUNS = ['up', 'down', 'up8', 'down8'] as const;

/** Plain TCP (no VPN) between cli1 and srv across the emulator with no impairment, 1 and 8 streams each way. */
export interface EmulatorCeiling {
  mbit: Partial<Record<(typeof CEILING_RUNS)[number], number>>;
  /** The bridge's CPU time over those runs divided by their wall time (1 = one core busy throughout). */
  cpuShare?: number;
  counters?: BridgeReport | NetemStats;
}

export interface PathsSection { backend: 'bridge' | 'netem'; ceiling?: EmulatorCeiling; records: PathRecord[] }
