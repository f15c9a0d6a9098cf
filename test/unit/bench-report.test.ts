// The pure parts of the benchmark harness: iperf3/ping/proc parsing, summaries, report rendering, PNG encoding,
// flags. Nothing here runs a benchmark.
import test from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { iperfClientArgs, parseIperf3Json } from '../../bench/lib/iperf.js';
import { parsePing, pingStats } from '../../bench/lib/ping.js';
import { parseRssAnonKiB, parseStatCpuTicks, parseVmRssKiB } from '../../bench/lib/procstat.js';
import { mean, median, percentile, ratio, summarize } from '../../bench/lib/stats.js';
import { buildReport, fmtNum, fmtSummary, metricDefs, rangesSeparated, rebuildReport, renderMarkdown, renderRatioText, renderTables, Samples, THROUGHPUT_CELLS, type BenchMeta } from '../../bench/lib/report.js';
import { Canvas, crc32, encodePng, PNG_SIGNATURE } from '../../bench/lib/png.js';
import { GLYPHS } from '../../bench/lib/font.js';
import { parseOptions } from '../../bench/lib/options.js';
import { checkPath, netemArgs, pathMetricDefs, pathSeed, PATHS, type BridgeReport, type DirCounters, type PathsSection } from '../../bench/lib/paths.js';
import { niceAxis, renderThroughputChart } from '../../bench/chart.js';

// Shape of real `iperf3 -c 127.0.0.1 -P 2 -R -J` output (iperf 3.12), intervals and start trimmed.
const IPERF_OK = JSON.stringify({
  start: { version: 'iperf 3.12' },
  intervals: [],
  end: {
    streams: [
      { sender: { socket: 5, bytes: 393216000, bits_per_second: 3084107531.52, retransmits: 0 },
        receiver: { socket: 5, bytes: 389414912, bits_per_second: 3111367858.82 } },
      { sender: { socket: 7, bytes: 385351680, bits_per_second: 3022425380.89, retransmits: 0 },
        receiver: { socket: 7, bytes: 381550592, bits_per_second: 3048533098.96 } },
    ],
    sum_sent: { start: 0, end: 1.01998, seconds: 1.01998, bytes: 778567680, bits_per_second: 6106532912.410047,
      retransmits: 3, sender: false },
    sum_received: { start: 0, end: 1.00127, seconds: 1.00127, bytes: 770965504, bits_per_second: 6159900957.783614, sender: false },
  },
});
const IPERF_ERR = '{\n\t"start":\t{\n\t\t"connected":\t[]\n\t},\n\t"intervals":\t[],\n\t"end":\t{\n\t},\n\t"error":\t"unable to connect to server: Connection refused"\n}\n';

test('parseIperf3Json reads the receiver-side sum, stream count and sender retransmits', () => {
  const r = parseIperf3Json(IPERF_OK);
  assert.equal(r.bitsPerSecond, 6159900957.783614);
  assert.equal(r.bytes, 770965504);
  assert.equal(r.seconds, 1.00127);
  assert.equal(r.streams, 2);
  assert.equal(r.retransmits, 3);
});

test('parseIperf3Json reports iperf3\'s own error, non-JSON output, and a missing summary', () => {
  assert.throws(() => parseIperf3Json(IPERF_ERR), /iperf3: unable to connect to server: Connection refused/);
  assert.throws(() => parseIperf3Json('iperf3: error - unable to connect'), /not JSON: iperf3: error/);
  assert.throws(() => parseIperf3Json(''), /not JSON: \(empty\)/);
  assert.throws(() => parseIperf3Json('[1,2]'), /not an object/);
  assert.throws(() => parseIperf3Json('{"end":{"sum_received":{"bytes":5}}}'), /no end.sum_received/);
});

