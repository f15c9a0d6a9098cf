// The report model: which figures exist, their samples per server, and how they are rendered (Markdown table,
// a plain ratio table for commit messages). Pure: no I/O.
import type { PathsSection } from './paths.js';
import { ratio, summarize, type Summary } from './stats.js';

export const SERVERS = ['openvpn', 'nanovpn', 'nanovpn-tun'] as const;
export type ServerId = (typeof SERVERS)[number];
export const BASELINE: ServerId = 'openvpn';
export const SERVER_LABEL: Record<ServerId, string> = {
  openvpn: 'OpenVPN 2.6',
  nanovpn: 'nanovpn (NAT)',
  'nanovpn-tun': 'nanovpn (tun)',
};

export type Proto = 'udp' | 'tcp';
export type Direction = 'up' | 'down';
export type Group = 'throughput' | 'cpu' | 'latency' | 'connect' | 'memory' | 'path';

export interface MetricDef {
  key: string;
  group: Group;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
}

export interface ThroughputCell { proto: Proto; streams: 1 | 8; dir: Direction }

export const THROUGHPUT_CELLS: readonly ThroughputCell[] = (['udp', 'tcp'] as const).flatMap((proto) =>
  ([1, 8] as const).flatMap((streams) => (['up', 'down'] as const).map((dir) => ({ proto, streams, dir }))));

export const cellId = (c: ThroughputCell): string => `${c.proto}.p${c.streams}.${c.dir}`;
export const cellLabel = (c: ThroughputCell): string =>
  `${c.proto.toUpperCase()}, ${c.streams === 1 ? '1 stream' : `${c.streams} streams`}, ${c.dir === 'up' ? 'client→inet' : 'inet→client'}`;

export function metricDefs(o: { burst: number; sessions: number[] }): MetricDef[] {
  const defs: MetricDef[] = [];
  for (const c of THROUGHPUT_CELLS) {
    defs.push({ key: `tput.${cellId(c)}`, group: 'throughput', label: cellLabel(c), unit: 'Mbit/s', better: 'higher' });
  }
  for (const c of THROUGHPUT_CELLS) {
    defs.push({ key: `cpu.${cellId(c)}`, group: 'cpu', label: cellLabel(c), unit: 'CPU s/GB', better: 'lower' });
  }
  for (const proto of ['udp', 'tcp'] as const) {
    const P = proto.toUpperCase();
    const whenLabel = { idle: 'idle', load: 'under load', 'idle-after-load': 'idle after the throughput runs' } as const;
    for (const when of ['idle', 'load', 'idle-after-load'] as const) {
      for (const stat of ['avg', 'p99'] as const) {
        defs.push({ key: `ping.${proto}.${when}.${stat}`, group: 'latency', label: `${P}, ${whenLabel[when]}, ${stat}`, unit: 'ms', better: 'lower' });
      }
    }
  }
  for (const proto of ['udp', 'tcp'] as const) {
    const P = proto.toUpperCase();
    defs.push({ key: `connect.${proto}`, group: 'connect', label: `${P}, connect time (start → Initialization Sequence Completed)`, unit: 'ms', better: 'lower' });
    defs.push({ key: `hs.${proto}`, group: 'connect', label: `${P}, handshakes/s, ${o.burst} clients at once`, unit: '1/s', better: 'higher' });
  }
  for (const proto of ['udp', 'tcp'] as const) {
    for (const n of [0, o.burst]) {
      const when = n === 0 ? 'right after start' : 'after the throughput runs';
      defs.push({ key: `rss.${proto}.${n}`, group: 'memory', label: `${proto.toUpperCase()}, ${n} idle sessions, ${when}`, unit: 'MiB RSS', better: 'lower' });
    }
  }
  for (const n of o.sessions) {
    if (n === 0 || n === o.burst) continue;
    defs.push({ key: `rss.udp.${n}`, group: 'memory', label: `UDP, ${n} idle sessions, fresh process`, unit: 'MiB RSS', better: 'lower' });
  }
  return defs;
}

