// The SACK scoreboard of the NAT's TCP sender: what the client reported holding above SND.UNA.
import { seqDiff, seqGt, seqLe, seqLt, type Seq } from './seq.js';

/** SACKed ranges remembered above SND.UNA; past this the highest is forgotten (a later ACK reports it again). */
const MAX_SACK_RANGES = 32;

/** The SACK scoreboard (RFC 6675 §3): SACKed ranges [start, end) above SND.UNA, sorted, disjoint and not adjacent. */
export class SackScoreboard {
  private ranges: { start: Seq; end: Seq }[] = [];

  size(): number { return this.ranges.length; }
  clear(): void { this.ranges = []; }
  /** The end of the highest SACKed range. */
  highest(): Seq | undefined { return this.ranges[this.ranges.length - 1]?.end; }

  /** Forget what the cumulative ACK una covers. */
  advance(una: Seq): void {
    let i = 0;
    while (i < this.ranges.length && seqLe(this.ranges[i].end, una)) i++;
    if (i > 0) this.ranges.splice(0, i);
    if (this.ranges.length > 0 && seqLt(this.ranges[0].start, una)) this.ranges[0].start = una;
  }

  /** Record the block [start, end); one that is empty, reversed, above max or wholly below una is ignored. */
  add(start: Seq, end: Seq, una: Seq, max: Seq): void {
    if (!seqLt(start, end) || seqGt(end, max) || seqLe(end, una)) return;
    if (seqLt(start, una)) start = una;
    const r = this.ranges;
    let i = 0;
    while (i < r.length && seqLt(r[i].end, start)) i++;
    let j = i;
    for (; j < r.length && seqLe(r[j].start, end); j++) {
      if (seqLt(r[j].start, start)) start = r[j].start;
      if (seqGt(r[j].end, end)) end = r[j].end;
    }
    r.splice(i, j - i, { start, end });
    if (r.length > MAX_SACK_RANGES) r.pop();
  }

  /** SACKed bytes within [from, to). */
  bytesIn(from: Seq, to: Seq): number {
    let n = 0;
    for (const { start, end } of this.ranges) {
      const s = seqGt(start, from) ? start : from;
      const e = seqLt(end, to) ? end : to;
      if (seqLt(s, e)) n += seqDiff(e, s);
    }
    return n;
  }

  /** The first unSACKed stretch at or above from that has a SACKed range above it, up to that range. */
  nextHole(from: Seq): { seq: Seq; len: number } | undefined {
    let seq = from;
    for (const { start, end } of this.ranges) {
      if (seqLe(end, seq)) continue;
      if (seqGt(start, seq)) return { seq, len: seqDiff(start, seq) };
      seq = end;
    }
    return undefined;
  }
}
