// TCP sequence numbers live on a 2^32 circle: compare them only through the signed 32-bit difference, so the
// ordering survives wraparound (RFC 9293 §3.4, RFC 1982 serial-number arithmetic).
export type Seq = number;

export const seqAdd = (a: Seq, n: number): Seq => (a + n) >>> 0;
/** a - b as a signed distance. */
export const seqDiff = (a: Seq, b: Seq): number => (a - b) | 0;
export const seqLt = (a: Seq, b: Seq): boolean => seqDiff(a, b) < 0;
export const seqLe = (a: Seq, b: Seq): boolean => seqDiff(a, b) <= 0;
export const seqGt = (a: Seq, b: Seq): boolean => seqDiff(a, b) > 0;
export const seqGe = (a: Seq, b: Seq): boolean => seqDiff(a, b) >= 0;