/** Samples collected during a run: metric key -> server -> values (one per round, or pooled samples). */
export class Samples {
  readonly data = new Map<string, Map<ServerId, number[]>>();
  add(key: string, server: ServerId, value: number): void {
    if (!Number.isFinite(value)) return;
    let m = this.data.get(key);
    if (!m) this.data.set(key, (m = new Map()));
    let l = m.get(server);
    if (!l) m.set(server, (l = []));
    l.push(value);
  }
  get(key: string, server: ServerId): number[] { return this.data.get(key)?.get(server) ?? []; }
}

export interface MetricReport extends MetricDef {
  samples: Partial<Record<ServerId, number[]>>;
  summary: Partial<Record<ServerId, Summary>>;
  /** median(server) / median(openvpn) for each nanovpn variant. */
  ratio: Partial<Record<ServerId, number>>;
  /** True where both sides have 2+ samples and their min–max ranges do not overlap. */
  separated: Partial<Record<ServerId, boolean>>;
}

/** Two sets of repeated samples whose ranges do not even touch: a difference the run-to-run noise did not hide. */
export function rangesSeparated(a: Summary | undefined, b: Summary | undefined): boolean {
  if (!a || !b || a.n < 2 || b.n < 2) return false;
  return a.max < b.min || b.max < a.min;
}

export interface BenchMeta {
  date: string;
  mode: 'quick' | 'full';
  rounds: number;
  iperfSeconds: number;
  burst: number;
  sessions: number[];
  host: Record<string, string>;
  durationSeconds?: number;
  /** Only the path matrix ran (--only-paths). */
  onlyPaths?: boolean;
}

export interface BenchReport {
  meta: BenchMeta;
  servers: ServerId[];
  metrics: MetricReport[];
  notes: string[];
  /** The path matrix: the emulator, its ceiling, every path's spec, counters and their check. */
  paths?: PathsSection;
}

export function buildReport(meta: BenchMeta, servers: ServerId[], defs: MetricDef[], s: Samples, notes: string[],
  paths?: PathsSection): BenchReport {
  const metrics = defs.map((d): MetricReport => {
    const samples: MetricReport['samples'] = {};
    const summary: MetricReport['summary'] = {};
    const r: MetricReport['ratio'] = {};
    const sep: MetricReport['separated'] = {};
    for (const srv of servers) {
      const xs = s.get(d.key, srv);
      samples[srv] = xs;
      const sum = summarize(xs);
      if (sum) summary[srv] = sum;
    }
    for (const srv of servers) {
      if (srv === BASELINE) continue;
      const x = ratio(summary[srv], summary[BASELINE]);
      if (x !== undefined) r[srv] = x;
      sep[srv] = rangesSeparated(summary[srv], summary[BASELINE]);
    }
    return { ...d, samples, summary, ratio: r, separated: sep };
  });
  return paths ? { meta, servers, metrics, notes, paths } : { meta, servers, metrics, notes };
}

/** The report again from its raw samples (summaries, ratios and marks recomputed; e.g. JSON from an older version). */
export function rebuildReport(old: BenchReport): BenchReport {
  const s = new Samples();
  const defs: MetricDef[] = old.metrics.map(({ key, group, label, unit, better }) => ({ key, group, label, unit, better }));
  for (const m of old.metrics) {
    for (const srv of old.servers) for (const v of m.samples[srv] ?? []) s.add(m.key, srv, v);
  }
  return buildReport(old.meta, old.servers, defs, s, old.notes, old.paths);
}

