// `nanovpn serve [--config FILE | --state DIR ...]`: load the config (or make a development setup, dev-setup.ts), start
// the server, shut down cleanly on SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { loadConfig } from '../config/server-config.js';
import { log, setVerb } from '../log.js';
import { startServer } from '../server/start.js';
import { devSetup } from './dev-setup.js';
import { heapProblem } from './heap-check.js';

export const EMBEDDED_CONFIG = '/etc/nanovpn/server.conf';
const DEV_FLAGS = ['--state', '--remote', '--port'];
const SERVE_USAGE = 'nanovpn serve [--config FILE | --state DIR [--remote HOST] [--port N]]';

export async function serve(args: string[]): Promise<number | undefined> {
  const heap = heapProblem(getHeapStatistics().heap_size_limit, totalmem(), process.env.NODE_OPTIONS);
  if (heap) { console.error(`nanovpn serve: ${heap}`); return 1; }
  let configPath: string | undefined;
  const devArgs: string[] = [];   // --state/--remote/--port: the development setup (dev-setup.ts)
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config' && args[i + 1]) configPath = args[++i];
    else if (DEV_FLAGS.includes(args[i]!) && args[i + 1] !== undefined) devArgs.push(args[i]!, args[++i]!);
    else { console.error(`nanovpn serve: unknown argument '${args[i]}' (usage: ${SERVE_USAGE})`); return 2; }
  }
  // --config FILE > --state DIR > the embedded config > ./state (created on first run)
  if (!configPath && !devArgs.includes('--state') && existsSync(EMBEDDED_CONFIG)) configPath = EMBEDDED_CONFIG;
  if (configPath && devArgs.length) {
    console.error(`nanovpn serve: ${devArgs.filter((a) => a.startsWith('--')).join(', ')} only apply without a config (using ${configPath})`);
    return 2;
  }
  if (!configPath) {
    const r = await devSetup(devArgs);
    if (typeof r === 'number') return r;
    configPath = r;
  }
  let cfg;
  try {
    cfg = loadConfig(configPath);
  } catch (e) {
    console.error(`nanovpn: ${(e as Error).message}`);
    return 1;
  }
  setVerb(cfg.verb);
  const server = await startServer(cfg);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;   // a repeated signal must not fall back to the default (abrupt) exit
      stopping = true;
      log('notice', 'shutting down', { signal: sig });
      server.stop().then(resolve, (e: Error) => { log('error', 'shutdown failed', { error: e.message }); resolve(); });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
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
  log('notice', 'stopped', left.length ? { 'open-handles': left.join(',') } : undefined);
  process.exit(0);
}