test('iperfClientArgs: -P only for several streams, -R for downloads', () => {
  assert.deepEqual(iperfClientArgs({ host: '198.18.0.1', seconds: 8, parallel: 1, reverse: false }),
    ['iperf3', '-c', '198.18.0.1', '-t', '8', '-J', '--connect-timeout', '5000']);
  assert.deepEqual(iperfClientArgs({ host: '198.18.0.1', seconds: 3, parallel: 8, reverse: true, port: 5202 }).slice(8),
    ['-p', '5202', '-P', '8', '-R']);
});

test('median, mean, min/max summary and ratio', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), /empty/);
  assert.equal(mean([1, 2, 6]), 3);
  assert.deepEqual(summarize([5, 1, 9, 3]), { median: 4, min: 1, max: 9, n: 4 });
  assert.deepEqual(summarize([NaN, 2, Infinity]), { median: 2, min: 2, max: 2, n: 1 });
  assert.equal(summarize([]), undefined);
  assert.equal(ratio({ median: 50, min: 0, max: 0, n: 1 }, { median: 200, min: 0, max: 0, n: 1 }), 0.25);
  assert.equal(ratio(undefined, { median: 1, min: 1, max: 1, n: 1 }), undefined);
  assert.equal(ratio({ median: 1, min: 1, max: 1, n: 1 }, { median: 0, min: 0, max: 0, n: 1 }), undefined);
});

test('percentile is nearest-rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i);   // 1..100, shuffled order does not matter
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile([1, 2, 3, 1000], 99), 1000);
  assert.equal(percentile([4, 8], 50), 4);
  assert.throws(() => percentile([1], 101), /outside/);
});

const PING_OUT = `PING 10.8.0.1 (10.8.0.1) 56(84) bytes of data.
64 bytes from 10.8.0.1: icmp_seq=1 ttl=64 time=1.20 ms
64 bytes from 10.8.0.1: icmp_seq=2 ttl=64 time=0.800 ms
64 bytes from 10.8.0.1: icmp_seq=4 ttl=64 time=4.00 ms

--- 10.8.0.1 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 3004ms
rtt min/avg/max/mdev = 0.800/2.000/4.000/1.400 ms
`;

test('parsePing takes every reply RTT and the loss summary', () => {
  const p = parsePing(PING_OUT);
  assert.deepEqual(p.rtts, [1.2, 0.8, 4]);
  assert.equal(p.transmitted, 4);
  assert.equal(p.received, 3);
  const s = pingStats(p)!;
  assert.ok(Math.abs(s.avg - 2) < 1e-9);
  assert.equal(s.p99, 4);
  assert.equal(s.lossPct, 25);
  assert.equal(pingStats(parsePing('connect: Network is unreachable\n')), undefined);
});

test('/proc parsing: utime+stime with a command name holding spaces and parens; VmRSS', () => {
  const fields = ['S', '1', '2', '3', '0', '-1', '4194560', '100', '0', '0', '0', '1234', '567', '0', '0', '20', '0', '11'];
  assert.equal(parseStatCpuTicks(`4242 (node (x) y) ${fields.join(' ')}`), 1234 + 567);
  assert.throws(() => parseStatCpuTicks('garbage'), /format/);
  assert.equal(parseVmRssKiB('Name:\tnode\nVmPeak:\t  100 kB\nVmRSS:\t   57600 kB\nRssAnon:\t 1 kB\n'), 57600);
  assert.throws(() => parseVmRssKiB('Name:\tkthread\n'), /VmRSS/);
  assert.equal(parseRssAnonKiB('VmRSS:\t   57600 kB\nRssAnon:\t   31000 kB\nRssFile:\t  26600 kB\n'), 31000);
  assert.throws(() => parseRssAnonKiB('VmRSS:\t   57600 kB\n'), /RssAnon/);
});

