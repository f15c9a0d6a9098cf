import { runCli } from './cli/cli.js';

runCli(process.argv.slice(2)).then(
  (code) => { if (code !== undefined) process.exitCode = code; },
  (err: unknown) => {
    console.error(`nanovpn: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
