// Sliding replay window over packet ids (OpenVPN packet_id.c semantics, `--replay-window 64 15`).
// A pid is fresh if it is above the highest one recorded, or within `size` below it, not yet recorded, and no
// pid at or above it was recorded more than `seconds` ago (reordering is tolerated only briefly).
// tls-auth/tls-crypt ids carry the sender's epoch (replay_time): an older epoch is stale, a newer one restarts
// the window. Data-channel ids have no epoch (always 0).
export const DEFAULT_REPLAY_WINDOW = 64;
export const DEFAULT_REPLAY_SECONDS = 15;
const MAX_REPLAY_WINDOW = 65536;
const PID_MAX = 0xffffffff;

export class ReplayWindow {
  private readonly size: number;
  private readonly backtrackMs: number;
  /** Receive time of pid p in slot p % size for the pids (highest - size, highest]; NaN = not seen. */
  private readonly seenAt: Float64Array;
  private highest = 0;
  private epoch = 0;
  /** Cache for the time rule: every pid below `expiredAbove` is stale; exact while nowMs <= `recheckAt`. */
  private expiredAbove = 0;
  private recheckAt = -Infinity;

  /** seconds <= 0 disables the time rule. */
  constructor(size = DEFAULT_REPLAY_WINDOW, seconds = DEFAULT_REPLAY_SECONDS) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW) throw new RangeError(`replay window size ${size}`);
    this.size = size;
    this.backtrackMs = seconds > 0 ? seconds * 1000 : Infinity;
    this.seenAt = new Float64Array(size).fill(NaN);
  }

  /** Would `pid` (of sender epoch `time`) be accepted now? No state change. */
  check(pid: number, nowMs: number, time = 0): boolean {
    if (!(pid >= 1 && pid <= PID_MAX) || !Number.isInteger(pid)) return false;
    if (time !== this.epoch) return time > this.epoch;
    const highest = this.highest;
    if (pid > highest) return true;
    if (highest - pid >= this.size) return false;
    if (!Number.isNaN(this.seenAt[pid % this.size])) return false;
    if (nowMs > this.recheckAt) this.reap(nowMs);
    return pid >= this.expiredAbove;
  }

  /** Find the highest recorded pid older than the backtrack time (OpenVPN packet_id_reap), and when the next
   *  recorded pid above it will age out. O(size), only on out-of-order pids and at most once per such event. */
  private reap(nowMs: number): void {
    const limit = nowMs - this.backtrackMs;
    const low = Math.max(1, this.highest - this.size + 1);
    let expired = 0;
    let oldest = Infinity;
    for (let q = this.highest; q >= low; q--) {
      const t = this.seenAt[q % this.size];
      if (t < limit) { expired = q; break; }
      if (t < oldest) oldest = t;
    }
    this.expiredAbove = expired;
    this.recheckAt = oldest + this.backtrackMs;
  }

  /** Record `pid` as received; call only after the packet authenticated and check() passed. */
  mark(pid: number, nowMs: number, time = 0): void {
    if (!(pid >= 1 && pid <= PID_MAX) || !Number.isInteger(pid)) return;
    if (time < this.epoch) return;
    if (time > this.epoch) {
      this.epoch = time;
      this.highest = 0;
      this.seenAt.fill(NaN);
      this.expiredAbove = 0;
      this.recheckAt = -Infinity;
    }
    if (pid > this.highest) {
      if (pid - this.highest >= this.size) this.seenAt.fill(NaN);
      else for (let q = this.highest + 1; q <= pid; q++) this.seenAt[q % this.size] = NaN;
      this.highest = pid;
    } else if (this.highest - pid >= this.size) {
      return;
    }
    const slot = pid % this.size;
    if (Number.isNaN(this.seenAt[slot])) {
      this.seenAt[slot] = nowMs;
      if (pid > this.expiredAbove) this.recheckAt = Math.min(this.recheckAt, nowMs + this.backtrackMs);
    }
  }

  /** Highest pid recorded in the current epoch (0 = none). */
  get highestPid(): number { return this.highest; }
}
