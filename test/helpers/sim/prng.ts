// A small seeded PRNG for simulations: the same seed gives the same run. SplitMix32-style (a Weyl sequence through
// an integer hash), plenty for choosing losses and delays; not for anything that needs real randomness.
export class Prng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }

  /** A uniformly distributed uint32. */
  u32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number { return this.u32() / 0x100000000; }

  /** An integer in [lo, hi). */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo)); }

  chance(p: number): boolean { return p > 0 && this.next() < p; }
}
