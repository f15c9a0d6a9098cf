// OpenVPN's command line: every `--name args…` is the config line `name args…` (the arguments run to the next word
// that starts with "--"), applied in order with the files of `--config`, so later ones win. `--cd DIR` moves the
// folder that later relative paths on the command line (and `--config` files) resolve against.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { parseConfig, type Directive } from './parse.js';
import { buildFromDirectives, type DirectiveSource } from './server-config.js';
import type { AnyServerConfig } from './types.js';

export const COMMAND_LINE = '<command line>';

/** `--name args…` groups; a word before the first "--" is an error. */
export function splitOptions(argv: string[]): Directive[] | { error: string } {
  const out: Directive[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('--') || word === '--') return { error: `'${word}' is not an option (options start with --)` };
    const d: Directive = { name: word.slice(2), args: [], file: COMMAND_LINE, line: out.length + 1, inline: false };
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) d.args.push(argv[++i]!);
    out.push(d);
  }
  return out;
}

/** The config the options give; `cwd` is where relative paths start. Throws ConfigError(s) as the config files do. */
export function configFromOptions(options: Directive[], cwd: string): AnyServerConfig {
  const sources: DirectiveSource[] = [];
  let dir = cwd;
  let pending: Directive[] = [];
  const flush = () => { if (pending.length) sources.push({ directives: pending, baseDir: dir }); pending = []; };
  const files: string[] = [];
  for (const d of options) {
    if (d.name === 'cd' || d.name === 'config') {
      if (d.args.length !== 1) throw new ConfigError(d.file, d.line, `'--${d.name}' takes 1 argument, got ${d.args.length}`);
      flush();
      const p = resolve(dir, d.args[0]!);
      if (d.name === 'cd') { dir = p; continue; }
      let text: string;
      try { text = readFileSync(p, 'utf8'); } catch (e) {
        throw new ConfigError(p, undefined, `cannot read config file: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      }
      files.push(p);
      sources.push({ directives: parseConfig(text, p), baseDir: dirname(p) });
      continue;
    }
    pending.push(d);
  }
  flush();
  return buildFromDirectives(sources, files[0] ?? COMMAND_LINE);
}
