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
    const limit = nowMs - this.backtrackMs;
    for (let q = pid + 1; q <= highest; q++) {
      if (this.seenAt[q % this.size] < limit) return false;
    }
    return true;
  }

  /** Record `pid` as received; call only after the packet authenticated and check() passed. */
  mark(pid: number, nowMs: number, time = 0): void {
    if (!(pid >= 1 && pid <= PID_MAX) || !Number.isInteger(pid)) return;
    if (time < this.epoch) return;
    if (time > this.epoch) {
      this.epoch = time;
      this.highest = 0;
      this.seenAt.fill(NaN);
    }
    if (pid > this.highest) {
      if (pid - this.highest >= this.size) this.seenAt.fill(NaN);
      else for (let q = this.highest + 1; q <= pid; q++) this.seenAt[q % this.size] = NaN;
      this.highest = pid;
    } else if (this.highest - pid >= this.size) {
      return;
    }
    const slot = pid % this.size;
    if (Number.isNaN(this.seenAt[slot])) this.seenAt[slot] = nowMs;
  }

  /** Highest pid recorded in the current epoch (0 = none). */
  get highestPid(): number { return this.highest; }
}
