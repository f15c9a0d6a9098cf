// BBR (version 1, draft-cardwell-iccrg-bbr-congestion-control-00) for the NAT's TCP sender: a model of the path
// instead of a reaction to loss. The bottleneck bandwidth is the largest delivery rate (delivery-rate.ts) of the last
// 10 round trips, the propagation delay the smallest RTT of the last 10 s; the sender paces at a gain times that
// bandwidth and keeps about two bandwidth-delay products in flight. Random loss (Wi-Fi, mobile) changes neither the
// bandwidth nor the pacing rate, and the window it dips in a recovery comes back when the recovery ends; CUBIC and
// NewReno fall to the Mathis bound there. Linux's default on many hosts is BBR, so on a lossy path an OpenVPN
// client's downloads get it end to end from the Internet host.
//
// States: STARTUP (gain 2/ln 2, until the bandwidth grows less than 25 % in three rounds), DRAIN (its queue out),
// PROBE_BW (gains 1.25, 0.75, then 1 for six phases of one min RTT each). PROBE_RTT is left out: with the 0.75
// phases draining the queue each cycle, a flow sees its base RTT often enough for the minimum to refresh.
//
// One piece of BBR v2 (draft-cardwell-iccrg-bbr-congestion-control-02, "loss rate"): random loss stays ignored, but a
// round trip that loses more than LOSS_THRESHOLD (STARTUP_LOSS_THRESHOLD in STARTUP) of its data means the flow
// itself overflows a queue (a shallow buffer, such as the client's own UDP socket under a line-rate burst), which v1
// would go on overflowing at the same rate. Such a round ends STARTUP, caps the flight at BETA of what it was
// (inflight_hi) and lowers the bandwidth the sender paces and sizes its window with to BETA of the estimate (bw_lo).
// Each new probing cycle forgets bw_lo; the cap grows again in every probing round without that loss (1, 2, 4, ...
// segments a round). BBR v2 grows it only while probing up, which here is one round in eight: on a path with random
// loss and reordering (bench path (b)) a cap set by one round of losses then held the flow at 20 segments for seconds
// (3-4 Mbit/s against 7-8 growing each round).
//
// Loss recovery as Linux's BBR runs it: each segment newly marked lost takes one segment off the window, and the
// first round trip of a recovery keeps packet conservation (the window is what is in flight plus what the ACK
// delivered, never grown beyond it), so a flight that overflows a queue shrinks by what it lost instead of going on
// at two BDPs. The window is restored when the recovery ends, as it is after a spurious one; the bandwidth and the
// pacing rate stay the model's throughout.
//
// ACK aggregation (as Linux's BBR estimates it): when ACKs come in bursts, as behind an OpenVPN client's TCP transport
// that holds the tunnel's packets back while it recovers a loss of its own, two BDPs of window run out between bursts.
// The window gets the largest excess of a burst over what the bandwidth estimate would have delivered in its time, the
// largest of the last EXTRA_ACKED_ROUNDS to 2 × EXTRA_ACKED_ROUNDS rounds, at most one window and EXTRA_ACKED_MAX_MS of
// the bandwidth.
import { INITIAL_SSTHRESH, type CongestionControl, type CongestionSnapshot } from './congestion.js';
import { belowPathMinimum } from './rtt-estimator.js';
import { seqGe, type Seq } from './seq.js';

export const STARTUP_GAIN = 2 / Math.LN2;
const CYCLE_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
const CWND_GAIN = 2;
const BW_WINDOW_ROUNDS = 10;
const MIN_RTT_WINDOW_MS = 10_000;
const FULL_BW_GROWTH = 1.25;
const FULL_BW_ROUNDS = 3;
const MIN_CWND_SEGMENTS = 4;
/**
 * The model never takes the path's delay as less than 1 ms. On a sub-millisecond path the ACKs arrive in batches of
 * one event-loop turn, so two products of a 0.3 ms RTT cannot cover the bytes a turn delivers and the flow stalls.
 */
const MODEL_RTT_FLOOR_MS = 1;
/** The loss share of a round above which the flow is taken to overflow a queue itself. BBR v2 uses 2 %; random loss on
 *  the paths nanovpn serves reaches that (2 % Wi-Fi or mobile loss is common), so the bounds here are higher. STARTUP,
 *  which doubles its rate each round, stops at the lower one. Once probing, a round on a 1 % loss path that also meets
 *  a burst of the client's socket overflow passes 5 % often enough to hold the flow at 0.6x OpenVPN's (bench path (a),
 *  UDP download: 188-202 Mbit/s at 5 %, 236-248 at 10 %, 275-280 at 20 %), while over 100 ms RTT (path (c)) 20 % let
 *  probing overflow for whole rounds (135-218 against 134-210 at 5 % and 10 %). */
