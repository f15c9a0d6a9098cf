// LZ4 block decompression (what an OpenVPN peer with `compress lz4` or `lz4-v2` sends after its framing bytes). A block
// is a sequence of: token (literal count << 4 | match length - 4), more count bytes while the last was 255 when a field
// is 15, the literals, a little-endian 16-bit distance back into the output, more match-length bytes. The last
// sequence has literals only.

/** The decompressed bytes, or null when the block is malformed or would grow past `max` bytes. */
export function lz4Decompress(src: Uint8Array, max: number): Buffer | null {
  const out = Buffer.allocUnsafe(max);
  let ip = 0;
  let op = 0;
  const n = src.length;
  const more = (len: number): number => {
    for (;;) {
      if (ip >= n) return -1;
      const b = src[ip++];
      len += b;
      if (b !== 255) return len;
    }
  };
  while (ip < n) {
    const token = src[ip++];
    let count = token >> 4;
    if (count === 15) count = more(15);
    if (count < 0 || ip + count > n || op + count > max) return null;
    for (let i = 0; i < count; i++) out[op++] = src[ip++];
    if (ip === n) return out.subarray(0, op);
    if (ip + 2 > n) return null;
    const distance = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    let length = token & 15;
    if (length === 15) length = more(15);
    if (length < 0) return null;
    length += 4;
    if (distance === 0 || distance > op || op + length > max) return null;
    for (let i = 0; i < length; i++, op++) out[op] = out[op - distance];
  }
  // An empty block, or one whose last sequence was a match: LZ4 always ends on literals.
  return null;
}
