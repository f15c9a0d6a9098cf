// CUBIC (RFC 9438) for the NAT's TCP sender, in bytes like NewReno (congestion.ts): W_cubic(t) = C*(t-K)^3 + W_max
// in segments becomes C*MSS*(t-K)^3 + W_max in bytes, with t in seconds since the congestion avoidance stage began.
// Each ACK in congestion avoidance moves cwnd towards W_cubic one RTT ahead (clamped to [cwnd, 1.5 cwnd], §4.2)
// unless the Reno-friendly estimate W_est is ahead of W_cubic (§4.3), in which case cwnd follows W_est. A loss
// multiplies the window by beta_cubic and, with fast convergence (§4.7), sets W_max below the window when the window
// did not reach the last W_max. Slow start is standard or HyStart++ (hystart.ts).
import {
  INITIAL_SSTHRESH, type CongestionControl, type CongestionSnapshot,
} from './congestion.js';
import type { HyStart } from './hystart.js';
import type { Seq } from './seq.js';

// RFC 9438 §5.
export const CUBIC_C = 0.4;
export const BETA_CUBIC = 0.7;
export const ALPHA_CUBIC = (3 * (1 - BETA_CUBIC)) / (1 + BETA_CUBIC);

interface Epoch {
  /** When this congestion avoidance stage began (ms). */
  start: number;
  /** Seconds W_cubic takes to climb from cwnd_epoch back to W_max (negative when cwnd_epoch is above it). */
  k: number;
  /** The Reno-friendly window estimate (bytes). */
  wEst: number;
}

/** cwnd in it keeps its fraction of a byte. */
export interface CubicSnapshot extends CongestionSnapshot {
  readonly wMax: number;
  readonly cwndPrior: number;
  readonly epoch: Epoch | undefined;
  readonly wMaxFromEpoch: boolean;
}

export class Cubic implements CongestionControl {
  ssthresh = INITIAL_SSTHRESH;
  /** cwnd with the fractions of bytes the per-ACK increments leave. */
  private exact: number;
  /** The window at the last congestion event, after fast convergence (bytes). */
  private wMax = 0;
  /** The window just before the last reduction; W_est growing past it switches alpha to 1 (§4.3). */
  private cwndPrior = 0;
  /** The current congestion avoidance stage; undefined until its first ACK. */
  private epoch: Epoch | undefined;
  /**
   * The next stage takes W_max = cwnd_epoch and K = 0: after a timeout (§4.8), or when slow start ended without a
   * loss (HyStart++, §4.10), leaving no W_max to return to.
   */
  private wMaxFromEpoch = true;

  constructor(private readonly mss: number, initialSegments: number, private readonly hystart?: HyStart) {
    this.exact = initialSegments * mss;
  }

  get cwnd(): number { return Math.floor(this.exact); }

  onRttSample(rtt: number): void { this.hystart?.rttSample(rtt); }

  onAck(acked: number, now: number, srtt: number | undefined, una: Seq, nxt: Seq): void {
    if (this.exact < this.ssthresh) {
      const hs = this.hystart;
      if (hs?.active) {
        this.exact += hs.onAck(acked, una, nxt);
        if (!hs.active) this.ssthresh = this.cwnd;
      } else {
        this.exact += Math.min(acked, this.mss);
      }
      return;
    }
    const e = this.epoch ?? this.beginEpoch(now);
    const t = (now - e.start) / 1000;
    const w = this.exact;
    const alpha = e.wEst >= this.cwndPrior ? 1 : ALPHA_CUBIC;
    e.wEst += (alpha * acked * this.mss) / w;
    if (this.wCubic(e, t) < e.wEst) {
      this.exact = e.wEst;
      return;
    }
    const ahead = this.wCubic(e, t + (srtt ?? 0) / 1000);
    const target = Math.min(Math.max(ahead, w), 1.5 * w);
    this.exact = w + ((target - w) * acked) / w;
  }

  onLoss(flight: number): void {
    this.reduce(flight);
    this.exact = this.ssthresh;
  }

  onRecoveryEnd(): void { this.exact = this.ssthresh; }

  onTimeout(flight: number): void {
    this.reduce(flight);
    this.exact = this.mss;
    this.wMaxFromEpoch = true;
  }

  setCwnd(cwnd: number): void { this.exact = cwnd; }

  snapshot(): CubicSnapshot {
    return {
      cwnd: this.exact, ssthresh: this.ssthresh, wMax: this.wMax, cwndPrior: this.cwndPrior,
      epoch: this.epoch && { ...this.epoch }, wMaxFromEpoch: this.wMaxFromEpoch,
    };
  }

  /** RFC 9438 §4.9: W_max, K, the epoch and W_est come back with the window; the window is never lowered. */
  undo(prior: CubicSnapshot): void {
    this.ssthresh = Math.max(this.ssthresh, prior.ssthresh);
    this.exact = Math.max(this.exact, prior.cwnd);
    this.wMax = prior.wMax;
    this.cwndPrior = prior.cwndPrior;
    this.epoch = prior.epoch && { ...prior.epoch };
    this.wMaxFromEpoch = prior.wMaxFromEpoch;
  }

  /** W_cubic(t) in bytes (§4.2, Figure 1). */
  private wCubic(e: Epoch, t: number): number {
    return CUBIC_C * this.mss * (t - e.k) ** 3 + this.wMax;
  }

  private beginEpoch(now: number): Epoch {
    const cwndEpoch = this.exact;
    if (this.wMaxFromEpoch) {
      this.wMax = cwndEpoch;
      this.wMaxFromEpoch = false;
    }
    // §4.2: K = cubic_root((W_max - cwnd_epoch) / C), the windows in segments.
    const k = Math.cbrt((this.wMax - cwndEpoch) / this.mss / CUBIC_C);
    this.epoch = { start: now, k, wEst: cwndEpoch };
    return this.epoch;
  }

  /** §4.6 and §4.7: W_max, cwnd_prior and ssthresh at a congestion event, before the window is cut. */
  private reduce(flight: number): void {
    this.hystart?.end();
    const w = this.exact;
    this.wMax = w < this.wMax ? (w * (1 + BETA_CUBIC)) / 2 : w;
    this.cwndPrior = w;
    this.ssthresh = Math.max(Math.floor(flight * BETA_CUBIC), 2 * this.mss);
    this.epoch = undefined;
    this.wMaxFromEpoch = false;
  }
}