export const STARTUP_LOSS_THRESHOLD = 0.05;
export const LOSS_THRESHOLD = 0.1;
/** What a round with too much loss leaves of the flight cap and of the bandwidth. */
export const BETA = 0.7;
/** Rounds with fewer lost segments are never judged: a few random losses in a short round are not a rate (BBR v2
 *  waits for 8 loss events in STARTUP). */
const MIN_LOST_SEGMENTS = 8;
const EXTRA_ACKED_ROUNDS = 5;
const EXTRA_ACKED_MAX_MS = 100;

export type BbrMode = 'startup' | 'drain' | 'probeBw';

interface BbrSnapshot extends CongestionSnapshot { readonly inflightHi: number; readonly bwLo: number | undefined }

export interface BbrModel {
  mode: BbrMode; btlBw: number; bwLo: number | undefined; minRtt: number; pacingRate: number | undefined;
}

export class Bbr implements CongestionControl {
  readonly ssthresh = INITIAL_SSTHRESH;
  cwnd: number;
  mode: BbrMode = 'startup';
  /** Round trips counted as each ACK passes the SND.NXT of the one that began the round. */
  round = 0;
  private roundEnd: Seq | undefined;
  private roundStarted = false;
  /** The largest delivery rate seen in each of the last BW_WINDOW_ROUNDS rounds (bytes/ms). */
  private readonly bwByRound = new Float64Array(BW_WINDOW_ROUNDS);
  private minRtt = Infinity;
  /** The endpoint's smoothed RTT at the last ACK, which tells an outlier RTT sample (rtt-estimator.ts). */
  private srtt: number | undefined;
  private minRttAt = 0;
  private clock = 0;
  private fullBw = 0;
  private fullBwRounds = 0;
  private cycle = 0;
  private cycleAt = 0;
  private roundDelivered = 0;
  private roundLost = 0;
  /** The flight cap a round with too much loss set (bytes); Infinity until then. */
  inflightHi = Infinity;
  private hiGrowthSegments = 1;
  /** The bandwidth (bytes/ms) after rounds with too much loss, until the next probing cycle; undefined: none. */
  bwLo: number | undefined;
  private ackEpochAt = 0;
  private ackEpochDelivered = 0;
  /** The largest excess delivered in a burst, in the current and the previous window of EXTRA_ACKED_ROUNDS rounds. */
  private readonly extraAcked = [0, 0];
  private extraAckedSlot = 0;
  private extraAckedRounds = 0;
  private priorCwnd = 0;
  /** The window when the current loss recovery began (Linux's prior_cwnd), restored at its end; 0: none. */
  private recoveryPriorCwnd = 0;
  private recoveryStarting = false;
  /** Bytes still to be delivered before packet conservation ends: the flight at recovery start, one round trip
   *  (Linux counts the round by delivery, SACKs included; SND.UNA stays at the first hole); undefined: off. */
  private conservationLeft: number | undefined;

  constructor(private readonly mss: number, initialSegments: number) {
    this.cwnd = initialSegments * mss;
  }

  /** The bottleneck bandwidth estimate (bytes/ms), 0 before the first sample. */
  btlBw(): number {
    let m = 0;
    for (const b of this.bwByRound) if (b > m) m = b;
    return m;
  }

  /** The model right now, for diagnostics (bandwidths in bytes/ms, times in ms). */
  model(): BbrModel {
    return { mode: this.mode, btlBw: this.btlBw(), bwLo: this.bwLo, minRtt: this.minRtt, pacingRate: this.pacingRate() };
  }

  /** The bandwidth the sender uses: the estimate, bounded by bw_lo after rounds with too much loss. */
  private bw(): number {
    const b = this.btlBw();
    return this.bwLo === undefined ? b : Math.min(b, this.bwLo);
  }

  /** Whether the window is under packet conservation (the first round trip of a loss recovery). */
  get conserving(): boolean { return this.conservationLeft !== undefined; }

  /**
   * Bytes the ACK being processed at `now` newly delivered (ACKed or SACKed) and newly marked lost; in a loss
   * recovery, `pipe` is what is still in flight after it (sent, neither SACKed nor marked lost).
   */
  account(delivered: number, lost: number, now: number, pipe?: number): void {
    this.roundDelivered += delivered;
    this.roundLost += lost;
    if (delivered > 0) this.noteAggregation(delivered, now);
    if (lost > 0) this.cwnd = Math.max(this.cwnd - lost, this.mss);
    if (pipe !== undefined) {
      if (this.recoveryStarting) {
        this.recoveryStarting = false;
        this.conservationLeft = pipe;
        this.cwnd = pipe + delivered;
      } else if (this.conservationLeft !== undefined) {
        this.conservationLeft -= delivered;
        if (this.conservationLeft <= 0) this.conservationLeft = undefined;
      }
      if (this.conservationLeft !== undefined) this.cwnd = Math.max(this.cwnd, pipe + delivered);
    }
    this.cwnd = Math.max(this.cwnd, MIN_CWND_SEGMENTS * this.mss);
  }

