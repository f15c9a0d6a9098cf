// The half-open tracker (src/core/transport/half-open.ts): absolute hand-window deadlines from accept, and a cap
// that evicts the oldest connection of the heaviest source address instead of refusing the newcomer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HALF_OPEN_CAP_FLOOR, halfOpenCapFor, HalfOpenTracker, sourceGroup } from '../../src/core/transport/half-open.js';

const W = 60_000;
const tracker = (cap = 4, windowMs = W) => new HalfOpenTracker<string>({ windowMs, cap });

// ---- deadlines --------------------------------------------------------------------------------------------------

test('deadline edges: nothing at admission + window - 1, the connection at admission + window', () => {
  const h = tracker();
  h.admit('a', '10.0.0.1', 1000);
  assert.equal(h.nextDeadline(), 1000 + W);
  assert.deepEqual(h.expire(1000 + W - 1), []);
  assert.ok(h.has('a'));
  assert.deepEqual(h.expire(1000 + W), ['a']);
  assert.equal(h.has('a'), false);
  assert.equal(h.nextDeadline(), undefined);
  assert.deepEqual(h.expire(10 * W), [], 'an expired connection is returned once');
});

test('the deadline is absolute: nothing the connection does moves it (only admit, delete and expire exist)', () => {
  // The io layer used to re-arm an idle timer on every byte; here a byte has no entry point at all, so a dribbling
  // connection admitted at 0 is due at W however many times expire() is called in between.
  const h = tracker();
  h.admit('dribbler', '10.0.0.1', 0);
  for (let t = 0; t < W; t += 1000) assert.deepEqual(h.expire(t), [], `at ${t}`);
  assert.deepEqual(h.expire(W), ['dribbler']);
});

test('expire returns every due connection oldest first and leaves the rest with the next deadline', () => {
  const h = tracker(10);
  h.admit('a', '10.0.0.1', 0);
  h.admit('b', '10.0.0.2', 10);
  h.admit('c', '10.0.0.1', 20);
  h.admit('d', '10.0.0.3', 30);
  assert.deepEqual(h.expire(W + 20), ['a', 'b', 'c']);
  assert.equal(h.nextDeadline(), W + 30);
  assert.equal(h.countFrom('10.0.0.1'), 0);
  assert.equal(h.size, 1);
});

test('a connection that settles (established) or closes before its deadline is never expired', () => {
  const h = tracker();
  h.admit('ok', '10.0.0.1', 0);
  h.admit('gone', '10.0.0.2', 5);
  h.admit('late', '10.0.0.3', 10);
  assert.equal(h.delete('ok'), true);
  assert.equal(h.delete('gone'), true);
  assert.equal(h.delete('gone'), false, 'deleting twice is harmless');
  assert.equal(h.nextDeadline(), 10 + W, 'the earliest remaining deadline');
  assert.deepEqual(h.expire(2 * W), ['late']);
});

// ---- the cap --------------------------------------------------------------------------------------------------

test('below the cap nothing is evicted; at the cap the newcomer is admitted and one connection leaves', () => {
  const h = tracker(3);
  assert.equal(h.admit('a', '10.0.0.1', 0), undefined);
  assert.equal(h.admit('b', '10.0.0.2', 1), undefined);
  assert.equal(h.admit('c', '10.0.0.3', 2), undefined);
  assert.equal(h.admit('d', '10.0.0.4', 3), 'a', 'one connection each: the oldest leaves');
  assert.equal(h.size, 3);
  assert.ok(h.has('d'), 'the newcomer is never the one refused');
  assert.equal(h.has('a'), false);
});

