// V8 grows its young generation (new space) from 1 MiB semi-spaces up to 16 MiB when it scavenges often, and a UDP
// flood makes it scavenge often however little each packet allocates: an 80k packets/s flood grew the server's RSS by
// about 20 MiB that way while nothing it sent was kept. Holding new space at its size costs handshake bursts about
// a third of their rate (a TLS handshake's objects live across many scavenges), so the size is held only while
// unauthenticated packets arrive at a flood's rate. --max-semi-space-size would do it only from the command line;
// the growth factor is read each time V8 grows the space, so setting it at run time takes effect. An operator's own
// semi-space flags are left alone.
import { setFlagsFromString } from 'node:v8';

const OWN_FLAGS = /--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;
/** Unauthenticated drops in one second that mean a flood, and the count under which a second means it is over. */
export const FLOOD_DROPS_PER_SEC = 2000;
export const QUIET_DROPS_PER_SEC = 200;
export const HOLD_FLAG = '--semi-space-growth-factor=1';
export const RELEASE_FLAG = '--semi-space-growth-factor=2';

/** Node options the process started with, where an operator would size the young generation. */
export function startFlags(): string { return `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`; }

/** Counts unauthenticated drops per second; holds new space at its size from the first second at a flood's rate
 *  until a second under QUIET_DROPS_PER_SEC. drop() for each drop; check() at the deadline it returns. */
export class YoungGenerationGuard {
  private readonly enabled: boolean;
  private windowStart = -Infinity;
  private count = 0;
  held = false;

  constructor(flags = startFlags(), private readonly setFlag: (flag: string) => void = setFlagsFromString) {
    this.enabled = !OWN_FLAGS.test(flags);
  }

  /** One unauthenticated drop. Returns when to call check() next, if that changed. */
  drop(now: number): number | undefined {
    if (!this.enabled) return undefined;
    if (now - this.windowStart >= 1000) this.roll(now);
    if (++this.count >= FLOOD_DROPS_PER_SEC && !this.held) {
      this.held = true;
      this.setFlag(HOLD_FLAG);
      return this.windowStart + 1000;
    }
    return undefined;
  }

  /** While held: ends a window; releases after a quiet one. Returns the next deadline, or undefined when released. */
  check(now: number): number | undefined {
    if (!this.held) return undefined;
    if (now - this.windowStart >= 1000) this.roll(now);
    return this.held ? this.windowStart + 1000 : undefined;
  }

  private roll(now: number): void {
    // A window with no drop at all since the last one also counts as quiet.
    if (this.held && this.count < QUIET_DROPS_PER_SEC) {
      this.held = false;
      this.setFlag(RELEASE_FLAG);
    }
    this.windowStart = now;
    this.count = 0;
  }
}
