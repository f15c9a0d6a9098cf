// The driver: one clock, one timer for every machine's next deadline, and once-per-turn batch work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Driver, Wakeup } from '../../src/io/driver.js';

/** Counts the driver's setTimeout and clearTimeout calls (its timer is unref'd, so active-handle lists miss it). */
function spyTimers(t: { after(fn: () => void): void }): { set: number; cleared: number } {
  const calls = { set: 0, cleared: 0 };
  const { setTimeout: set, clearTimeout: clear } = globalThis;
  globalThis.setTimeout = ((...a: Parameters<typeof set>) => { calls.set++; return set(...a); }) as typeof set;
  globalThis.clearTimeout = ((h: Parameters<typeof clear>[0]) => { calls.cleared++; clear(h); }) as typeof clear;
  t.after(() => { globalThis.setTimeout = set; globalThis.clearTimeout = clear; });
  return calls;
}
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** The driver's timer is unref'd (sockets keep a server alive); a test holds the event loop open itself. */
function holdLoop(t: { after(fn: () => void): void }): void {
  const keep = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keep));
}

test('a hundred machines with deadlines share one timer and fire in deadline order, never early', async (t) => {
  holdLoop(t);
  const timers = spyTimers(t);
  const d = new Driver();
  const fired: { i: number; at: number; now: number }[] = [];
  const t0 = d.now();
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < 100; i++) {
      const at = t0 + 5 + (i % 10) * 2;
      const w = new Wakeup((now) => { fired.push({ i, at, now }); if (fired.length === 100) resolve(); });
      d.wakeAt(w, at);
    }
  });
  assert.equal(timers.set, 1, 'one timer for all of them');
  await done;
  assert.equal(fired.length, 100);
  for (const f of fired) assert.ok(f.now >= f.at, `machine ${f.i} fired before its deadline`);
  for (let k = 1; k < fired.length; k++) assert.ok(fired[k]!.at >= fired[k - 1]!.at, 'deadline order');
  assert.equal(d.pending, 0);
  d.stop();
});

test('moving a deadline earlier re-arms; clearing it (undefined) means it does not fire', async (t) => {
  holdLoop(t);
  const timers = spyTimers(t);
  const d = new Driver();
  let a = 0, b = 0;
  const wa = new Wakeup(() => { a++; });
  const wb = new Wakeup(() => { b++; });
  d.wakeAt(wa, d.now() + 60_000);
  d.wakeAt(wa, d.now() + 1);
  d.wakeAt(wb, d.now() + 1);
  d.wakeAt(wb, undefined);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(a, 1);
  assert.equal(b, 0);
  const { set, cleared } = timers;
  d.wakeAt(wb, d.now() + 60_000);
  assert.equal(timers.set, set + 1);
  d.wakeAt(wb, undefined);
  assert.equal(timers.cleared, cleared + 1, 'with nothing queued the timer is cleared');
  d.stop();
});

test('a machine that asks again for a time already past runs on the next turn, not in a loop', async () => {
  const d = new Driver();
  let calls = 0;
  const w: Wakeup = new Wakeup((now) => { calls++; if (calls < 3) d.wakeAt(w, now - 1); });
  d.wakeAt(w, d.now());
  await turn();
  assert.equal(calls, 1);
  await turn();
  await turn();
  assert.equal(calls, 3);
  d.stop();
});

test('endOfTurn runs each batch once per turn however often it is asked; stop() cancels what is pending', async () => {
  const d = new Driver();
  let n = 0;
  const batch = (): void => { n++; };
  for (let i = 0; i < 10; i++) d.endOfTurn(batch);
  await turn();
  await turn();
  assert.equal(n, 1);
  let late = 0;
  d.endOfTurn(() => { late++; });
  d.wakeAt(new Wakeup(() => { late++; }), d.now());
  d.stop();
  await turn();
  await turn();
  assert.equal(late, 0);
  assert.equal(d.pending, 0);
});
