// RFC 6298 RTT estimation of the NAT's TCP (src/core/uplink/nat/rtt-estimator.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { belowPathMinimum, RttEstimator } from '../../src/core/uplink/nat/rtt-estimator.js';

test('RFC 6298 §2.2: the first sample R gives SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4 RTTVAR)', () => {
  const e = new RttEstimator(1000, 200, 60_000);
  assert.equal(e.rto, 1000, 'before any sample: the initial RTO (§2.1)');
  assert.equal(e.srtt, undefined);
  e.sample(100);
  assert.equal(e.srtt, 100);
  assert.equal(e.rttvar, 50);
  assert.equal(e.rto, 300);
});

test('RFC 6298 §2.3: later samples with alpha = 1/8, beta = 1/4 (RTTVAR first, from the old SRTT)', () => {
  const e = new RttEstimator(1000, 1, 60_000);
  e.sample(100);
  e.sample(200);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5; RTO = 112.5 + 250.
  assert.equal(e.rttvar, 62.5);
  assert.equal(e.srtt, 112.5);
  assert.equal(e.rto, 363);
});

test('RFC 6298 §2.4-2.5: the RTO is floored at minRto and capped at maxRto; G = 1 ms when RTTVAR is 0', () => {
  const e = new RttEstimator(1000, 200, 1500);
  e.sample(10);
  assert.equal(e.rto, 200);
  const big = new RttEstimator(1000, 200, 1500);
  big.sample(1000);
  assert.equal(big.rto, 1500);
  const flat = new RttEstimator(1000, 0, 60_000);
  for (let i = 0; i < 200; i++) flat.sample(50);
  assert.ok(flat.rttvar < 1e-6);
  assert.equal(flat.rto, 51, 'SRTT + G');
});

test('RFC 7323 Appendix G: with n samples expected per RTT the gains are alpha/n and beta/n', () => {
  const e = new RttEstimator(1000, 1, 60_000);
  e.sample(100);
  e.sample(200, 4);
  assert.equal(e.rttvar, (1 - 1 / 16) * 50 + (1 / 16) * 100);
  assert.equal(e.srtt, (1 - 1 / 32) * 100 + (1 / 32) * 200);
});

test('the smallest RTT is kept (RACK reordering window); a negative sample is ignored', () => {
  const e = new RttEstimator(1000, 200, 60_000);
  for (const r of [80, 45, 50]) e.sample(r);
  e.sample(-5);
  assert.equal(e.minRtt, 45);
});

test('the minimum RTT ignores a sample below half the smoothed RTT (a segment that skipped the path delay), then follows a path that got faster', () => {
  const e = new RttEstimator(1000, 1, 60_000);
  for (let i = 0; i < 20; i++) e.sample(50);
  e.sample(20);
  assert.equal(e.minRtt, 50, '20 ms against a smoothed 50 ms');
  e.sample(30);
  assert.equal(e.minRtt, 30, 'above half the smoothed RTT: a real minimum');
  for (let i = 0; i < 40; i++) e.sample(10);
  assert.equal(e.minRtt, 10, 'the path got faster: the smoothed RTT came down and the minimum followed');
  assert.equal(belowPathMinimum(0, 3), false, 'below 4 ms the 1 ms clock makes every sample count');
  assert.equal(belowPathMinimum(0, undefined), false, 'no smoothed RTT yet');
});
