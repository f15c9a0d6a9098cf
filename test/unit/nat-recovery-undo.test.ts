// Spurious-recovery detection (src/core/uplink/nat/recovery-undo.ts): Eifel with timestamps (RFC 3522) and D-SACK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecoveryUndo } from '../../src/core/uplink/nat/recovery-undo.js';

const PRIOR = { cwnd: 20_000, ssthresh: 0x7fffffff };

test('Eifel (RFC 3522 §3.2): the ACK of the first resent segment echoing the original\'s TSval shows it spurious', () => {
  const u = new RecoveryUndo();
  u.begin(PRIOR);
  u.resent(5000, 1200);
  assert.equal(u.timestampShowsSpurious(5000, 1100), false, 'the ACK does not cover the resent segment yet');
  assert.equal(u.timestampShowsSpurious(6000, 1100), true);
  assert.deepEqual(u.take(), PRIOR);
  assert.equal(u.take(), undefined, 'once');
});

test('Eifel: an echo of the resend itself (or later) means the resend was needed; the check is made once', () => {
  const u = new RecoveryUndo();
  u.begin(PRIOR);
  u.resent(5000, 1200);
  assert.equal(u.timestampShowsSpurious(6000, 1200), false);
  assert.equal(u.timestampShowsSpurious(7000, 1100), false);
  const wrap = new RecoveryUndo();
  wrap.begin(PRIOR);
  wrap.resent(5000, 3);
  assert.equal(wrap.timestampShowsSpurious(6000, 0xfffffff0), true, 'TSvals compare modulo 2^32');
});

test('D-SACK (RFC 3708 §3): spurious once every segment resent in the episode is reported duplicate', () => {
  const u = new RecoveryUndo();
  u.begin(PRIOR);
  u.resent(5000, undefined);
  u.resent(7000, undefined);
  assert.equal(u.dsack(9000), false, 'a duplicate of something not resent (the network duplicated it)');
  assert.equal(u.dsack(5000), false);
  assert.equal(u.dsack(7000), true);
});

test('nothing to undo without an episode, or once it was taken', () => {
  const u = new RecoveryUndo();
  u.resent(5000, 10);
  assert.equal(u.dsack(5000), false);
  assert.equal(u.active, false);
  u.begin(PRIOR);
  assert.equal(u.active, true);
  u.resent(5000, 10);
  u.take();
  assert.equal(u.dsack(5000), false);
  assert.equal(u.timestampShowsSpurious(6000, 1), false);
  assert.equal(u.take(), undefined);
});

test('a second timeout keeps the first one\'s state, and its first ACK decides nothing by timestamp', () => {
  const u = new RecoveryUndo();
  u.begin(PRIOR);
  u.resent(5000, 1200);
  u.timeoutAgain();
  u.resent(5000, 1500);
  assert.equal(u.timestampShowsSpurious(6000, 1100), false, 'which transmission the echo belongs to is unknown');
  assert.equal(u.dsack(5000), false, 'the first resend shown needless, the second still counts');
  assert.equal(u.dsack(5000), true, 'both resends reported duplicate');
  assert.deepEqual(u.take(), PRIOR);
});
