// The receive buffer of one NAT TCP flow, sized by how fast the outbound socket drains it (dynamic right-sizing,
// as Linux's tcp_rcv_space_adjust): once per RTT the bytes the outbound socket took in that RTT are measured, and
// when the buffer would not hold twice that, it grows to 2 × that plus 16 segments (headroom for the client's slow
// start), up to the flow's cap. A fast sink on a long path (an upload over 100 ms) so gets a window that covers its
// bandwidth-delay product; a slow sink keeps the initial buffer, and the memory stays small where it is not used.
// It never shrinks: a window once advertised is not taken back (RFC 9293 §3.8.6).

const HEADROOM_SEGMENTS = 16;

export class ReceiveBuffer {
  size: number;
  private measuredFrom: number | undefined;
  private taken = 0;

  constructor(initial: number, private readonly max: number, private readonly mss: number) {
    this.size = Math.min(initial, max);
  }

  /** The outbound socket took n bytes at `now`; `rtt` is the flow's current RTT estimate (ms), if any. */
  consumed(n: number, now: number, rtt: number | undefined): void {
    if (this.size >= this.max) return;
    if (this.measuredFrom === undefined) { this.measuredFrom = now; this.taken = 0; }
    this.taken += n;
    if (rtt === undefined || now - this.measuredFrom < rtt) return;
    const want = 2 * this.taken + HEADROOM_SEGMENTS * this.mss;
    if (want > this.size) this.size = Math.min(this.max, want);
    this.measuredFrom = now;
    this.taken = 0;
  }
}
