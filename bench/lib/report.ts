// The report model: which figures exist, their samples per server, and how they are rendered (Markdown table,
// a plain ratio table for commit messages). Pure: no I/O.
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
export type Group = 'throughput' | 'cpu' | 'latency' | 'connect' | 'memory';

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
}

export interface BenchReport {
  meta: BenchMeta;
  servers: ServerId[];
  metrics: MetricReport[];
  notes: string[];
}

export function buildReport(meta: BenchMeta, servers: ServerId[], defs: MetricDef[], s: Samples, notes: string[]): BenchReport {
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
  return { meta, servers, metrics, notes };
}

/** The report again from its raw samples (summaries, ratios and marks recomputed; e.g. JSON from an older version). */
export function rebuildReport(old: BenchReport): BenchReport {
  const s = new Samples();
  const defs: MetricDef[] = old.metrics.map(({ key, group, label, unit, better }) => ({ key, group, label, unit, better }));
  for (const m of old.metrics) {
    for (const srv of old.servers) for (const v of m.samples[srv] ?? []) s.add(m.key, srv, v);
  }
  return buildReport(old.meta, old.servers, defs, s, old.notes);
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
};

function escapeCell(s: string): string { return s.replace(/\|/g, '\\|'); }

/** One Markdown table per group: median (min–max) per server and the ratio to OpenVPN. */
export function renderTables(rep: BenchReport): string {
  const others = rep.servers.filter((s) => s !== BASELINE);
  const out: string[] = [];
  for (const g of Object.keys(GROUP_TITLE) as Group[]) {
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
    `${m.date}, ${m.mode} run: ${m.rounds} interleaved round${m.rounds === 1 ? '' : 's'}, iperf3 -t ${m.iperfSeconds}, ` +
      `${m.burst} clients per handshake burst${m.durationSeconds !== undefined ? `, took ${Math.round(m.durationSeconds)} s` : ''}.`,
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
  ];
  if (rep.notes.length) {
    lines.push('### Notes', '');
    for (const n of rep.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
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