  private noteAggregation(delivered: number, now: number): void {
    const bw = this.bw();
    if (bw <= 0) return;
    let expected = bw * (now - this.ackEpochAt);
    if (this.ackEpochDelivered <= expected) {
      this.ackEpochAt = now;
      this.ackEpochDelivered = 0;
      expected = 0;
    }
    this.ackEpochDelivered += delivered;
    const extra = Math.min(this.ackEpochDelivered - expected, this.cwnd);
    if (extra > this.extraAcked[this.extraAckedSlot]!) this.extraAcked[this.extraAckedSlot] = extra;
  }

  /** The window the model adds for bursts of ACKs; none in STARTUP, which grows without a bound of its own. */
  aggregationAllowance(): number {
    if (this.mode === 'startup') return 0;
    return Math.min(Math.max(this.extraAcked[0]!, this.extraAcked[1]!), this.bw() * EXTRA_ACKED_MAX_MS);
  }

  /** A recovery was undone: what it marked lost had arrived (reordering), so the round has not lost it. */
  forgetLosses(): void { this.roundLost = 0; }

  /** A round trip ended: judge its losses. */
  private endRound(): void {
    const lost = this.roundLost, total = this.roundDelivered + this.roundLost;
    this.roundDelivered = this.roundLost = 0;
    if (lost >= MIN_LOST_SEGMENTS * this.mss && lost > (this.mode === 'startup' ? STARTUP_LOSS_THRESHOLD : LOSS_THRESHOLD) * total) {
      this.inflightHi = Math.max(MIN_CWND_SEGMENTS * this.mss, Math.min(this.inflightHi, this.cwnd) * BETA);
      this.bwLo = (this.bwLo ?? this.btlBw()) * BETA;
      this.hiGrowthSegments = 1;
      this.cwnd = Math.min(this.cwnd, this.inflightHi);
      if (this.mode === 'startup') this.mode = 'drain';
    } else if (this.inflightHi < Infinity && this.mode === 'probeBw') {
      this.inflightHi += this.hiGrowthSegments * this.mss;
      this.hiGrowthSegments = Math.min(this.hiGrowthSegments * 2, 1024);
    }
  }

  private pacingGain(): number {
    if (this.mode === 'startup') return STARTUP_GAIN;
    if (this.mode === 'drain') return 1 / STARTUP_GAIN;
    return CYCLE_GAINS[this.cycle]!;
  }

  /** Bytes per ms to pace at; undefined until the model has a bandwidth and an RTT. */
  pacingRate(): number | undefined {
    const bw = this.btlBw();
    return bw > 0 && this.minRtt < Infinity ? this.pacingGain() * this.bw() : undefined;
  }

  /** The delay the model plans with: the min RTT, floored. */
  private modelRtt(): number { return Math.max(this.minRtt, MODEL_RTT_FLOOR_MS); }

  private bdp(): number { return this.bw() * this.modelRtt(); }

  private targetCwnd(): number {
    const gain = this.mode === 'probeBw' ? CWND_GAIN : STARTUP_GAIN;
    const want = Math.ceil(gain * this.bdp()) + 3 * this.mss + this.aggregationAllowance();
    return Math.max(MIN_CWND_SEGMENTS * this.mss, Math.min(want, this.inflightHi));
  }

  onRttSample(rtt: number): void {
    if (belowPathMinimum(rtt, this.srtt)) return;
    if (rtt <= this.minRtt || this.clock - this.minRttAt > MIN_RTT_WINDOW_MS) {
      this.minRtt = rtt;
      this.minRttAt = this.clock;
    }
  }

  onAck(acked: number, now: number, srtt: number | undefined, una: Seq, nxt: Seq): void {
    this.clock = now;
    this.srtt = srtt;
    if (this.roundEnd === undefined || seqGe(una, this.roundEnd)) {
      if (this.roundEnd !== undefined) this.endRound();
      this.round++;
      this.roundEnd = nxt;
      this.roundStarted = true;
      this.bwByRound[this.round % BW_WINDOW_ROUNDS] = 0;
      if (++this.extraAckedRounds >= EXTRA_ACKED_ROUNDS) {
        this.extraAckedRounds = 0;
        this.extraAckedSlot ^= 1;
        this.extraAcked[this.extraAckedSlot] = 0;
      }
    }
    if (this.conservationLeft === undefined) this.grow(acked);
  }

