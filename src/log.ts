// One line per event: "<ISO time> <level> <message> key=value ...". Console only (the unikernel console).
// Secrets never reach here: callers pass names, addresses and counts, never key material or passwords.
// notice: the few lines OpenVPN prints at its default verb 1 (start, Initialization Sequence Completed, shutdown).
export type Level = 'error' | 'warn' | 'notice' | 'info' | 'debug';
const rank: Record<Level, number> = { error: 0, warn: 1, notice: 2, info: 3, debug: 4 };

let threshold = rank.info;
let sink: (line: string) => void = (line) => process.stdout.write(line + '\n');

/** OpenVPN verb: 0 errors only, 1 (its default) warnings and notices, 2-4 info, 5+ debug. */
export function setVerb(verb: number): void {
  threshold = verb <= 0 ? rank.error : verb === 1 ? rank.notice : verb <= 4 ? rank.info : rank.debug;
}
export function setLogSink(fn: (line: string) => void): void { sink = fn; }

/** A log record for listeners (the management interface's log command): the line without its time and level. */
export interface LogEvent { time: number; level: Level; text: string }
const listeners = new Set<(e: LogEvent) => void>();
let inListener = false;
/** Returns the function that removes the listener. A listener's own log calls do not reach the listeners again. */
export function onLog(fn: (e: LogEvent) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function logEnabled(level: Level): boolean { return rank[level] <= threshold; }

function fmt(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

export function log(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (rank[level] > threshold) return;
  const now = new Date();
  let text = msg;
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) text += ` ${k}=${fmt(v)}`;
  sink(`${now.toISOString()} ${level.toUpperCase()} ${text}`);
  if (listeners.size === 0 || inListener) return;
  inListener = true;
  try {
    for (const fn of listeners) fn({ time: now.getTime(), level, text });
  } finally {
    inListener = false;
  }
}
