// The process around the server, set up as OpenVPN 2.6 does from `log FILE` / `log-append FILE` (log lines to a
// file, truncated or appended to) and `writepid FILE` (the pid and a newline, removed again on a clean exit).
import { openSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { log, setLogSink } from '../log.js';

/**
 * Sends every later log line to the file; returns its descriptor. As in 2.6, a file that cannot be opened is a
 * warning and logging stays on standard output (undefined is returned).
 */
export function openLogFile(o: { path: string; append: boolean }): number | undefined {
  let fd: number;
  try {
    fd = openSync(o.path, o.append ? 'a' : 'w', 0o600);
  } catch (e) {
    log('warn', `${o.append ? 'log-append' : 'log'}: cannot open the file, logging to standard output`, { file: o.path, error: (e as Error).message });
    return undefined;
  }
  // Synchronous: lines keep their order and the last ones before a crash are on disk. A full disk loses lines,
  // never the server.
  setLogSink((line) => { try { writeSync(fd, line + '\n'); } catch { /* nowhere left to report it */ } });
  return fd;
}

/** Writes the pid file; throws (startup stops, as in 2.6) when it cannot. Returns its remover. */
export function writePidFile(path: string, pid = process.pid): () => void {
  try {
    writeFileSync(path, `${pid}\n`);
  } catch (e) {
    throw new Error(`writepid: cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  return () => { try { unlinkSync(path); } catch { /* already gone */ } };
}
