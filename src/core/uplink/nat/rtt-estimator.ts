// Round-trip time and retransmission timeout (RFC 6298), fed by Karn-timed samples or, when timestamps are on, by
// one sample per ACK (RFC 7323 Appendix G scales the gains down by the samples expected per RTT). Also keeps the
// smallest RTT seen, which RACK's reordering window is made of (RFC 8985 §6.2).
//
// A sample far below the smoothed RTT does not lower the minimum: it is a segment, or the ACK of one, that skipped the
// path's delay (a reordering that sent it out ahead of a queue), and a minimum made of it would shrink RACK's
// reordering window and BBR's BDP to a fraction of the path's. A path whose delay really falls brings the smoothed RTT
// down within a few round trips, and then the minimum follows.

/** Samples below 1 / MIN_RTT_OUTLIER of the smoothed RTT are outliers, once that is 4 ms or more (the 1 ms clock). */
const MIN_RTT_OUTLIER = 2;

/** Whether an RTT sample r is too far below the smoothed RTT to be taken for the path's minimum. */
export function belowPathMinimum(r: number, srtt: number | undefined): boolean {
  return srtt !== undefined && srtt >= 4 && r * MIN_RTT_OUTLIER < srtt;
}

export class RttEstimator {
  srtt: number | undefined;
  rttvar = 0;
  rto: number;
  minRtt = Infinity;

  constructor(initialRto: number, private readonly minRto: number, private readonly maxRto: number) {
    this.rto = initialRto;
  }

  /** One RTT measurement r (ms); expectedSamples is how many samples one RTT is expected to bring (at least 1). */
  sample(r: number, expectedSamples = 1): void {
    if (r < 0) return;
    if (r < this.minRtt && !belowPathMinimum(r, this.srtt)) this.minRtt = r;
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      const alpha = 0.125 / expectedSamples, beta = 0.25 / expectedSamples;
      this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - r);
      this.srtt = (1 - alpha) * this.srtt + alpha * r;
    }
    // K = 4 and a clock granularity G of 1 ms (RFC 6298 §2.3).
    this.rto = Math.min(this.maxRto, Math.max(this.minRto, Math.ceil(this.srtt + Math.max(1, 4 * this.rttvar))));
  }
}
