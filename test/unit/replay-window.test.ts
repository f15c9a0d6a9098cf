import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplayWindow } from '../../src/core/session/replay-window.js';

type Step = [pid: number, nowMs: number, accept: boolean, time?: number];

/** Feeds the steps in order; an accepted pid is marked, as the data channel does after authentication. */
function run(w: ReplayWindow, steps: Step[]): void {
  steps.forEach(([pid, now, accept, time], i) => {
    assert.equal(w.check(pid, now, time), accept, `step ${i}: pid ${pid} at ${now}ms (time ${time ?? 0})`);
    if (accept) w.mark(pid, now, time);
  });
}

test('in-order pids are accepted, duplicates rejected, 0 never valid', () => {
  run(new ReplayWindow(), [
    [0, 0, false], [1, 0, true], [1, 0, false], [2, 0, true], [3, 0, true], [2, 0, false], [0, 0, false],
  ]);
});

test('check alone does not record', () => {
  const w = new ReplayWindow();
  assert.equal(w.check(5, 0), true);
  assert.equal(w.check(5, 0), true);
  w.mark(5, 0);
  assert.equal(w.check(5, 0), false);
});

test('64-packet window: old pid inside is accepted once, at the edge rejected', () => {
  run(new ReplayWindow(64, 15), [
    [100, 0, true],
    [37, 0, true],    // 100 - 37 = 63 < 64
    [37, 0, false],   // once only
    [36, 0, false],   // 100 - 36 = 64: outside
    [99, 0, true],
    [101, 0, true],
    [37, 0, false],
    [38, 0, true],    // 101 - 38 = 63
    [37 + 64 + 64, 0, true], // a jump of more than the window forgets everything below
    [101, 0, false],
    [165, 0, false],  // duplicate of the jump target
    [164, 0, true],
  ]);
});

test('gaps left by a jump are fresh', () => {
  run(new ReplayWindow(8, 15), [
    [1, 0, true], [2, 0, true], [6, 0, true], [3, 0, true], [4, 0, true], [5, 0, true], [2, 0, false],
    [14, 0, true], [6, 0, false], [7, 0, true], [13, 0, true], [7, 0, false],
  ]);
});

test('pids below the first one seen are accepted within the window', () => {
  run(new ReplayWindow(), [[50, 0, true], [1, 0, true], [1, 0, false], [49, 0, true]]);
});

test('15-second rule: reordering is tolerated only while newer pids are younger than 15 s', () => {
  run(new ReplayWindow(64, 15), [
    [10, 0, true],
    [8, 15_000, true],    // pid 10 arrived exactly 15 s ago: still tolerated
    [12, 15_000, true],
    [9, 15_001, false],   // pid 10 arrived 15.001 s ago
    [11, 15_001, true],   // only pid 12 (1 ms old) is above 11
    [13, 30_002, true],   // newer pids are always fine
    [7, 30_002, false],   // above 7: pids 8..13 include 10 (30 s old)
  ]);
});

test('seconds <= 0 disables the time rule', () => {
  run(new ReplayWindow(64, 0), [[10, 0, true], [5, 10_000_000, true], [5, 10_000_001, false]]);
});

test('window of 1 accepts only increasing pids', () => {
  run(new ReplayWindow(1, 15), [[1, 0, true], [3, 0, true], [2, 0, false], [3, 0, false], [4, 0, true]]);
});

test('u32 edges: 0xFFFFFFFF is the last valid pid, nothing wraps to small pids', () => {
  run(new ReplayWindow(), [
    [0xfffffffe, 0, true], [0xffffffff, 0, true], [0xffffffff, 0, false], [0xfffffffe, 0, false],
    [1, 0, false], [0xffffffff - 63, 0, true], [0xffffffff - 64, 0, false],
    [0x100000000, 0, false], [-1, 0, false], [1.5, 0, false], [NaN, 0, false],
  ]);
});

test('mark ignores invalid or out-of-window pids', () => {
  const w = new ReplayWindow(8, 15);
  w.mark(0, 0);
  w.mark(-3, 0);
  w.mark(0x100000000, 0);
  assert.equal(w.highestPid, 0);
  w.mark(100, 0);
  w.mark(50, 0);               // far below the window: no effect
  assert.equal(w.check(99, 0), true);
  assert.equal(w.highestPid, 100);
});

test('epochs (tls-auth/tls-crypt replay_time): older rejected, newer restarts the window', () => {
  run(new ReplayWindow(), [
    [1, 0, true, 1000], [2, 0, true, 1000], [1, 0, false, 1000],
    [5, 0, false, 999],          // older epoch
    [1, 0, true, 1001],          // newer epoch: a fresh window
    [2, 0, true, 1001],
    [3, 0, false, 1000],         // the old epoch is now stale
    [2, 0, false, 1001],
  ]);
});

test('constructor validates the size', () => {
  assert.throws(() => new ReplayWindow(0));
  assert.throws(() => new ReplayWindow(1.5));
  assert.throws(() => new ReplayWindow(65537));
  assert.doesNotThrow(() => new ReplayWindow(65536));
});

/** Obviously-correct model: every recorded pid with its arrival time. */
class ModelWindow {
  private seen = new Map<number, number>();
  private highest = 0;
  private epoch = 0;
  constructor(private size: number, private seconds: number) {}
  check(pid: number, now: number, time: number): boolean {
    if (!Number.isInteger(pid) || pid < 1 || pid > 0xffffffff) return false;
    if (time < this.epoch) return false;
    if (time > this.epoch || pid > this.highest) return true;
    if (this.highest - pid >= this.size || this.seen.has(pid)) return false;
    for (const [q, at] of this.seen) if (q > pid && q <= this.highest && at < now - this.seconds * 1000) return false;
    return true;
  }
  mark(pid: number, now: number, time: number): void {
    if (time > this.epoch) { this.epoch = time; this.highest = 0; this.seen.clear(); }
    if (pid > this.highest) this.highest = pid;
    if (!this.seen.has(pid)) this.seen.set(pid, now);
  }
}

test('property: agrees with a simple model on random traffic', () => {
  const op = fc.record({
    pidDelta: fc.integer({ min: -80, max: 20 }),
    dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1_500 }), fc.integer({ min: 0, max: 20_000 })),
    bumpEpoch: fc.boolean(),
    jump: fc.boolean(),
  });
  const seconds = fc.constantFrom(15, 1, 0);
  fc.assert(fc.property(fc.integer({ min: 1, max: 70 }), seconds, fc.array(op, { maxLength: 300 }), (size, secs, ops) => {
    const w = new ReplayWindow(size, secs);
    const m = new ModelWindow(size, secs > 0 ? secs : Infinity);
    let now = 0, pid = 1, epoch = 7;
    for (const o of ops) {
      now += o.dt;
      pid = Math.max(1, pid + o.pidDelta + (o.jump ? 1000 : 0));
      const time = o.bumpEpoch && o.dt > 10_000 ? ++epoch : o.bumpEpoch && o.pidDelta < -70 ? epoch - 1 : epoch;
      const want = m.check(pid, now, time);
      assert.equal(w.check(pid, now, time), want);
      if (want) { w.mark(pid, now, time); m.mark(pid, now, time); }
    }
  }), { numRuns: 1000 });
});
