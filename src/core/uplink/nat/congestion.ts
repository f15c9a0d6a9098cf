// Congestion control of the NAT's TCP sender, apart from the endpoint that uses it. The endpoint says what happened
// (bytes newly acknowledged, a loss, a timeout, a recovery that turned out spurious); the algorithm sets cwnd and
// ssthresh. NewReno (RFC 5681, RFC 6582) is the one algorithm today; another (CUBIC, RFC 9438) implements the same
// interface. Proportional Rate Reduction (prr.ts) paces sending within a SACK recovery on top of any of them.

export interface CongestionControl {
  readonly cwnd: number;
  readonly ssthresh: number;
  /** New data acknowledged outside recovery: grow the window. */
  onAck(acked: number): void;
  /** A loss starts recovery with `flight` bytes outstanding: sets the new ssthresh (and cwnd to it). */
  onLoss(flight: number): void;
  /** Recovery ended with a full ACK. */
  onRecoveryEnd(): void;
  /** A retransmission timeout with `flight` bytes outstanding (RFC 5681 §3.1). */
  onTimeout(flight: number): void;
  /** The window within a recovery, as PRR or NewReno's inflation computes it. */
  setCwnd(cwnd: number): void;
  /** What undo() would restore. */
  snapshot(): { cwnd: number; ssthresh: number };
  /** The last reduction was for a spurious retransmission: restore the state before it (RFC 3522 §3.2). */
  undo(prior: { cwnd: number; ssthresh: number }): void;
}

export class NewReno implements CongestionControl {
  cwnd: number;
  ssthresh = 0x7fffffff;

  constructor(private readonly mss: number, initialSegments: number) {
    this.cwnd = initialSegments * mss;
  }

  onAck(acked: number): void {
    if (this.cwnd < this.ssthresh) this.cwnd += Math.min(acked, this.mss);
    else this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
  }

  onLoss(flight: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.ssthresh;
  }

  onRecoveryEnd(): void { this.cwnd = this.ssthresh; }

  onTimeout(flight: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss);
    this.cwnd = this.mss;
  }

  setCwnd(cwnd: number): void { this.cwnd = cwnd; }

  snapshot(): { cwnd: number; ssthresh: number } { return { cwnd: this.cwnd, ssthresh: this.ssthresh }; }

  undo(prior: { cwnd: number; ssthresh: number }): void {
    this.cwnd = Math.max(this.cwnd, prior.cwnd);
    this.ssthresh = Math.max(this.ssthresh, prior.ssthresh);
  }
}
