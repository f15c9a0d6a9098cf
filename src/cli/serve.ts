// `nanovpn [serve] --config FILE [--OPTION ARGS…]` (OpenVPN's command line: each option is a config line) or
// `nanovpn serve [--state DIR …]` (a development setup, dev-setup.ts): build the config, start the server, shut down
// cleanly on SIGTERM/SIGINT, restart on SIGHUP/SIGUSR1.
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { COMMAND_LINE, configFromOptions, splitOptions } from '../config/command-line.js';
import { log, replayLog, setLogSink, setTimestamps, setVerb, stdoutSink } from '../log.js';
import { syslogSink } from '../io/syslog.js';
import { systemdNotify, underSystemd } from '../io/systemd-notify.js';
import { RESTARTS, startServer, StartupStopped } from '../server/start.js';
import { daemonReady, detach, isDaemonChild } from './daemon.js';
import { devSetup } from './dev-setup.js';
import { heapProblem } from './heap-check.js';
import { openLogFile, writePidFile } from './process-options.js';
import { SignalQueue } from './signal-queue.js';

export const EMBEDDED_CONFIG = '/etc/nanovpn/server.conf';
const DEV_FLAGS = ['--state', '--remote', '--port'];
const SERVE_USAGE = 'nanovpn [serve] --config FILE [--OPTION ARGS…] | nanovpn serve [--state DIR [--remote HOST] [--port N]]';