test('a flood from one address only evicts its own connections, whatever its rate', () => {
  const h = tracker(16);
  h.admit('client', '192.0.2.50', 0);               // a legitimate client mid-handshake, oldest of all
  for (let i = 0; i < 10_000; i++) {
    const ev = h.admit(`flood${i}`, '198.51.100.9', 1 + i / 1000);
    if (ev !== undefined) assert.match(ev, /^flood/, `admission ${i} evicted ${ev}`);
  }
  assert.ok(h.has('client'));
  assert.equal(h.size, 16);
  assert.equal(h.countFrom('198.51.100.9'), 15);
  assert.ok(h.has('flood9999') && h.has('flood9985') && !h.has('flood9984'), 'the flood keeps its 15 newest');
});

test('heaviest address first; among equally heavy addresses, the one whose oldest connection is oldest', () => {
  const h = tracker(6);
  h.admit('x1', 'X', 0);
  h.admit('y1', 'Y', 1);
  h.admit('z1', 'Z', 2);
  h.admit('y2', 'Y', 3);
  h.admit('x2', 'X', 4);
  h.admit('w1', 'W', 5);                             // X: x1 x2, Y: y1 y2, Z: z1, W: w1
  assert.equal(h.admit('v1', 'V', 6), 'x1', 'X and Y hold two each; X holds the oldest');
  assert.equal(h.admit('v2', 'V', 7), 'y1', 'now only Y holds two');
  // X: x2, Y: y2, Z: z1, W: w1, V: v1 v2
  assert.equal(h.admit('u1', 'U', 8), 'v1', 'V is the heaviest, though its connections are the newest');
  // X: x2, Y: y2, Z: z1, W: w1, V: v2, U: u1 — one each: oldest overall
  assert.equal(h.admit('u2', 'U', 9), 'z1');
});

test('a flood from many addresses with one connection each degrades to oldest-first', () => {
  const h = tracker(8);
  const evicted: string[] = [];
  for (let i = 0; i < 20; i++) {
    const ev = h.admit(`c${i}`, `10.0.${i}.1`, i);
    if (ev) evicted.push(ev);
  }
  assert.deepEqual(evicted, Array.from({ length: 12 }, (_, i) => `c${i}`));
});

test('cap 1: every newcomer replaces the one half-open connection', () => {
  const h = tracker(1);
  assert.equal(h.admit('a', 'A', 0), undefined);
  assert.equal(h.admit('b', 'A', 1), 'a');
  assert.equal(h.admit('c', 'B', 2), 'b');
  assert.equal(h.size, 1);
});

test('admitting a tracked key twice is a programmer error; bad options are refused', () => {
  const h = tracker();
  h.admit('a', 'A', 0);
  assert.throws(() => h.admit('a', 'A', 1), /twice/);
  assert.throws(() => new HalfOpenTracker({ windowMs: 0, cap: 1 }), RangeError);
  assert.throws(() => new HalfOpenTracker({ windowMs: 1, cap: 0 }), RangeError);
  assert.throws(() => new HalfOpenTracker({ windowMs: 1, cap: 1.5 }), RangeError);
});

test('halfOpenCapFor: max-clients, with a floor', () => {
  assert.equal(halfOpenCapFor(1024), 1024);
  assert.equal(halfOpenCapFor(4), HALF_OPEN_CAP_FLOOR);
  assert.equal(halfOpenCapFor(1), HALF_OPEN_CAP_FLOOR);
});

// ---- differential test against an obvious model -----------------------------------------------------------------

interface ModelEntry { key: string; addr: string; at: number; seq: number }

/** The rules spelled out with arrays and full scans. */
class Model {
  entries: ModelEntry[] = [];
  private seq = 0;
  constructor(readonly cap: number, readonly windowMs: number) {}
  admit(key: string, addr: string, at: number): string | undefined {
    let victim: string | undefined;
    if (this.entries.length >= this.cap) {
      const counts = new Map<string, number>();
      for (const e of this.entries) counts.set(e.addr, (counts.get(e.addr) ?? 0) + 1);
      const max = Math.max(...counts.values());
      const v = this.entries.filter((e) => counts.get(e.addr) === max).sort((a, b) => a.seq - b.seq)[0]!;
      victim = v.key;
      this.delete(victim);
    }
    this.entries.push({ key, addr, at, seq: this.seq++ });
    return victim;
  }
  delete(key: string): boolean {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }
  expire(now: number): string[] {
    const due = this.entries.filter((e) => e.at + this.windowMs <= now).map((e) => e.key);
    for (const k of due) this.delete(k);
    return due;
  }
  nextDeadline(): number | undefined {
    return this.entries.length ? Math.min(...this.entries.map((e) => e.at + this.windowMs)) : undefined;
  }
}

