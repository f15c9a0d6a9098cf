// Congestion control (NewReno, src/core/uplink/nat/congestion.ts) and PRR (RFC 6937, prr.ts) of the NAT's TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NewReno } from '../../src/core/uplink/nat/congestion.js';
import { Prr } from '../../src/core/uplink/nat/prr.js';

const MSS = 1000;

test('NewReno: IW 10 (RFC 6928); slow start grows by min(acked, SMSS) per ACK (RFC 5681 §3.1)', () => {
  const cc = new NewReno(MSS, 10);
  assert.equal(cc.cwnd, 10 * MSS);
  cc.onAck(2 * MSS, 0, 100, 0, 0);
  assert.equal(cc.cwnd, 11 * MSS);
  cc.onAck(300, 0, 100, 0, 0);
  assert.equal(cc.cwnd, 11 * MSS + 300);
});

test('NewReno: congestion avoidance grows by SMSS*SMSS/cwnd per ACK, at least 1 byte', () => {
  const cc = new NewReno(MSS, 10);
  cc.onLoss(20 * MSS);
  assert.equal(cc.ssthresh, 10 * MSS);
  assert.equal(cc.cwnd, 10 * MSS);
  cc.onAck(MSS, 0, 100, 0, 0);
  assert.equal(cc.cwnd, 10 * MSS + 100);
});

test('NewReno: a loss sets ssthresh = max(FlightSize/2, 2 SMSS) (RFC 5681 eq. 4); a timeout also cwnd = 1 SMSS', () => {
  const cc = new NewReno(MSS, 10);
  cc.onLoss(3 * MSS);
  assert.equal(cc.ssthresh, 2 * MSS);
  cc.onTimeout(12 * MSS);
  assert.equal(cc.ssthresh, 6 * MSS);
  assert.equal(cc.cwnd, MSS);
  cc.setCwnd(9 * MSS);
  cc.onRecoveryEnd();
  assert.equal(cc.cwnd, 6 * MSS, 'recovery ends at ssthresh');
});

test('undo (RFC 3522 §3.2) restores the window and ssthresh from before the reduction, never lowering them', () => {
  const cc = new NewReno(MSS, 10);
  cc.onAck(MSS, 0, 100, 0, 0);
  const prior = cc.snapshot();
  cc.onLoss(11 * MSS);
  assert.equal(cc.cwnd, 5500);
  cc.undo(prior);
  assert.deepEqual(cc.snapshot(), prior);
  cc.setCwnd(30 * MSS);
  cc.undo(prior);
  assert.equal(cc.cwnd, 30 * MSS);
});

test('PRR (RFC 6937 §5, first example): 20 segments in flight, ssthresh 10: one segment sent per two delivered', () => {
  const prr = new Prr();
  prr.begin(20 * MSS);
  const sent: number[] = [];
  let pipe = 19 * MSS;  // one segment lost
  for (let ack = 0; ack < 10; ack++) {
    // sndcnt is in bytes (half a segment per segment delivered); the endpoint sends a whole segment when it is > 0.
    const n = prr.sndcnt(MSS, pipe, 10 * MSS, MSS) > 0 ? MSS : 0;
    sent.push(n / MSS);
    prr.sent(n);
    pipe += n - MSS;
  }
  assert.deepEqual(sent, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
});

test('PRR: below ssthresh the slow-start reduction bound lets out what was delivered plus one segment, up to ssthresh', () => {
  const prr = new Prr();
  prr.begin(10 * MSS);
  assert.equal(prr.sndcnt(3 * MSS, 0, 5 * MSS, MSS), 4 * MSS, 'max(delivered - out, DeliveredData) + SMSS');
  prr.sent(4 * MSS);
  assert.equal(prr.sndcnt(MSS, 4 * MSS, 5 * MSS, MSS), MSS, 'ssthresh - pipe');
  prr.sent(MSS);
  assert.equal(prr.sndcnt(0, 5 * MSS, 5 * MSS, MSS), 0, 'nothing once pipe reaches ssthresh');
});
