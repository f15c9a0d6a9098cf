// The NAT flow's receive buffer (src/core/uplink/nat/receive-buffer.ts): grows with the drain rate per RTT, never
// past its cap, never shrinks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReceiveBuffer } from '../../src/core/uplink/nat/receive-buffer.js';

const MSS = 1000;

test('a sink that takes 300 KB in one RTT grows the buffer to 2 × that plus 16 segments', () => {
  const b = new ReceiveBuffer(256_000, 4_000_000, MSS);
  for (let t = 0; t < 100; t++) b.consumed(3000, t, 100);
  assert.equal(b.size, 256_000, 'not before an RTT has passed');
  b.consumed(3000, 100, 100);
  assert.equal(b.size, 2 * 303_000 + 16 * MSS);
});

test('a slow sink keeps the initial buffer; without an RTT estimate nothing grows', () => {
  const slow = new ReceiveBuffer(256_000, 4_000_000, MSS);
  for (let t = 0; t <= 1000; t += 10) slow.consumed(1000, t, 100);
  assert.equal(slow.size, 256_000);
  const noRtt = new ReceiveBuffer(256_000, 4_000_000, MSS);
  for (let t = 0; t <= 1000; t += 10) noRtt.consumed(100_000, t, undefined);
  assert.equal(noRtt.size, 256_000);
});

test('growth stops at the cap and the buffer never shrinks', () => {
  const b = new ReceiveBuffer(256_000, 1_000_000, MSS);
  b.consumed(0, 0, 10);
  b.consumed(2_000_000, 10, 10);
  assert.equal(b.size, 1_000_000);
  b.consumed(1, 20, 10);
  b.consumed(1, 30, 10);
  assert.equal(b.size, 1_000_000);
  const c = new ReceiveBuffer(256_000, 4_000_000, MSS);
  c.consumed(0, 0, 10);
  c.consumed(500_000, 10, 10);
  const grown = c.size;
  c.consumed(10, 20, 10);
  c.consumed(10, 30, 10);
  assert.equal(c.size, grown);
});
