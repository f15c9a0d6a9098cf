// A FIFO of byte chunks read from an outbound socket. Segments are cut from it as views (subarray), so
// the only copy of a payload byte is the one into the outgoing packet. Each chunk pushed goes to `released` exactly once,
// when it has all been consumed or the queue is cleared: the io layer's read memory is reused from there.
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;        // index of the first live chunk
  private headOff = 0;     // bytes already consumed from chunks[head]
  length = 0;

  constructor(private readonly released?: (chunk: Buffer) => void) {}

  push(b: Buffer): void {
    if (b.length === 0) { this.released?.(b); return; }
    this.chunks.push(b);
    this.length += b.length;
  }

  /** Drop n bytes from the front (n <= length). */
  consume(n: number): void {
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[this.head];
      const left = c.length - this.headOff;
      if (n < left) { this.headOff += n; return; }
      n -= left;
      this.released?.(c);
      this.head++;
      this.headOff = 0;
    }
    if (this.head > 32 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** Views of bytes [off, off+len) counted from the front; off + len <= length. */
  slices(off: number, len: number): Buffer[] {
    const out: Buffer[] = [];
    let skip = off + this.headOff;
    for (let i = this.head; i < this.chunks.length && len > 0; i++) {
      const c = this.chunks[i];
      if (skip >= c.length) { skip -= c.length; continue; }
      const n = Math.min(c.length - skip, len);
      out.push(c.subarray(skip, skip + n));
      len -= n;
      skip = 0;
    }
    return out;
  }

  clear(): void {
    if (this.released) for (let i = this.head; i < this.chunks.length; i++) this.released(this.chunks[i]);
    this.chunks = [];
    this.head = 0;
    this.headOff = 0;
    this.length = 0;
  }
}
