// One line per event: "<ISO time> <level> <message> key=value ...". Console only (the unikernel console).
// Secrets never reach here: callers pass names, addresses and counts, never key material or passwords.
export type Level = 'error' | 'warn' | 'info' | 'debug';
const rank: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

let threshold = rank.info;
let sink: (line: string) => void = (line) => process.stdout.write(line + '\n');

/** OpenVPN verb: 0-1 errors and warnings, 2-4 info, 5+ debug. */
export function setVerb(verb: number): void {
  threshold = verb <= 1 ? rank.warn : verb <= 4 ? rank.info : rank.debug;
}
export function setLogSink(fn: (line: string) => void): void { sink = fn; }
export function logEnabled(level: Level): boolean { return rank[level] <= threshold; }

function fmt(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

export function log(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (rank[level] > threshold) return;
  let line = `${new Date().toISOString()} ${level.toUpperCase()} ${msg}`;
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${fmt(v)}`;
  sink(line);
}
