import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DropSummary } from '../../src/core/transport/drop-summary.js';

const BAD = 'packet failed tls-auth/tls-crypt verification';
const PORTS = 'first packet with a nonzero key id';

// ---- reason keys (unauthenticated drops) ------------------------------------------------------------------------

test('the first drop of a quiet reason is reported at once; the rest of its interval is only counted', () => {
  const d = new DropSummary({ intervalMs: 10_000 });
  assert.deepEqual(d.note(BAD, 'a:1', 0), { reason: BAD, count: 1, sample: 'a:1' });
  for (let p = 2; p <= 20_001; p++) assert.equal(d.note(BAD, `a:${p}`, 5), undefined);
  assert.equal(d.size, 1, 'one key per reason, whatever the source addresses');
});

test('deadline edges: nothing at interval - 1, one summary at the interval, then the next interval', () => {
  const d = new DropSummary({ intervalMs: 10_000 });
  d.note(BAD, 'a:1', 1000);
  d.note(BAD, 'a:2', 2000);
  d.note(BAD, 'a:3', 3000);
  assert.equal(d.nextDeadline(), 11_000);
  assert.deepEqual(d.poll(10_999), []);
  assert.deepEqual(d.poll(11_000), [{ reason: BAD, count: 2, sample: 'a:2', intervalMs: 10_000 }]);
  assert.equal(d.nextDeadline(), 21_000, 'the key stays open for one more interval');
  d.note(BAD, 'a:4', 15_000);
  assert.deepEqual(d.poll(20_999), []);
  assert.deepEqual(d.poll(21_500), [{ reason: BAD, count: 1, sample: 'a:4', intervalMs: 10_500 }]);
});

test('an interval without drops closes the key, and the next drop is reported at once again', () => {
  const d = new DropSummary({ intervalMs: 10_000 });
  d.note(BAD, 'a:1', 0);
  assert.deepEqual(d.poll(10_000), []);
  assert.equal(d.size, 0);
  assert.equal(d.nextDeadline(), undefined);
  assert.deepEqual(d.note(BAD, 'b:1', 12_000), { reason: BAD, count: 1, sample: 'b:1' });
});

test('reasons are summarized apart, each with its own deadline', () => {
  const d = new DropSummary({ intervalMs: 10_000 });
  assert.ok(d.note(BAD, 'a:1', 0));
  assert.ok(d.note(PORTS, 'b:1', 4000));
  d.note(BAD, 'a:2', 5000);
  d.note(PORTS, 'b:2', 6000);
  d.note(PORTS, 'b:3', 7000);
  assert.equal(d.nextDeadline(), 10_000);
  assert.deepEqual(d.poll(10_000), [{ reason: BAD, count: 1, sample: 'a:2', intervalMs: 10_000 }]);
  assert.equal(d.nextDeadline(), 14_000);
  assert.deepEqual(d.poll(14_000), [{ reason: PORTS, count: 2, sample: 'b:2', intervalMs: 10_000 }]);
});

test('a flood of 100k drops from 20k ports over 60 s gives one line per reason per interval', () => {
  const d = new DropSummary({ intervalMs: 10_000 });
  let lines = 0;
  for (let i = 0; i < 100_000; i++) {
    const t = i * 0.6;   // 60 s
    if (d.note(i % 2 ? BAD : PORTS, `198.51.100.7:${1024 + (i % 20_000)}`, t)) lines++;
    if (d.nextDeadline()! <= t) lines += d.poll(t).length;
  }
  lines += d.flush(60_000).length;
  assert.ok(lines <= 2 * (1 + 6 + 1), `${lines} lines`);
  assert.deepEqual(d.countsByReason(), { [PORTS]: 50_000, [BAD]: 50_000 });
});

test('flush reports what is pending whatever the deadline, and closes every key', () => {
  const d = new DropSummary({ intervalMs: 10_000 });
  d.note(BAD, 'a:1', 0);
  d.note(BAD, 'a:2', 1);
  d.note(PORTS, 'b:1', 2);
  assert.deepEqual(d.flush(3000), [{ reason: BAD, count: 1, sample: 'a:2', intervalMs: 3000 }]);
  assert.equal(d.size, 0);
  assert.equal(d.nextDeadline(), undefined);
});

test('counts by reason keep every drop, reported or not, after keys close', () => {
  const d = new DropSummary({ intervalMs: 10 });
  for (let i = 0; i < 5; i++) d.note(BAD, 'a:1', i * 100);
  d.note(PORTS, 'a:1', 0);
  d.poll(1000);
  d.poll(2000);
  assert.deepEqual(d.countsByReason(), { [PORTS]: 1, [BAD]: 5 });
});

// ---- client keys (drops of established sessions) ----------------------------------------------------------------

test('client keys: one report per client per reason per interval', () => {
  const d = new DropSummary({ intervalMs: 10_000 });
  assert.deepEqual(d.note('bad tag', 'r1', 0, 'alice'), { reason: 'bad tag', client: 'alice', count: 1, sample: 'r1' });
  assert.deepEqual(d.note('bad tag', 'r2', 0, 'bob'), { reason: 'bad tag', client: 'bob', count: 1, sample: 'r2' });
  assert.ok(d.note('replay', 'r1', 0, 'alice'));
  assert.equal(d.note('bad tag', 'r1', 1, 'alice'), undefined);
  assert.deepEqual(d.poll(10_000), [{ reason: 'bad tag', client: 'alice', count: 1, sample: 'r1', intervalMs: 10_000 }]);
});

test('client keys are bounded: past the cap a client drop folds into its reason key', () => {
  const d = new DropSummary({ intervalMs: 10_000, maxClientKeys: 3 });
  for (const c of ['c1', 'c2', 'c3']) assert.ok(d.note('bad tag', c, 0, c));
  assert.deepEqual(d.note('bad tag', 'c4', 0, 'c4'), { reason: 'bad tag', count: 1, sample: 'c4' });
  for (let i = 5; i < 10_000; i++) assert.equal(d.note('bad tag', `c${i}`, 1, `c${i}`), undefined);
  assert.equal(d.size, 4);
  const r = d.poll(10_000);
  assert.deepEqual(r, [{ reason: 'bad tag', count: 9995, sample: 'c5', intervalMs: 10_000 }]);
  d.poll(20_000);   // every key had a quiet interval: all close, and the cap is free again
  assert.equal(d.size, 0);
  assert.deepEqual(d.note('bad tag', 'c9', 20_001, 'c9'), { reason: 'bad tag', client: 'c9', count: 1, sample: 'c9' });
});

test('retain copies the samples a key keeps, so a sample object rewritten after the call stays as it was', () => {
  const d = new DropSummary<{ port: number }>({ intervalMs: 10_000, retain: (s) => ({ port: s.port }) });
  const one = { port: 1 };
  const first = d.note(BAD, one, 0);
  one.port = 2;
  assert.deepEqual(first, { reason: BAD, count: 1, sample: { port: 1 } });
  one.port = 3;
  d.note(BAD, one, 1);
  one.port = 4;
  d.note(BAD, one, 2);
  one.port = 5;
  assert.deepEqual(d.poll(10_000), [{ reason: BAD, count: 2, sample: { port: 3 }, intervalMs: 10_000 }]);
});

test('a non-positive interval is a programmer error', () => {
  assert.throws(() => new DropSummary({ intervalMs: 0 }), RangeError);
});
