// BBR for the NAT's TCP sender (src/core/uplink/nat/bbr.ts) and the delivery rates it models the path from
// (delivery-rate.ts): the rate samples of a known send and ACK schedule, STARTUP's exit after three rounds without
// growth, the PROBE_BW gains, the window in a loss recovery (Linux's packet conservation and restore), and a lossy
// download through the simulated pipeline. Throughput there is in virtual time and only reported; the assertions are on windows and bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bbr, BETA, LOSS_THRESHOLD, STARTUP_GAIN, STARTUP_LOSS_THRESHOLD } from '../../src/core/uplink/nat/bbr.js';
import { DeliveryRate } from '../../src/core/uplink/nat/delivery-rate.js';
import { SentSegments } from '../../src/core/uplink/nat/sent-segments.js';
import { lossyDownload } from '../helpers/sim/lossy-download.js';

const MSS = 1000;

test('delivery rate: ten segments sent 1 ms apart and ACKed 1 ms apart after a 20 ms RTT give 1000 B/ms', () => {
  const rate = new DeliveryRate();
  const segs = new SentSegments();
  for (let i = 0; i < 10; i++) {
    rate.onSend(i, i * MSS);
    segs.push(i * MSS, (i + 1) * MSS, i, 0, rate);
  }
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    const now = 20 + i;
    const before = segs.length;
    segs.ack((i + 1) * MSS, (x, _e, _f, at) => rate.onDelivered(x, at));
    assert.equal(segs.length, before - 1);
    const s = rate.sample(MSS, now, 20);
    if (s) samples.push(s.rate);
  }
  assert.ok(samples.length > 0, 'some samples span at least the minimum RTT');
  // Segment i was sent at i with i segments delivered at 0 (none yet): by its ACK at 20 + i, i + 1 segments are
  // delivered over max(send interval i, ACK interval 20 + i) ms.
  for (const r of samples) assert.ok(r > 0 && r <= MSS, `rate ${r}`);
  assert.equal(rate.delivered, 10 * MSS);
});

test('delivery rate: a sample shorter than the minimum RTT is discarded, and app-limited samples are marked', () => {
  const rate = new DeliveryRate();
  const segs = new SentSegments();
  rate.onSend(0, 0);
  segs.push(0, MSS, 0, 0, rate);
  rate.markAppLimited(MSS);
  segs.ack(MSS, (x, _e, _f, at) => rate.onDelivered(x, at));
  assert.equal(rate.sample(MSS, 5, 10), undefined, '5 ms < min RTT 10 ms');
  rate.onSend(20, 0);
  segs.push(MSS, 2 * MSS, 20, 0, rate);
  segs.ack(2 * MSS, (x, _e, _f, at) => rate.onDelivered(x, at));
  const s = rate.sample(MSS, 40, 10);
  assert.ok(s, 'a 20 ms interval counts');
  assert.equal(s.rate, MSS / 20);
  assert.equal(s.appLimited, false, 'sent after the app-limited flight was delivered');
});

/** A feeder of rounds of ACKs to bbr, each delivering `perRound(round)` bytes over a 10 ms RTT at that rate. */
function driver(bbr: Bbr): (rounds: number, perRound: (r: number) => number) => void {
  let una = 0, now = 0;
  return (rounds, perRound) => { for (let r = 0; r < rounds; r++) {
    const bytes = perRound(r);
    const nxt = una + bytes;
    bbr.onRttSample(10);
    bbr.onAck(bytes, now, 10, una, nxt);
    bbr.onRate(bytes / 10, false, now, bytes);
    una = nxt;
    now += 10;
  } };
}

test('BBR STARTUP: the window grows by what is ACKed until the bandwidth stops growing 25 % for three rounds', () => {
  const bbr = new Bbr(MSS, 10);
  const drive = driver(bbr);
  drive(6, (r) => 10_000 * 2 ** r);
  assert.equal(bbr.mode, 'startup');
  assert.ok(bbr.pacingRate()! > bbr.btlBw() * 2.8, 'STARTUP paces at 2/ln 2 × the bandwidth');
  drive(4, () => 320_000);
  assert.notEqual(bbr.mode, 'startup', 'three flat rounds end STARTUP');
  assert.equal(bbr.btlBw(), 32_000, 'the best rate of the last 10 rounds');
});