  /** The window grows by what is ACKed up to the model's (in STARTUP, with no model yet, without bound). */
  private grow(acked: number): void {
    const target = this.targetCwnd();
    if (this.mode !== 'startup') this.cwnd = Math.min(this.cwnd + acked, target);
    else if (this.btlBw() === 0 || this.cwnd < target) this.cwnd = Math.min(this.cwnd + acked, this.inflightHi);
  }

  /**
   * A delivery-rate sample at the end of an ACK, with `inFlight` bytes still outstanding. An app-limited sample
   * (the outbound socket had nothing more) raises the estimate but never lowers a round's.
   */
  onRate(rate: number, appLimited: boolean, now: number, inFlight: number): void {
    this.clock = now;
    const slot = this.round % BW_WINDOW_ROUNDS;
    if (!appLimited || rate > this.btlBw()) this.bwByRound[slot] = Math.max(this.bwByRound[slot]!, rate);
    const newRound = this.roundStarted;
    this.roundStarted = false;
    if (this.mode === 'startup' && newRound && !appLimited) {
      const bw = this.btlBw();
      if (bw >= this.fullBw * FULL_BW_GROWTH) { this.fullBw = bw; this.fullBwRounds = 0; }
      else if (++this.fullBwRounds >= FULL_BW_ROUNDS) this.mode = 'drain';
    }
    if (this.mode === 'drain' && inFlight <= this.bdp()) {
      this.mode = 'probeBw';
      this.cycle = 2;  // start at a gain of 1: the drain just emptied the queue
      this.cycleAt = now;
    }
    const rtt = this.modelRtt();
    if (this.mode === 'probeBw' && now - this.cycleAt > rtt) {
      // The 1.25 phase lasts until the flight has reached 1.25 BDP, the 0.75 one until it is down to one BDP.
      const gain = CYCLE_GAINS[this.cycle]!;
      const done = gain > 1 ? inFlight >= gain * this.bdp() || now - this.cycleAt > 2 * rtt
        : gain < 1 ? inFlight <= this.bdp() || now - this.cycleAt > 2 * rtt : true;
      if (done) {
        this.cycle = (this.cycle + 1) % CYCLE_GAINS.length;
        this.cycleAt = now;
        if (this.cycle === 0) this.bwLo = undefined;  // a new cycle probes from the estimate again
      }
    }
    if (this.mode !== 'startup') this.cwnd = Math.min(this.cwnd, this.targetCwnd());
  }

  /** A loss recovery starts: the window is saved, and the next account() sets it to the flight (conservation). */
  onLoss(): void {
    this.recoveryPriorCwnd = Math.max(this.recoveryPriorCwnd, this.cwnd);
    this.recoveryStarting = true;
  }

  onRecoveryEnd(): void {
    this.cwnd = Math.max(this.cwnd, Math.min(this.recoveryPriorCwnd, this.inflightHi));
    this.endRecovery();
  }

  private endRecovery(): void {
    this.recoveryPriorCwnd = 0;
    this.recoveryStarting = false;
    this.conservationLeft = undefined;
  }

  /** After a timeout the window restarts from one segment and grows back by what is ACKed... */
  onTimeout(): void {
    this.priorCwnd = Math.max(this.priorCwnd, this.cwnd, this.recoveryPriorCwnd);
    this.endRecovery();
    this.cwnd = this.mss;
  }

  /** ...until everything sent before it is acknowledged: then the window is back to what it was (as Linux's BBR
   *  restores it on leaving loss recovery). The bandwidth filter alone would not bring it back: its rounds of
   *  one-segment windows measured the window, not the path, and PROBE_BW climbs a quarter per cycle from there. */
  onTimeoutRecovered(): void {
    this.cwnd = Math.max(this.cwnd, Math.min(this.priorCwnd, this.inflightHi));
    this.priorCwnd = 0;
  }

  /** PRR's and NewReno's recovery windows do not apply: the window is the model's. */
  setCwnd(): void { /* the window is the model's */ }

  snapshot(): BbrSnapshot { return { cwnd: this.cwnd, ssthresh: this.ssthresh, inflightHi: this.inflightHi, bwLo: this.bwLo }; }

  /** A spurious recovery also takes back the loss bound that rounds of its needless losses set. */
  undo(prior: CongestionSnapshot): void {
    const p = prior as Partial<BbrSnapshot>;
    if (p.inflightHi !== undefined && p.inflightHi > this.inflightHi) this.inflightHi = p.inflightHi;
    if ('bwLo' in p && this.bwLo !== undefined && (p.bwLo === undefined || p.bwLo > this.bwLo)) this.bwLo = p.bwLo;
    this.cwnd = Math.max(this.cwnd, prior.cwnd, Math.min(this.recoveryPriorCwnd, this.inflightHi));
    this.priorCwnd = 0;
    this.endRecovery();
  }
}