function sampleReport() {
  const meta: BenchMeta = { date: '2026-01-02T03:04:05.000Z', mode: 'quick', rounds: 3, iperfSeconds: 3, burst: 20, sessions: [], host: { cpus: '2' } };
  const s = new Samples();
  for (const v of [700, 740, 720]) s.add('tput.udp.p1.up', 'openvpn', v);
  for (const v of [360, 350, 370]) s.add('tput.udp.p1.up', 'nanovpn', v);
  s.add('tput.udp.p1.up', 'nanovpn', NaN);   // dropped
  s.add('ping.udp.idle.avg', 'openvpn', 1.5);
  s.add('ping.udp.idle.avg', 'nanovpn', 0.75);
  return buildReport(meta, ['openvpn', 'nanovpn'], metricDefs({ burst: 20, sessions: [] }), s, ['a note | with a pipe']);
}

test('buildReport summarizes per server and divides medians by OpenVPN', () => {
  const rep = sampleReport();
  const m = rep.metrics.find((x) => x.key === 'tput.udp.p1.up')!;
  assert.deepEqual(m.summary.openvpn, { median: 720, min: 700, max: 740, n: 3 });
  assert.deepEqual(m.summary.nanovpn, { median: 360, min: 350, max: 370, n: 3 });
  assert.equal(m.ratio.nanovpn, 0.5);
  assert.equal(m.ratio.openvpn, undefined);
  const missing = rep.metrics.find((x) => x.key === 'tput.tcp.p8.down')!;
  assert.deepEqual(missing.summary, {});
  assert.deepEqual(missing.ratio, {});
});

test('rangesSeparated: only disjoint min–max ranges with at least two samples on each side', () => {
  const S = (min: number, max: number, n = 3) => ({ median: (min + max) / 2, min, max, n });
  assert.equal(rangesSeparated(S(1, 2), S(3, 4)), true);
  assert.equal(rangesSeparated(S(3, 4), S(1, 2)), true);
  assert.equal(rangesSeparated(S(1, 3), S(3, 4)), false);   // touching is overlapping
  assert.equal(rangesSeparated(S(1, 5), S(2, 3)), false);
  assert.equal(rangesSeparated(S(1, 1, 1), S(3, 4)), false);
  assert.equal(rangesSeparated(undefined, S(3, 4)), false);
  const rep = sampleReport();
  assert.equal(rep.metrics.find((m) => m.key === 'tput.udp.p1.up')!.separated.nanovpn, true);
  assert.equal(rep.metrics.find((m) => m.key === 'ping.udp.idle.avg')!.separated.nanovpn, false);   // one sample each
  assert.match(renderTables(rep), /\| UDP, idle, avg \| ms ↓ \| 1\.50 \| 0\.75 \| 0\.50× \|/);
});

test('rebuildReport recomputes summaries, ratios and marks from the raw samples of a JSON report', () => {
  const rep = sampleReport();
  const old = JSON.parse(JSON.stringify(rep)) as typeof rep;
  for (const m of old.metrics) { m.summary = {}; m.ratio = {}; (m as { separated?: unknown }).separated = undefined; }
  assert.deepEqual(rebuildReport(old), rep);
});

test('metricDefs: every throughput cell, CPU cell, ping, connect, handshake and RSS figure', () => {
  assert.equal(THROUGHPUT_CELLS.length, 8);
  const keys = metricDefs({ burst: 100, sessions: [1000, 100] }).map((d) => d.key);
  assert.equal(new Set(keys).size, keys.length);
  for (const k of ['tput.tcp.p8.down', 'cpu.udp.p1.up', 'ping.tcp.load.p99', 'connect.udp', 'hs.tcp', 'rss.udp.0', 'rss.tcp.100', 'rss.udp.1000']) {
    assert.ok(keys.includes(k), k);
  }
  assert.equal(keys.filter((k) => k === 'rss.udp.100').length, 1);
});

