// The impairment bridge's scheduler (bench/lib/impair.c, `simulate` mode: the same decisions as the bridge, on a fake
// clock) against the rates of every path of the benchmark's matrix, and the checks that judge its counters.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveCommand } from '../helpers/netns.js';
import { bridgeArgs, checkDirection, PATH_IDS, PATHS, TRANSPARENT, type BridgeReport, type ImpairSpec } from '../../bench/lib/paths.js';

const SOURCE = fileURLToPath(new URL('../../bench/lib/impair.c', import.meta.url));
const skip = haveCommand('gcc') ? false : 'gcc is not installed';
let dir: string | undefined;
let binary = '';

test.before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'nanovpn-impair-'));
  binary = join(dir, 'impair');
  execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', binary, SOURCE]);
});
test.after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** `n` frames of `bytes` every `gapMs` in each direction. */
function simulate(spec: ImpairSpec, seed: number, n = 40_000, gapMs = 0.2, bytes = 1400): BridgeReport {
  const out = execFileSync(binary, ['simulate', String(n), String(gapMs), String(bytes), ...bridgeArgs(spec, seed)], { encoding: 'utf8' });
  return JSON.parse(out) as BridgeReport;
}

const within = (x: number, want: number, tol: number, what: string): void => {
  assert.ok(Math.abs(x - want) <= tol, `${what}: ${x} is not within ${tol} of ${want}`);
};

test('every path of the matrix: the scheduled loss, duplication, reordering, delay and bottleneck match the spec', { skip }, () => {
  for (const id of PATH_IDS) {
    for (const seed of [1, 2, 3]) {
      const r = simulate(PATHS[id].spec, seed);
      for (const c of [r.aToB, r.bToA]) {
        const failed = checkDirection(PATHS[id].spec, c).filter((x) => !x.ok);
        assert.deepEqual(failed, [], `path ${id} seed ${seed}`);
        assert.equal(c.in, 40_000);
        assert.equal(c.out, c.scheduled);
        assert.equal(c.out, c.in - c.lost + c.duplicated - c.queueDropped);
      }
    }
  }
});

test('loss, duplication and reordering rates from their own counts (independent of the report check)', { skip }, () => {
  const spec = PATHS.b.spec;
  const r = simulate(spec, 7, 100_000);
  for (const c of [r.aToB, r.bToA]) {
    within(c.lost / c.in, 0.02, 0.002, 'loss');
    within(c.duplicated / (c.in - c.lost), 0.01, 0.0015, 'duplication');
    within(c.reorderChosen / c.scheduled, 0.05, 0.003, 'reordering');
    // A frame every 0.2 ms against a 15-35 ms delay: a reordered copy always has frames held ahead of it.
    assert.equal(c.reordered, c.reorderChosen);
    // Reordered copies leave at once (bucket < 1 ms); the rest spread over the whole 15–35 ms range.
    const buckets = r.bucketsMs;
    const inRange = (lo: number, hi: number): number => c.delayHist
      .filter((_, i) => i > 0 && buckets[i - 1]! >= lo && (buckets[i] ?? Infinity) <= hi).reduce((a, b) => a + b, 0);
    assert.equal(c.delayHist[0], c.reorderChosen);
    assert.equal(inRange(15, 35), c.out - c.reorderChosen);
    assert.ok(inRange(15, 20) > 0.1 * c.out && inRange(30, 35) > 0.1 * c.out, `jitter spreads: ${c.delayHist.join(',')}`);
    assert.ok(c.delayMinMs >= 0 && c.delayMaxMs <= 35);
    within(c.delaySumMs / (c.out - c.reorderChosen), 25, 1.5, 'mean delay of the delayed copies');
  }
});

test('jitter alone never reorders, and a plain delay is exact', { skip }, () => {
  const r = simulate({ ...TRANSPARENT, delayMs: 25, jitterMs: 10 }, 3);
  assert.equal(r.aToB.reorderChosen, 0);
  assert.equal(r.aToB.reordered, 0);
  const c = simulate(PATHS.c.spec, 3).aToB;
  assert.equal(c.lost + c.duplicated + c.reorderChosen + c.queueDropped, 0);
  within(c.delayMinMs, 50, 0.001, 'min delay');
  within(c.delayMaxMs, 50, 0.001, 'max delay');
});

