// The runtime's one clock and one timer. Every state machine (each client session, the NAT, the TCP half-open
// tracker, the drop summaries) asks for a wake-up at its next deadline; the driver keeps them in one heap and arms a
// single timer for the earliest. What is due now runs at the end of this turn (setImmediate), after the records the
// turn's input makes, rather than a timer's 1 ms or more. endOfTurn() runs a machine's batch work once per turn.
// The timer is unref'd: the server's sockets keep the process alive, a pending wake-up alone does not.
import { performance } from 'node:perf_hooks';
import { DeadlineQueue, type Deadlined } from '../core/deadline-queue.js';

export interface Timed extends Deadlined {
  /** Called at or after the deadline it asked for (an early call finds nothing due and asks again). */
  fire(now: number): void;
}

/** A Timed for a callback: `new Wakeup((now) => ...)`. */
export class Wakeup implements Timed {
  queuedAt = Infinity;
  constructor(readonly fire: (now: number) => void) {}
}

export class Driver {
  readonly now = (): number => performance.now();
  private readonly queue = new DeadlineQueue<Timed>();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private armedAt = Infinity;
  private readonly batches = new Set<() => void>();
  private batchImmediate: NodeJS.Immediate | undefined;

  /** Wake `m` no later than `at`; undefined: it has no deadline (a wake-up already queued may still come, early). */
  wakeAt(m: Timed, at: number | undefined): void {
    if (at === undefined) {
      this.queue.disarm(m);
      if (this.queue.next() === undefined) this.disarm();
      return;
    }
    this.queue.arm(m, at);
    if (at < this.armedAt) this.arm(at);
  }

  /** Run `fn` once at the end of this turn, however often it is asked for before then. */
  endOfTurn(fn: () => void): void {
    this.batches.add(fn);
    this.batchImmediate ??= setImmediate(this.runBatches);
  }

  /** Machines still waiting (for tests and /metrics). */
  get pending(): number { return this.queue.size; }

  stop(): void {
    this.disarm();
    this.queue.clear();
    if (this.batchImmediate) clearImmediate(this.batchImmediate);
    this.batchImmediate = undefined;
    this.batches.clear();
  }

  private arm(at: number): void {
    this.disarm();
    this.armedAt = at;
    const wait = Math.ceil(at - this.now());
    if (wait <= 0) this.immediate = setImmediate(this.run);
    else { this.timer = setTimeout(this.run, wait); this.timer.unref(); }
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.armedAt = Infinity;
  }

  private readonly run = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    this.armedAt = Infinity;
    const t = this.now();
    // Collected first: a machine that asks again for a time already past runs on the next turn, not in a loop here.
    const due: Timed[] = [];
    for (let m = this.queue.popDue(t); m; m = this.queue.popDue(t)) due.push(m);
    for (const m of due) m.fire(t);
    const next = this.queue.next();
    if (next !== undefined && next < this.armedAt) this.arm(next);
  };

  private readonly runBatches = (): void => {
    this.batchImmediate = undefined;
    const fns = [...this.batches];
    this.batches.clear();
    for (const fn of fns) fn();
  };
}
