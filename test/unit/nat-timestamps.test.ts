// RFC 7323 timestamps of the NAT's TCP (src/core/uplink/nat/timestamps.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Timestamps } from '../../src/core/uplink/nat/timestamps.js';

test('TSval is the millisecond clock plus the connection\'s offset, modulo 2^32; the echo gives the RTT', () => {
  const ts = new Timestamps(77, 0xfffffff0, 1000, 0);
  assert.equal(ts.val(15.9), 0xffffffff);
  assert.equal(ts.val(16), 0);
  assert.equal(ts.rttOf(ts.val(100), 130.4), 30);
  assert.equal(ts.rttOf(ts.val(200), 130), undefined, 'an echo from the future is no sample');
});

test('TS.Recent (RFC 7323 §4.3): updated by a segment at or below Last.ACK.sent with a TSval not older', () => {
  const ts = new Timestamps(100, 0, 1000, 0);
  ts.update(150, 1500, 1);
  assert.equal(ts.recent, 100, 'beyond Last.ACK.sent (out of order)');
  ts.update(150, 1000, 1);
  assert.equal(ts.recent, 150);
  ts.update(120, 1000, 2);
  assert.equal(ts.recent, 150, 'older TSval');
  ts.lastAckSent = 2000;
  ts.update(160, 1800, 3);
  assert.equal(ts.recent, 160);
});

test('PAWS (RFC 7323 §5.3 R1): a TSval older than TS.Recent is rejected, modulo 2^32, unless TS.Recent is 24 days idle', () => {
  const ts = new Timestamps(0xfffffffe, 0, 1000, 0);
  assert.equal(ts.paws(0xfffffffd, 1), true);
  assert.equal(ts.paws(0xfffffffe, 1), false);
  assert.equal(ts.paws(3, 1), false, 'newer across the wrap');
  assert.equal(ts.paws(0xfffffffd, 25 * 24 * 3600 * 1000), false);
});
