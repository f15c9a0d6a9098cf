// ReadArena (src/io/read-arena.ts) and ByteQueue's release hook: read memory is reused only once nothing holds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadArena, MAX_FREE_CHUNKS } from '../../src/io/read-arena.js';
import { ByteQueue } from '../../src/core/uplink/nat/byte-queue.js';

/** A read of n bytes of `fill` into the arena, as a socket's onread callback sees it. */
function read(a: ReadArena, n: number, fill: number): Buffer {
  a.readBuffer.fill(fill, 0, n);
  return a.copy(n);
}

test('pieces are copies: the next read into the shared buffer does not change them', () => {
  const a = new ReadArena();
  const p1 = read(a, 1000, 1);
  const p2 = read(a, 500, 2);
  assert.ok(p1.every((b) => b === 1));
  assert.ok(p2.every((b) => b === 2));
  assert.equal(p1.length, 1000);
  assert.equal(p2.length, 500);
  assert.equal(a.stats().chunks, 1, 'both reads fit one chunk');
});

test('a chunk is filled again only after every piece in it is released', () => {
  const a = new ReadArena();
  const first = [read(a, 40_000, 1), read(a, 20_000, 2)];
  const second = read(a, 40_000, 3);  // does not fit beside the first two: a second chunk
  assert.equal(a.stats().chunks, 2);
  a.release(first[0]);
  read(a, 20_000, 4);  // into the second chunk, beside `second`
  const third = read(a, 40_000, 5);  // the first chunk still has a piece out: a third chunk
  assert.equal(a.stats().chunks, 3);
  assert.ok(first[1].every((b) => b === 2), 'a piece still out is never overwritten');
  assert.ok(second.every((b) => b === 3));
  a.release(first[1]);
  assert.equal(a.stats().free, 1, 'the first chunk is empty and waits for reuse');
  assert.ok(third.every((b) => b === 5));
});

test('a steady stream of reads released in turn runs on two chunks', () => {
  const a = new ReadArena();
  const q = new ByteQueue((b) => a.release(b));
  for (let i = 0; i < 1000; i++) {
    q.push(read(a, 16_384, i & 0xff));
    if (q.length > 100_000) q.consume(q.length - 50_000);
  }
  q.clear();
  assert.ok(a.stats().chunks <= 3, `chunks made: ${a.stats().chunks}`);
});

test('the free list is bounded; releasing what the arena did not make, or twice, changes nothing', () => {
  const a = new ReadArena();
  const pieces = Array.from({ length: MAX_FREE_CHUNKS + 10 }, (_, i) => read(a, 65_536, i & 0xff));
  for (const p of pieces) a.release(p);
  assert.equal(a.stats().free, MAX_FREE_CHUNKS);
  a.release(Buffer.alloc(10));
  a.release(pieces[0]);
  assert.equal(a.stats().free, MAX_FREE_CHUNKS);
});

test('releaseSpare drops the empty chunks; pieces still out stay intact and the arena goes on', () => {
  const a = new ReadArena();
  const pieces = Array.from({ length: 8 }, (_, i) => read(a, 65_536, i));
  for (const p of pieces.slice(0, 6)) a.release(p);
  assert.equal(a.stats().free, 6);
  a.releaseSpare();
  assert.equal(a.stats().free, 0);
  assert.ok(pieces[6]!.every((b) => b === 6) && pieces[7]!.every((b) => b === 7));
  const next = read(a, 1000, 9);
  assert.ok(next.every((b) => b === 9));
  assert.equal(a.stats().chunks, 9, 'a new chunk, since none was kept');
});

test('ByteQueue gives each chunk to its hook once: when consumed past, or at clear', () => {
  const released: Buffer[] = [];
  const q = new ByteQueue((b) => released.push(b));
  const [x, y, z] = [Buffer.alloc(10, 1), Buffer.alloc(10, 2), Buffer.alloc(10, 3)];
  q.push(x); q.push(y); q.push(z);
  q.consume(5);
  assert.deepEqual(released, [], 'x is only half consumed');
  q.consume(10);
  assert.deepEqual(released, [x], 'x is consumed, y half');
  assert.deepEqual(Buffer.concat(q.slices(0, 15)), Buffer.concat([Buffer.alloc(5, 2), z]));
  q.clear();
  assert.deepEqual(released, [x, y, z]);
  q.clear();
  assert.equal(released.length, 3);
});
