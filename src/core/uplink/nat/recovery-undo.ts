// Spurious-retransmission detection for one recovery episode, so its window reduction can be undone: by timestamps
// (Eifel, RFC 3522: the ACK of the first resent segment echoes the TSval of its original transmission, so the
// original arrived) or by D-SACK (RFC 2883, RFC 3708: the client reports a duplicate for every segment resent).
// An episode is a fast recovery or a retransmission timeout: behind an OpenVPN client's TCP transport the tunnel's
// packets can stand still for longer than our RTO while that outer connection recovers a loss of its own, and nothing
// of ours was lost (Eifel detection for timeouts, RFC 3522 §3.2 with the response of RFC 4015 left to the window).
import type { CongestionSnapshot } from './congestion.js';
import { seqGt, seqLt, type Seq } from './seq.js';

/** Resent segments remembered per episode; past this D-SACK cannot prove the whole episode needless. */
const MAX_TRACKED = 64;

export class RecoveryUndo {
  private prior: CongestionSnapshot | undefined;
  private readonly resentSeqs: Seq[] = [];
  private overflow = false;
  private firstTs: number | undefined;
  private firstSeq: Seq = 0;

  /** A recovery begins: the state to restore if it proves spurious. */
  begin(prior: CongestionSnapshot): void {
    this.prior = prior;
    this.resentSeqs.length = 0;
    this.overflow = false;
    this.firstTs = undefined;
  }

  /** Another timeout before the first one's data was acknowledged: the episode and its state stay the first's. */
  timeoutAgain(): void { this.firstTs = undefined; }

  /** True while an episode's state is held for an undo. */
  get active(): boolean { return this.prior !== undefined; }

  /** The segment at seq resent within the episode, with our TSval when timestamps are on. */
  resent(seq: Seq, tsVal: number | undefined): void {
    if (!this.prior) return;
    if (this.resentSeqs.length === 0 && !this.overflow) { this.firstTs = tsVal; this.firstSeq = seq; }
    if (this.resentSeqs.length < MAX_TRACKED) this.resentSeqs.push(seq); else this.overflow = true;
  }

  /** A D-SACK for the segment starting at left: true when every resend of the episode is now shown needless. */
  dsack(left: Seq): boolean {
    if (!this.prior || this.overflow) return false;
    const i = this.resentSeqs.indexOf(left);
    if (i < 0) return false;
    this.resentSeqs.splice(i, 1);
    return this.resentSeqs.length === 0;
  }

  /** An ACK up to `ack` echoing tsEcr: true when it covers the first resend and echoes an older transmission. After a
   *  second timeout the first ACK decides nothing: which of the resends it echoes is unknown. */
  timestampShowsSpurious(ack: Seq, tsEcr: number | undefined): boolean {
    if (!this.prior || this.firstTs === undefined || tsEcr === undefined || !seqGt(ack, this.firstSeq)) return false;
    const spurious = seqLt(tsEcr, this.firstTs);
    this.firstTs = undefined;
    return spurious;
  }

  /** The state to restore; the episode is over. */
  take(): CongestionSnapshot | undefined {
    const p = this.prior;
    this.prior = undefined;
    return p;
  }
}
