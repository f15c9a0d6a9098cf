// TCP timestamps (RFC 7323 §3-§5) on one connection, used when the client's SYN carries them: our TSval is the
// millisecond clock plus a per-connection offset, TS.Recent follows the client's segments at or below the last ACK
// we sent, and PAWS rejects a segment whose TSval is older than TS.Recent.
import { seqDiff, seqLe, seqLt, type Seq } from './seq.js';

/** RFC 7323 §5.5: a TS.Recent idle this long is no longer trusted by PAWS (24 days, in ms). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

export class Timestamps {
  recent: number;
  private recentAt: number;
  /** RCV.NXT carried by the last segment we sent (Last.ACK.sent). */
  lastAckSent: Seq;

  constructor(synTsVal: number, private readonly offset: number, rcvNxt: Seq, now: number) {
    this.recent = synTsVal >>> 0;
    this.recentAt = now;
    this.lastAckSent = rcvNxt;
  }

  /** Our TSval at `now`. */
  val(now: number): number { return (Math.floor(now) + this.offset) >>> 0; }

  /** The RTT an echoed TSecr shows at `now`, or undefined when it echoes nothing we sent. */
  rttOf(tsEcr: number, now: number): number | undefined {
    const r = seqDiff(this.val(now), tsEcr);
    return r >= 0 ? r : undefined;
  }

  /** RFC 7323 §5.3 R1: the segment fails PAWS (a non-RST segment with an older TSval). */
  paws(tsVal: number, now: number): boolean {
    return seqLt(tsVal, this.recent) && now - this.recentAt < PAWS_IDLE_MS;
  }

  /** RFC 7323 §4.3 (3): an acceptable segment at or below Last.ACK.sent updates TS.Recent. */
  update(tsVal: number, seq: Seq, now: number): void {
    if (seqLe(seq, this.lastAckSent) && !seqLt(tsVal, this.recent)) {
      this.recent = tsVal >>> 0;
      this.recentAt = now;
    }
  }
}