test('renderTables: median (min–max), ratio, dash for missing cells, escaped pipes', () => {
  const md = renderTables(sampleReport());
  assert.match(md, /\| UDP, 1 stream, client→inet \| Mbit\/s ↑ \| 720 \(700–740\) \| 360 \(350–370\) \| 0\.50× † \|/);
  assert.match(md, /\| UDP, idle, avg \| ms ↓ \| 1\.50 \| 0\.75 \| 0\.50× \|/);
  assert.match(md, /\| TCP, 8 streams, inet→client \| Mbit\/s ↑ \| — \| — \| — \|/);
  assert.match(md, /\| {2}\| unit \| OpenVPN 2\.6 \| nanovpn \(NAT\) \| nanovpn \(NAT\) \/ OpenVPN \|\n\|---\|---\|--:\|--:\|--:\|/);
  const full = renderMarkdown(sampleReport());
  assert.match(full, /quick run: 3 interleaved rounds, iperf3 -t 3/);
  assert.match(full, /### Notes\n\n- a note \| with a pipe/);
});

test('renderRatioText lists only figures that have values, aligned', () => {
  const lines = renderRatioText(sampleReport()).split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^metric +OpenVPN +nanovpn \(NAT\) +ratio$/);
  assert.match(lines[1]!, /^UDP, 1 stream, client→inet \[Mbit\/s\] +720 +360 +0\.50× †$/);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1);
});

test('number formatting', () => {
  assert.equal(fmtNum(1474.4), '1474');
  assert.equal(fmtNum(56.25), '56.3');
  assert.equal(fmtNum(0.756), '0.76');
  assert.equal(fmtSummary(undefined), '—');
  assert.equal(fmtSummary({ median: 5, min: 5, max: 5, n: 3 }), '5.00');
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.alloc(0)), 0);
});

function chunks(png: Buffer): { type: string; data: Buffer; crcOk: boolean }[] {
  const out = [];
  let off = 8;
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    const crcOk = png.readUInt32BE(off + 8 + len) === crc32(png.subarray(off + 4, off + 8 + len));
    out.push({ type, data, crcOk });
    off += 12 + len;
  }
  return out;
}

test('encodePng: signature, IHDR, valid CRCs, and IDAT that inflates back to the filtered rows', () => {
  const rgb = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9, 1, 2, 3, 4, 5, 6]);   // 3x2
  const png = encodePng(3, 2, rgb);
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  const cs = chunks(png);
  assert.deepEqual(cs.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  assert.ok(cs.every((c) => c.crcOk));
  const ihdr = cs[0]!.data;
  assert.equal(ihdr.readUInt32BE(0), 3);
  assert.equal(ihdr.readUInt32BE(4), 2);
  assert.deepEqual([...ihdr.subarray(8)], [8, 2, 0, 0, 0]);
  assert.deepEqual(inflateSync(cs[1]!.data), Buffer.concat([Buffer.from([0]), rgb.subarray(0, 9), Buffer.from([0]), rgb.subarray(9)]));
  assert.throws(() => encodePng(2, 2, rgb), /expected 12 bytes/);
});

