// Congestion control of the NAT's TCP sender, apart from the endpoint that uses it. The endpoint says what happened
// (bytes newly acknowledged, an RTT sample, a loss, a timeout, a recovery that turned out spurious); the algorithm
// sets cwnd and ssthresh. Two algorithms implement the interface: NewReno (RFC 5681, RFC 6582) here and CUBIC
// (RFC 9438, cubic.ts); either may run its initial slow start under HyStart++ (RFC 9406, hystart.ts). Proportional
// Rate Reduction (prr.ts) paces sending within a SACK recovery on top of any of them.
import type { HyStart } from './hystart.js';
import type { Seq } from './seq.js';

/** bbr (bbr.ts) needs SACK; a flow without it runs CUBIC. */
export type CongestionAlgorithm = 'cubic' | 'newreno' | 'bbr';

/** What undo() restores; each algorithm may keep more of its state in it. */
export interface CongestionSnapshot {
  readonly cwnd: number;
  readonly ssthresh: number;
}

export interface CongestionControl {
  readonly cwnd: number;
  readonly ssthresh: number;
  /** An RTT measurement (ms) from an ACK. */
  onRttSample(rtt: number): void;
  /**
   * New data acknowledged outside recovery at `now` (ms): grow the window. srtt is the smoothed RTT (ms, undefined
   * before the first sample); una and nxt are SND.UNA after the ACK and SND.NXT, which delimit slow-start rounds.
   */
  onAck(acked: number, now: number, srtt: number | undefined, una: Seq, nxt: Seq): void;
  /** A loss starts recovery with `flight` bytes outstanding: sets the new ssthresh (and cwnd to it). */
  onLoss(flight: number, now: number): void;
  /** Recovery ended with a full ACK. */
  onRecoveryEnd(): void;
  /** A retransmission timeout with `flight` bytes outstanding (RFC 5681 §3.1). */
  onTimeout(flight: number, now: number): void;
  /** The window within a recovery, as PRR or NewReno's inflation computes it. */
  setCwnd(cwnd: number): void;
  /** What undo() would restore. */
  snapshot(): CongestionSnapshot;
  /** The last reduction was for a spurious retransmission: restore the state before it (RFC 3522 §3.2). */
  undo(prior: CongestionSnapshot): void;
}

/** ssthresh before the first loss: "arbitrarily high" (RFC 5681 §3.1). */
export const INITIAL_SSTHRESH = 0x7fffffff;

export class NewReno implements CongestionControl {
  cwnd: number;
  ssthresh = INITIAL_SSTHRESH;

  constructor(private readonly mss: number, initialSegments: number, private readonly hystart?: HyStart) {
    this.cwnd = initialSegments * mss;
  }

  onRttSample(rtt: number): void { this.hystart?.rttSample(rtt); }

  onAck(acked: number, _now: number, _srtt: number | undefined, una: Seq, nxt: Seq): void {
    if (this.cwnd < this.ssthresh) {
      const hs = this.hystart;
      if (hs?.active) {
        this.cwnd += Math.floor(hs.onAck(acked, una, nxt));
        if (!hs.active) this.ssthresh = this.cwnd;  // Conservative Slow Start ran its rounds
      } else {
        this.cwnd += Math.min(acked, this.mss);
      }
    } else {
      this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
    }
  }

  onLoss(flight: number): void {
    this.hystart?.end();
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.ssthresh;
  }

  onRecoveryEnd(): void { this.cwnd = this.ssthresh; }

  onTimeout(flight: number): void {
    this.hystart?.end();
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.mss;
  }

  setCwnd(cwnd: number): void { this.cwnd = cwnd; }

  snapshot(): CongestionSnapshot { return { cwnd: this.cwnd, ssthresh: this.ssthresh }; }

  undo(prior: CongestionSnapshot): void {
    this.cwnd = Math.max(this.cwnd, prior.cwnd);
    this.ssthresh = Math.max(this.ssthresh, prior.ssthresh);
  }
}
