// Finding and loading our own N-API addons (src/native/<name>): next to the running bundle, then a checkout's
// build outputs. An environment variable NANOVPN_<NAME>_ADDON names the file outright.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where `<name>.node` may live, in the order tried. */
export function addonCandidates(name: string): string[] {
  const list: string[] = [];
  const env = process.env[`NANOVPN_${name.toUpperCase()}_ADDON`];
  if (env) list.push(env);
  if (process.argv[1]) list.push(join(dirname(process.argv[1]), `${name}.node`));
  list.push(join(process.cwd(), 'dist', `${name}.node`));
  list.push(join(process.cwd(), 'src', 'native', name, 'build', 'Release', `${name}.node`));
  return list;
}

/** The first existing candidate, or undefined. */
export function findAddon(name: string): string | undefined {
  return addonCandidates(name).find((p) => existsSync(p));
}

/** Loads an addon file; process.dlopen works the same from the CommonJS bundle and from ESM tests. */
export function loadAddon<T>(file: string): T {
  const mod = { exports: {} as T };
  process.dlopen(mod, file);
  return mod.exports;
}
