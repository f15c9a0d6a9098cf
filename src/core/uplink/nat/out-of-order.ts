// The data a NAT TCP flow received beyond a hole, kept as islands: disjoint, non-adjacent byte ranges in sequence
// order, each holding its segments' bytes in order without overlap. After a loss nearly every segment extends the
// last island, so storing, reporting the islands as SACK blocks and delivering them once the hole fills cost no
// scan of the segments held, however many a window of them is.
import { seqAdd, seqDiff, seqGt, seqLe, seqLt, type Seq } from './seq.js';

export interface Island { seq: Seq; end: Seq; bufs: Buffer[] }

export type StoreResult = 'stored' | 'duplicate' | 'full';

export class OutOfOrderQueue {
  readonly islands: Island[] = [];
  /** Bytes held (each byte once). */
  bytes = 0;
  /** Buffers held: the bound on bookkeeping a flood of tiny segments could make us keep. */
  buffers = 0;

  constructor(private readonly maxBuffers: number) {}

  isEmpty(): boolean { return this.islands.length === 0; }

  /** Keeps the bytes of [seq, seq + data.length) that are not held yet. */
  store(seq: Seq, data: Buffer): StoreResult {
    const end = seqAdd(seq, data.length);
    const isl = this.islands;
    // The islands that touch [seq, end] (overlap or adjacency) are a run lo..hi; search from the last one.
    let hi = isl.length - 1;
    while (hi >= 0 && seqGt(isl[hi]!.seq, end)) hi--;
    let lo = hi;
    while (lo >= 0 && seqLe(seq, isl[lo]!.end)) lo--;
    lo++;
    if (lo <= hi && seqLe(isl[lo]!.seq, seq) && seqLe(end, isl[lo]!.end) && lo === hi) return 'duplicate';
    if (this.buffers >= this.maxBuffers) return 'full';
    if (lo > hi) {
      isl.splice(lo, 0, { seq, end, bufs: [data] });
      this.bytes += data.length;
      this.buffers++;
      return 'stored';
    }
    if (lo === hi && isl[lo]!.end === seq) {  // the usual case: the next segment of the last island
      isl[lo]!.bufs.push(data);
      isl[lo]!.end = end;
      this.bytes += data.length;
      this.buffers++;
      return 'stored';
    }
    // Merge the run with the new bytes that fall before, between and after its islands.
    const first = isl[lo]!, last = isl[hi]!;
    const bufs: Buffer[] = [];
    const piece = (from: Seq, to: Seq): void => {
      const a = seqLt(from, seq) ? seq : from, b = seqGt(to, end) ? end : to;
      if (seqLt(a, b)) { bufs.push(data.subarray(seqDiff(a, seq), seqDiff(b, seq))); this.bytes += seqDiff(b, a); this.buffers++; }
    };
    piece(seq, first.seq);
    for (let i = lo; i <= hi; i++) {
      bufs.push(...isl[i]!.bufs);
      if (i < hi) piece(isl[i]!.end, isl[i + 1]!.seq);
    }
    piece(last.end, end);
    const merged: Island = { seq: seqLt(seq, first.seq) ? seq : first.seq, end: seqGt(end, last.end) ? end : last.end, bufs };
    isl.splice(lo, hi - lo + 1, merged);
    return 'stored';
  }

  /** Hands over, in order, the held bytes at and after rcvNxt that now follow on without a gap. */
  drain(rcvNxt: Seq, deliver: (bytes: Buffer) => void): void {
    let next = rcvNxt;
    let n = 0;
    for (; n < this.islands.length && seqLe(this.islands[n]!.seq, next); n++) {
      const island = this.islands[n]!;
      let at = island.seq;
      for (const b of island.bufs) {
        const bEnd = seqAdd(at, b.length);
        if (seqGt(bEnd, next)) {
          deliver(seqLt(at, next) ? b.subarray(seqDiff(next, at)) : b);
          next = bEnd;
        }
        at = bEnd;
      }
      this.bytes -= seqDiff(island.end, island.seq);
      this.buffers -= island.bufs.length;
    }
    if (n > 0) this.islands.splice(0, n);
  }

  clear(): void {
    this.islands.length = 0;
    this.bytes = 0;
    this.buffers = 0;
  }
}
