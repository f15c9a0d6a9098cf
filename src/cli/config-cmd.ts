// `nanovpn config inline FILE [-o OUT]`: print (or write, mode 0600) a self-contained copy of a server config.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setLogSink } from '../log.js';
import { ConfigError } from '../config/errors.js';
import { inlineConfig } from '../config/inline.js';
import { buildConfig, loadConfig } from '../config/server-config.js';
import { writeFileAtomicSync } from '../config/atomic-write.js';

const USAGE = 'usage: nanovpn config inline FILE [-o OUT]   print FILE with ca/cert/key/tls-auth/tls-crypt/crl-verify inlined';

export async function configCmd(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'inline') { console.error(USAGE); return 2; }
  let file: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '-o' || a === '--out') { out = rest[++i]; if (out === undefined) { console.error(USAGE); return 2; } }
    else if (file === undefined && !a.startsWith('-')) file = a;
    else { console.error(USAGE); return 2; }
  }
  if (file === undefined) { console.error(USAGE); return 2; }
  // Warnings go to stderr so stdout stays a clean config.
  setLogSink((line) => process.stderr.write(line + '\n'));
  try {
    const abs = resolve(file);
    loadConfig(abs);
    const text = inlineConfig(readFileSync(abs, 'utf8'), abs, dirname(abs));
    buildConfig(text, abs, dirname(abs));
    if (out === undefined) process.stdout.write(text);
    else writeFileAtomicSync(resolve(out), text, 0o600);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) { console.error(`nanovpn: ${e.message}`); return 1; }
    throw e;
  }
}
