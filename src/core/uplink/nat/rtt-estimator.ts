// Round-trip time and retransmission timeout (RFC 6298), fed by Karn-timed samples or, when timestamps are on, by
// one sample per ACK (RFC 7323 Appendix G scales the gains down by the samples expected per RTT). Also keeps the
// smallest RTT seen, which RACK's reordering window is made of (RFC 8985 §6.2).

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
    if (r < this.minRtt) this.minRtt = r;
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
