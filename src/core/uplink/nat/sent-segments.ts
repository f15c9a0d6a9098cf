// The segments in flight towards the client, in sequence order: each one's range, last transmission time and what
// the client reported about it (SACKed) or what the sender concluded (lost). It replaces a SACK scoreboard of byte
// ranges, since RACK (rack.ts) needs per-segment transmission times. Kept in typed-array rings: appending a segment
// or dropping acknowledged ones allocates nothing.
import { seqDiff, seqGt, seqLe, seqLt, type Seq } from './seq.js';

export const SACKED = 1;
/** Marked lost and not yet sent again. */
export const LOST = 2;
/** Sent more than once (RACK treats its RTT as ambiguous; a D-SACK for it may show the resend was needless). */
export const RETRANSMITTED = 4;

/**
 * Sees each segment newly known to be delivered (cumulatively ACKed for the first time, or SACKed), with the
 * delivery-rate state recorded when it was last sent (delivery-rate.ts).
 */
export type OnDelivered = (xmitAt: number, end: Seq, flags: number, rate: RateAtSend) => void;

/** The delivery-rate state when a segment left: bytes delivered so far, when that count last grew, and the send
 *  time of the segment that began the sampling interval. */
export interface RateAtSend { delivered: number; deliveredAt: number; firstSentAt: number }

export class SentSegments {
  private cap = 64;
  private start = new Uint32Array(this.cap);
  private end = new Uint32Array(this.cap);
  private xmit = new Float64Array(this.cap);
  private flags = new Uint8Array(this.cap);
  private rDelivered = new Float64Array(this.cap);
  private rDeliveredAt = new Float64Array(this.cap);
  private rFirstSent = new Float64Array(this.cap);
  /** Reused for each OnDelivered call. */
  private readonly rateView: RateAtSend = { delivered: 0, deliveredAt: 0, firstSentAt: 0 };
  private head = 0;
  length = 0;
  /** Segments SACKed and not yet cumulatively ACKed. */
  sackedCount = 0;
  /** Segments marked lost and not yet resent. */
  lostCount = 0;
  private lastStamp = -Infinity;

  clear(): void { this.head = 0; this.length = 0; this.sackedCount = 0; this.lostCount = 0; }

  /** Transmission times strictly increase, so of two segments sent in one millisecond the later one is later. */
  private stamp(now: number): number {
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 1e-6;
    return this.lastStamp;
  }

  private at(i: number): number { return (this.head + i) & (this.cap - 1); }
  seqOf(i: number): Seq { return this.start[this.at(i)]!; }
  endOf(i: number): Seq { return this.end[this.at(i)]!; }
  xmitOf(i: number): number { return this.xmit[this.at(i)]!; }
  flagsOf(i: number): number { return this.flags[this.at(i)]!; }

  /** A segment [seq, end) sent for the first time (ranges arrive in order). */
  push(seq: Seq, end: Seq, now: number, flags = 0, rate?: RateAtSend): void {
    if (this.length === this.cap) this.grow();
    const j = this.at(this.length++);
    this.start[j] = seq;
    this.end[j] = end;
    this.xmit[j] = this.stamp(now);
    this.flags[j] = flags;
    this.recordRate(j, rate);
  }

  private recordRate(j: number, rate: RateAtSend | undefined): void {
    if (!rate) return;
    this.rDelivered[j] = rate.delivered;
    this.rDeliveredAt[j] = rate.deliveredAt;
    this.rFirstSent[j] = rate.firstSentAt;
  }

  private report(j: number, flags: number, onDelivered: OnDelivered): void {
    const v = this.rateView;
    v.delivered = this.rDelivered[j]!;
    v.deliveredAt = this.rDeliveredAt[j]!;
    v.firstSentAt = this.rFirstSent[j]!;
    onDelivered(this.xmit[j]!, this.end[j]!, flags, v);
  }

  private grow(): void {
    const n = this.cap * 2;
    const s = new Uint32Array(n), e = new Uint32Array(n), x = new Float64Array(n), f = new Uint8Array(n);
    const rd = new Float64Array(n), ra = new Float64Array(n), rf = new Float64Array(n);
    for (let i = 0; i < this.length; i++) {
      const j = this.at(i);
      s[i] = this.start[j]!; e[i] = this.end[j]!; x[i] = this.xmit[j]!; f[i] = this.flags[j]!;
      rd[i] = this.rDelivered[j]!; ra[i] = this.rDeliveredAt[j]!; rf[i] = this.rFirstSent[j]!;
    }
    this.start = s; this.end = e; this.xmit = x; this.flags = f;
    this.rDelivered = rd; this.rDeliveredAt = ra; this.rFirstSent = rf;
    this.cap = n;
    this.head = 0;
  }