export function fmtNum(v: number): string {
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toString();
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtSummary(s: Summary | undefined): string {
  if (!s) return '—';
  if (s.n === 1 || s.min === s.max) return fmtNum(s.median);
  return `${fmtNum(s.median)} (${fmtNum(s.min)}–${fmtNum(s.max)})`;
}

export const SEPARATED_MARK = '†';
export const fmtRatio = (r: number | undefined, separated = false): string =>
  (r === undefined ? '—' : `${r.toFixed(2)}×${separated ? ` ${SEPARATED_MARK}` : ''}`);

const GROUP_TITLE: Record<Group, string> = {
  throughput: 'Throughput (iperf3 through the tunnel to inet)',
  cpu: 'Server CPU per GB transferred (utime+stime of the server process)',
  latency: 'Ping RTT through the tunnel to 10.8.0.1',
  connect: 'Connect time and handshake rate',
  memory: 'Server memory',
  path: 'Path matrix: emulated client links',
};

function escapeCell(s: string): string { return s.replace(/\|/g, '\\|'); }

/** One Markdown table per group: median (min–max) per server and the ratio to OpenVPN. */
export function renderTables(rep: BenchReport): string {
  const others = rep.servers.filter((s) => s !== BASELINE);
  const out: string[] = [];
  for (const g of Object.keys(GROUP_TITLE) as Group[]) {
    if (g === 'path') continue;
    const ms = rep.metrics.filter((m) => m.group === g);
    if (ms.length === 0) continue;
    out.push(`### ${GROUP_TITLE[g]}`, '');
    const head = ['', 'unit', ...rep.servers.map((s) => SERVER_LABEL[s])];
    for (const o of others) head.push(`${SERVER_LABEL[o]} / OpenVPN`);
    out.push(`| ${head.join(' | ')} |`);
    out.push(`|${head.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`);
    for (const m of ms) {
      const row = [escapeCell(m.label), `${m.unit} ${m.better === 'higher' ? '↑' : '↓'}`];
      for (const s of rep.servers) row.push(fmtSummary(m.summary[s]));
      for (const o of others) row.push(fmtRatio(m.ratio[o], m.separated?.[o]));
      out.push(`| ${row.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export function renderMarkdown(rep: BenchReport): string {
  const m = rep.meta;
  const host = Object.entries(m.host).map(([k, v]) => `${k} ${v}`).join('; ');
  const lines = [
    '# nanovpn vs OpenVPN 2.6: benchmark results',
    '',
    `${m.date}, ${m.mode} run${m.onlyPaths ? ' of the path matrix only' : ''}: ${m.rounds} interleaved round${m.rounds === 1 ? '' : 's'}, iperf3 -t ${m.iperfSeconds}` +
      `${m.onlyPaths ? '' : `, ${m.burst} clients per handshake burst`}${m.durationSeconds !== undefined ? `, took ${Math.round(m.durationSeconds)} s` : ''}.`,
    '',
    `Host: ${host}.`,
    '',
    'Each cell is the median over rounds with (min–max); the ratio columns divide the medians by OpenVPN\'s. ' +
      `↑ means higher is better, ↓ lower is better. ${SEPARATED_MARK} marks a ratio where the min–max ranges of the two servers ` +
      'do not overlap; without it, the run-to-run spread covers the difference. Both servers ran on the same network-namespace test bed, the same ' +
      'PKI and the same client config, one at a time, alternating within every round. These are figures from one ' +
      'shared machine: compare the ratios, not the absolute numbers.',
    '',
    renderTables(rep),
    renderPathTables(rep),
  ];
  if (rep.notes.length) {
    lines.push('### Notes', '');
    for (const n of rep.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

export const CEILING_MARK = '‡';
const CEILING_SHARE = 0.7;

/** The emulator's plain-TCP ceiling that bounds a path throughput cell (`path.X.tput.P.pN.DIR`), if measured. */
function ceilingFor(sec: PathsSection | undefined, key: string): number | undefined {
  const m = /^path\.[a-z]\.tput\.(?:udp|tcp)\.p(\d+)\.(up|down)$/.exec(key);
  if (!m || !sec?.ceiling) return undefined;
  return sec.ceiling.mbit[`${m[2] as 'up' | 'down'}${m[1] === '8' ? '8' : ''}` as keyof typeof sec.ceiling.mbit];
}

const fmtMbit = (x: number | undefined): string => (x === undefined ? '—' : fmtNum(x));

/** The path matrix: one row per path and cell (nanovpn (NAT) against OpenVPN 2.6), then the emulator's own check. */
export function renderPathTables(rep: BenchReport): string {
  const ms = rep.metrics.filter((m) => m.group === 'path');
  const sec = rep.paths;
  if (ms.length === 0 && !sec) return '';
  const ours: ServerId = 'nanovpn';
  const out = [`### ${GROUP_TITLE.path}`, ''];
  if (sec) {
    const how = sec.backend === 'netem'
      ? 'a netem qdisc on each end of the client\'s link (cli1 eth0, srv cl1)'
      : 'bench/lib/impair.c, a userspace bridge in a namespace of its own between cli1 and srv (this kernel has no sch_netem)';
    const m = sec.ceiling?.mbit ?? {};
    out.push(`The impairment sits on cli1's link to srv, both directions alike, through ${how}. ` +
      `Emulator ceiling (plain TCP between cli1 and srv through it with no impairment, no VPN; 1 / 8 streams): ` +
      `client→srv ${fmtMbit(m.up)} / ${fmtMbit(m.up8)} Mbit/s, srv→client ${fmtMbit(m.down)} / ${fmtMbit(m.down8)} Mbit/s` +
      `${sec.ceiling?.cpuShare !== undefined ? ` (the bridge meanwhile used ${Math.round(sec.ceiling.cpuShare * 100)} % of a core)` : ''}. ` +
      'A cell near that ceiling measures the emulator, not the servers.', '');
  }
  if (ms.length) {
    const head = ['path', 'cell', 'unit', SERVER_LABEL[BASELINE], SERVER_LABEL[ours], `${SERVER_LABEL[ours]} / OpenVPN`];
    out.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 3 ? '---' : '--:')).join('|')}|`);
    let nearCeiling = false;
    for (const m of ms) {
      const id = /^path\.([a-z])\./.exec(m.key)?.[1] ?? '?';
      const cell = m.label.includes(': ') ? m.label.slice(m.label.indexOf(': ') + 2) : m.label;
      const near = (srv: ServerId): string => {
        const limit = ceilingFor(sec, m.key);
        const v = m.summary[srv]?.max;
        if (limit === undefined || v === undefined || v < CEILING_SHARE * limit) return '';
        nearCeiling = true;
        return ` ${CEILING_MARK}`;
      };
      out.push(`| (${id}) | ${escapeCell(cell)} | ${m.unit} ${m.better === 'higher' ? '↑' : '↓'} | ${fmtSummary(m.summary[BASELINE])}${near(BASELINE)} | ` +
        `${fmtSummary(m.summary[ours])}${near(ours)} | ${fmtRatio(m.ratio[ours], m.separated?.[ours])} |`);
    }
    out.push('');
    if (nearCeiling) out.push(`${CEILING_MARK} reached ${CEILING_SHARE * 100} % or more of the emulator's ceiling for that direction and stream count: the emulator may have limited it.`, '');
  }
  if (sec?.records.length) {
    out.push('#### The emulated paths against their spec', '',
      'The emulator\'s counters summed over every session of a path (both servers, every round), per direction.', '',
      '| path | direction | figure | configured | achieved | matches |', '|---|---|---|---|---|---|');
    for (const r of sec.records) {
      for (const c of r.checks ?? []) {
        for (const x of c.results) {
          out.push(`| (${r.id}) ${escapeCell(r.title)} | ${c.dir} | ${escapeCell(x.what)} | ${escapeCell(x.want)} | ${escapeCell(x.got)} | ${x.ok ? 'yes' : '**no**'} |`);
        }
      }
    }
    out.push('');
    const bad = sec.records.filter((r) => !r.ok).map((r) => `(${r.id})`);
    out.push(bad.length ? `**Paths that did not match their spec: ${bad.join(', ')}.**` : 'Every path matched its spec.', '');
  }
  return out.join('\n');
}

/** A plain-text table of just the ratios, for commit messages and terminals. */
export function renderRatioText(rep: BenchReport): string {
  const others = rep.servers.filter((s) => s !== BASELINE);
  const rows: string[][] = [['metric', 'OpenVPN', ...others.flatMap((o) => [SERVER_LABEL[o], 'ratio'])]];
  for (const m of rep.metrics) {
    if (!m.summary[BASELINE] && others.every((o) => !m.summary[o])) continue;
    const row = [`${m.group === 'cpu' ? 'CPU ' : ''}${m.label} [${m.unit}]`, m.summary[BASELINE] ? fmtNum(m.summary[BASELINE]!.median) : '—'];
    for (const o of others) row.push(m.summary[o] ? fmtNum(m.summary[o]!.median) : '—', fmtRatio(m.ratio[o], m.separated?.[o]));
    rows.push(row);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}
