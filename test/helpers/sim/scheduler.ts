// A virtual clock and its event queue (quinn's test Pair, smoltcp's fault injector, in one loop). Time jumps to the
// next thing due: a scheduled event or the deadline of a party (something with nextDeadline()/timeout(now)). All
// events due at the same instant form one turn, in the order they were scheduled; after each turn `endOfTurn`
// runs (the NAT's batch end, as Node's setImmediate after a burst of socket reads).
export interface Party {
  nextDeadline(): number | undefined;
  timeout(now: number): void;
}

interface Ev { at: number; seq: number; fn: () => void }

/** Far more than any burst of same-instant events a test makes (a flood schedules its packets as events that run in
 *  one turn per instant), far fewer than a stuck party burns through before a test times out. */
const MAX_TURNS_AT_ONE_INSTANT = 100_000;

export class Scheduler {
  now: number;
  /** Turns run so far (a livelock guard for callers). */
  turns = 0;
  /** Turns in a row at one instant: a party whose deadline stays due after its timeout() never lets time move. */
  private stalled = 0;
  private readonly heap: Ev[] = [];
  private seq = 0;
  private readonly parties: Party[] = [];
  private readonly turnHooks: (() => void)[] = [];

  constructor(start = 0) { this.now = start; }

  at(at: number, fn: () => void): void {
    if (at < this.now) throw new Error(`event scheduled in the past (${at} < ${this.now})`);
    this.push({ at, seq: this.seq++, fn });
  }

  after(delay: number, fn: () => void): void { this.at(this.now + Math.max(0, delay), fn); }

  addParty(p: Party): void { this.parties.push(p); }

  /** Runs after every turn, until it reports nothing more to do (bounded). */
  onTurnEnd(fn: () => void): void { this.turnHooks.push(fn); }

  /** When the next turn would run, or undefined when nothing is left to happen. */
  next(): number | undefined {
    let t = this.heap.length > 0 ? this.heap[0]!.at : Infinity;
    for (const p of this.parties) {
      const d = p.nextDeadline();
      if (d !== undefined && d < t) t = d;
    }
    return t === Infinity ? undefined : Math.max(t, this.now);
  }

  /** One turn: the clock moves to the next due time; events and expired deadlines there run. */
  step(): boolean {
    const t = this.next();
    if (t === undefined) return false;
    this.stalled = t === this.now ? this.stalled + 1 : 0;
    if (this.stalled > MAX_TURNS_AT_ONE_INSTANT) throw new Error(`livelock: ${this.stalled} turns at ${t} without time moving`);
    this.now = t;
    this.turns++;
    while (this.heap.length > 0 && this.heap[0]!.at <= t) this.pop().fn();
    for (const p of this.parties) {
      const d = p.nextDeadline();
      if (d !== undefined && d <= t) p.timeout(t);
    }
    for (const h of this.turnHooks) h();
    return true;
  }

  /** Steps until `done()` holds. Throws when the time or the turn budget runs out first (livelock, stall). */
  runUntil(done: () => boolean, o: { maxTime: number; maxTurns?: number; what?: string }): void {
    const end = this.now + o.maxTime;
    const maxTurns = this.turns + (o.maxTurns ?? 2_000_000);
    while (!done()) {
      const t = this.next();
      if (t === undefined) throw new Error(`${o.what ?? 'simulation'}: nothing left to happen at ${this.now}`);
      if (t > end) throw new Error(`${o.what ?? 'simulation'}: not done after ${o.maxTime} ms of virtual time`);
      if (this.turns >= maxTurns) throw new Error(`${o.what ?? 'simulation'}: no end after ${o.maxTurns} turns`);
      this.step();
    }
  }

  /** Steps through everything due up to `until` (virtual time), then sets the clock there. */
  runFor(ms: number): void {
    const until = this.now + ms;
    for (let t = this.next(); t !== undefined && t <= until; t = this.next()) this.step();
    this.now = until;
  }

  private push(e: Ev): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(h[p]!, e)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Ev {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
        if (before(last, h[c]!)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: Ev, b: Ev): boolean { return a.at < b.at || (a.at === b.at && a.seq < b.seq); }
