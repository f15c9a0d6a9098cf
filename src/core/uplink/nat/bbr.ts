// BBR (version 1, draft-cardwell-iccrg-bbr-congestion-control-00) for the NAT's TCP sender: a model of the path
// instead of a reaction to loss. The bottleneck bandwidth is the largest delivery rate (delivery-rate.ts) of the last
// 10 round trips, the propagation delay the smallest RTT of the last 10 s; the sender paces at a gain times that
// bandwidth and keeps about two bandwidth-delay products in flight. Random loss (Wi-Fi, mobile) does not shrink the
// window, which is where CUBIC and NewReno fall to the Mathis bound. Linux's default on many hosts is BBR, so on a
// lossy path an OpenVPN client's downloads get it end to end from the Internet host.
//
// States: STARTUP (gain 2/ln 2, until the bandwidth grows less than 25 % in three rounds), DRAIN (its queue out),
// PROBE_BW (gains 1.25, 0.75, then 1 for six phases of one min RTT each). PROBE_RTT is left out: with the 0.75
// phases draining the queue each cycle, a flow sees its base RTT often enough for the minimum to refresh.
import { INITIAL_SSTHRESH, type CongestionControl, type CongestionSnapshot } from './congestion.js';
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

export type BbrMode = 'startup' | 'drain' | 'probeBw';

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
  private minRttAt = 0;
  private clock = 0;
  private fullBw = 0;
  private fullBwRounds = 0;
  private cycle = 0;
  private cycleAt = 0;

  constructor(private readonly mss: number, initialSegments: number) {
    this.cwnd = initialSegments * mss;
  }

  /** The bottleneck bandwidth estimate (bytes/ms), 0 before the first sample. */
  btlBw(): number {
    let m = 0;
    for (const b of this.bwByRound) if (b > m) m = b;
    return m;
  }

  private pacingGain(): number {
    if (this.mode === 'startup') return STARTUP_GAIN;
    if (this.mode === 'drain') return 1 / STARTUP_GAIN;
    return CYCLE_GAINS[this.cycle]!;
  }

  /** Bytes per ms to pace at; undefined until the model has a bandwidth and an RTT. */
  pacingRate(): number | undefined {
    const bw = this.btlBw();
    return bw > 0 && this.minRtt < Infinity ? this.pacingGain() * bw : undefined;
  }

  /** The delay the model plans with: the min RTT, floored. */
  private modelRtt(): number { return Math.max(this.minRtt, MODEL_RTT_FLOOR_MS); }

  private bdp(): number { return this.btlBw() * this.modelRtt(); }

  private targetCwnd(): number {
    const gain = this.mode === 'probeBw' ? CWND_GAIN : STARTUP_GAIN;
    return Math.max(MIN_CWND_SEGMENTS * this.mss, Math.ceil(gain * this.bdp()) + 3 * this.mss);
  }

  onRttSample(rtt: number): void {
    if (rtt <= this.minRtt || this.clock - this.minRttAt > MIN_RTT_WINDOW_MS) {
      this.minRtt = rtt;
      this.minRttAt = this.clock;
    }
  }

  onAck(acked: number, now: number, _srtt: number | undefined, una: Seq, nxt: Seq): void {
    this.clock = now;
    if (this.roundEnd === undefined || seqGe(una, this.roundEnd)) {
      this.round++;
      this.roundEnd = nxt;
      this.roundStarted = true;
      this.bwByRound[this.round % BW_WINDOW_ROUNDS] = 0;
    }
    this.grow(acked);
  }

  /** The window grows by what is ACKed up to the model's (in STARTUP, with no model yet, without bound). */
  private grow(acked: number): void {
    const target = this.targetCwnd();
    if (this.mode !== 'startup') this.cwnd = Math.min(this.cwnd + acked, target);
    else if (this.btlBw() === 0 || this.cwnd < target) this.cwnd += acked;
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
      if (done) { this.cycle = (this.cycle + 1) % CYCLE_GAINS.length; this.cycleAt = now; }
    }
    if (this.mode !== 'startup') this.cwnd = Math.min(this.cwnd, this.targetCwnd());
  }

  /** Loss does not change the model (BBR v1): recovery resends within the same window and pacing rate. */
  onLoss(): void { /* the window is the model's */ }

  onRecoveryEnd(): void { /* nothing was reduced */ }

  /** After a timeout the window restarts from one segment and grows back by what is ACKed. */
  onTimeout(): void { this.cwnd = this.mss; }

  /** PRR's and NewReno's recovery windows do not apply: the window is the model's. */
  setCwnd(): void { /* the window is the model's */ }

  snapshot(): CongestionSnapshot { return { cwnd: this.cwnd, ssthresh: this.ssthresh }; }

  undo(prior: CongestionSnapshot): void { this.cwnd = Math.max(this.cwnd, prior.cwnd); }
}
