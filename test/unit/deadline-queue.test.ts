// DeadlineQueue against an obvious model: random arm/disarm/popDue sequences give the same items at the same times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeadlineQueue } from '../../src/core/deadline-queue.js';

interface Item { id: number; queuedAt: number }

test('deadline queue: an item moves only earlier, pops once when due, and a disarmed one never pops', () => {
  const q = new DeadlineQueue<Item>();
  const a = { id: 1, queuedAt: Infinity }, b = { id: 2, queuedAt: Infinity };
  q.arm(a, 50);
  q.arm(a, 80);  // later: the earlier deadline stays
  q.arm(b, 60);
  assert.equal(q.next(), 50);
  assert.equal(q.popDue(49), undefined);
  assert.equal(q.popDue(50), a);
  assert.equal(q.popDue(50), undefined, 'popped once');
  q.disarm(b);
  assert.equal(q.next(), undefined);
  assert.equal(q.popDue(1000), undefined);
});

type Op = { k: 'arm'; id: number; at: number } | { k: 'disarm'; id: number } | { k: 'pop'; now: number };

test('deadline queue: random operations match a model', () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('arm' as const), id: fc.integer({ min: 0, max: 7 }), at: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ k: fc.constant('disarm' as const), id: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ k: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 100 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
    const q = new DeadlineQueue<Item>();
    const items = Array.from({ length: 8 }, (_, id) => ({ id, queuedAt: Infinity }));
    const model = new Map<number, number>();  // id → deadline
    for (const o of ops) {
      if (o.k === 'arm') {
        const cur = model.get(o.id);
        if (cur === undefined || o.at < cur) model.set(o.id, o.at);
        q.arm(items[o.id]!, o.at);
      } else if (o.k === 'disarm') {
        model.delete(o.id);
        q.disarm(items[o.id]!);
      } else {
        const due = [...model].filter(([, at]) => at <= o.now).map(([id]) => id).sort((x, y) => x - y);
        const got: number[] = [];
        let prev = -Infinity;
        for (let it = q.popDue(o.now); it; it = q.popDue(o.now)) {
          const at = model.get(it.id)!;
          assert.ok(at >= prev, 'due items come out earliest first');
          prev = at;
          got.push(it.id);
          model.delete(it.id);
        }
        assert.deepEqual(got.sort((x, y) => x - y), due);
      }
      const min = Math.min(...model.values());
      assert.equal(q.next(), model.size ? min : undefined);
    }
  }), { seed: 11, numRuns: 300 });
});
