// Flag parsing shared by `nanovpn pki` and `nanovpn profile`: node:util parseArgs in strict mode, with its
// errors turned into one short line.
import { parseArgs } from 'node:util';
import { PkiError } from '../pki/errors.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

type Spec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

export function parseFlags<S extends Spec>(args: string[], options: S, positionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const msg = (e as Error).message;
    const opt = /'(-{1,2}[^' ]+)/.exec(msg)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${opt}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`option ${opt} needs a value`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument '${/'([^']*)'/.exec(msg)?.[1] ?? ''}'`);
    throw new UsageError(msg.split('\n')[0]!);
  }
  if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument '${parsed.positionals[positionals]}'`);
  for (const [k, v] of Object.entries(parsed.values)) {
    if (options[k]!.type === 'string' && !options[k]!.multiple && v === '') throw new UsageError(`option --${k} needs a value`);
  }
  return parsed;
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw new UsageError(`missing required option ${flag}`);
  return value;
}

/** Prints one line for an error and returns the exit code: 2 for usage mistakes, 1 for everything else. */
export function reportError(prefix: string, e: unknown, usage: string): number {
  if (e instanceof UsageError) {
    console.error(`${prefix}: ${e.message} (usage: ${usage})`);
    return 2;
  }
  if (e instanceof PkiError) {
    console.error(`${prefix}: ${e.message}`);
    return 1;
  }
  console.error(`${prefix}: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}