test('random admit/delete/expire sequences match the model (eviction choice, deadlines, counts)', () => {
  const op = fc.oneof(
    fc.record({ t: fc.constant('admit' as const), addr: fc.integer({ min: 0, max: 5 }), dt: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ t: fc.constant('delete' as const), pick: fc.nat() }),
    fc.record({ t: fc.constant('expire' as const), dt: fc.integer({ min: 0, max: 1500 }) }),
  );
  fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.array(op, { maxLength: 200 }), (cap, ops) => {
    const windowMs = 1000;
    const h = new HalfOpenTracker<string>({ windowMs, cap });
    const m = new Model(cap, windowMs);
    let now = 0;
    let n = 0;
    for (const o of ops) {
      if (o.t === 'admit') {
        now += o.dt;
        const key = `k${n++}`;
        assert.equal(h.admit(key, `a${o.addr}`, now), m.admit(key, `a${o.addr}`, now));
      } else if (o.t === 'delete') {
        const key = `k${n === 0 ? 0 : o.pick % n}`;
        assert.equal(h.delete(key), m.delete(key));
      } else {
        now += o.dt;
        assert.deepEqual(h.expire(now), m.expire(now));
      }
      assert.equal(h.size, m.entries.length);
      assert.ok(h.size <= cap);
      assert.equal(h.nextDeadline(), m.nextDeadline());
      for (let a = 0; a <= 5; a++) assert.equal(h.countFrom(`a${a}`), m.entries.filter((e) => e.addr === `a${a}`).length);
    }
  }), { numRuns: 500 });
});

test('sourceGroup: IPv4 as is, IPv4-mapped as IPv4, IPv6 as its /64 however it is written', () => {
  assert.equal(sourceGroup('198.19.2.2'), '198.19.2.2');
  assert.equal(sourceGroup('::ffff:198.19.2.2'), '198.19.2.2');
  assert.equal(sourceGroup('::FFFF:198.19.2.2'), '198.19.2.2');
  assert.equal(sourceGroup('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(sourceGroup('2001:0db8:0000:0001:ffff:ffff:ffff:ffff'), '2001:db8:0:1::/64');
  assert.equal(sourceGroup('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(sourceGroup('2001:db8:0:0:1::'), '2001:db8:0:0::/64');
  assert.equal(sourceGroup('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(sourceGroup('::1'), '0:0:0:0::/64');
  assert.equal(sourceGroup('64:ff9b::198.51.100.1'), '64:ff9b:0:0::/64');
  assert.notEqual(sourceGroup('2001:db8:0:1::5'), sourceGroup('2001:db8:0:2::5'));
  assert.equal(sourceGroup('not-an-address'), 'not-an-address');
  assert.equal(sourceGroup('1::2::3'), '1::2::3', 'malformed text stays as it is');
});

test('a flood from one IPv6 /64 with a new address per connection only evicts its own connections', () => {
  const t = tracker(4);
  t.admit('client', '2001:db8:1::7', 0);
  for (let i = 0; i < 50; i++) {
    const victim = t.admit(`f${i}`, `2001:db8:0:1::${(i + 1).toString(16)}`, i + 1);
    if (i >= 3) assert.match(String(victim), /^f/, `eviction ${i} took ${victim}`);
  }
  assert.equal(t.expire(W).includes('client'), true, 'the client stayed half-open until its own deadline');
});