test('BBR PROBE_BW: pacing cycles through 1.25, 0.75 and 1 × the bandwidth; the window is about 2 BDP', () => {
  const bbr = new Bbr(MSS, 10);
  driver(bbr)(12, (r) => Math.min(10_000 * 2 ** r, 100_000));
  assert.equal(bbr.mode, 'probeBw');
  const bw = bbr.btlBw();
  const gains = new Set<number>();
  let una = 1e6, now = 1000;
  for (let i = 0; i < 40; i++) {
    bbr.onAck(MSS, now, 10, una, una + MSS);
    bbr.onRate(bw, false, now, i % 2 ? 0 : 10 * bw);
    gains.add(Math.round((bbr.pacingRate()! / bw) * 100) / 100);
    una += MSS; now += 6;
  }
  assert.deepEqual([...gains].sort(), [0.75, 1, 1.25]);
  const bdp = bw * 10;
  assert.ok(bbr.cwnd <= 2 * bdp + 3 * MSS && bbr.cwnd >= bdp, `cwnd ${bbr.cwnd} for a BDP of ${bdp}`);
  assert.ok(STARTUP_GAIN > 2.88 && STARTUP_GAIN < 2.89);
});

test('BBR recovery (as Linux runs it): the window drops to the flight, keeps packet conservation for one flight, then grows and is restored at the end', () => {
  const bbr = new Bbr(MSS, 10);
  driver(bbr)(12, () => 50_000);
  const before = bbr.cwnd;
  assert.ok(before >= 100 * MSS, `a 2 BDP window (${before})`);
  bbr.onLoss();
  bbr.setCwnd();
  assert.equal(bbr.cwnd, before, 'the window waits for the flight the ACK leaves');
  // The ACK that starts recovery: 3 segments SACKed, 2 marked lost, 40 still in flight.
  bbr.account(3 * MSS, 2 * MSS, 1000, 40 * MSS);
  assert.equal(bbr.cwnd, 43 * MSS, 'in flight plus delivered');
  assert.ok(bbr.conserving);
  let una = 1_000_000;
  // Conservation: ACKs of 10 segments do not grow the window beyond flight + delivered; a new loss takes one off.
  bbr.onAck(10 * MSS, 1005, 10, una, una + 50 * MSS);
  bbr.account(10 * MSS, MSS, 1005, 30 * MSS);
  assert.equal(bbr.cwnd, 42 * MSS, 'one segment lost: 43 - 1; 30 + 10 in flight and delivered is below it');
  // The 40 segments in flight at the start are delivered: conservation ends and the window grows by what is ACKed.
  bbr.onAck(30 * MSS, 1010, 10, una, una + 50 * MSS);
  bbr.account(30 * MSS, 0, 1010, 20 * MSS);
  assert.equal(bbr.conserving, false);
  una += 30 * MSS;
  bbr.onAck(5 * MSS, 1012, 10, una, una + 50 * MSS);
  assert.equal(bbr.cwnd, 47 * MSS, 'grows by the 5 segments ACKed');
  bbr.onRecoveryEnd();
  assert.equal(bbr.cwnd, before, 'the window from before the recovery is back');
  // A spurious recovery is undone to the window it began with.
  bbr.onLoss();
  bbr.account(MSS, 5 * MSS, 1020, 10 * MSS);
  assert.equal(bbr.cwnd, 11 * MSS);
  bbr.undo({ cwnd: 20 * MSS, ssthresh: bbr.ssthresh });
  assert.equal(bbr.cwnd, before);
  assert.equal(bbr.conserving, false);
});

test('BBR: a timeout restarts the window from one segment and remembers the window from before a recovery', () => {
  const bbr = new Bbr(MSS, 10);
  driver(bbr)(12, () => 50_000);
  const before = bbr.cwnd;
  bbr.onLoss();
  bbr.account(0, 0, 1000, 5 * MSS);
  bbr.onTimeout();
  assert.equal(bbr.cwnd, MSS);
  assert.equal(bbr.conserving, false);
  bbr.onTimeoutRecovered();
  assert.equal(bbr.cwnd, before);
});

