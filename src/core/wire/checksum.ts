// Internet checksum (RFC 1071) as small pieces: `sum` gives the folded 16-bit one's-complement sum of some bytes
// without the final complement, `combine` adds partial sums, `pseudoHeader` sums the IPv4 TCP/UDP pseudo-header,
// and `finish` complements. A region verifies when its sum (checksum field included) is 0xffff.
// `update16` is the RFC 1624 incremental update (eqn. 3): HC' = ~(~HC + ~m + m').

/** Fold a non-negative sum of 16-bit words (may exceed 32 bits) down to 16 bits with end-around carry. */
function fold(s: number): number {
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** One's-complement sum of buf[off, off+len) as big-endian 16-bit words; an odd last byte is padded with zero. */
export function sum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  if (len >= 64) return sumWide(buf, off, len, initial);
  let s = initial;
  let i = off;
  const end = off + len;
  // 32-bit words: a sum of 32-bit words folds to the same 16-bit result and halves the iterations.
  const end4 = off + (len & ~3);
  for (; i < end4; i += 4) s += buf[i] * 0x1000000 + ((buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]);
  if (i + 1 < end) { s += (buf[i] << 8) | buf[i + 1]; i += 2; }
  if (i < end) s += buf[i] << 8;
  return fold(s);
}

/** sum() for longer regions: two big-endian 32-bit words per step through a DataView (below 2^53 up to 16 MB). */
function sumWide(buf: Uint8Array, off: number, len: number, initial: number): number {
  const v = new DataView(buf.buffer, buf.byteOffset + off, len);
  let a = initial, b = 0, i = 0;
  const end8 = len & ~7;
  for (; i < end8; i += 8) { a += v.getUint32(i); b += v.getUint32(i + 4); }
  a += b;
  for (; i + 1 < len; i += 2) a += v.getUint16(i);
  if (i < len) a += v.getUint8(i) << 8;
  return fold(a);
}

export function combine(...sums: number[]): number {
  let s = 0;
  for (const x of sums) s += x;
  return fold(s);
}

/** Sum of the IPv4 pseudo-header for TCP/UDP: addresses, zero, protocol, L4 length. */
export function pseudoHeader(src: number, dst: number, proto: number, l4Len: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4Len);
}

/** The value to store in a checksum field, given the sum over the region with that field zeroed. */
export function finish(s: number): number {
  return ~fold(s) & 0xffff;
}

/** RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changes from `oldWord` to `newWord`. */
export function update16(checksum: number, oldWord: number, newWord: number): number {
  return ~fold((~checksum & 0xffff) + (~oldWord & 0xffff) + newWord) & 0xffff;
}

/** RFC 1624 for a 32-bit field (e.g. an address): two word updates. */
export function update32(checksum: number, oldVal: number, newVal: number): number {
  return update16(update16(checksum, oldVal >>> 16, newVal >>> 16), oldVal & 0xffff, newVal & 0xffff);
}

/**
 * Overwrite bytes at buf[at..] with `bytes`, updating the checksum stored at buf[ckOff] incrementally.
 * `base` is where the checksummed region starts (word alignment is relative to it); handles odd offsets.
 */
export function rewriteBytes(buf: Buffer, base: number, at: number, bytes: Uint8Array, ckOff: number): void {
  let ck = buf.readUInt16BE(ckOff);
  const first = at - ((at - base) & 1);
  const last = at + bytes.length;
  for (let w = first; w < last; w += 2) {
    const oldWord = (buf[w] << 8) | (w + 1 < buf.length ? buf[w + 1] : 0);
    for (let i = 0; i < bytes.length; i++) if (at + i === w || at + i === w + 1) buf[at + i] = bytes[i];
    const newWord = (buf[w] << 8) | (w + 1 < buf.length ? buf[w + 1] : 0);
    ck = update16(ck, oldWord, newWord);
  }
  buf.writeUInt16BE(ck, ckOff);
}
