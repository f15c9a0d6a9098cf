// Flow table with a fake clock: idle timeouts, per-client quota with early drop, the global LRU cap, flushes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FlowTable, type FlowEntry, type RemoveReason } from '../../src/core/uplink/nat/flow-table.js';
import { flowHash, type FlowKey } from '../../src/core/uplink/nat/flow-key.js';

interface F extends FlowEntry { id: number }
const A = 0x0a080002;
const B = 0x0a080003;
const key = (clientIp: number, port: number, proto = 17): FlowKey => ({ proto, clientIp, clientPort: port,
  dstIp: 0x08080808, dstPort: 53 });
let nextId = 0;
const flow = (k: FlowKey, assured = false): F => ({ key: k, owner: k.clientIp, hash: 0, assured, id: nextId++ });

function table(maxFlows = 100, perClientFlows = 10) {
  const removed: [number, RemoveReason][] = [];
  const t = new FlowTable<F>({ maxFlows, perClientFlows, onRemove: (f, r) => removed.push([f.id, r]) });
  return { t, removed };
}

test('lookup finds by tuple only; another port or protocol is another flow', () => {
  const { t } = table();
  const f = flow(key(A, 1000));
  assert.equal(t.insert(f, 30_000, 1000), 'ok');
  assert.equal(t.lookup(key(A, 1000), 1000), f);
  assert.equal(t.lookup(key(A, 1001), 1000), undefined);
  assert.equal(t.lookup(key(A, 1000, 6), 1000), undefined);
  assert.equal(t.insert(flow(key(A, 1000)), 30_000, 1000), 'collision', 'the same tuple twice is refused');
});

test('idle timeout: alive at the timeout, expired just after; use refreshes it', () => {
  const { t, removed } = table();
  const f = flow(key(A, 1));
  const g = flow(key(A, 2));
  t.insert(f, 30_000, 1000);
  t.insert(g, 30_000, 1000);
  t.lookup(key(A, 2), 20_000);  // g refreshed at 20 s
  t.sweep(31_000);
  assert.deepEqual(removed, []);
  t.sweep(31_001);
  assert.deepEqual(removed, [[f.id, 'expired']]);
  assert.equal(t.lookup(key(A, 1), 31_001), undefined);
  t.sweep(50_001);
  assert.deepEqual(removed.length, 2);
  assert.deepEqual(t.total.flowsExpired, 2);
  assert.equal(t.total.flowsOpen, 0);
  assert.equal(t.size, 0);
});

test('an expired flow met by lookup (before a sweep) is reported as expired', () => {
  const { t, removed } = table();
  const f = flow(key(A, 1));
  t.insert(f, 1000, 1000);
  assert.equal(t.lookup(key(A, 1), 5000), undefined);
  assert.deepEqual(removed, [[f.id, 'expired']]);
  // and the tuple can start a new flow
  assert.equal(t.insert(flow(key(A, 1)), 1000, 5000), 'ok');
});

test('setTtl moves a flow to a longer timeout', () => {
  const { t, removed } = table();
  const f = flow(key(A, 1));
  t.insert(f, 30_000, 1000);
  t.setTtl(f, 180_000, 2000);
  t.sweep(100_000);
  assert.deepEqual(removed, []);
  t.sweep(182_001);
  assert.deepEqual(removed, [[f.id, 'expired']]);
});

test('per-client quota: the oldest unassured flow makes room; all assured → refused', () => {
  const { t, removed } = table(100, 3);
  const f1 = flow(key(A, 1), true);
  const f2 = flow(key(A, 2));
  const f3 = flow(key(A, 3));
  for (const f of [f1, f2, f3]) assert.equal(t.insert(f, 30_000, 1000), 'ok');
  const f4 = flow(key(A, 4));
  assert.equal(t.insert(f4, 30_000, 1000), 'ok');
  assert.deepEqual(removed, [[f2.id, 'evicted']]);
  t.assure(f3);
  t.assure(f4);
  assert.equal(t.insert(flow(key(A, 5)), 30_000, 1000), 'quota');
  assert.equal(t.insert(flow(key(B, 5)), 30_000, 1000), 'ok', 'another client has its own quota');
  assert.equal(t.clientCounters(A)!.flowsOpen, 3);
  assert.equal(t.clientCounters(A)!.flowsEvicted, 1);
  assert.equal(t.clientCounters(B)!.flowsOpen, 1);
});

test('global cap: the least recently used flow (of any client) is evicted', () => {
  const { t, removed } = table(3, 10);
  const a1 = flow(key(A, 1));
  const b1 = flow(key(B, 1));
  const a2 = flow(key(A, 2));
  for (const f of [a1, b1, a2]) t.insert(f, 30_000, 1000);
  t.lookup(key(A, 1), 1001);
  t.insert(flow(key(B, 2)), 30_000, 1002);
  assert.deepEqual(removed, [[b1.id, 'evicted']]);
  assert.equal(t.size, 3);
  assert.equal(t.clientCounters(B)!.flowsOpen, 1);
});

