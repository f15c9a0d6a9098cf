// HyStart++ (RFC 9406, src/core/uplink/nat/hystart.ts) over scripted rounds: each round is 10 ACKs of one segment,
// one RTT sample each, and ends on the ACK of the SND.NXT it started with (the sender keeps 10 segments ahead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NewReno } from '../../src/core/uplink/nat/congestion.js';
import { HyStart, type HyStartPhase } from '../../src/core/uplink/nat/hystart.js';

const MSS = 1000;
const PER_ROUND = 10;

class Rounds {
  private una = 0;
  /** Bytes cwnd grew by in the last round. */
  grew = 0;

  constructor(readonly hs: HyStart) {
    hs.onAck(0, this.una, PER_ROUND * MSS);  // the ACK that starts the first round
  }

  /** One round with these RTT samples (one per ACK; a shorter list leaves the last ACKs without a sample). */
  round(rtts: number | number[]): HyStartPhase {
    this.grew = 0;
    for (let i = 0; i < PER_ROUND; i++) {
      this.una += MSS;
      const rtt = typeof rtts === 'number' ? rtts : rtts[i];
      if (rtt !== undefined) this.hs.rttSample(rtt);
      this.grew += this.hs.onAck(MSS, this.una, this.una + PER_ROUND * MSS);
    }
    return this.hs.phase;
  }
}

test('HyStart++: a rising RTT moves slow start to CSS (growth / 4), and after CSS_ROUNDS = 5 rounds to avoidance', () => {
  const r = new Rounds(new HyStart(MSS));
  for (let i = 0; i < 3; i++) assert.equal(r.round(100), 'slowStart');
  assert.equal(r.grew, PER_ROUND * MSS, 'one SMSS per ACK of one SMSS');
  // RttThresh = max(4, min(100 / 8, 16)) = 12.5 ms over the last round: 112 stays, 113 leaves once the round has
  // 8 samples.
  assert.equal(r.round(112), 'slowStart');
  assert.equal(r.round(100), 'slowStart');
  assert.equal(r.round(113), 'conservative');
  // The eighth ACK's check found the rise: the last two ACKs of the round grew by a quarter.
  assert.equal(r.grew, 8 * MSS + 2 * MSS / 4);
  // The round CSS began in is its first; four more follow.
  for (let i = 0; i < 3; i++) {
    assert.equal(r.round(113), 'conservative');
    assert.equal(r.grew, PER_ROUND * MSS / 4);
  }
  assert.equal(r.round(113), 'done');
  assert.equal(r.hs.active, false);
});

test('HyStart++: an RTT bump that goes back below the CSS baseline returns to slow start', () => {
  const r = new Rounds(new HyStart(MSS));
  for (let i = 0; i < 3; i++) r.round(40);
  assert.equal(r.round(50), 'conservative');  // RttThresh = max(4, 40 / 8) = 5 ms
  assert.equal(r.round(45), 'slowStart');       // 45 < the 50 ms baseline
  // The rise from 40 to 45 was never a round-on-round rise of 5 ms: slow start goes on.
  for (let i = 0; i < 20; i++) assert.equal(r.round(45), 'slowStart');
  assert.equal(r.grew, PER_ROUND * MSS);
});

test('HyStart++: a constant RTT, or a rise seen by fewer than N_RTT_SAMPLE = 8 samples, never leaves slow start', () => {
  const flat = new Rounds(new HyStart(MSS));
  for (let i = 0; i < 50; i++) assert.equal(flat.round(30), 'slowStart');
  const sparse = new Rounds(new HyStart(MSS));
  for (let i = 0; i < 3; i++) sparse.round(30);
  for (let i = 0; i < 10; i++) assert.equal(sparse.round([60, 60, 60, 60, 60, 60, 60]), 'slowStart');
});

test('HyStart++: the RTT threshold is at least MIN_RTT_THRESH = 4 ms and at most MAX_RTT_THRESH = 16 ms', () => {
  const short = new Rounds(new HyStart(MSS));
  for (let i = 0; i < 3; i++) short.round(8);
  assert.equal(short.round(11.9), 'slowStart', '8 / 8 = 1 ms is raised to 4 ms');
  assert.equal(short.round(16), 'conservative');
  const long = new Rounds(new HyStart(MSS));
  for (let i = 0; i < 3; i++) long.round(400);
  assert.equal(long.round(415), 'slowStart', '400 / 8 = 50 ms is cut to 16 ms');
  assert.equal(long.round(431), 'conservative');
});

test('HyStart++: one ACK grows cwnd by at most L = 8 segments (a non-paced sender)', () => {
  const hs = new HyStart(MSS);
  hs.onAck(0, 0, 20 * MSS);
  assert.equal(hs.onAck(12 * MSS, 12 * MSS, 30 * MSS), 8 * MSS);
  assert.equal(hs.onAck(3 * MSS, 15 * MSS, 30 * MSS), 3 * MSS);
});

test('HyStart++ under NewReno: the end of CSS sets ssthresh = cwnd; a loss ends HyStart++ for good', () => {
  const hs = new HyStart(MSS);
  const cc = new NewReno(MSS, 10, hs);
  let una = 0;
  cc.onAck(0, 0, 100, una, PER_ROUND * MSS);
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < PER_ROUND; i++) {
      una += MSS;
      cc.onRttSample(round < 3 ? 100 : 125);
      cc.onAck(MSS, 0, 100, una, una + PER_ROUND * MSS);
    }
  }
  assert.equal(hs.phase, 'done');
  assert.equal(cc.ssthresh, cc.cwnd);
  // IW 10, three rounds of slow start (30), the round CSS began in (8 + 2 / 4) and four more rounds of CSS (40 / 4).
  assert.equal(cc.cwnd, 58.5 * MSS);

  const fresh = new HyStart(MSS);
  const reno = new NewReno(MSS, 10, fresh);
  reno.onLoss(10 * MSS);
  assert.equal(fresh.active, false);
});
