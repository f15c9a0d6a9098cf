// RACK-TLP loss detection (RFC 8985, src/core/uplink/nat/rack.ts) over the segments in flight (sent-segments.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rack } from '../../src/core/uplink/nat/rack.js';
import { LOST, RETRANSMITTED, SACKED, SentSegments } from '../../src/core/uplink/nat/sent-segments.js';
import { seqAdd } from '../../src/core/uplink/nat/seq.js';

const MSS = 1000;
const BASE = 0xfffff000;  // the sequence numbers wrap around 2^32 within the flight
const S = (i: number): number => seqAdd(BASE, i * MSS);

/** n segments sent at times[i] (or all at t0). */
function flight(n: number, at: (i: number) => number): SentSegments {
  const segs = new SentSegments();
  for (let i = 0; i < n; i++) segs.push(S(i), S(i + 1), at(i));
  return segs;
}

/** One ACK: cumulative ack and SACK blocks at `now`, then RACK's detection with the window it chooses. */
function ack(rack: Rack, segs: SentSegments, now: number, minRtt: number, una: number, blocks: [number, number][],
  o: { inRecovery?: boolean; srtt?: number } = {}): number {
  rack.beginAck(now, minRtt);
  segs.ack(una, rack.delivered);
  for (const [l, r] of blocks) segs.sack(l, r, rack.delivered);
  rack.endAck();
  return rack.detectLoss(segs, now, rack.reoWnd(o.inRecovery ?? false, segs.sackedCount, o.srtt ?? minRtt));
}

const lostOnes = (segs: SentSegments): number[] =>
  Array.from({ length: segs.length }, (_, i) => i).filter((i) => segs.flagsOf(i) & LOST).map((i) => (segs.seqOf(i) - BASE) >>> 0);

test('RFC 8985 §3.4 example: P1 and P2 sent, P2 SACKed: P1 is lost RTT + reo_wnd after it was sent, at RACK\'s timer', () => {
  const segs = flight(2, (i) => i);  // P1 at 0, P2 at 1
  const rack = new Rack();
  // No reordering seen and fewer than 3 segments SACKed: reo_wnd = min_RTT / 4 = 25 ms.
  assert.equal(ack(rack, segs, 101, 100, S(0), [[S(1), S(2)]]), 0);
  assert.ok(Math.abs(rack.rtt - 100) < 0.01);
  assert.ok(Math.abs(rack.timerAt! - (0 + 100 + 25)) < 0.01, 'P1.xmit + RACK.rtt + reo_wnd');
  assert.equal(rack.detectLoss(segs, 124.9, 25), 0);
  assert.equal(rack.detectLoss(segs, 125, 25), 1);
  assert.deepEqual(lostOnes(segs), [0]);
  assert.equal(rack.timerAt, undefined);
});

test('RFC 8985 §6.2: only segments sent before the delivered one can be lost; later ones wait for their own ACK', () => {
  const segs = flight(4, (i) => (i < 2 ? 0 : 50));
  const rack = new Rack();
  // Segment 1 (sent at 0) is SACKed at 500, so RACK.rtt = 500: 0 was sent with it (tie broken by sequence) and is
  // lost at 0 + 500 + 25; 2 and 3 were sent later and are not candidates at all.
  assert.equal(ack(rack, segs, 500, 100, S(0), [[S(1), S(2)]]), 0);
  assert.ok(Math.abs(rack.timerAt! - 525) < 0.01, 'RACK timer');
  assert.equal(rack.detectLoss(segs, 10_000, 25), 1);
  assert.deepEqual(lostOnes(segs), [0]);
});

test('reo_wnd: 0 without reordering once 3 segments are SACKed or in recovery; min_RTT/4 once reordering is seen', () => {
  const rack = new Rack();
  rack.beginAck(0, 40);
  assert.equal(rack.reoWnd(false, 2, 80), 10);
  assert.equal(rack.reoWnd(false, 3, 80), 0, 'DupThresh segments SACKed: no reordering tolerance');
  assert.equal(rack.reoWnd(true, 0, 80), 0);
  // A segment never resent is delivered below the highest delivered one: reordering.
  const segs = flight(3, () => 0);
  ack(rack, segs, 50, 40, S(0), [[S(2), S(3)]]);
  assert.equal(rack.reordering, false);
  ack(rack, segs, 51, 40, S(0), [[S(1), S(3)]]);
  assert.equal(rack.reordering, true);
  assert.equal(rack.reoWnd(true, 3, 80), 10);
});

test('one ACK\'s SACK blocks in any order are not reordering (RACK.fack moves per ACK)', () => {
  const rack = new Rack();
  const segs = flight(6, () => 0);
  ack(rack, segs, 50, 40, S(0), [[S(4), S(5)], [S(2), S(3)]]);
  assert.equal(rack.reordering, false);
});

