// `daemon [NAME]`: OpenVPN 2.6 forks into the background; Node cannot fork, so nanovpn starts the same command line
// again as a detached child (its own session, no terminal) and the first process waits until the child reports
// the server up, then exits 0, or exits with the child's status if it failed first: an init script learns from
// the exit status whether the server started, as with 2.6. The child's output goes to the `log` file when there is
// one; otherwise, as 2.6, to the system log once it is up (io/syslog.ts), or nowhere where there is none. Where no
// process can be started (a unikernel), nanovpn says so and stays in the foreground.
import { spawn } from 'node:child_process';
import { log, setLogSink } from '../log.js';

/** Set in the child's environment: it is the daemon and must not detach again. */
export const DAEMON_CHILD_ENV = 'NANOVPN_DAEMON_CHILD';

export function isDaemonChild(): boolean { return process.env[DAEMON_CHILD_ENV] === '1'; }

/**
 * Starts the detached child and waits for it: resolves with the exit status for this (first) process, or
 * undefined when no child process could be started (then this process runs the server itself).
 */
export function detach(logFd: number | undefined): Promise<number | undefined> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
        detached: true, cwd: process.cwd(), env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
        stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe', 'ipc'],
      });
    } catch (e) {
      log('warn', 'daemon: cannot start a background process here, running in the foreground', { error: (e as Error).message });
      resolve(undefined);
      return;
    }
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
    let started = false;
    child.on('spawn', () => { started = true; });
    child.on('error', (e) => {
      if (started) return;
      log('warn', 'daemon: cannot start a background process here, running in the foreground', { error: e.message });
      resolve(undefined);
    });
    child.on('message', (m) => {
      if ((m as { ready?: boolean }).ready !== true) return;
      child.stdout?.unpipe(); child.stderr?.unpipe();
      child.stdout?.destroy(); child.stderr?.destroy();
      child.disconnect();
      child.unref();
      resolve(0);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * In the child, once the server is up: tells the first process, and stops writing to its pipes (it exits). Without
 * a log file the lines go on to the system log if it is in use already (`keep`), to `after`, or nowhere.
 */
export function daemonReady(hasLogFile: boolean, after?: ((line: string) => void) | 'keep'): void {
  if (!hasLogFile) {
    if (after !== 'keep') setLogSink(after ?? (() => {}));
    for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
  }
  process.send?.({ ready: true }, () => process.disconnect());
}
