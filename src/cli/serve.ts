// `nanovpn serve [--config FILE]`: load the config, start the server, shut down cleanly on SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { loadServerConfig } from '../config/server-config.js';
import { log, setVerb } from '../log.js';
import { startServer } from '../server/start.js';

export const EMBEDDED_CONFIG = '/etc/nanovpn/server.conf';

export async function serve(args: string[]): Promise<number | undefined> {
  let configPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config' && args[i + 1]) configPath = args[++i];
    else { console.error(`nanovpn serve: unknown argument '${args[i]}' (usage: nanovpn serve [--config FILE])`); return 2; }
  }
  if (!configPath && existsSync(EMBEDDED_CONFIG)) configPath = EMBEDDED_CONFIG;
  if (!configPath) {
    console.error(`nanovpn serve: no --config given and no ${EMBEDDED_CONFIG}`);
    return 2;
  }
  let cfg;
  try {
    cfg = loadServerConfig(configPath);
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
      log('info', 'shutting down', { signal: sig });
      server.stop().then(resolve, resolve);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  log('info', 'stopped');
  return 0;
}
