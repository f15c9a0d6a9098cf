// The NAT TCP receiver's out-of-order islands: merging, duplicates, the bound, delivery, against a byte-map model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OutOfOrderQueue } from '../../src/core/uplink/nat/out-of-order.js';

const BASE = 0xfffff000;  // near the 2^32 wrap, so every comparison goes through sequence arithmetic
const at = (off: number): number => (BASE + off) >>> 0;
const bytes = (off: number, len: number): Buffer => Buffer.from(Array.from({ length: len }, (_, i) => (off + i) & 0xff));
const ranges = (q: OutOfOrderQueue): [number, number][] => q.islands.map((i) => [(i.seq - BASE) >>> 0, (i.end - BASE) >>> 0]);

test('segments after a hole extend one island; a gap starts another; one that bridges them merges', () => {
  const q = new OutOfOrderQueue(100);
  assert.equal(q.store(at(100), bytes(100, 100)), 'stored');
  assert.equal(q.store(at(200), bytes(200, 100)), 'stored');
  assert.equal(q.store(at(500), bytes(500, 100)), 'stored');
  assert.deepEqual(ranges(q), [[100, 300], [500, 600]]);
  assert.equal(q.store(at(250), bytes(250, 300)), 'stored');  // overlaps both: only 300-500 is new
  assert.deepEqual(ranges(q), [[100, 600]]);
  assert.equal(q.bytes, 500);
  const out: Buffer[] = [];
  q.drain(at(100), (b) => out.push(b));
  assert.deepEqual(Buffer.concat(out), bytes(100, 500));
  assert.ok(q.isEmpty());
  assert.deepEqual([q.bytes, q.buffers], [0, 0]);
});

test('a segment held already is a duplicate; a longer one at the same start adds only its new bytes', () => {
  const q = new OutOfOrderQueue(100);
  q.store(at(100), bytes(100, 100));
  assert.equal(q.store(at(100), bytes(100, 100)), 'duplicate');
  assert.equal(q.store(at(120), bytes(120, 30)), 'duplicate');
  assert.equal(q.store(at(100), bytes(100, 150)), 'stored');
  assert.deepEqual([ranges(q), q.bytes], [[[100, 250]], 150]);
});

test('islands before the first one and between two are inserted in order', () => {
  const q = new OutOfOrderQueue(100);
  q.store(at(500), bytes(500, 10));
  q.store(at(100), bytes(100, 10));
  q.store(at(300), bytes(300, 10));
  assert.deepEqual(ranges(q), [[100, 110], [300, 310], [500, 510]]);
});

test('the buffer bound refuses new bytes but still recognizes duplicates', () => {
  const q = new OutOfOrderQueue(2);
  q.store(at(100), bytes(100, 10));
  q.store(at(110), bytes(110, 10));
  assert.equal(q.store(at(200), bytes(200, 10)), 'full');
  assert.equal(q.store(at(100), bytes(100, 10)), 'duplicate');
  assert.deepEqual(ranges(q), [[100, 120]]);
});

test('drain delivers only what follows RCV.NXT without a gap, trimming what was delivered already', () => {
  const q = new OutOfOrderQueue(100);
  q.store(at(100), bytes(100, 100));
  q.store(at(400), bytes(400, 100));
  const out: Buffer[] = [];
  q.drain(at(50), (b) => out.push(b));
  assert.equal(out.length, 0);
  q.drain(at(150), (b) => out.push(b));  // in-order data reached into the island
  assert.deepEqual(Buffer.concat(out), bytes(150, 50));
  assert.deepEqual(ranges(q), [[400, 500]]);
  out.length = 0;
  q.drain(at(600), (b) => out.push(b));  // in-order data covered the whole island
  assert.deepEqual([out, q.isEmpty(), q.bytes], [[], true, 0]);
});

test('any arrival order: islands are disjoint and sorted, bytes counted once, drain gives exactly the stream', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ off: fc.integer({ min: 1, max: 400 }), len: fc.integer({ min: 1, max: 60 }) }), { maxLength: 40 }),
    fc.integer({ min: 0, max: 300 }),
    (segs, nxt) => {
      const q = new OutOfOrderQueue(1000);
      const held = new Set<number>();
      for (const { off, len } of segs) {
        const was = held.size;
        for (let i = off; i < off + len; i++) held.add(i);
        const r = q.store(at(off), bytes(off, len));
        assert.equal(r, held.size === was ? 'duplicate' : 'stored');
      }
      const rs = ranges(q);
      for (let i = 1; i < rs.length; i++) assert.ok(rs[i - 1]![1] < rs[i]![0], 'disjoint and not adjacent');
      assert.equal(q.bytes, held.size);
      for (const [a, b] of rs) for (let i = a; i < b; i++) assert.ok(held.has(i));
      // RCV.NXT = nxt: the stream goes on to the first byte not held; what lies below nxt is dropped, what lies
      // past the next gap stays.
      let end = nxt;
      while (held.has(end)) end++;
      const out: Buffer[] = [];
      q.drain(at(nxt), (b) => out.push(b));
      assert.deepEqual(Buffer.concat(out), bytes(nxt, end - nxt));
      assert.equal(q.bytes, [...held].filter((x) => x >= end).length);
      assert.ok(ranges(q).every(([a]) => a > end));
    }), { numRuns: 500 });
});
