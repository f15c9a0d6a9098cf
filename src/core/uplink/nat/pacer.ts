// Pacing of a flow's new data, as Linux paces TCP (sk_pacing_rate): the window leaves at a rate of
// gain × cwnd / srtt, with gain 2 in slow start and 1.2 after it, instead of as one burst each time an ACK opens it.
// A burst towards the client otherwise lands whole in the queue of its slowest hop (a Wi-Fi or mobile link, or the
// shaped uplink of a router), and a full queue drops its tail.
//
// A token bucket: credit grows with time at the pacing rate up to a burst allowance and each segment spends its
// length. Timers in the io layer fire with millisecond granularity, so the allowance is what the rate carries in
// BURST_MS (at least MIN_BURST_SEGMENTS segments); a flow on a fast path (a sub-millisecond RTT) is never held.
// Until the first RTT sample there is no rate and nothing is paced.

const SLOW_START_GAIN = 2;
const AVOIDANCE_GAIN = 1.2;
const BURST_MS = 2;
const MIN_BURST_SEGMENTS = 2;
/** The first flight (the initial window, RFC 6928's 10 segments) goes out as one burst. */
const INITIAL_CREDIT_SEGMENTS = 10;

export class Pacer {
  private credit: number;
  private refilledAt: number;
  /** Bytes per ms; 0 before the first RTT sample (no pacing). */
  private rate = 0;

  constructor(private readonly mss: number, now: number) {
    this.credit = INITIAL_CREDIT_SEGMENTS * mss;
    this.refilledAt = now;
  }

  /**
   * Sets the rate from the current window and smoothed RTT, or to `rate` (bytes/ms) when the congestion control
   * gives one (BBR), and adds the credit earned since the last call.
   */
  update(now: number, cwnd: number, srtt: number | undefined, slowStart: boolean, rate?: number): void {
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    if (rate !== undefined) this.rate = rate;
    else if (srtt === undefined || srtt <= 0) { this.rate = 0; return; }
    else this.rate = (slowStart ? SLOW_START_GAIN : AVOIDANCE_GAIN) * cwnd / srtt;
    // Credit above the allowance (the initial flight's) is kept until spent, never earned.
    this.credit = Math.max(this.credit, Math.min(this.credit + elapsed * this.rate, this.burst()));
  }

  /** Whether a segment of `len` bytes may leave now. */
  allows(len: number): boolean { return this.rate === 0 || this.credit >= len; }

  spent(len: number): void { if (this.rate > 0) this.credit -= len; }

  /** When a segment of `len` bytes may leave, if it may not now. */
  readyAt(len: number): number | undefined {
    if (this.allows(len)) return undefined;
    return this.refilledAt + Math.max(1, Math.ceil((len - this.credit) / this.rate));
  }

  private burst(): number { return Math.max(MIN_BURST_SEGMENTS * this.mss, this.rate * BURST_MS); }
}
