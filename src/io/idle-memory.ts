// Memory back to the OS once traffic stops. A transfer grows V8's young generation to its cap (32 MiB on Node 20) and
// leaves glibc holding the Buffers it freed; an idle server would keep that peak for good, because V8 shrinks the young
// generation only in a collection that runs while the allocation rate is low, and an idle process never collects.
// So a busy stretch followed by a few quiet ticks gets full collections (the second shrinks the young generation), the
// caches drop their spare buffers, and glibc returns its free pages (malloc_trim through the udp addon).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { log } from '../log.js';
import { loadUdpAddon } from './udp-port.js';

export interface IdleTrimOptions {
  /** Event-loop utilization of a tick at or above which the tick counts as busy. */
  busy: number;
  /** Utilization at or below which a tick counts as quiet. */
  quiet: number;
  /** Quiet ticks in a row after a busy one before the trim: V8 judges its allocation rate over the last 5 s. */
  quietTicks: number;
}

export const IDLE_TRIM_DEFAULTS: IdleTrimOptions = { busy: 0.05, quiet: 0.02, quietTicks: 2 };
export const IDLE_TRIM_TICK_MS = 3000;

/**
 * When to trim, from each tick's event-loop utilization: twice per busy stretch, after quietTicks and 2 x quietTicks
 * quiet ticks. V8 shrinks its young generation only if the allocation rate since its previous collection was low,
 * and the first collection's interval can still hold the tail of the traffic: the second one's is all quiet.
 */
export class IdleTrimPolicy {
  private busySinceTrim = false;
  private quietRun = 0;

  constructor(private readonly o: IdleTrimOptions = IDLE_TRIM_DEFAULTS) {}

  /** The utilization (0..1) over the tick just ended; true: trim now. */
  tick(utilization: number): boolean {
    if (utilization >= this.o.busy) {
      this.busySinceTrim = true;
      this.quietRun = 0;
      return false;
    }
    if (utilization > this.o.quiet) {
      this.quietRun = 0;
      return false;
    }
    if (!this.busySinceTrim) return false;
    this.quietRun++;
    if (this.quietRun === 2 * this.o.quietTicks) this.busySinceTrim = false;
    return this.quietRun % this.o.quietTicks === 0;
  }
}

/** V8's gc(), made reachable at run time (node's --expose-gc is not allowed in NODE_OPTIONS); undefined if refused. */
function fullCollector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? gc as () => void : undefined;
  } catch {
    return undefined;
  }
}

/** What a trim did, with how long each step held the event loop. */
export interface TrimResult { gcMs?: number; mallocTrimMs?: number; mallocTrimmed: boolean }

export interface IdleTrim {
  /** Trims now (what a tick does when the policy says so): returns what it could do. */
  trim(): TrimResult;
  stop(): void;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** Ticks every IDLE_TRIM_TICK_MS (the timer does not keep the process alive); `releaseSpare` drops cached buffers. */
export function startIdleTrim(releaseSpare: () => void, o: IdleTrimOptions = IDLE_TRIM_DEFAULTS): IdleTrim {
  const policy = new IdleTrimPolicy(o);
  const gc = fullCollector();
  const udp = loadUdpAddon();
  const mallocTrim = 'mod' in udp ? udp.mod.mallocTrim : undefined;
  let last: EventLoopUtilization = performance.eventLoopUtilization();

  const trim = (): TrimResult => {
    releaseSpare();
    const r: TrimResult = { mallocTrimmed: false };
    let t = performance.now();
    if (gc) {
      gc();
      r.gcMs = round(performance.now() - t);
    }
    if (mallocTrim) {
      t = performance.now();
      r.mallocTrimmed = mallocTrim();
      r.mallocTrimMs = round(performance.now() - t);
    }
    return r;
  };
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (!policy.tick(u)) return;
    log('debug', 'idle: memory given back', { ...trim() });
  }, IDLE_TRIM_TICK_MS);
  timer.unref();
  return { trim, stop: () => clearInterval(timer) };
}
