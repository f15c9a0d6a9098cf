// CUBIC (RFC 9438, src/core/uplink/nat/cubic.ts) against values of the RFC's formulas worked out by hand, in bytes
// with an MSS of 1000: W_cubic(t) = C*(t-K)^3 + W_max segments, C = 0.4, beta_cubic = 0.7, alpha_cubic = 0.3*3/1.7.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cubic, type CubicSnapshot } from '../../src/core/uplink/nat/cubic.js';
import { HyStart } from '../../src/core/uplink/nat/hystart.js';

const MSS = 1000;
const T0 = 50_000;

/** cwnd with its fraction of a byte. */
const exact = (cc: Cubic) => cc.snapshot().cwnd;
const ack = (cc: Cubic, bytes: number, now: number, srtt: number | undefined = 100) => cc.onAck(bytes, now, srtt, 0, 0);

/**
 * The target of §4.2 at `now`: an ACK of one byte moves cwnd by (target - cwnd) / cwnd, a fraction of a byte, so
 * the window (and W_est) hardly change from one probe to the next.
 */
function targetAt(cc: Cubic, now: number, srtt = 100): number {
  const before = exact(cc);
  ack(cc, 1, now, srtt);
  return before + (exact(cc) - before) * before;
}

/** A loss at 100 segments, recovery over; the first ACK of congestion avoidance at T0 starts the epoch. */
function afterLossAt100(): Cubic {
  const cc = new Cubic(MSS, 10);
  cc.setCwnd(100 * MSS);
  cc.onLoss(100 * MSS);
  cc.onRecoveryEnd();
  ack(cc, 1, T0);
  return cc;
}