/** A driver whose rounds also report `lostPerRound(r)` bytes lost beside the bytes delivered. */
function lossyDriver(bbr: Bbr): (rounds: number, perRound: (r: number) => number, lostPerRound: (r: number) => number) => void {
  let una = 0, now = 0;
  return (rounds, perRound, lostPerRound) => { for (let r = 0; r < rounds; r++) {
    const bytes = perRound(r);
    bbr.account(bytes, lostPerRound(r), now);
    bbr.onRttSample(10);
    bbr.onAck(bytes, now, 10, una, una + bytes);
    bbr.onRate(bytes / 10, false, now, bytes);
    una += bytes;
    now += 10;
  } };
}

test('BBR loss bound: random loss below LOSS_THRESHOLD (1 %, or a few segments) leaves the model alone', () => {
  const bbr = new Bbr(MSS, 10);
  // Odd rounds: 10 of 1000 segments lost (1 %); even ones: 7 of 100 (7 %, but fewer than 8 segments).
  lossyDriver(bbr)(20, (r) => (r % 2 ? 1_000_000 : 100_000), (r) => (r % 2 ? 10 * MSS : 7 * MSS));
  assert.equal(bbr.inflightHi, Infinity);
  assert.equal(bbr.bwLo, undefined);
  assert.equal(bbr.btlBw(), 100_000);
});

test('BBR loss bound: a round losing more than STARTUP_LOSS_THRESHOLD ends STARTUP and cuts the flight cap and the bandwidth to BETA', () => {
  const bbr = new Bbr(MSS, 10);
  const drive = lossyDriver(bbr);
  drive(5, (r) => 10_000 * 2 ** r, () => 0);
  assert.equal(bbr.mode, 'startup');
  const cwnd = bbr.cwnd, bw = bbr.btlBw();
  drive(1, () => 160_000, () => 20 * MSS);  // 20 of 180 segments lost: 11 %
  drive(1, () => 160_000, () => 0);         // the round that carried it ends here
  assert.notEqual(bbr.mode, 'startup');
  assert.ok(bbr.inflightHi <= Math.max(cwnd, 160_000 + cwnd) * BETA && bbr.cwnd <= bbr.inflightHi, `cap ${bbr.inflightHi}, cwnd ${bbr.cwnd}`);
  assert.ok(bbr.bwLo !== undefined && bbr.bwLo <= Math.max(bw, 16_000) * BETA);
  assert.ok(bbr.pacingRate()! <= bbr.bwLo * STARTUP_GAIN + 1e-9, 'paced at no more than a gain times bw_lo');
  assert.ok(STARTUP_LOSS_THRESHOLD > 0.02 && STARTUP_LOSS_THRESHOLD < 0.1);
});

test('BBR loss bound once probing: a round losing 7.5 % (a lossy path plus a burst of overflow) leaves the model alone, 18 % caps the flight', () => {
  const bbr = new Bbr(MSS, 10);
  const drive = lossyDriver(bbr);
  drive(12, () => 1_000_000, () => 0);
  assert.equal(bbr.mode, 'probeBw');
  assert.ok(LOSS_THRESHOLD > 0.07 && LOSS_THRESHOLD < 0.15 && STARTUP_LOSS_THRESHOLD < LOSS_THRESHOLD);
  const segs = 1_000_000 / MSS;
  drive(1, () => 1_000_000, () => Math.round(0.075 * segs) * MSS);  // 7.5 % of the round's segments
  drive(1, () => 1_000_000, () => 0);
  assert.equal(bbr.inflightHi, Infinity);
  assert.equal(bbr.bwLo, undefined);
  const cwnd = bbr.cwnd;
  drive(1, () => 1_000_000, () => Math.round(0.18 * segs) * MSS);
  drive(1, () => 1_000_000, () => 0);
  assert.ok(bbr.inflightHi <= Math.max(cwnd, bbr.cwnd) * BETA + 1e-9 && bbr.cwnd <= bbr.inflightHi, `cap ${bbr.inflightHi}, cwnd ${cwnd} -> ${bbr.cwnd}`);
});