  /** Segment i sent again at `now`. */
  resent(i: number, now: number, rate?: RateAtSend): void {
    const j = this.at(i);
    if (this.flags[j]! & LOST) this.lostCount--;
    this.flags[j] = (this.flags[j]! & ~LOST) | RETRANSMITTED;
    this.xmit[j] = this.stamp(now);
    this.recordRate(j, rate);
  }

  markLost(i: number): void {
    const j = this.at(i);
    if (this.flags[j]! & (LOST | SACKED)) return;
    this.flags[j] = this.flags[j]! | LOST;
    this.lostCount++;
  }

  /** Forget every loss mark (a recovery undone). */
  clearLost(): void {
    if (this.lostCount === 0) return;
    for (let i = 0; i < this.length; i++) { const j = this.at(i); this.flags[j] = this.flags[j]! & ~LOST; }
    this.lostCount = 0;
  }

  /**
   * The cumulative ACK una: drop what it covers, reporting the segments not SACKed before (with nothing SACKed and
   * nothing resent, only the last: it was sent last, and no delivery is out of order); returns the bytes of SACKed
   * segments dropped (delivered before, so not again).
   */
  ack(una: Seq, onDelivered: OnDelivered): number {
    let sackedBytes = 0;
    const each = this.sackedCount > 0;
    let last = -1;
    while (this.length > 0) {
      const j = this.head;
      if (seqGt(this.end[j]!, una)) {
        if (seqLt(this.start[j]!, una)) this.start[j] = una;
        break;
      }
      const f = this.flags[j]!;
      if (f & SACKED) {
        this.sackedCount--;
        sackedBytes += seqDiff(this.end[j]!, this.start[j]!);
      } else if (each || f & RETRANSMITTED) {
        this.report(j, f, onDelivered);
      } else {
        last = j;
      }
      if (f & LOST) this.lostCount--;
      this.head = (this.head + 1) & (this.cap - 1);
      this.length--;
    }
    if (last >= 0) this.report(last, this.flags[last]!, onDelivered);
    return sackedBytes;
  }

  /** A SACK block [left, right): marks the segments it wholly covers; returns the bytes newly SACKed. */
  sack(left: Seq, right: Seq, onDelivered: OnDelivered): number {
    let lo = 0, hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqLe(this.endOf(mid), left)) lo = mid + 1; else hi = mid;
    }
    let bytes = 0;
    for (let i = lo; i < this.length; i++) {
      const j = this.at(i);
      if (seqGt(this.end[j]!, right)) break;
      if (seqLt(this.start[j]!, left)) continue;
      const f = this.flags[j]!;
      if (f & SACKED) continue;
      if (f & LOST) this.lostCount--;
      this.flags[j] = (f & ~LOST) | SACKED;
      this.sackedCount++;
      bytes += seqDiff(this.end[j]!, this.start[j]!);
      this.report(j, f, onDelivered);
    }
    return bytes;
  }

  /** Index of the first segment marked lost, or -1. */
  firstLost(): number {
    if (this.lostCount === 0) return -1;
    for (let i = 0; i < this.length; i++) if (this.flags[this.at(i)]! & LOST) return i;
    return -1;
  }

  /** The first segment at or above seq, or -1 (binary search). */
  find(seq: Seq): number {
    let lo = 0, hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqLe(this.endOf(mid), seq)) lo = mid + 1; else hi = mid;
    }
    return lo < this.length ? lo : -1;
  }

  /** RFC 6675 §4 pipe over the segments: bytes neither SACKed nor marked lost (resent ones count again). */
  pipe(): number {
    let n = 0;
    for (let i = 0; i < this.length; i++) {
      const j = this.at(i);
      if ((this.flags[j]! & (SACKED | LOST)) === 0) n += seqDiff(this.end[j]!, this.start[j]!);
    }
    return n;
  }

  /** SACKed bytes in all. */
  sackedBytes(): number {
    if (this.sackedCount === 0) return 0;
    let n = 0;
    for (let i = 0; i < this.length; i++) {
      const j = this.at(i);
      if (this.flags[j]! & SACKED) n += seqDiff(this.end[j]!, this.start[j]!);
    }
    return n;
  }
}