test('removeClient closes every flow of that client and forgets its counters', () => {
  const { t, removed } = table();
  for (let i = 0; i < 5; i++) t.insert(flow(key(A, i)), 30_000, 1000);
  t.insert(flow(key(B, 1)), 30_000, 1000);
  t.removeClient(A);
  assert.equal(removed.length, 5);
  assert.ok(removed.every(([, r]) => r === 'closed'));
  assert.equal(t.size, 1);
  assert.equal(t.clientCounters(A), undefined);
  assert.equal(t.total.flowsClosed, 5);
});

test('100,000 UDP flows from one client stay within the quota', () => {
  const { t, removed } = table(65536, 4096);
  for (let i = 0; i < 100_000; i++) {
    const k: FlowKey = { proto: 17, clientIp: A, clientPort: 1024 + (i % 60000), dstIp: 0x01000000 + i, dstPort: 9 };
    assert.equal(t.insert(flow(k), 30_000, 1000 + i), 'ok');
  }
  assert.equal(t.size, 4096);
  assert.equal(t.total.flowsCreated, 100_000);
  assert.equal(t.total.flowsEvicted, 100_000 - 4096);
  assert.equal(removed.length, 100_000 - 4096);
  assert.equal(t.clientCounters(A)!.flowsOpen, 4096);
});

test('matches a simple model under random operations (counts, membership, quota)', () => {
  const op = fc.record({
    kind: fc.constantFrom('insert', 'lookup', 'assure', 'remove', 'sweep', 'gone' as const),
    client: fc.constantFrom(A, B),
    port: fc.integer({ min: 1, max: 8 }),
    dt: fc.integer({ min: 0, max: 4000 }),
  });
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
    const { t } = table(6, 4);
    // Model: per tuple, the flow object, its last use and TTL.
    const model = new Map<string, { f: F; last: number; ttl: number }>();
    const name = (k: FlowKey) => `${k.clientIp}:${k.clientPort}`;
    let now = 1000;
    const expire = () => { for (const [n, e] of model) if (now - e.last > e.ttl) model.delete(n); };
    for (const o of ops) {
      now += o.dt;
      const k = key(o.client, o.port);
      if (o.kind === 'sweep') { t.sweep(now); expire(); }
      else if (o.kind === 'gone') {
        t.removeClient(o.client);
        for (const [n, e] of model) if (e.f.key.clientIp === o.client) model.delete(n);
      } else if (o.kind === 'lookup') {
        const got = t.lookup(k, now);
        const m = model.get(name(k));
        const alive = m && now - m.last <= m.ttl;
        assert.equal(got, alive ? m!.f : undefined);
        if (alive) m!.last = now; else model.delete(name(k));
      } else if (o.kind === 'assure') {
        const m = model.get(name(k));
        if (m) t.assure(m.f);
      } else if (o.kind === 'remove') {
        const m = model.get(name(k));
        if (m) { t.remove(m.f); model.delete(name(k)); }
      } else {
        // Reconcile expiry lazily the way the table does on lookup of this tuple.
        const m = model.get(name(k));
        if (m && now - m.last <= m.ttl) continue;
        t.lookup(k, now);
        model.delete(name(k));
        const f = flow(k);
        const r = t.insert(f, 3000, now);
        if (r === 'ok') {
          model.set(name(k), { f, last: now, ttl: 3000 });
        }
      }
      // Invariants: the table never exceeds its caps; every live table flow is in the model.
      assert.ok(t.size <= 6);
      for (const c of [A, B]) assert.ok(t.flowsOf(c).length <= 4);
      for (const f of t.flows()) {
        const m = model.get(name(f.key));
        if (m) assert.equal(m.f, f);
      }
      // The model loses flows the table evicted; drop those from the model.
      const live = new Set(t.flows());
      for (const [n, e] of model) if (!live.has(e.f) && now - e.last <= e.ttl) model.delete(n);
      assert.equal(t.total.flowsOpen, t.flowsOf(A).length + t.flowsOf(B).length);
    }
  }), { numRuns: 300 });
});

test('flow hashes of distinct tuples do not collide in a large sample', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200_000; i++) {
    const h = flowHash({ proto: i & 1 ? 6 : 17, clientIp: A + (i >>> 16), clientPort: i & 0xffff, dstIp: 0x08080808, dstPort: 443 }, 12345);
    assert.ok(Number.isSafeInteger(h) && h >= 0);
    seen.add(h);
  }
  assert.equal(seen.size, 200_000);
});
