// Memory for what the NAT's outbound sockets read, used again instead of left to the allocator. Each socket reads
// (net.Socket `onread`) into one shared buffer; copy() moves the bytes into 64 KiB chunks, filled in order, and hands
// out the piece as a view. release() takes a piece back once the client has ACKed it (ByteQueue's released hook); a
// chunk with no piece out is filled again. Without it every read is a fresh 64 KiB block, freed only when V8 next
// collects, and glibc keeps those freed blocks resident: a download left ~120 MiB of RSS behind.
//
// Only reuse depends on release(): a piece never released is an ordinary Buffer, and its chunk is collected with it.
const CHUNK_BYTES = 64 * 1024;
/** Empty chunks kept for reuse; more are left to the collector. */
export const MAX_FREE_CHUNKS = 64;

interface Chunk {
  readonly bytes: Buffer;
  /** Bytes handed out from the start. */
  used: number;
  /** Pieces handed out and not yet released. */
  out: number;
}

export class ReadArena {
  /** Where sockets read into; valid only until the read callback returns. */
  readonly readBuffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  private current: Chunk | undefined;
  private readonly free: Chunk[] = [];
  private readonly owners = new WeakMap<ArrayBufferLike, Chunk>();
  private made = 0;

  /** The first n bytes of readBuffer, copied to a piece that stays valid until release(). */
  copy(n: number): Buffer {
    let c = this.current;
    if (!c || CHUNK_BYTES - c.used < n) {
      if (c && c.out === 0) this.recycle(c);
      c = this.free.pop() ?? this.newChunk();
      this.current = c;
    }
    const piece = c.bytes.subarray(c.used, c.used + n);
    this.readBuffer.copy(piece, 0, 0, n);
    c.used += n;
    c.out++;
    return piece;
  }

  /** A piece from copy() is no longer referenced. Buffers the arena did not make are ignored. */
  release(piece: Buffer): void {
    const c = this.owners.get(piece.buffer);
    if (!c || c.out === 0) return;
    c.out--;
    if (c.out > 0) return;
    if (c === this.current) c.used = 0;
    else this.recycle(c);
  }

  /** Lets the collector have the empty chunks kept for reuse (the server went idle). */
  releaseSpare(): void {
    this.free.length = 0;
  }

  /** Chunks made so far, and how many wait empty for reuse (the server's `state` dump). */
  stats(): { chunks: number; free: number } {
    return { chunks: this.made, free: this.free.length };
  }

  private newChunk(): Chunk {
    const c: Chunk = { bytes: Buffer.allocUnsafeSlow(CHUNK_BYTES), used: 0, out: 0 };
    this.owners.set(c.bytes.buffer, c);
    this.made++;
    return c;
  }

  private recycle(c: Chunk): void {
    c.used = 0;
    if (this.free.length < MAX_FREE_CHUNKS) this.free.push(c);
  }
}