test('D-SACK (RFC 8985 §6.2 step 4): each round trip with one widens reo_wnd by min_RTT/4, up to SRTT; 16 recoveries later it is back', () => {
  const rack = new Rack();
  rack.beginAck(0, 40);
  rack.dsack(S(0), S(10));
  assert.equal(rack.reoWnd(true, 0, 1000), 20, 'reordering seen, multiplier 2');
  rack.dsack(S(5), S(12));
  assert.equal(rack.reoWnd(true, 0, 1000), 20, 'same round trip (SND.UNA below the SND.NXT of the first): no step');
  rack.dsack(S(10), S(20));
  assert.equal(rack.reoWnd(true, 0, 1000), 30);
  assert.equal(rack.reoWnd(true, 0, 25), 25, 'never above SRTT');
  for (let i = 0; i < 15; i++) rack.recoveryEnded();
  assert.equal(rack.reoWnd(true, 0, 1000), 30);
  rack.recoveryEnded();
  assert.equal(rack.reoWnd(true, 0, 1000), 10);
});

test('a resent segment delivered sooner than min_RTT after its resend does not count (the ACK was for the original)', () => {
  const rack = new Rack();
  const segs = flight(3, () => 0);
  segs.resent(0, 90);
  ack(rack, segs, 100, 100, S(0), [[S(0), S(1)]]);
  assert.equal(rack.rtt, 0, 'no RACK sample');
  segs.resent(1, 100);
  ack(rack, segs, 200, 100, S(0), [[S(1), S(2)]]);
  assert.equal(rack.rtt, 100);
});

test('segments in flight: cumulative ACK, SACK of whole segments only, pipe, losses and resends (RFC 6675 §4 pipe)', () => {
  const segs = flight(5, () => 0);
  const got: number[] = [];
  const on = (_x: number, end: number) => { got.push((end - BASE) >>> 0); };
  assert.equal(segs.sack(S(1) + 10, S(3), on), MSS, 'segment 1 is only partly covered: not SACKed');
  assert.deepEqual(got, [3 * MSS]);
  assert.equal(segs.sackedCount, 1);
  segs.markLost(0);
  segs.markLost(2);
  assert.equal(segs.lostCount, 1, 'a SACKed segment is never marked lost');
  assert.equal(segs.pipe(), 3 * MSS, 'segments 1, 3 and 4');
  assert.equal(segs.firstLost(), 0);
  segs.resent(0, 5);
  assert.equal(segs.flagsOf(0), RETRANSMITTED);
  assert.equal(segs.pipe(), 4 * MSS);
  assert.equal(segs.ack(S(3), on), MSS, 'the SACKed segment 2 was delivered before');
  assert.deepEqual(got, [3 * MSS, MSS, 2 * MSS]);
  assert.equal(segs.length, 2);
  assert.equal(segs.sackedCount, 0);
  segs.ack(S(3) + 400, on);
  assert.equal(segs.seqOf(0), S(3) + 400, 'a partly ACKed segment is trimmed');
  assert.equal(segs.flagsOf(1) & SACKED, 0);
});

test('segments in flight: the ring grows and wraps, and matches a plain model under random ACKs and SACKs', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(300), fc.nat(40), fc.nat(40)), { minLength: 1, maxLength: 60 }), (ops) => {
    const segs = new SentSegments();
    const model: { seq: number; sacked: boolean }[] = [];
    let next = 0, una = 0;
    for (const [add, ackBy, sackAt] of ops) {
      for (let k = 0; k < add % 150; k++) { segs.push(S(next), S(next + 1), 0); model.push({ seq: next, sacked: false }); next++; }
      una = Math.min(next, una + ackBy);
      segs.ack(S(una), () => {});
      while (model.length && model[0]!.seq < una) model.shift();
      const at = una + sackAt;
      if (at < next) {
        segs.sack(S(at), S(at + 1), () => {});
        const m = model.find((x) => x.seq === at);
        if (m) m.sacked = true;
      }
      assert.equal(segs.length, model.length);
      assert.equal(segs.sackedCount, model.filter((x) => x.sacked).length);
      for (let i = 0; i < model.length; i += 7) assert.equal(segs.seqOf(i), S(model[i]!.seq));
      assert.equal(segs.pipe(), model.filter((x) => !x.sacked).length * MSS);
    }
  }));
});

test('ackRtt: the RTT of the most recently sent segment this ACK delivered, never of a resent one; reset per ACK', () => {
  const segs = flight(4, (i) => i * 10);  // sent at 0, 10, 20, 30
  const rack = new Rack();
  ack(rack, segs, 100, 50, S(2), []);       // delivers 0 and 1 cumulatively
  assert.equal(rack.ackRtt, 100 - 10, 'segment 1 was sent last of the two');
  ack(rack, segs, 120, 50, S(2), [[S(3), S(4)]]);
  assert.equal(rack.ackRtt, 120 - 30, 'a SACKed segment gives a sample too');
  ack(rack, segs, 130, 50, S(2), []);
  assert.equal(rack.ackRtt, undefined, 'an ACK that delivers nothing gives none');
  const resent = flight(1, () => 0);
  resent.resent(0, 200);
  ack(rack, resent, 400, 50, S(1), []);
  assert.equal(rack.ackRtt, undefined, 'which transmission an ACK of a resent segment answers is ambiguous');
});