test('BBR loss bound: losses of a recovery undone as spurious are not judged; the cap grows back in every probing round', () => {
  const bbr = new Bbr(MSS, 10);
  const drive = lossyDriver(bbr);
  drive(12, () => 100_000, () => 0);
  bbr.account(0, 30 * MSS, 120);
  bbr.forgetLosses();  // the reordering was undone
  drive(2, () => 100_000, () => 0);
  assert.equal(bbr.inflightHi, Infinity);
  drive(1, () => 100_000, () => 30 * MSS);
  drive(1, () => 100_000, () => 0);
  const cap = bbr.inflightHi;
  assert.ok(cap < Infinity);
  // The lossy round ended at its own last ACK, and the clean one after it grew the cap by one segment already; the
  // next rounds, whatever the phase of the cycle, add 2, 4, 8, ... segments.
  drive(3, () => 100_000, () => 0);
  assert.equal(bbr.inflightHi, cap + 14 * MSS);
  drive(8, () => 100_000, () => 0);  // 16, 32, ... up to 1024 a round
  assert.equal(bbr.inflightHi, cap + (14 + 16 + 32 + 64 + 128 + 256 + 512 + 1024 + 1024) * MSS);
});

test('BBR: a spurious recovery takes back the loss bound its rounds set', () => {
  const bbr = new Bbr(MSS, 10);
  const drive = lossyDriver(bbr);
  drive(12, () => 100_000, () => 0);
  const prior = bbr.snapshot();
  bbr.onLoss();
  drive(1, () => 100_000, () => 30 * MSS);
  drive(1, () => 100_000, () => 0);
  assert.ok(bbr.inflightHi < Infinity && bbr.bwLo !== undefined, 'the round of needless losses set the bound');
  bbr.undo(prior);
  assert.equal(bbr.inflightHi, Infinity);
  assert.equal(bbr.bwLo, undefined);
  assert.ok(bbr.cwnd >= prior.cwnd);
});

test('sim: an 8 MB download over 1 % random loss (20 ms RTT, 100 Mbit/s) with BBR keeps several times CUBIC\'s flight, byte-exact', (t) => {
  const knobs = { latency: 10, loss: 0.01, rate: 12_500 };
  const flights: Record<string, number> = {};
  for (const cc of ['cubic', 'bbr'] as const) {
    const r = lossyDownload(3, 8 << 20, {}, knobs, { tcpCongestion: cc });
    t.diagnostic(`${cc}: ${r.kBps} KB/s (virtual), ${r.retransmits} retransmits, ${r.lostOnLink} lost on the link`);
    assert.ok(r.ok && r.exact, `${cc}: byte-exact`);
    assert.ok(r.lostOnLink > 0);
    flights[cc] = r.kBps * 20;  // bytes per RTT on average: the mean flight
  }
  assert.ok(flights.bbr! > 3 * flights.cubic!, `mean flight: bbr ${flights.bbr}, cubic ${flights.cubic}`);
});

test('sim: on a 0.3 ms RTT, 400 Mbit/s path BBR\'s window is not two products of 0.3 ms: it keeps up with CUBIC', (t) => {
  const knobs = { latency: 0.15, loss: 0, rate: 50_000 };
  const kBps: Record<string, number> = {};
  for (const cc of ['cubic', 'bbr'] as const) {
    const r = lossyDownload(5, 16 << 20, {}, knobs, { tcpCongestion: cc });
    t.diagnostic(`${cc}: ${r.kBps} KB/s (virtual), ${r.retransmits} retransmits`);
    assert.ok(r.ok && r.exact, `${cc}: byte-exact`);
    kBps[cc] = r.kBps;
  }
  assert.ok(kBps.bbr! >= 0.8 * kBps.cubic!, `virtual throughput: bbr ${kBps.bbr}, cubic ${kBps.cubic}`);
});

