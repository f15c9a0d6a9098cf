// OpenVPN 2.6's script hooks in server.conf: script-security, the hook commands (client-connect, client-disconnect,
// learn-address, auth-user-pass-verify via-file|via-env, tls-verify, tls-crypt-v2-verify, up, down), setenv,
// setenv-safe and tmp-dir. A command is one argument (quote it when it has arguments of its own); it is split
// into argv here, as 2.6 splits it (parse_line), and its program resolves against the config's folder. Scripts
// need a host that can start processes: inside a Nanos unikernel every hook is refused.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { type as osType } from 'node:os';
import { resolve } from 'node:path';
import { log } from '../log.js';
import { ConfigError } from './errors.js';
import { tokenizeLine, type Directive } from './parse.js';

export type ScriptHook =
  | 'client-connect' | 'client-disconnect' | 'learn-address' | 'auth-user-pass-verify' | 'tls-verify'
  | 'tls-crypt-v2-verify' | 'up' | 'down';

export interface ScriptCommand {
  /** The program (an absolute path) and the arguments written with it; the hook's own arguments follow. */
  argv: string[];
  file: string;
  line: number;
}

export interface ScriptConfig {
  /** 'script-security': 0 none, 1 (default) built-ins only, 2 scripts, 3 scripts that may see a password in env. */
  security: 0 | 1 | 2 | 3;
  hooks: Partial<Record<ScriptHook, ScriptCommand>>;
  /** auth-user-pass-verify CMD via-file | via-env. */
  authVia?: 'file' | 'env';
  /** 'setenv NAME VALUE' and 'setenv-safe NAME VALUE' (as OPENVPN_NAME), in order; a later one replaces. */
  setenv: [string, string][];
  /** 'tmp-dir': where the temporary files for scripts go (default: the system's). */
  tmpDir?: string;
}

export const SCRIPT_HOOKS: readonly ScriptHook[] = [
  'client-connect', 'client-disconnect', 'learn-address', 'auth-user-pass-verify', 'tls-verify', 'tls-crypt-v2-verify', 'up', 'down',
];

/** 2.6's words when a script is due and script-security is below 2. */
export const SCRIPT_SECURITY_WARNING = "WARNING: External program may not be called unless '--script-security 2' or higher is enabled. " +
  'See --help text or man page for detailed info.';

/** The other way to let a program outside decide, for hosts where no script can run. */
export const NO_SCRIPTS_INSTEAD = "let a program decide through the management interface instead ('management-client-auth')";

/** Why scripts cannot run on this host, or undefined when they can. `os` is uname's sysname (Nanos says "Nanos"). */
export function scriptsUnavailable(os: string = osType()): string | undefined {
  return os === 'Nanos' ? 'scripts cannot run in a Nanos unikernel (it has no shell and starts no processes)' : undefined;
}

export function newScriptConfig(): ScriptConfig {
  return { security: 1, hooks: {}, setenv: [] };
}

const fail = (d: Directive, why: string): never => { throw new ConfigError(d.file, d.line, why); };

/** Splits a hook's command line into argv as 2.6 does (parse_line: quotes, backslash escapes). */
export function splitCommand(text: string, file: string, line: number): string[] {
  return tokenizeLine(text, file, line);
}

