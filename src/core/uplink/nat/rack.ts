// RACK-TLP loss detection (RFC 8985) over the segments in flight (sent-segments.ts): a segment is lost when one sent
// after it was delivered and more than an RTT plus a reordering window has passed since it was sent. The window is
// zero until reordering is seen, then min_RTT/4, scaled up by each round trip that brings a D-SACK (RFC 2883: a
// resend was needless, so the window was too small) and back to one step after 16 recoveries without one.
import { LOST, RETRANSMITTED, SACKED, type SentSegments } from './sent-segments.js';
import { seqGt, seqLt, type Seq } from './seq.js';

/** Recoveries a grown reordering window is kept without a new D-SACK (RFC 8985 §6.2 step 4). */
const REO_WND_PERSIST = 16;

export class Rack {
  /** Send time and end of the most recently sent segment known delivered. */
  private xmitTs = -Infinity;
  private endSeq: Seq = 0;
  /** RTT of that segment. */
  rtt = 0;
  /** RTT of the most recently sent segment that this ACK delivered and that was sent once (no Karn ambiguity). */
  ackRtt: number | undefined;
  private ackXmitTs = -Infinity;
  /** Highest end of a segment delivered by an earlier ACK (RACK.fack), and by this one so far. */
  private fack: Seq | undefined;
  private fackNow: Seq | undefined;
  /** Reordering was seen on this connection. */
  reordering = false;
  private reoWndMult = 1;
  private reoWndPersist = 0;
  private dsackRound: Seq | undefined;
  /** When the segments not yet lost but already overtaken become lost, if no ACK comes first. */
  timerAt: number | undefined;
  private now = 0;
  private minRtt = Infinity;

  /** Bound to the segment list as its delivery callback. */
  readonly delivered = (xmitAt: number, end: Seq, flags: number): void => {
    const rtt = this.now - xmitAt;
    if (!(flags & RETRANSMITTED) && xmitAt >= this.ackXmitTs) {
      this.ackXmitTs = xmitAt;
      this.ackRtt = rtt;
    }
    // RFC 8985 §6.2 step 2: the RTT of a resent segment is ambiguous when it is shorter than the path allows (the
    // ACK was for an earlier transmission); 1 ms is the clock's granularity.
    if (flags & RETRANSMITTED && rtt < this.minRtt - 1) return;
    // Compared with the earlier ACKs only: one ACK's SACK blocks come in any order.
    if (this.fack !== undefined && seqLt(end, this.fack) && !(flags & RETRANSMITTED)) this.reordering = true;
    if (this.fackNow === undefined || seqGt(end, this.fackNow)) this.fackNow = end;
    if (xmitAt > this.xmitTs || (xmitAt === this.xmitTs && seqGt(end, this.endSeq))) {
      this.xmitTs = xmitAt;
      this.endSeq = end;
      this.rtt = rtt;
    }
  };

  /** Call before feeding deliveries of one ACK. */
  beginAck(now: number, minRtt: number): void {
    this.now = now;
    this.minRtt = minRtt;
    this.ackRtt = undefined;
    this.ackXmitTs = -Infinity;
  }

  /** Call after the deliveries of one ACK. */
  endAck(): void {
    if (this.fackNow !== undefined && (this.fack === undefined || seqGt(this.fackNow, this.fack))) this.fack = this.fackNow;
  }

  /** A D-SACK arrived: once per round trip (SND.UNA past SND.NXT of the last one), widen the window a step. */
  dsack(sndUna: Seq, sndNxt: Seq): void {
    this.reordering = true;
    if (this.dsackRound !== undefined && seqLt(sndUna, this.dsackRound)) return;
    this.dsackRound = sndNxt;
    this.reoWndMult++;
    this.reoWndPersist = REO_WND_PERSIST;
  }

  /** A recovery ended (RFC 8985 §6.2 step 4: the widened window decays). */
  recoveryEnded(): void {
    if (this.reoWndPersist > 0 && --this.reoWndPersist === 0) this.reoWndMult = 1;
  }

  /** A recovery was undone: what looked lost was reordered, by more than the window allowed. */
  spurious(sndUna: Seq, sndNxt: Seq): void { this.dsack(sndUna, sndNxt); }

  /** RFC 8985 §6.2 step 4. */
  reoWnd(inRecovery: boolean, sackedCount: number, srtt: number): number {
    if (!this.reordering && (inRecovery || sackedCount >= 3)) return 0;
    if (this.minRtt === Infinity) return 0;
    return Math.min((this.reoWndMult * this.minRtt) / 4, srtt);
  }

  /** RFC 8985 §6.2 step 5: mark the overtaken segments whose time is up; returns how many were newly marked. */
  detectLoss(segs: SentSegments, now: number, reoWnd: number): number {
    this.timerAt = undefined;
    if (this.xmitTs === -Infinity) return 0;
    let marked = 0;
    for (let i = 0; i < segs.length; i++) {
      const f = segs.flagsOf(i);
      if (f & (SACKED | LOST)) continue;
      const x = segs.xmitOf(i);
      if (!(this.xmitTs > x || (this.xmitTs === x && seqGt(this.endSeq, segs.endOf(i))))) continue;
      const remaining = x + this.rtt + reoWnd - now;
      if (remaining <= 0) {
        segs.markLost(i);
        marked++;
      } else if (this.timerAt === undefined || now + remaining > this.timerAt) {
        this.timerAt = now + remaining;
      }
    }
    return marked;
  }

  /** After a retransmission timeout the segments are sent again from the start. */
  reset(): void {
    this.xmitTs = -Infinity;
    this.fack = this.fackNow = undefined;
    this.timerAt = undefined;
  }
}
