// Delivery-rate estimation for the NAT's TCP sender (draft-cheng-iccrg-delivery-rate-estimation, as Linux's
// tcp_rate.c does it): each segment records, when it leaves, how many bytes had been delivered and when; an ACK that
// delivers it yields the bytes delivered since then over the longer of the send and the ACK intervals. The rate is
// what BBR (bbr.ts) models the path from. Segments are tracked with SACK only (sent-segments.ts), and so is this.
import type { RateAtSend } from './sent-segments.js';

export class DeliveryRate implements RateAtSend {
  /** Bytes known delivered (cumulatively ACKed or SACKed) since the connection began. */
  delivered = 0;
  /** When `delivered` last grew (or the flight restarted from empty). */
  deliveredAt = 0;
  /** Send time of the segment that began the current sampling interval. */
  firstSentAt = 0;
  /** The flight ran dry for want of data from the outbound socket: samples until it refills understate the path. */
  appLimitedUntil = -1;

  // The newest-sent segment this ACK delivered, whose state at send makes the sample.
  private newestSent = -Infinity;
  private priorDelivered = -1;
  private priorAt = 0;
  private sendElapsed = 0;

  /** A segment leaves at `now` with `inFlight` bytes already outstanding. */
  onSend(now: number, inFlight: number): void {
    if (inFlight === 0) { this.firstSentAt = now; this.deliveredAt = now; }
  }

  /** Nothing more to send with the window open: the samples of what is in flight are app-limited. */
  markAppLimited(inFlight: number): void { this.appLimitedUntil = this.delivered + Math.max(inFlight, 1); }

  /** A segment sent at xmitAt, with `rate` recorded then, is newly delivered by the ACK being processed. */
  readonly onDelivered = (xmitAt: number, rate: RateAtSend): void => {
    if (xmitAt <= this.newestSent) return;
    this.newestSent = xmitAt;
    this.priorDelivered = rate.delivered;
    this.priorAt = rate.deliveredAt;
    this.sendElapsed = xmitAt - rate.firstSentAt;
    this.firstSentAt = xmitAt;
  };

  /**
   * The end of an ACK that delivered `bytes` at `now`: the rate sample in bytes per ms, or undefined when there is
   * none or its interval is shorter than the path's minimum RTT (ACK compression would inflate it).
   */
  sample(bytes: number, now: number, minRtt: number): { rate: number; appLimited: boolean } | undefined {
    const prior = this.priorDelivered;
    this.priorDelivered = -1;
    this.newestSent = -Infinity;
    if (bytes <= 0) return undefined;
    this.delivered += bytes;
    this.deliveredAt = now;
    if (prior < 0) return undefined;
    const interval = Math.max(this.sendElapsed, now - this.priorAt);
    if (interval <= 0 || interval < minRtt) return undefined;
    const appLimited = prior < this.appLimitedUntil;
    if (this.delivered > this.appLimitedUntil) this.appLimitedUntil = -1;
    return { rate: (this.delivered - prior) / interval, appLimited };
  }
}
