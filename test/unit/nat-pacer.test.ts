// The NAT's TCP pacer (src/core/uplink/nat/pacer.ts): rate, burst allowance and the time of the next send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer } from '../../src/core/uplink/nat/pacer.js';

const MSS = 1000;

test('before an RTT sample nothing is paced', () => {
  const p = new Pacer(MSS, 0);
  p.update(0, 100 * MSS, undefined, true);
  for (let i = 0; i < 50; i++) { assert.ok(p.allows(MSS)); p.spent(MSS); }
  assert.equal(p.readyAt(MSS), undefined);
});

test('the initial flight (10 segments) goes at once; then credit comes at gain × cwnd / srtt', () => {
  const p = new Pacer(MSS, 0);
  p.update(0, 10 * MSS, 100, true);  // 2 × 10000 / 100 = 200 B/ms
  for (let i = 0; i < 10; i++) { assert.ok(p.allows(MSS), `segment ${i}`); p.spent(MSS); }
  assert.equal(p.allows(MSS), false);
  assert.equal(p.readyAt(MSS), 5, '1000 B at 200 B/ms');
  p.update(5, 10 * MSS, 100, true);
  assert.ok(p.allows(MSS));
});

test('congestion avoidance paces at 1.2 × cwnd / srtt', () => {
  const p = new Pacer(MSS, 0);
  p.update(0, 10 * MSS, 10, false);
  for (let i = 0; i < 10; i++) p.spent(MSS);
  p.update(1, 10 * MSS, 10, false);  // 1.2 × 10000 / 10 = 1200 B/ms: 1200 B of credit after 1 ms
  assert.ok(p.allows(MSS));
  p.spent(MSS);
  assert.equal(p.allows(MSS), false);
});

test('idle time earns at most the burst allowance: 2 ms at the rate, at least two segments', () => {
  const slow = new Pacer(MSS, 0);
  slow.update(0, 10 * MSS, 100, true);
  for (let i = 0; i < 10; i++) slow.spent(MSS);
  slow.update(10_000, 10 * MSS, 100, true);  // 200 B/ms × 2 ms = 400 B < 2 segments
  let n = 0;
  while (slow.allows(MSS)) { slow.spent(MSS); n++; }
  assert.equal(n, 2);
  const fast = new Pacer(MSS, 0);
  fast.update(0, 100 * MSS, 1, true);  // 200 000 B/ms: 2 ms carry 400 segments
  for (let i = 0; i < 10; i++) fast.spent(MSS);
  fast.update(10_000, 100 * MSS, 1, true);
  n = 0;
  while (fast.allows(MSS) && n < 1000) { fast.spent(MSS); n++; }
  assert.equal(n, 400);
});
