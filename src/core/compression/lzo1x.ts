// LZO1X decompression (what an OpenVPN peer with `comp-lzo` sends after the 0x66 byte). The stream is a sequence of
// literal runs and back-references; each back-reference's low two bits (S) say how many literals (0-3) follow it, and
// S decides how the next instruction byte below 16 is read:
//   after a match with S = 0   0000LLLL            a run of 3 + L literals (L = 0: 18 + 255 * zeros + next byte)
//   after 1-3 literals         0000DDSS HHHHHHHH   2 bytes from distance 1 + D + 4H
//   after a run of 4+ literals 0000DDSS HHHHHHHH   3 bytes from distance 2049 + D + 4H
//   0001HLLL  LE16(D<<2|S)     2 + L bytes (L = 0: 9 + 255 * zeros + next byte) from 16384 + 16384H + D; 16384: end
//   001LLLLL  LE16(D<<2|S)     2 + L bytes (L = 0: 33 + 255 * zeros + next byte) from 1 + D
//   01LDDDSS  HHHHHHHH         3 + L bytes from 1 + D + 8H
//   1LLDDDSS  HHHHHHHH         5 + L bytes from 1 + D + 8H
// A first byte above 17 is a run of (byte - 17) literals; below 4 of them it counts as S.

/** The decompressed bytes, or null when the stream is malformed or would grow past `max` bytes. */
export function lzo1xDecompress(src: Uint8Array, max: number): Buffer | null {
  const out = Buffer.allocUnsafe(max);
  let ip = 0;
  let op = 0;
  const n = src.length;

  const literals = (count: number): boolean => {
    if (ip + count > n || op + count > max) return false;
    for (let i = 0; i < count; i++) out[op++] = src[ip++];
    return true;
  };
  const backref = (distance: number, count: number): boolean => {
    if (distance > op || op + count > max) return false;
    for (let i = 0; i < count; i++, op++) out[op] = out[op - distance];
    return true;
  };
  /** base + 255 per zero byte + the first non-zero byte after them. */
  const extended = (base: number): number => {
    let len = base;
    while (ip < n && src[ip] === 0) { len += 255; ip++; }
    if (ip >= n) return -1;
    return len + src[ip++];
  };

  // What the last instruction left: 0 = a match without literals, 1-3 = that many literals, 4 = a longer literal run.
  let state = 0;
  if (n > 0 && src[0] > 17) {
    const count = src[ip++] - 17;
    if (!literals(count)) return null;
    state = count < 4 ? count : 4;
  }
  while (ip < n) {
    const t = src[ip++];
    let distance: number;
    let length: number;
    if (t < 16) {
      if (state === 0) {
        const count = t === 0 ? extended(18) : t + 3;
        if (count < 0 || !literals(count)) return null;
        state = 4;
        continue;
      }
      if (ip >= n) return null;
      const h = src[ip++];
      if (state === 4) { distance = 2049 + (t >> 2) + (h << 2); length = 3; }
      else { distance = 1 + (t >> 2) + (h << 2); length = 2; }
    } else if (t < 32) {
      length = (t & 7) === 0 ? extended(9) : (t & 7) + 2;
      if (length < 0 || ip + 2 > n) return null;
      const d = (src[ip] | (src[ip + 1] << 8)) >> 2;
      ip += 2;
      distance = ((t & 8) << 11) + d;
      if (distance === 0) return ip === n ? out.subarray(0, op) : null;
      distance += 16384;
    } else if (t < 64) {
      length = (t & 31) === 0 ? extended(33) : (t & 31) + 2;
      if (length < 0 || ip + 2 > n) return null;
      distance = 1 + ((src[ip] | (src[ip + 1] << 8)) >> 2);
      ip += 2;
    } else {
      if (ip >= n) return null;
      length = (t >> 5) + 1;
      distance = 1 + ((t >> 2) & 7) + (src[ip++] << 3);
    }
    if (!backref(distance, length)) return null;
    const follow = src[ip - 2] & 3;
    if (follow > 0 && !literals(follow)) return null;
    state = follow;
  }
  // A stream ends with its end marker; one that stops without it was cut short.
  return null;
}