test('the bottleneck: serializes at its rate, tail-drops what would wait longer than the queue', { skip }, () => {
  // 1400 bytes every 0.2 ms offer 56 Mbit/s to a 20 Mbit/s bottleneck with a 50 ms queue.
  const r = simulate(PATHS.d.spec, 1, 50_000);
  for (const c of [r.aToB, r.bToA]) {
    within((c.outBytes * 8) / r.seconds / 1e6, 20, 0.2, 'achieved rate');
    within(c.queueDropped / c.in, 1 - 20 / 56, 0.01, 'share tail-dropped');
    assert.ok(c.queueMaxMs <= 50 + (1400 * 8) / 20e3 + 1e-6, `longest wait ${c.queueMaxMs}`);
    assert.ok(c.peakMbit <= 20.02);
  }
  // Under the rate nothing waits for long or is dropped.
  const light = simulate(PATHS.d.spec, 1, 5000, 1).aToB;
  assert.equal(light.queueDropped, 0);
  assert.ok(light.delayMaxMs < 1);
});

test('the same seed gives the same decisions, another seed other ones, and each direction has its own stream', { skip }, () => {
  const a = simulate(PATHS.b.spec, 11, 20_000);
  assert.deepEqual(simulate(PATHS.b.spec, 11, 20_000), a);
  const b = simulate(PATHS.b.spec, 12, 20_000);
  assert.notDeepEqual([b.aToB.lost, b.aToB.duplicated, b.aToB.reorderChosen], [a.aToB.lost, a.aToB.duplicated, a.aToB.reorderChosen]);
  assert.notDeepEqual([a.bToA.lost, a.bToA.duplicated, a.bToA.reorderChosen], [a.aToB.lost, a.aToB.duplicated, a.aToB.reorderChosen]);
});

test('bad arguments are refused with a reason', { skip }, () => {
  for (const args of [['simulate', '10', '1', '100', 'lose=0.1'], ['simulate', '10', '1', '100', 'loss=2'], ['simulate', '10', '1', '100', 'delay=x'], ['frobnicate']]) {
    const r = spawnSync(binary, args, { encoding: 'utf8' });
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /impair: |usage: /);
  }
});

test('checkDirection reports a path that missed its spec', () => {
  const spec = PATHS.a.spec;
  const base = { in: 10_000, inBytes: 0, lost: 100, duplicated: 0, queueDropped: 0, reorderChosen: 0, reordered: 0, scheduled: 9900,
    out: 9900, outBytes: 0, sendErrors: 0, ringFull: 0, oversize: 0, pending: 0, delaySumMs: 9900 * 10.2, delayMinMs: 10, delayMaxMs: 12,
    latenessSumMs: 9900 * 0.2, latenessMaxMs: 2, queueMaxMs: 0, peakMbit: 1, delayHist: [] };
  assert.ok(checkDirection(spec, base).every((x) => x.ok));
  const bad = (over: Partial<typeof base>): string[] => checkDirection(spec, { ...base, ...over }).filter((x) => !x.ok).map((x) => x.what);
  assert.deepEqual(bad({ lost: 300 }), ['loss']);
  assert.deepEqual(bad({ delaySumMs: 9900 * 14 }), ['delay (mean, min–max)']);
  assert.deepEqual(bad({ latenessSumMs: 9900 * 3 }), ['bridge lateness (mean, max)']);
  assert.deepEqual(bad({ sendErrors: 4 }), ['frames the bridge itself failed to carry']);
  const d = PATHS.d.spec;
  const dOk = { ...base, lost: 0, delaySumMs: 9900 * 20, peakMbit: 20, queueMaxMs: 50.5 };
  assert.ok(checkDirection(d, dOk).every((x) => x.ok));
  assert.deepEqual(checkDirection(d, { ...dOk, peakMbit: 23 }).filter((x) => !x.ok).map((x) => x.what), ['bottleneck (peak 1 s rate, longest wait)']);
});