/** The command of `name` at `d`: argv[0] resolved against `baseDir`, which must be an executable file. */
function command(d: Directive, name: ScriptHook, text: string, baseDir: string): ScriptCommand {
  const argv = splitCommand(name === 'tls-verify' ? text.replaceAll(',', ' ') : text, d.file, d.line);
  if (argv.length === 0 || argv[0] === '') fail(d, `${name} fails with '${text}': no path to executable`);
  argv[0] = resolve(baseDir, argv[0]!);
  try {
    accessSync(argv[0], fsConstants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(d, `${name} script '${argv[0]}': ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not executable (chmod +x)' : code}`);
  }
  return { argv, file: d.file, line: d.line };
}

/** Argument counts of the directives this file reads (auth-user-pass-verify is server-config.ts's: it has 'builtin'). */
export const SCRIPT_DIRECTIVES: Readonly<Record<string, { min: number; max: number }>> = {
  'script-security': { min: 1, max: 1 },
  'client-connect': { min: 1, max: 1 },
  'client-disconnect': { min: 1, max: 1 },
  'learn-address': { min: 1, max: 1 },
  'tls-verify': { min: 1, max: 1 },
  'tls-crypt-v2-verify': { min: 1, max: 1 },
  up: { min: 1, max: 1 },
  down: { min: 1, max: 1 },
  setenv: { min: 1, max: Infinity },
  'setenv-safe': { min: 1, max: 2 },
  'tmp-dir': { min: 1, max: 1 },
};

/** Applies one script directive to `s`. Throws ConfigError for a bad line. */
export function applyScriptDirective(d: Directive, s: ScriptConfig, baseDir: string): void {
  const name = d.name;
  if (name === 'script-security') {
    const v = d.args[0]!;
    if (!/^[0-3]$/.test(v)) fail(d, `script-security: '${v}' must be 0, 1, 2 or 3`);
    s.security = Number(v) as ScriptConfig['security'];
    return;
  }
  if (name === 'setenv' || name === 'setenv-safe') {
    const [key, value = ''] = d.args as [string, string?];
    if (name === 'setenv' && key === 'opt') {
      log('warn', `config: 'setenv opt ${d.args.slice(1).join(' ')}' ignored: nanovpn does not apply a directive marked optional this way; write it on a line of its own`, { file: d.file, line: d.line });
      return;
    }
    if (d.args.length > 2) fail(d, `${name} takes NAME [VALUE], got ${d.args.length} arguments (quote a value with spaces)`);
    if (key === '' || /[=\x00]/.test(key)) fail(d, `${name}: '${key}' is not a variable name`);
    const full = name === 'setenv-safe' ? `OPENVPN_${key}` : key;
    s.setenv = s.setenv.filter(([k]) => k !== full);
    s.setenv.push([full, value]);
    return;
  }
  if (name === 'tmp-dir') {
    if (d.args[0] === '') fail(d, 'tmp-dir: empty path');
    const dir = resolve(baseDir, d.args[0]!);
    try {
      if (!statSync(dir).isDirectory()) fail(d, `tmp-dir '${dir}' is not a directory`);
      accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      fail(d, `tmp-dir '${dir}': ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'not writable' : code}`);
    }
    s.tmpDir = dir;
    return;
  }
  setHook(d, s, name as ScriptHook, d.args[0]!, baseDir);
}

/** auth-user-pass-verify CMD via-file|via-env. */
export function applyAuthScript(d: Directive, s: ScriptConfig, via: 'file' | 'env', baseDir: string): void {
  setHook(d, s, 'auth-user-pass-verify', d.args[0]!, baseDir);
  s.authVia = via;
}

/** The startup error for hook `name` on a host that cannot run scripts (`os`: uname's sysname), else undefined. */
export function scriptRefusal(name: string, os: string = osType()): string | undefined {
  const why = scriptsUnavailable(os);
  return why && `'${name}': ${why}; ${NO_SCRIPTS_INSTEAD}`;
}

function setHook(d: Directive, s: ScriptConfig, name: ScriptHook, text: string, baseDir: string): void {
  const refusal = scriptRefusal(name);
  if (refusal) fail(d, refusal);
  if (s.hooks[name]) log('warn', `config: Multiple --${name} scripts defined. The previously configured script is overridden.`, { file: d.file, line: d.line });
  s.hooks[name] = command(d, name, text, baseDir);
}

/** The config's scripts once every line is read, or undefined when it names none; logs 2.6's notes about the level. */
export function finishScripts(s: ScriptConfig | undefined): ScriptConfig | undefined {
  if (!s) return undefined;
  const used = Object.keys(s.hooks).length > 0;
  if (used) {
    if (s.security >= 2) log('notice', 'config: NOTE: the current --script-security setting may allow this configuration to call user-defined scripts');
    else log('warn', "config: NOTE: starting with OpenVPN 2.1, '--script-security 2' or higher is required to call user-defined scripts or executables");
  }
  return s;
}