const near = (actual: number, expected: number, what: string, tol = 0.01) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual}, expected ${expected}`);

test('CUBIC: a loss sets ssthresh = 0.7 FlightSize and W_max = cwnd (§4.6); K = cbrt((W_max - cwnd_epoch)/C) (§4.2)', () => {
  const cc = afterLossAt100();
  assert.equal(cc.ssthresh, 70 * MSS);
  assert.equal(cc.cwnd, 70 * MSS);
  const s = cc.snapshot() as CubicSnapshot;
  assert.equal(s.wMax, 100 * MSS);
  near(s.epoch!.k, 4.217163326508746, 'K = cbrt(30 / 0.4) = cbrt(75)', 1e-12);
});

test('CUBIC: each ACK moves cwnd towards W_cubic(t + RTT): concave below W_max, W_max at t = K, convex beyond', () => {
  const cc = afterLossAt100();
  // RTT 100 ms: W_cubic(1.1 s) = 0.4 (1.1 - 4.21716)^3 + 100 = 87.8846 segments.
  near(targetAt(cc, T0 + 1000), 87884.57465954372, 'concave, t = 1 s');
  // t + RTT = K: the curve is back at W_max.
  near(targetAt(cc, T0 + 4117.163326508746), 100_000, 'plateau, t = K - RTT');
  // W_cubic(6.1 s) = 0.4 (6.1 - 4.21716)^3 + 100 = 102.670 segments.
  near(targetAt(cc, T0 + 6000), 102669.91808906777, 'convex, t = 6 s');
});

test('CUBIC: the target is clamped to 1.5 cwnd (§4.2): W_cubic(10.1 s) = 181.4 segments, cwnd 70', () => {
  const cc = afterLossAt100();
  const w = exact(cc);
  near(targetAt(cc, T0 + 10_000), 1.5 * w, 'target = 1.5 cwnd');
});

test('CUBIC: with a 1 ms RTT the Reno-friendly W_est (§4.3) is ahead of W_cubic and cwnd follows it', () => {
  const cc = new Cubic(MSS, 10);
  cc.setCwnd(20 * MSS);
  cc.onLoss(20 * MSS);
  cc.onRecoveryEnd();
  assert.equal(cc.cwnd, 14 * MSS);
  // W_est = cwnd_epoch + alpha * 14000 * MSS / 14000 = 14000 + 529.41; W_cubic(0) = 14000 (K = cbrt(6 / 0.4)).
  ack(cc, 14 * MSS, T0, 1);
  near(exact(cc), 14529.411764705883, 'W_est after one window');
  // W_est + alpha * 14529 * MSS / 14529.41 = 15058.81, while W_cubic(1 ms) = 14007.30.
  ack(cc, 14529, T0 + 1, 1);
  near(exact(cc), 15058.808525839486, 'W_est after two windows');
});

test('CUBIC: fast convergence (§4.7): a loss below the last W_max sets W_max = cwnd (1 + beta) / 2', () => {
  const cc = afterLossAt100();
  cc.setCwnd(80 * MSS);
  cc.onLoss(80 * MSS);
  cc.onRecoveryEnd();
  assert.equal(cc.cwnd, 56 * MSS);
  ack(cc, 1, T0 + 3100);
  const s = cc.snapshot() as CubicSnapshot;
  assert.equal(s.wMax, 68 * MSS);
  near(s.epoch!.k, 3.1072325059538586, 'K = cbrt((68 - 56) / 0.4)', 1e-12);
});

test('CUBIC: a timeout sets cwnd = 1 SMSS and ssthresh by beta; the next stage starts with K = 0, W_max = cwnd_epoch (§4.8)', () => {
  const cc = afterLossAt100();
  cc.setCwnd(100 * MSS);
  cc.onTimeout(100 * MSS);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.ssthresh, 70 * MSS);
  for (let i = 0; i < 69; i++) ack(cc, MSS, T0 + 6000 + i);  // slow start: one SMSS per ACK
  assert.equal(cc.cwnd, 70 * MSS);
  ack(cc, 1, T0 + 7000);
  const s = cc.snapshot() as CubicSnapshot;
  assert.equal(s.epoch!.k, 0);
  near(s.wMax, 70 * MSS, 'W_max = cwnd_epoch');
  // Looking ahead by an RTT of 0: W_cubic(2 s) = 0.4 * 2^3 + 70 = 73.2 segments.
  near(targetAt(cc, T0 + 9000, 0), 73_200, 'convex from the start', 0.05);
});

test('CUBIC: undo of a spurious reduction restores cwnd, ssthresh, W_max, K and the epoch (§4.9); the curve goes on', () => {
  const cc = afterLossAt100();
  ack(cc, 500, T0 + 1000);
  const prior = cc.snapshot();
  cc.onLoss(exact(cc));
  assert.equal(cc.ssthresh, Math.floor(0.7 * prior.cwnd));
  cc.undo(prior);
  assert.deepEqual(cc.snapshot(), prior);
  // The epoch that started at T0 resumes: W_cubic(6.1 s) as before the loss.
  near(targetAt(cc, T0 + 6000), 102669.91808906777, 'same curve', 0.05);
});

test('CUBIC: undo never lowers a window that has grown past the snapshot', () => {
  const cc = afterLossAt100();
  const prior = cc.snapshot();
  cc.onLoss(exact(cc));
  cc.setCwnd(90 * MSS);
  cc.undo(prior);
  assert.equal(cc.cwnd, 90 * MSS);
  assert.equal(cc.ssthresh, 70 * MSS);
});

test('CUBIC with HyStart++: when CSS ends without a loss, congestion avoidance starts at W_max = cwnd, K = 0 (§4.10)', () => {
  const cc = new Cubic(MSS, 10, new HyStart(MSS));
  // Rounds of 10 ACKs, one RTT sample each: 100 ms for three rounds, then 120 ms (CSS) until CSS ends.
  let una = 0, now = T0;
  cc.onAck(0, now, 100, una, 10 * MSS);
  for (let round = 0; cc.ssthresh === 0x7fffffff; round++) {
    assert.ok(round < 20, 'CSS ended');
    for (let i = 0; i < 10; i++) {
      una += MSS;
      now += 10;
      cc.onRttSample(round < 3 ? 100 : 120);
      cc.onAck(MSS, now, 100, una, una + 10 * MSS);
    }
  }
  assert.equal(cc.ssthresh, cc.cwnd);
  ack(cc, 1, now + 10);
  const s = cc.snapshot() as CubicSnapshot;
  assert.equal(s.epoch!.k, 0);
  near(s.wMax, cc.ssthresh, 'W_max = cwnd at the end of slow start', 1);
});
