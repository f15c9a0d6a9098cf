// idle-memory.ts: when the server gives memory back (IdleTrimPolicy), and that a trim collects and shrinks V8's
// young generation once the allocation rate is low.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { IdleTrimPolicy, startIdleTrim } from '../../src/io/idle-memory.js';
import { loadUdpAddon } from '../../src/io/udp-port.js';

const O = { busy: 0.05, quiet: 0.02, quietTicks: 2 };
/** The ticks (1-based) at which the policy says trim, for a run of utilizations. */
const trimsAt = (p: IdleTrimPolicy, us: number[]): number[] => us.flatMap((u, i) => (p.tick(u) ? [i + 1] : []));

test('a fresh server that never got busy is never trimmed', () => {
  assert.deepEqual(trimsAt(new IdleTrimPolicy(O), Array<number>(20).fill(0.001)), []);
});

test('after a busy stretch: trims after 2 and 4 quiet ticks, then nothing until busy again', () => {
  const p = new IdleTrimPolicy(O);
  assert.deepEqual(trimsAt(p, [0.5, 0.3, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]), [4, 6]);
  assert.deepEqual(trimsAt(p, [0.2, 0, 0, 0, 0]), [3, 5], 'the next busy stretch arms it again');
});

test('a tick between quiet and busy restarts the quiet count without arming; a busy tick between the trims re-arms both', () => {
  const p = new IdleTrimPolicy(O);
  assert.deepEqual(trimsAt(p, [0.9, 0.01, 0.03, 0.01, 0.01, 0.03, 0.01, 0.01]), [5, 8]);
  const q = new IdleTrimPolicy(O);
  assert.deepEqual(trimsAt(q, [0.9, 0, 0, 0.9, 0, 0, 0, 0]), [3, 6, 8]);
});

test('trim(): spare buffers released, a full collection, malloc_trim when the udp addon is built', () => {
  let released = 0;
  const idle = startIdleTrim(() => { released++; }, O);
  try {
    const r = idle.trim();
    assert.equal(released, 1);
    assert.equal(typeof r.gcMs, 'number', 'gc() was reachable at run time');
    if ('mod' in loadUdpAddon()) {
      assert.equal(typeof r.mallocTrimMs, 'number');
      assert.equal(typeof r.mallocTrimmed, 'boolean');
    } else {
      assert.equal(r.mallocTrimMs, undefined);
    }
  } finally {
    idle.stop();
  }
});

test('a trim after a quiet stretch shrinks the young generation a burst of allocation grew', async () => {
  const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;
  const idle = startIdleTrim(() => {}, O);
  try {
    const floor = newSpace();
    let keep: object[] = [];
    for (let i = 0; i < 3e6; i++) { keep.push({ i, s: `x${i}` }); if (keep.length > 50_000) keep = []; }
    const grown = newSpace();
    assert.ok(grown > floor, `the burst grew new space: ${floor} -> ${grown}`);
    // V8 shrinks it in a collection whose interval since the previous one allocated little (judged over 5 s).
    idle.trim();
    await new Promise((r) => setTimeout(r, 6_000));
    idle.trim();
    assert.ok(newSpace() < grown, `new space ${grown} -> ${newSpace()} bytes`);
    assert.ok(keep.length > 0);
  } finally {
    idle.stop();
  }
});