test('Canvas draws rectangles clipped to the image and text from the glyph table', () => {
  const c = new Canvas(10, 10);
  c.fillRect(8, 8, 5, 5, [1, 2, 3]);
  assert.deepEqual([...c.rgb.subarray((9 * 10 + 9) * 3, (9 * 10 + 9) * 3 + 3)], [1, 2, 3]);
  assert.deepEqual([...c.rgb.subarray((7 * 10 + 7) * 3, (7 * 10 + 7) * 3 + 3)], [255, 255, 255]);
  const t = new Canvas(6, 7);
  assert.equal(t.text(0, 0, 'i', [0, 0, 0]), 5);   // lower case draws the upper-case glyph
  for (let r = 0; r < 7; r++) {
    for (let col = 0; col < 5; col++) {
      const ink = t.rgb[(r * 6 + col) * 3] === 0;
      assert.equal(ink, GLYPHS.I![r]![col] === '#', `row ${r} col ${col}`);
    }
  }
  assert.equal(Canvas.textWidth('AB', 2), 22);
  for (const [ch, rows] of Object.entries(GLYPHS)) {
    assert.equal(rows.length, 7, ch);
    assert.ok(rows.every((r) => /^[.#]{5}$/.test(r)), ch);
  }
});

test('chart: nice axis steps and a decodable PNG of the sample report', () => {
  assert.deepEqual(niceAxis(1474), { top: 1500, step: 500 });
  assert.deepEqual(niceAxis(130), { top: 150, step: 50 });
  assert.deepEqual(niceAxis(0), { top: 1, step: 0.2 });
  const png = renderThroughputChart(sampleReport());
  const cs = chunks(png);
  assert.ok(cs.every((c) => c.crcOk));
  const w = cs[0]!.data.readUInt32BE(0), h = cs[0]!.data.readUInt32BE(4);
  assert.equal(inflateSync(cs[1]!.data).length, (w * 3 + 1) * h);
});

test('parseOptions: defaults, quick mode, flags, environment, errors', () => {
  const full = parseOptions([]);
  assert.deepEqual({ ...full }, { quick: false, rounds: 3, iperfSeconds: 8, burst: 100, sessions: [1000],
    connects: 10, tun: true, paths: ['a', 'b', 'c', 'd'], onlyPaths: false, pathImpair: 'auto', tcpCc: undefined, nanovpnLines: [], outDir: undefined });
  const q = parseOptions(['--quick']);
  assert.deepEqual([q.rounds, q.iperfSeconds, q.burst, q.sessions, q.connects], [1, 3, 20, [], 3]);
  const f = parseOptions(['--quick', '--rounds', '2', '--time', '5', '--sessions', '300,1000', '--no-tun', '--out', '/tmp/x']);
  assert.deepEqual([f.rounds, f.iperfSeconds, f.sessions, f.tun, f.outDir], [2, 5, [300, 1000], false, '/tmp/x']);
  assert.deepEqual(parseOptions(['--sessions', '0']).sessions, []);
  const e = parseOptions([], { BENCH_ROUNDS: '5', BENCH_TIME: '2', BENCH_NO_TUN: '1', BENCH_QUICK: '1' });
  assert.deepEqual([e.rounds, e.iperfSeconds, e.tun, e.quick], [5, 2, false, true]);
  assert.equal(parseOptions(['--rounds', '4'], { BENCH_ROUNDS: '5' }).rounds, 4);
  assert.throws(() => parseOptions(['--rounds', '0']), /--rounds needs an integer/);
  assert.throws(() => parseOptions(['--burst', '300']), /1\.\.250/);
  assert.throws(() => parseOptions(['--time']), /--time needs an integer/);
  assert.throws(() => parseOptions(['--fast']), /unknown argument '--fast'/);
  assert.equal(parseOptions(['--tcp-cc', 'cubic']).tcpCc, 'cubic');
  assert.equal(parseOptions([], { BENCH_TCP_CC: 'bbr' }).tcpCc, 'bbr');
  assert.throws(() => parseOptions(['--tcp-cc', 'cubic;reboot']), /--tcp-cc needs a congestion control name/);
  assert.deepEqual(parseOptions(['--nanovpn-line', 'nat-tcp-congestion bbr', '--nanovpn-line', 'nat-tcp-pacing on']).nanovpnLines,
    ['nat-tcp-congestion bbr', 'nat-tcp-pacing on']);
  assert.throws(() => parseOptions(['--nanovpn-line', 'a\nb']), /--nanovpn-line needs one config line/);
  assert.throws(() => parseOptions(['--nanovpn-line']), /--nanovpn-line needs one config line/);
});

test('parseOptions: the path matrix flags and their environment', () => {
  assert.deepEqual(parseOptions(['--quick']).paths, ['a', 'b', 'c', 'd']);
  assert.deepEqual(parseOptions(['--paths', 'D,a,a']).paths, ['d', 'a']);
  assert.deepEqual(parseOptions(['--paths', '0']).paths, []);
  assert.deepEqual(parseOptions(['--no-paths']).paths, []);
  assert.deepEqual(parseOptions([], { BENCH_PATHS: 'b,c' }).paths, ['b', 'c']);
  assert.deepEqual(parseOptions([], { BENCH_NO_PATHS: '1' }).paths, []);
  assert.deepEqual(parseOptions(['--paths', 'c'], { BENCH_NO_PATHS: '1' }).paths, ['c']);
  const only = parseOptions(['--only-paths', '--path-impair', 'bridge']);
  assert.deepEqual([only.onlyPaths, only.pathImpair], [true, 'bridge']);
  assert.deepEqual([parseOptions([], { BENCH_ONLY_PATHS: '1', BENCH_PATH_IMPAIR: 'netem' })].map((o) => [o.onlyPaths, o.pathImpair]), [[true, 'netem']]);
  assert.throws(() => parseOptions(['--paths', 'a,e']), /unknown path 'e'/);
  assert.throws(() => parseOptions(['--paths']), /--paths needs a value/);
  assert.throws(() => parseOptions(['--path-impair', 'tc']), /auto, bridge or netem/);
  assert.throws(() => parseOptions(['--only-paths', '--no-paths']), /nothing to measure/);
});

function counters(over: Partial<DirCounters> = {}): DirCounters {
  return { in: 10_000, inBytes: 1.4e7, lost: 100, duplicated: 0, queueDropped: 0, reorderChosen: 0, reordered: 0, scheduled: 9900,
    out: 9900, outBytes: 1.386e7, sendErrors: 0, ringFull: 0, oversize: 0, pending: 0, delaySumMs: 99_000, delayMinMs: 10,
    delayMaxMs: 11, latenessSumMs: 10, latenessMaxMs: 0.5, queueMaxMs: 0, peakMbit: 30, delayHist: [0, 1], ...over };
}
const bridgeReport = (up: Partial<DirCounters>, down: Partial<DirCounters> = {}): BridgeReport =>
  ({ seed: 1, seconds: 10, bucketsMs: [1], aToB: counters(up), bToA: counters(down) });

function pathReport() {
  const meta: BenchMeta = { date: '2026-01-02T03:04:05.000Z', mode: 'quick', rounds: 2, iperfSeconds: 3, burst: 20, sessions: [], host: { cpus: '2' }, onlyPaths: true };
  const s = new Samples();
  for (const v of [100, 110]) s.add('path.a.tput.udp.p1.up', 'openvpn', v);
  for (const v of [50, 60]) s.add('path.a.tput.udp.p1.up', 'nanovpn', v);
  for (const v of [250, 260]) s.add('path.c.tput.tcp.p1.down', 'openvpn', v);
  for (const v of [120, 130]) s.add('path.c.tput.tcp.p1.down', 'nanovpn', v);
  s.add('path.a.ping.udp.idle.avg', 'openvpn', 20.5);
  s.add('path.a.ping.udp.idle.avg', 'nanovpn', 21);
  // Path (a) as configured; path (c) with 1 % loss that it should not have had.
  const paths: PathsSection = {
    backend: 'bridge',
    ceiling: { mbit: { up: 300, down: 330, up8: 500, down8: 450 }, cpuShare: 0.634 },
    records: [
      checkPath({ ...PATHS.a, backend: 'bridge', sessions: [{ label: 'round 1, openvpn over udp', report: bridgeReport({}) }] }),
      checkPath({ ...PATHS.c, backend: 'bridge', sessions: [{ label: 'round 1, openvpn over tcp', report: bridgeReport({ delaySumMs: 9900 * 50 }, { lost: 100, delaySumMs: 9900 * 50 }) }] }),
    ],
  };
  return buildReport(meta, ['openvpn', 'nanovpn'], pathMetricDefs(['a', 'c'], true), s, [], paths);
}

test('pathMetricDefs: single-stream cells only in quick mode, all eight in full, pings per transport', () => {
  const quick = pathMetricDefs(['a'], true).map((d) => d.key);
  assert.deepEqual(quick.filter((k) => k.includes('.tput.')), ['path.a.tput.udp.p1.up', 'path.a.tput.udp.p1.down', 'path.a.tput.tcp.p1.up', 'path.a.tput.tcp.p1.down']);
  const full = pathMetricDefs(['a', 'b', 'c', 'd'], false);
  assert.equal(full.filter((d) => d.key.includes('.tput.')).length, 32);
  assert.equal(new Set(full.map((d) => d.key)).size, full.length);
  assert.ok(full.every((d) => d.group === 'path'));
  assert.ok(full.map((d) => d.key).includes('path.d.ping.tcp.load.p99'));
});

test('renderPathTables: path rows with the ratio, the ceiling mark, the spec check and the paths that missed it', () => {
  const rep = pathReport();
  const md = renderMarkdown(rep);
  assert.match(md, /quick run of the path matrix only: 2 interleaved rounds, iperf3 -t 3\./);
  assert.doesNotMatch(md, /handshake burst/);
  assert.doesNotMatch(md, /### Throughput/);
  assert.match(md, /Emulator ceiling .*client→srv 300 \/ 500 Mbit\/s, srv→client 330 \/ 450 Mbit\/s \(the bridge meanwhile used 63 % of a core\)\./);
  assert.match(md, /\| path \| cell \| unit \| OpenVPN 2\.6 \| nanovpn \(NAT\) \| nanovpn \(NAT\) \/ OpenVPN \|\n\|---\|---\|---\|--:\|--:\|--:\|/);
  assert.match(md, /\| \(a\) \| UDP, 1 stream, client→inet \| Mbit\/s ↑ \| 105 \(100–110\) \| 55\.0 \(50\.0–60\.0\) \| 0\.52× † \|/);
  // 260 of a 330 ceiling is past 70 %: marked; nanovpn's 130 is not.
  assert.match(md, /\| \(c\) \| TCP, 1 stream, inet→client \| Mbit\/s ↑ \| 255 \(250–260\) ‡ \| 125 \(120–130\) \| 0\.49× † \|/);
  assert.match(md, /‡ reached 70 % or more of the emulator's ceiling/);
  assert.match(md, /\| \(a\) \| UDP, ping idle, avg \| ms ↓ \| 20\.5 \| 21\.0 \| 1\.02× \|/);
  assert.match(md, /\| \(a\) 1 % loss, 20 ms RTT \| client→srv \| loss \| 1\.00 % \| 1\.00 % \(100 of 10000\) \| yes \|/);
  assert.match(md, /\| \(c\) 100 ms RTT, no loss \(long fat path\) \| srv→client \| loss \| 0\.00 % \| 1\.00 % \(100 of 10000\) \| \*\*no\*\* \|/);
  assert.match(md, /\*\*Paths that did not match their spec: \(c\)\.\*\*/);
  assert.equal(rep.paths!.records[0]!.ok, true);
  assert.equal(rep.paths!.records[1]!.ok, false);
  // A clean-path report has no path section at all.
  assert.doesNotMatch(renderMarkdown(sampleReport()), /Path matrix/);
});

test('rebuildReport keeps the path section; netem arguments and seeds of the matrix', () => {
  const rep = pathReport();
  assert.deepEqual(rebuildReport(JSON.parse(JSON.stringify(rep)) as typeof rep), rep);
  assert.deepEqual(netemArgs(PATHS.a.spec), ['netem', 'delay', '10ms', 'loss', '1%', 'limit', '100000']);
  assert.deepEqual(netemArgs(PATHS.b.spec), ['netem', 'delay', '25ms', '10ms', 'loss', '2%', 'duplicate', '1%', 'reorder', '5%', 'limit', '100000']);
  assert.deepEqual(netemArgs(PATHS.d.spec), ['netem', 'rate', '20mbit', 'limit', '83']);
  assert.equal(pathSeed('b', 'tcp', 2), pathSeed('b', 'tcp', 2));
  assert.equal(new Set(['a', 'b', 'c', 'd'].flatMap((p) => ['udp', 'tcp'].flatMap((t) => [0, 1, 2].map((r) => pathSeed(p as 'a', t as 'udp', r))))).size, 24);
});
