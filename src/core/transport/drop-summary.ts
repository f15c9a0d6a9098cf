// Drop accounting for packets the transport refuses: what to log, never the logging (sans-IO; `now` is an argument).
//   io: drop → note(reason, sample, now) → a report to log at once, or nothing (counted)
//   io: at nextDeadline() → poll(now) → one summary per key whose interval ended with drops in it
// A key is a reason (unauthenticated drops: one key per reason, however many source addresses a flood uses) or a
// reason and a client (drops of an established session). The first drop of a quiet key is reported at once and
// opens an interval; later drops are only counted, and when the interval ends one summary with the count and a
// sample is reported and the next interval starts. An interval without drops closes its key, so a key costs nothing
// once its flood is over. Client keys are bounded by `maxClientKeys`; past it a client's drops fold into the
// reason's key. So the log carries at most (keys + 1 per key per interval) lines, and memory is bounded by the
// number of reasons plus maxClientKeys, with one retained sample each.

export const DROP_SUMMARY_INTERVAL_MS = 10_000;
export const DROP_SUMMARY_MAX_CLIENT_KEYS = 1024;

export interface DropReport<S> {
  reason: string;
  /** The client the key belongs to; undefined for a reason key. */
  client?: string;
  /** Drops this report stands for: 1 for the immediate report, the interval's count for a summary. */
  count: number;
  /** The drop that opened the key (immediate report), or the interval's first drop (summary). */
  sample: S;
  /** Summaries only: how long the interval lasted. */
  intervalMs?: number;
}

interface Bucket<S> { reason: string; client?: string; startedAt: number; count: number; sample: S | undefined }

export class DropSummary<S = string> {
  private readonly buckets = new Map<string, Bucket<S>>();
  private clientKeys = 0;
  private readonly totals = new Map<string, number>();
  private readonly intervalMs: number;
  private readonly maxClientKeys: number;
  private readonly retain: (sample: S) => S;

  /** `retain` makes the copy of a sample that a key keeps (for samples that are valid only during the call). */
  constructor(opts: { intervalMs?: number; maxClientKeys?: number; retain?: (sample: S) => S } = {}) {
    this.intervalMs = opts.intervalMs ?? DROP_SUMMARY_INTERVAL_MS;
    this.maxClientKeys = opts.maxClientKeys ?? DROP_SUMMARY_MAX_CLIENT_KEYS;
    this.retain = opts.retain ?? ((x) => x);
    if (!(this.intervalMs > 0)) throw new RangeError(`drop summary interval ${this.intervalMs}`);
  }

  /** Counts one drop. Returns a report to log now when the drop opens a quiet key, undefined otherwise. */
  note(reason: string, sample: S, now: number, client?: string): DropReport<S> | undefined {
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + 1);
    let key = client === undefined ? reason : `${reason}\u0000${client}`;
    let b = this.buckets.get(key);
    if (!b && client !== undefined && this.clientKeys >= this.maxClientKeys) {
      key = reason;
      client = undefined;
      b = this.buckets.get(key);
    }
    if (b) {
      if (b.count++ === 0) b.sample = this.retain(sample);
      return undefined;
    }
    this.buckets.set(key, { reason, client, startedAt: now, count: 0, sample: undefined });
    if (client !== undefined) this.clientKeys++;
    sample = this.retain(sample);
    return client === undefined ? { reason, count: 1, sample } : { reason, client, count: 1, sample };
  }

  /** Summaries of the intervals that ended at or before `now`; closes keys whose interval saw no drop. */
  poll(now: number): DropReport<S>[] {
    const out: DropReport<S>[] = [];
    for (const [key, b] of this.buckets) {
      if (now < b.startedAt + this.intervalMs) continue;
      if (b.count === 0) {
        this.buckets.delete(key);
        if (b.client !== undefined) this.clientKeys--;
        continue;
      }
      const r: DropReport<S> = { reason: b.reason, count: b.count, sample: b.sample as S, intervalMs: now - b.startedAt };
      if (b.client !== undefined) r.client = b.client;
      out.push(r);
      b.startedAt = now;
      b.count = 0;
      b.sample = undefined;
    }
    return out;
  }

  /** Every key's drops not yet reported (say, at shutdown), whatever its interval; closes all keys. */
  flush(now: number): DropReport<S>[] {
    const out: DropReport<S>[] = [];
    for (const b of this.buckets.values()) {
      if (b.count === 0) continue;
      const r: DropReport<S> = { reason: b.reason, count: b.count, sample: b.sample as S, intervalMs: now - b.startedAt };
      if (b.client !== undefined) r.client = b.client;
      out.push(r);
    }
    this.buckets.clear();
    this.clientKeys = 0;
    return out;
  }

  /** When poll() next has work (an interval ends); undefined when no key is open. */
  nextDeadline(): number | undefined {
    let at: number | undefined;
    for (const b of this.buckets.values()) {
      const end = b.startedAt + this.intervalMs;
      if (at === undefined || end < at) at = end;
    }
    return at;
  }

  /** All drops ever noted, by reason (for counters such as /metrics). */
  countsByReason(): Record<string, number> {
    const o: Record<string, number> = {};
    for (const [r, n] of [...this.totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) o[r] = n;
    return o;
  }

  /** Open keys (for tests and bounds checks). */
  get size(): number { return this.buckets.size; }
}
