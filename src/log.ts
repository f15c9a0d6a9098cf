// One line per event: "<ISO time> <level> <message> key=value ...", on standard output (the unikernel console) or
// where setLogSink sends it (`log FILE`); `suppress-timestamps` drops the time (the service manager adds its own).
// Secrets never reach here: callers pass names, addresses and counts, never key material or passwords.
// notice: the few lines OpenVPN prints at its default verb 1 (start, Initialization Sequence Completed, shutdown).
export type Level = 'error' | 'warn' | 'notice' | 'info' | 'debug';
const rank: Record<Level, number> = { error: 0, warn: 1, notice: 2, info: 3, debug: 4 };

let threshold = rank.info;
export const stdoutSink = (line: string): void => { process.stdout.write(line + '\n'); };
let sink: (line: string) => void = stdoutSink;
let timestamps = true;

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
export function setTimestamps(on: boolean): void { timestamps = on; }
/**
 * Lines already formatted while the log's destination and verbosity were not known yet (log them with setVerb(11))
 * to the current sink, as the current verb and timestamp setting would have written them.
 */
export function replayLog(lines: readonly string[]): void {
  for (const l of lines) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )?(ERROR|WARN|NOTICE|INFO|DEBUG) /.exec(l);
    if (m && rank[m[2]!.toLowerCase() as Level] > threshold) continue;
    sink(timestamps || !m?.[1] ? l : l.slice(m[1].length));
  }
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
  sink(`${timestamps ? `${now.toISOString()} ` : ''}${level.toUpperCase()} ${text}`);
  if (listeners.size === 0 || inListener) return;
  inListener = true;
  try {
    for (const fn of listeners) fn({ time: now.getTime(), level, text });
  } finally {
    inListener = false;
  }
}