/** For `ms`, ACKs of one segment each at `bw` bytes/ms, or `burstMs` worth of them at once after a silence as long;
 *  every rate sample says `bw`, as a max filter's estimate stays above a rate that varies. */
function ackStream(bbr: Bbr, from: { una: number; now: number }, ms: number, bw: number, burstMs = 0, sampled = bw): void {
  const end = from.now + ms;
  while (from.now < end) {
    const n = burstMs > 0 ? Math.round((burstMs * bw) / MSS) : 1;
    from.now += burstMs > 0 ? burstMs : MSS / bw;
    for (let i = 0; i < n; i++) {
      bbr.onAck(MSS, from.now, 10, from.una, from.una + 20 * MSS);
      bbr.onRate(sampled, false, from.now, 20 * MSS);
      bbr.account(MSS, 0, from.now);
      from.una += MSS;
    }
  }
}

test('BBR ACK aggregation: bursts of ACKs widen the window by the burst, smooth ACKs take it back', () => {
  const bbr = new Bbr(MSS, 10);
  driver(bbr)(12, () => 100_000);  // 10 000 B/ms over a 10 ms RTT: a BDP of 100 000 bytes
  assert.equal(bbr.mode, 'probeBw');
  const bw = bbr.btlBw();
  const at = { una: 2e6, now: 1000 };
  ackStream(bbr, at, 200, bw);
  const smooth = bbr.aggregationAllowance();
  assert.ok(smooth <= 2 * MSS, `one segment per ${MSS / bw} ms is no burst: ${smooth}`);
  const target = 2 * bw * 10 + 3 * MSS;
  ackStream(bbr, at, 200, bw, 20);  // 20 ms of silence, then 20 ms of ACKs at once
  const bursty = bbr.aggregationAllowance();
  assert.ok(bursty >= 0.9 * 20 * bw && bursty <= 21 * bw, `20 ms of bandwidth: ${bursty}`);
  assert.ok(bbr.cwnd > target, `window ${bbr.cwnd} above 2 BDP + 3 segments (${target})`);
  // At 90 % of the estimate the burst's excess is used up in 200 ms; then both windows of rounds pass.
  ackStream(bbr, at, 400, 0.9 * bw, 0, bw);
  assert.ok(bbr.aggregationAllowance() <= 2 * MSS, `back to ${bbr.aggregationAllowance()}`);
  assert.ok(bbr.cwnd <= target + 2 * MSS, `window ${bbr.cwnd} back near 2 BDP`);
});

test('BBR ACK aggregation: no allowance in STARTUP, and never more than one window or 100 ms of the bandwidth', () => {
  const bbr = new Bbr(MSS, 10);
  driver(bbr)(3, (r) => 10_000 * 2 ** r);
  assert.equal(bbr.mode, 'startup');
  bbr.account(500_000, 0, 1000);
  assert.equal(bbr.aggregationAllowance(), 0);
  const b2 = new Bbr(MSS, 10);
  driver(b2)(12, () => 10_000);  // 1000 B/ms
  assert.equal(b2.mode, 'probeBw');
  b2.account(10_000_000, 0, 5000);
  assert.ok(b2.aggregationAllowance() <= Math.min(b2.cwnd, 100 * b2.btlBw()), `${b2.aggregationAllowance()}`);
  assert.ok(b2.aggregationAllowance() > 0);
});

test('BBR after a timeout: one segment until what was sent before it is ACKed, then the window it had', () => {
  const bbr = new Bbr(MSS, 10);
  driver(bbr)(12, () => 100_000);
  const before = bbr.cwnd;
  assert.ok(before > 50 * MSS);
  bbr.onTimeout();
  assert.equal(bbr.cwnd, MSS);
  bbr.onTimeout();  // a second timeout remembers the first one's window, not one segment
  bbr.onTimeoutRecovered();
  assert.equal(bbr.cwnd, before);
  bbr.onTimeout();
  bbr.undo({ cwnd: before, ssthresh: bbr.ssthresh });
  assert.equal(bbr.cwnd, before, 'a spurious timeout undone');
});
