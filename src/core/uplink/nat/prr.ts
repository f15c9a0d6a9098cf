// Proportional Rate Reduction (RFC 6937) for a SACK recovery: how many bytes may leave on each ACK, so the flight
// shrinks smoothly from RecoverFS towards ssthresh instead of stalling for half an RTT and then bursting.

export class Prr {
  private recoverFs = 0;
  private delivered = 0;
  private out = 0;

  /** Recovery starts with `flight` bytes outstanding (RecoverFS). */
  begin(flight: number): void {
    this.recoverFs = Math.max(1, flight);
    this.delivered = 0;
    this.out = 0;
  }

  /** Bytes sent during recovery (retransmissions and new data). */
  sent(n: number): void { this.out += n; }

  /**
   * On an ACK that delivered `deliveredData` bytes (newly cumulatively ACKed plus newly SACKed): bytes that may be
   * sent now (RFC 6937 §3.1, with the slow-start reduction bound). The window is then pipe + this.
   */
  sndcnt(deliveredData: number, pipe: number, ssthresh: number, mss: number): number {
    this.delivered += deliveredData;
    let n: number;
    if (pipe > ssthresh) {
      n = Math.ceil((this.delivered * ssthresh) / this.recoverFs) - this.out;
    } else {
      const limit = Math.max(this.delivered - this.out, deliveredData) + mss;
      n = Math.min(ssthresh - pipe, limit);
    }
    return Math.max(0, n);
  }
}