export async function serve(args: string[]): Promise<number | undefined> {
  const heap = heapProblem(getHeapStatistics().heap_size_limit, totalmem(), process.env.NODE_OPTIONS);
  if (heap) { console.error(`nanovpn serve: ${heap}`); return 1; }
  const options = splitOptions(args);
  if ('error' in options) { console.error(`nanovpn serve: ${options.error} (usage: ${SERVE_USAGE})`); return 2; }
  const dev = options.filter((o) => o.name === 'state' || o.name === 'remote');
  const hasConfig = options.some((o) => o.name === 'config');
  if (dev.length && hasConfig) {
    console.error(`nanovpn serve: ${dev.map((o) => `--${o.name}`).join(', ')} only apply without a config`);
    return 2;
  }
  // --config FILE (with any other OpenVPN options) > --state DIR > the embedded config > ./state (created on first run)
  if (!hasConfig && !dev.length && existsSync(EMBEDDED_CONFIG)) {
    options.unshift({ name: 'config', args: [EMBEDDED_CONFIG], file: COMMAND_LINE, line: 0, inline: false });
  }
  if (!options.some((o) => o.name === 'config')) {
    const devArgs: string[] = [];
    for (const o of options) {
      if (!DEV_FLAGS.includes(`--${o.name}`) || o.args.length !== 1) {
        console.error(`nanovpn serve: unknown argument '--${o.name}' without a config (usage: ${SERVE_USAGE})`);
        return 2;
      }
      devArgs.push(`--${o.name}`, o.args[0]!);
    }
    const r = await devSetup(devArgs);
    if (typeof r === 'number') return r;
    // The development flags were the setup's; the server runs on the config it wrote.
    options.splice(0, options.length, { name: 'config', args: [r], file: COMMAND_LINE, line: 0, inline: false });
  }
  // Lines logged while the config is read wait until it says where the log goes (`log FILE`).
  const early: string[] = [];
  setLogSink((line) => early.push(line));
  setVerb(11);
  let cfg: ReturnType<typeof configFromOptions>;
  try {
    cfg = configFromOptions(options, process.cwd());
  } catch (e) {
    setLogSink(stdoutSink);
    setVerb(3);   // the threshold the lines had before there was a config
    replayLog(early);
    console.error(`nanovpn: ${(e as Error).message.split('\n').join('\nnanovpn: ')}`);
    return 1;
  }
  setLogSink(stdoutSink);
  setVerb(cfg.verb);
  if (cfg.suppressTimestamps) setTimestamps(false);
  const child = isDaemonChild();
  // The daemon child writes to the log file through its standard output, which the first process opened.
  const logFd = cfg.logFile && !child ? openLogFile(cfg.logFile) : undefined;
  if (cfg.daemon && !child && underSystemd()) {
    log('info', 'daemon: running under systemd ($NOTIFY_SOCKET), so not forking, as OpenVPN 2.6');
  } else if (cfg.daemon && !child) {
    // The child reads the config again and logs its lines itself.
    const code = await detach(logFd);
    if (code !== undefined) return code;
  }
  // `syslog [NAME]`: the system log from here on, unless a log file is named (it supersedes syslog, as in 2.6).
  if (cfg.syslog !== undefined && !cfg.logFile) {
    const sink = syslogSink(cfg.syslog);
    if (typeof sink === 'function') setLogSink(sink);
    else log('warn', 'syslog: cannot write to the system log, logging to standard output', { reason: sink.error });
  }
  replayLog(early);
  // `daemon [NAME]` without a log file: 2.6 logs to syslog once it is in the background, and so does the child.
  let afterDetach: ((line: string) => void) | undefined;
  if (cfg.daemon && !cfg.logFile && cfg.syslog === undefined && child) {
    const sink = syslogSink(cfg.daemonName ?? 'openvpn');
    if (typeof sink === 'function') {
      afterDetach = sink;
      log('info', 'daemon: log lines go to the system log once the server runs in the background, as in 2.6', { name: cfg.daemonName });
    } else {
      log('warn', "daemon: OpenVPN would log to syslog, which is not available here; add 'log FILE' to keep the " +
        "server's log lines: without it they are discarded once the server runs in the background", { reason: sink.error });
    }
  }
  // Signals count from here: "Initialization Sequence Completed" is logged inside startServer, and a supervisor
  // may stop the server the moment it reads that line. SIGTERM and SIGINT end the process; SIGHUP restarts the
  // server on the config read again, SIGUSR1 on the same config (remap-usr1 makes it SIGHUP or SIGTERM), as 2.6.
  const signals = new SignalQueue(() => cfg.remapUsr1);
  const removePid = cfg.writepid ? writePidFile(cfg.writepid) : undefined;
  let ready = false;
  for (;;) {
    const abort = new AbortController();
    signals.onSignal = (sig) => abort.abort(sig);
    let server;
    try {
      server = await startServer(cfg, { stop: abort.signal });
    } catch (e) {
      if (!(e instanceof StartupStopped)) { removePid?.(); throw e; }
      log('notice', 'shutting down', { signal: String(abort.signal.reason), while: 'management-hold' });
      if (!RESTARTS.has(String(abort.signal.reason))) break;
      server = undefined;
    }
    if (server && !ready) {
      ready = true;
      if (child) daemonReady(cfg.logFile !== undefined, cfg.syslog !== undefined ? 'keep' : afterDetach);
      systemdNotify(`READY=1\nSTATUS=Initialization Sequence Completed\nMAINPID=${process.pid}`);
    }
    const sig = server ? await signals.next() : String(abort.signal.reason);
    if (server) {
      log('notice', RESTARTS.has(sig) ? `${sig} received, process restarting` : 'shutting down', { signal: sig });
      try { await server.stop(sig); } catch (e) { log('error', 'shutdown failed', { error: (e as Error).message }); }
    }
    if (!RESTARTS.has(sig)) break;
    signals.drop();   // signals that came while the server stopped belong to the old server
    if (sig === 'SIGHUP') {
      try {
        cfg = configFromOptions(options, process.cwd());
      } catch (e) {
        console.error(`nanovpn: ${(e as Error).message.split('\n').join('\nnanovpn: ')}`);
        removePid?.();
        return 1;
      }
      setVerb(cfg.verb);
    }
  }
  // Everything is closed and the status file written: exit now rather than wait for the event loop to drain
  // (a CI run once saw the process linger after this point; inside the unikernel, exiting powers the VM off).
  // Sockets closed above report 'close' before libuv releases their handles, which happens in the close phase of
  // the loop turn after this one's check phase: two immediates get past it.
  await new Promise((r) => setImmediate(() => setImmediate(r)));
  const left = process.getActiveResourcesInfo();
  // stdout and stderr are a terminal or pipes (the service manager's): they stay open, the rest should not.
  for (let stdio = 0; stdio < 2; stdio++) {
    const i = left.findIndex((r) => r === 'TTYWrap' || r === 'PipeWrap');
    if (i >= 0) left.splice(i, 1);
  }
  removePid?.();
  log('notice', 'stopped', left.length ? { 'open-handles': left.join(',') } : undefined);
  process.exit(0);
}
