// server.conf (OpenVPN 2.6 syntax) → ServerConfig. Each directive has a handler with its argument count; files are
// resolved against the config's folder; cross-directive rules are checked once every line has been read.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { log } from '../log.js';
import { directiveRule, ignoredText, refusalText } from './directive-table.js';
import { readCapathCas } from './capath.js';
import { ConfigError, ConfigErrors } from './errors.js';
import { formatIPv4, parseIPv4, maskPrefix } from './ipv4-text.js';
import { compLzoFraming, compressFraming, pushedFraming, settleCompression, type ServerCompression } from './compression.js';
import { parseConfig, type Directive } from './parse.js';
import { parseStaticKey } from './static-key.js';
import { staticKeyConfig } from './static-key-mode.js';
import { parseTlsCryptV2ServerKey } from './tls-crypt-v2-key.js';
import { checkForwardRules, parseForwardPort } from './forward-port.js';
import type { ForwardRule } from '../core/forward/port-forward.js';
import { applyAuthScript, applyScriptDirective, finishScripts, newScriptConfig, SCRIPT_DIRECTIVES, type ScriptConfig } from './script-options.js';
import { ipv6AddrArg, ipv6NetworkArg, ipv6PrefixArg, settleIpv6, type Ipv6Lines } from './ipv6-config.js';
import { type LocalLine, parseProtoName, type ProtoName, settleListeners } from './listeners.js';
import type { AnyServerConfig, CipherName, Listener, Proto, ServerConfig, StaticKey } from './types.js';
import { isStaticKeyConfig } from './types.js';
import { isCipherName } from '../core/crypto/ciphers.js';
import { DIGESTS, digestByName } from '../core/crypto/digests.js';
import { groupId, userId } from './unix-ids.js';

/** OpenVPN 2.6's default data-ciphers (also what 2.7's DEFAULT keyword stands for). */
export const DEFAULT_CIPHERS: readonly CipherName[] = ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'];
export const SUPPORTED_CIPHERS: readonly CipherName[] = [...DEFAULT_CIPHERS, 'AES-256-CBC', 'AES-192-CBC', 'AES-128-CBC'];
export const SUPPORTED_DIGESTS = Object.keys(DIGESTS);
const BF_CBC_WHY = "BF-CBC (Blowfish) is not available: Node's OpenSSL 3 has Blowfish only in its legacy provider, " +
  'which Node does not load; use AES-256-GCM, or AES-256-CBC for clients without cipher negotiation';
// OpenSSL's other names for the same ciphers (OpenVPN translates them to these).
const CIPHER_ALIASES: Record<string, CipherName> = {
  'AES128': 'AES-128-CBC', 'AES192': 'AES-192-CBC', 'AES256': 'AES-256-CBC',
  'ID-AES128-GCM': 'AES-128-GCM', 'ID-AES256-GCM': 'AES-256-GCM',
};

/** Reads and builds the config at `path` (TLS or static-key mode); relative file names resolve against its folder. */
export function loadConfig(path: string): AnyServerConfig {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(abs, undefined, `cannot read config file: ${errText(e)}`);
  }
  return buildConfig(text, abs, dirname(abs));
}

/** loadConfig for a TLS-mode config only. */
export function loadServerConfig(path: string): ServerConfig {
  return tlsOnly(loadConfig(path), resolve(path));
}

function tlsOnly(c: AnyServerConfig, source: string): ServerConfig {
  if (isStaticKeyConfig(c)) throw new ConfigError(source, undefined, "a static-key ('secret') config where a TLS server config is needed");
  return c;
}

type Draft = Omit<ServerConfig, 'server' | 'ca' | 'cert' | 'key' | 'protos' | 'listeners'> & {
  server?: ServerConfig['server']; ca?: string; cert?: string; key?: string; protos: Proto[];
};

interface Ctx {
  cfg: Draft;
  compression: ServerCompression;
  baseDir: string;
  warned: Set<string>;
  keyDirection?: 0 | 1;
  tlsCryptV2MaxAge?: number;
  /** OpenVPN's ciphername: the last 'cipher' or 'data-ciphers-fallback' argument, and the line it was on. */
  cipherName?: { name: string; d: Directive };
  ncpFallback?: boolean;
  lines: Map<string, number>;  // last line of each directive, for cross-directive errors
  /** Names given to ignore-unknown-option so far: unknown directives of these names warn instead of failing. */
  ignoreUnknown: Set<string>;
  /** `dev NAME` whose name does not say tun (OpenVPN then needs dev-type), and whether dev-type was given. */
  devNeedsType?: boolean;
  devTyped?: boolean;
  nopool?: boolean;
  pool?: { start: number; end: number; netmask?: number; line: number };
  secret?: { key: StaticKey; d: Directive };
  ifconfig?: { local: number; remote: number; d: Directive };
  ping?: { seconds: number; d: Directive };
  pingRestart?: { seconds: number; d: Directive };
  allowInsecureStatic?: boolean;
  mode?: { value: string; d: Directive };
  /** The CA certificates of 'capath DIR' (trusted with those of 'ca'). */
  capathCas?: { pem: string; d: Directive };
  forwards?: { rule: ForwardRule; line: number }[];
  scripts?: ScriptConfig;
  /** proto and local lines in order, for settleListeners. */
  protoNames: ProtoName[];
  locals: LocalLine[];
  ipv6: Ipv6Lines;
}

interface Handler {
  min: number;
  max: number;
  /** May come as an inline <name> block. */
  inline?: boolean;
  run(d: Directive, c: Ctx): void;
}

/** buildConfig for a TLS-mode config only. */
export function buildServerConfig(text: string, source: string, baseDir: string): ServerConfig {
  return tlsOnly(buildFromDirectives([{ directives: parseConfig(text, source), baseDir }], source), source);
}

/** A TLS-mode or static-key config from one text. */
export function buildConfig(text: string, source: string, baseDir: string): AnyServerConfig {
  return buildFromDirectives([{ directives: parseConfig(text, source), baseDir }], source);
}

/** Directives of one origin (a config file, the command line) and the folder their relative paths resolve against. */
export interface DirectiveSource { directives: Directive[]; baseDir: string }

/**
 * Applies the directives in order, later lines winning as in OpenVPN. Every bad line is reported: one ConfigError,
 * or ConfigErrors with all of them; the checks across directives run once every line was good.
 */
export function buildFromDirectives(sources: DirectiveSource[], source: string): AnyServerConfig {
  const c: Ctx = {
    cfg: defaults(source), compression: { framing: 'none' }, baseDir: '', warned: new Set(), lines: new Map(), ignoreUnknown: new Set(),
    protoNames: [], locals: [], ipv6: { nopool: false },
  };
  const errors: ConfigError[] = [];
  for (const { directives, baseDir } of sources) {
    c.baseDir = baseDir;
    for (const d of directives) {
      try {
        apply(c, d);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        errors.push(e);
      }
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new ConfigErrors(errors);
  return finish(c, source);
}

function apply(c: Ctx, d: Directive): void {
  const h = own(handlers, d.name);
  if (!h) {
    const rule = directiveRule(d.name);
    if (rule?.status === 'refused') fail(d, refusalText(d.name, rule));
    if (rule?.status === 'ignored') {
      if (d.inline) fail(d, `inline <${d.name}> block is not allowed`);
      warnOnce(c, d, ignoredText(d.name, rule));
      return;
    }
    if (c.ignoreUnknown.has(d.name)) {
      warnOnce(c, d, `'${d.name}' ignored: an unknown directive named by ignore-unknown-option`);
      return;
    }
    fail(d, `unknown directive '${d.name}'`);
  }
  if (d.inline && !h.inline) fail(d, `inline <${d.name}> block is not allowed (only <ca>, <cert>, <key>, <tls-auth>, <tls-crypt>, <tls-crypt-v2>, <crl-verify>, <dh>, <secret>)`);
  if (!d.inline) {
    const n = d.args.length;
    if (n < h.min || n > h.max) {
      const want = h.min === h.max ? `${h.min}` : h.max === Infinity ? `at least ${h.min}` : `${h.min} to ${h.max}`;
      fail(d, `'${d.name}' takes ${want} argument${want === '1' ? '' : 's'}, got ${n}`);
    }
  }
  h.run(d, c);
  c.lines.set(d.name, d.line);
}

function defaults(source: string): Draft {
  return {
    source, port: 1194, protos: [], bindIpv6Only: false, dev: 'tun', topology: 'subnet', auth: 'SHA1',
    dataCiphers: [...DEFAULT_CIPHERS], push: [], clientToClient: false, maxClients: 1024, renegSec: 3600,
    handWindow: 60, tcpQueueLimit: 64, tlsTimeout: 2, tranWindow: 3600, verb: 1, explicitExitNotify: 0, duplicateCn: false,
    tunMtu: 1500, mssfix: 1492, compression: 'none', compressionPushed: false, statusVersion: 1, routes: [], routesIpv6: [], verifyClientCert: 'require', usernameAsCommonName: false, uplink: 'nat', dataCrypto: 'auto', udpSocket: 'auto',
  };
}

function finish(c: Ctx, source: string): AnyServerConfig {
  const { cfg } = c;
  const at = (name: string): number | undefined => c.lines.get(name);
  if (c.forwards) settleForwards(c, source);
  if (c.secret) {
    const socks = listeners(c, source, true);
    return staticKeyConfig({
      source, draft: { ...cfg, listeners: socks },
      secret: c.secret, keyDirection: c.keyDirection, ifconfig: c.ifconfig, ping: c.ping,
      pingRestart: c.pingRestart, cipherName: c.cipherName, cipherByName, compression: c.compression,
      allowInsecure: c.allowInsecureStatic === true, mode: c.mode, lines: c.lines,
    });
  }
  if (c.ifconfig) {
    fail(c.ifconfig.d, "'ifconfig LOCAL REMOTE' is for static-key mode (with 'secret'); a TLS server takes its tunnel address from 'server NETWORK NETMASK'");
  }
  for (const t of [c.ping, c.pingRestart]) {
    if (t) fail(t.d, `'${t.d.name}' is for static-key mode (with 'secret'); a TLS server sets the ping interval and timeout together: use 'keepalive INTERVAL TIMEOUT'`);
  }
  if (c.mode?.value === 'p2p') fail(c.mode.d, "'mode p2p' is static-key mode here and needs 'secret'; a TLS server is 'mode server'");
  const missing = (what: string): never => { throw new ConfigError(source, undefined, `missing required directive '${what}'`); };
  if (!cfg.server) missing('server NETWORK NETMASK');
  if (c.capathCas) {
    if (!c.capathCas.pem && cfg.ca === undefined) fail(c.capathCas.d, `capath ${cfg.capath}: no CA certificates (HASH.N files, as 'openssl rehash' names them) and no 'ca'`);
    cfg.ca = [cfg.ca, c.capathCas.pem].filter(Boolean).map((t) => t!.endsWith('\n') ? t : t + '\n').join('');
  }
  if (cfg.ca === undefined) missing('ca');
  if (cfg.cert === undefined) missing('cert');
  if (cfg.key === undefined) missing('key');
  if (cfg.tlsAuth && cfg.tlsCrypt) {
    throw new ConfigError(source, Math.max(at('tls-auth')!, at('tls-crypt')!), "'tls-auth' and 'tls-crypt' are mutually exclusive");
  }
  if (cfg.tlsAuth && c.keyDirection !== undefined) cfg.tlsAuth.direction = c.keyDirection;
  if (c.tlsCryptV2MaxAge !== undefined) {
    if (cfg.tlsCryptV2) cfg.tlsCryptV2.maxAgeDays = c.tlsCryptV2MaxAge;
    else log('warn', "config: tls-crypt-v2-max-age has no effect without 'tls-crypt-v2'", { file: source, line: at('tls-crypt-v2-max-age') });
  }
  const scripts = finishScripts(c.scripts);
  if (scripts) cfg.scripts = scripts;
  if (cfg.scripts && (cfg.scripts.hooks.up || cfg.scripts.hooks.down) && cfg.uplink !== 'tun') {
    throw new ConfigError(source, at('up') ?? at('down'), "'up' and 'down' run around the tun device, and with 'uplink nat' (the default) there is none: add 'uplink tun', or remove them");
  }
  if (cfg.verifyClientCert !== 'require' && !cfg.authUserPassVerify && !cfg.scripts?.hooks['auth-user-pass-verify']) {
    throw new ConfigError(source, at('verify-client-cert'),
      `'verify-client-cert ${cfg.verifyClientCert}' needs password authentication: add 'auth-user-pass-verify USERSFILE builtin'`);
  }
  checkManagement(c, source);
  if (cfg.authUserPassOptional && !cfg.authUserPassVerify && !cfg.scripts?.hooks['auth-user-pass-verify']) {
    log('warn', 'config: auth-user-pass-optional has no effect without auth-user-pass-verify', { file: source, line: at('auth-user-pass-optional') });
  }
  if (cfg.usernameAsCommonName && !cfg.authUserPassVerify && !cfg.scripts?.hooks['auth-user-pass-verify']) {
    log('warn', 'config: username-as-common-name has no effect without auth-user-pass-verify', { file: source, line: at('username-as-common-name') });
  }
  if (at('topology') === undefined) {
    cfg.topology = 'net30';
    log('warn', "config: no 'topology' line: OpenVPN 2.6's default 'topology net30' is used (each client gets a /30 of " +
      "the server's network and is pushed 'ifconfig IP PEER'); 'topology subnet' would give each client one address " +
      'and the netmask, and fit about four times as many clients', { file: source });
  }
  settlePool(c, source);
  const v6 = settleIpv6({ ...c.ipv6, nopool: c.nopool === true });
  if ('error' in v6) throw new ConfigError(source, v6.line, v6.error);
  if (v6.ipv6) cfg.ipv6 = v6.ipv6;
  if (v6.pushTunIpv6) cfg.push.push('tun-ipv6');
  if (c.devNeedsType && !c.devTyped) {
    // As in 2.6, a name starting with "tap" means a tap device unless dev-type says tun.
    throw new ConfigError(source, at('dev'), /^tap/.test(cfg.devName ?? '')
      ? `dev '${cfg.devName}': tap devices (layer 2) are not supported; use 'dev tun' (or add 'dev-type tun' for a tun device of this name)`
      : `dev '${cfg.devName}': the device type cannot be told from its name; add 'dev-type tun'`);
  }
  const comp = settleCompression(c.compression);
  const compLine = at('compress') ?? at('comp-lzo') ?? at('allow-compression') ?? at('push');
  if (comp.error) throw new ConfigError(source, compLine, comp.error);
  for (const w of comp.warnings) log('warn', `config: ${w}`, { file: source, line: compLine });
  cfg.compression = comp.framing;
  cfg.compressionPushed = c.compression.pushed !== undefined;
  if (cfg.protos.length === 0) cfg.protos.push('udp');
  cipherOptions(c);
  const socks = listeners(c, source, false);
  return { ...cfg, listeners: socks } as ServerConfig;
}

function listeners(c: Ctx, source: string, pointToPoint: boolean): Listener[] {
  const l = settleListeners({ protos: c.protoNames, port: c.cfg.port, locals: c.locals, pointToPoint });
  if ('error' in l) throw new ConfigError(source, l.line, l.error);
  c.cfg.protos = [...new Set(l.map((x) => x.proto))];
  return l;
}

/** OpenVPN 2.6's rules for the options that modify 'management'. */
function checkManagement(c: Ctx, source: string): void {
  const { cfg } = c;
  const at = (name: string): number | undefined => c.lines.get(name);
  const modifiers = ['management-client-auth', 'management-hold', 'management-log-cache', 'management-client-user', 'management-client-group'];
  const used = modifiers.find((m) => at(m) !== undefined);
  if (used && !cfg.management) {
    throw new ConfigError(source, at(used), `'${used}' modifies the management interface, but there is no 'management' line`);
  }
  const owner = at('management-client-user') ?? at('management-client-group');
  if (owner !== undefined && cfg.management && !('path' in cfg.management)) {
    throw new ConfigError(source, owner, 'management-client-user/-group can only be used with a unix socket (management PATH unix)');
  }
}

/** forward-port rules: TLS mode with a `server` line and the NAT uplink. */
function settleForwards(c: Ctx, source: string): void {
  const rules = c.forwards!;
  const line = rules[0]!.line;
  if (c.secret) throw new ConfigError(source, line, "forward-port needs a TLS server ('server NETWORK NETMASK'); static-key mode has none");
  if (c.cfg.uplink === 'tun') {
    throw new ConfigError(source, line, "forward-port needs 'uplink nat' (its flows are the userspace NAT's); with the tun uplink forward ports with the host's firewall (DNAT)");
  }
  const net = c.cfg.server;
  if (!net) return;   // reported as the missing server line
  const bad = checkForwardRules(rules, net, (net.network + 1) >>> 0);
  if (bad) throw new ConfigError(source, bad.line, bad.error);
  c.cfg.forwards = rules.map((r) => r.rule);
}

/** server … nopool with ifconfig-pool, as 2.6: the pool comes from one of them, never both. */
function settlePool(c: Ctx, source: string): void {
  const { cfg, pool } = c;
  const net = cfg.server!;
  if (pool && !c.nopool) {
    throw new ConfigError(source, pool.line, "ifconfig-pool: 'server' already defines the pool; add 'nopool' to the server line to give it yourself");
  }
  if (c.nopool) cfg.ifconfigPool = pool ? { start: pool.start, end: pool.end } : null;
  if (pool) {
    const inNet = (ip: number) => ((ip & net.netmask) >>> 0) === net.network;
    if (!inNet(pool.start) || !inNet(pool.end)) {
      throw new ConfigError(source, pool.line, `ifconfig-pool: the range must lie inside the server's network ${formatIPv4(net.network)}/${maskPrefix(net.netmask)}`);
    }
    if (pool.start <= net.network + 1 || pool.end >= (net.network | ~net.netmask) >>> 0) {
      throw new ConfigError(source, pool.line, `ifconfig-pool: the range must leave out the network address, the server's ${formatIPv4(net.network + 1)} and the broadcast address`);
    }
    if (pool.netmask !== undefined) {
      if (cfg.topology !== 'subnet') throw new ConfigError(source, pool.line, `ifconfig-pool: a netmask is for topology subnet only (this is ${cfg.topology})`);
      cfg.poolNetmask = pool.netmask;
    }
  }
}

// ---- helpers ----

/** Table lookup that ignores Object.prototype ('constructor', '__proto__' are directive names too). */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function fail(d: Directive, why: string): never {
  throw new ConfigError(d.file, d.line, why);
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES') return 'permission denied';
  if (err.code === 'EISDIR') return 'is a directory';
  return err.message ?? String(e);
}

function warnOnce(c: Ctx, d: Directive, msg: string): void {
  if (c.warned.has(d.name)) return;
  c.warned.add(d.name);
  log('warn', `config: ${msg}`, { file: d.file, line: d.line });
}

function int(d: Directive, i: number, min: number, max: number): number {
  const s = d.args[i]!;
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    fail(d, `'${d.name}': '${s}' is not ${max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`}`);
  }
  return Number(s);
}

function oneOf<T extends string>(d: Directive, i: number, allowed: readonly T[]): T {
  const s = d.args[i]!;
  if (!(allowed as readonly string[]).includes(s)) fail(d, `'${d.name}': '${s}' must be one of: ${allowed.join(', ')}`);
  return s as T;
}

function ipv4(d: Directive, i: number): number {
  const v = parseIPv4(d.args[i]!);
  if (v === undefined) fail(d, `'${d.name}': '${d.args[i]}' is not an IPv4 address`);
  return v;
}

/** An IPv6 argument (a value or why it is not one); prefixes outside [min, max] bits fail too. */
function v6<T>(d: Directive, v: T | string, min = 0, max = 128): T {
  if (typeof v === 'string') fail(d, v);
  const bits = (v as { bits?: number }).bits;
  if (bits !== undefined && (bits < min || bits > max)) fail(d, `${d.name}: the prefix must be between /${min} and /${max} (not /${bits}), as in OpenVPN 2.6`);
  return v;
}

function filePath(d: Directive, c: Ctx, i = 0): string {
  const p = d.args[i]!;
  if (p === '') fail(d, `'${d.name}': empty file name`);
  if (p === '[[INLINE]]') fail(d, `'${d.name}': use an inline <${d.name}> block instead of [[INLINE]]`);
  return resolve(c.baseDir, p);
}

/** Text of a file directive: the inline block, or the referenced file. */
function fileText(d: Directive, c: Ctx): string {
  if (d.inline) return d.args[0]!;
  const p = filePath(d, c);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    return fail(d, `cannot read ${d.name} file '${p}': ${errText(e)}`);
  }
}

function staticKey(d: Directive, c: Ctx): StaticKey {
  try {
    return { bytes: parseStaticKey(fileText(d, c)) };
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    return fail(d, `${d.name}: ${(e as Error).message}`);
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

function pemLabels(text: string): string[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => m[1]!);
}

function capathDir(d: Directive, c: Ctx): string {
  const p = filePath(d, c);
  try {
    c.capathCas = { pem: readCapathCas(p).pem, d };
  } catch (e) {
    fail(d, `capath ${p}: ${(e as NodeJS.ErrnoException).code ? errText(e) : (e as Error).message}`);
  }
  return p;
}

function certPem(d: Directive, c: Ctx): string {
  const text = fileText(d, c);
  const labels = pemLabels(text);
  if (labels.length === 0 || labels.some((l) => l !== 'CERTIFICATE' && l !== 'TRUSTED CERTIFICATE')) {
    fail(d, `${d.name}: expected PEM certificate(s) ('-----BEGIN CERTIFICATE-----')`);
  }
  return text;
}

function keyPem(d: Directive, c: Ctx): string {
  const text = fileText(d, c);
  const labels = pemLabels(text);
  if (labels.includes('ENCRYPTED PRIVATE KEY') || /Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    fail(d, 'key: encrypted private keys are not supported (no passphrase prompt); decrypt it with openssl pkey');
  }
  const keys = labels.filter((l) => l === 'PRIVATE KEY' || l === 'EC PRIVATE KEY' || l === 'RSA PRIVATE KEY');
  if (keys.length !== 1) fail(d, `key: expected exactly one PEM private key ('-----BEGIN PRIVATE KEY-----'), found ${keys.length}`);
  return text;
}

function hostPort(d: Directive): { host: string; port: number } {
  if (d.args[0] === '') fail(d, `'${d.name}': empty host`);
  return { host: d.args[0]!, port: int(d, 1, 1, 65535) };
}

/** A cipher name as OpenVPN reads it (case-insensitive, OpenSSL aliases), or why nanovpn cannot use it. */
function cipherByName(raw: string): CipherName | { why: string } {
  const u = raw.toUpperCase();
  const name = Object.hasOwn(CIPHER_ALIASES, u) ? CIPHER_ALIASES[u]! : u;
  if (isCipherName(name)) return name;
  if (name === 'BF-CBC') return { why: BF_CBC_WHY };
  if (name === 'NONE') return { why: "cipher 'none' (no encryption) is not supported" };
  return { why: `unsupported cipher '${raw}'; nanovpn supports ${SUPPORTED_CIPHERS.join(', ')}` };
}

// data-ciphers: a colon list; '?NAME' is optional (2.6: skipped with a warning when unavailable); the keyword
// DEFAULT (2.7) stands for the default list.
function parseCiphers(d: Directive): CipherName[] {
  const out: CipherName[] = [];
  for (const raw of d.args[0]!.split(':')) {
    const optional = raw.startsWith('?');
    const token = optional ? raw.slice(1) : raw;
    if (token === '') continue;
    const found = token === 'DEFAULT' ? [...DEFAULT_CIPHERS] : cipherByName(token);
    if (!Array.isArray(found) && typeof found !== 'string') {
      if (optional) { log('warn', `config: optional data cipher '${token}' skipped: ${found.why}`, { file: d.file, line: d.line }); continue; }
      fail(d, `'${d.name}': ${found.why}`);
    }
    for (const c of Array.isArray(found) ? found : [found]) if (!out.includes(c)) out.push(c);
  }
  if (out.length === 0) fail(d, `'${d.name}': no usable cipher; nanovpn supports ${SUPPORTED_CIPHERS.join(', ')}`);
  return out;
}

// As OpenVPN 2.6 (options.c options_postprocess_cipher): 'cipher' and 'data-ciphers-fallback' both set one
// cipher name, the last line winning; it is the fallback only once 'data-ciphers-fallback' appeared. Otherwise a
// 'cipher' that is not in data-ciphers has no effect (2.6 warns the same; only --compat-mode < 2.5 appended it).
function cipherOptions(c: Ctx): void {
  const set = c.cipherName;
  if (!set) return;
  if (c.ncpFallback) {
    const found = cipherByName(set.name);
    if (typeof found !== 'string') fail(set.d, `'${set.d.name} ${set.name}' cannot be the data-ciphers-fallback: ${found.why}`);
    c.cfg.dataCiphersFallback = found;
    return;
  }
  const found = cipherByName(set.name);
  if (typeof found !== 'string' || !c.cfg.dataCiphers.includes(found)) {
    warnOnce(c, set.d, `'cipher ${set.name}' ignored: it is not in data-ciphers (${c.cfg.dataCiphers.join(':')}), and OpenVPN 2.6 ` +
      'ignores --cipher for cipher negotiation; add it to data-ciphers, or use data-ciphers-fallback for clients that cannot negotiate');
  }
}

const flag = (set: (c: Ctx) => void): Handler => ({ min: 0, max: 0, run: (_d, c) => set(c) });
const intOpt = (min: number, max: number, set: (c: Ctx, v: number) => void): Handler =>
  ({ min: 1, max: 1, run: (d, c) => set(c, int(d, 0, min, max)) });

const handlers: Record<string, Handler> = {
  port: intOpt(1, 65535, (c, v) => { c.cfg.port = v; }),
  lport: intOpt(1, 65535, (c, v) => { c.cfg.port = v; }),
  proto: {
    min: 1, max: 1, run(d, c) {
      const p = parseProtoName(d.args[0]!);
      if ('error' in p) fail(d, `proto: ${p.error}`);
      if (!c.protoNames.some((q) => q.proto === p.proto && q.family === p.family)) c.protoNames.push(p);
      if (!c.cfg.protos.includes(p.proto)) c.cfg.protos.push(p.proto);
    },
  },
  local: {
    min: 1, max: 3, run(d, c) {
      const [host, port, proto] = d.args as [string, string?, string?];
      if (host === '') fail(d, 'local: empty address');
      const p = proto === undefined ? undefined : parseProtoName(proto);
      if (p && 'error' in p) fail(d, `local: ${p.error}`);
      c.locals.push({
        ...(host !== '*' && { host }), ...(port !== undefined && { port: int(d, 1, 1, 65535) }), ...(p && { proto: p }), line: d.line,
      });
      c.cfg.local ??= host === '*' ? undefined : host;
    },
  },
  bind: {
    min: 0, max: 1, run(d, c) {
      if (d.args[0] !== undefined && d.args[0] !== 'ipv6only') fail(d, `bind: '${d.args[0]}' is not a keyword of bind (only ipv6only)`);
      if (d.args[0] === 'ipv6only') c.cfg.bindIpv6Only = true;
    },
  },
  dev: {
    min: 1, max: 1, run(d, c) {
      const name = d.args[0]!;
      if (name === '' || name.length > 15 || /[/\s]/.test(name)) fail(d, `dev '${name}': not a valid interface name`);
      if (name === 'tun') delete c.cfg.devName;
      else c.cfg.devName = name;
      c.devNeedsType = !/^tun/.test(name);
    },
  },
  'dev-type': {
    min: 1, max: 1, run(d, c) {
      if (d.args[0] === 'tap') fail(d, "dev-type tap (layer 2) is not supported; use 'dev-type tun'");
      if (d.args[0] !== 'tun') fail(d, `dev-type '${d.args[0]}': unknown device type (tun or tap)`);
      c.devTyped = true;
    },
  },
  topology: {
    min: 1, max: 1, run(d, c) {
      c.cfg.topology = oneOf(d, 0, ['subnet', 'net30', 'p2p'] as const);
      if (c.cfg.topology === 'net30') {
        warnOnce(c, d, 'topology net30 for a server with an IPv4 pool is deprecated since OpenVPN 2.6 (and will be removed there); ' +
          "'topology subnet' gives each client one address and fits about four times as many");
      }
    },
  },
  'ifconfig-pool': {
    min: 2, max: 3, run(d, c) {
      const start = ipv4(d, 0), end = ipv4(d, 1);
      if (end < start) fail(d, `ifconfig-pool: the end ${d.args[1]} is below the start ${d.args[0]}`);
      let netmask: number | undefined;
      if (d.args[2] !== undefined) {
        netmask = ipv4(d, 2);
        if (maskPrefix(netmask) === undefined) fail(d, `ifconfig-pool: '${d.args[2]}' is not a netmask`);
      }
      c.pool = { start, end, netmask, line: d.line };
    },
  },
  mode: { min: 1, max: 1, run(d, c) { c.mode = { value: oneOf(d, 0, ['server', 'p2p'] as const), d }; } },
  'tls-server': flag(() => {}),
  server: {
    min: 2, max: 3, run(d, c) {
      if (d.args[2] !== undefined && d.args[2] !== 'nopool') fail(d, `server: unknown flag '${d.args[2]}' (only 'nopool')`);
      c.nopool = d.args[2] === 'nopool';
      const network = ipv4(d, 0), netmask = ipv4(d, 1);
      const prefix = maskPrefix(netmask);
      if (prefix === undefined) fail(d, `server: '${d.args[1]}' is not a valid netmask`);
      if (prefix < 8) fail(d, `server: netmask ${d.args[1]} is too large (at most a /8)`);
      if (prefix > 29) fail(d, `server: netmask ${d.args[1]} is too small; a tun server needs a /29 (255.255.255.248) or larger, as in OpenVPN 2.6`);
      if ((network & ~netmask) !== 0) fail(d, `server: ${d.args[0]} is not the network address of ${d.args[0]}/${prefix}`);
      c.cfg.server = { network, netmask };
    },
  },
  ca: { min: 1, max: 1, inline: true, run(d, c) { c.cfg.ca = certPem(d, c); } },
  cert: { min: 1, max: 1, inline: true, run(d, c) { c.cfg.cert = certPem(d, c); } },
  key: { min: 1, max: 1, inline: true, run(d, c) { c.cfg.key = keyPem(d, c); } },
  dh: {
    min: 1, max: 1, inline: true, run(d, c) {
      if (!d.inline && d.args[0] === 'none') return;
      if (!c.warned.has('dh')) { c.warned.add('dh'); log('info', 'config: dh parameters ignored: nanovpn uses ECDHE only', { file: d.file, line: d.line }); }
    },
  },
  'tls-auth': {
    min: 1, max: 2, inline: true, run(d, c) {
      const key = staticKey(d, c);
      c.cfg.tlsAuth = { key };
      if (!d.inline && d.args[1] !== undefined) c.keyDirection = Number(oneOf(d, 1, ['0', '1'])) as 0 | 1;
    },
  },
  secret: {
    min: 1, max: 2, inline: true, run(d, c) {
      c.secret = { key: staticKey(d, c), d };
      if (!d.inline && d.args[1] !== undefined) c.keyDirection = Number(oneOf(d, 1, ['0', '1'])) as 0 | 1;
    },
  },
  'allow-deprecated-insecure-static-crypto': flag((c) => { c.allowInsecureStatic = true; }),
  ifconfig: { min: 2, max: 2, run(d, c) { c.ifconfig = { local: ipv4(d, 0), remote: ipv4(d, 1), d }; } },
  ping: { min: 1, max: 1, run(d, c) { c.ping = { seconds: int(d, 0, 0, 0x7fffffff), d }; } },
  'ping-restart': { min: 1, max: 1, run(d, c) { c.pingRestart = { seconds: int(d, 0, 0, 0x7fffffff), d }; } },
  'key-direction': { min: 1, max: 1, run(d, c) { c.keyDirection = Number(oneOf(d, 0, ['0', '1'])) as 0 | 1; } },
  'tls-crypt': { min: 1, max: 1, inline: true, run(d, c) { c.cfg.tlsCrypt = staticKey(d, c); } },
  'tls-crypt-v2': {
    min: 1, max: 2, inline: true, run(d, c) {
      if (!d.inline && d.args[1] !== undefined) {
        const mode = oneOf(d, 1, ['force-cookie', 'allow-noncookie'] as const);
        if (mode === 'allow-noncookie') {
          fail(d, 'tls-crypt-v2 allow-noncookie: nanovpn keeps no state for an unauthenticated UDP reset, so it answers ' +
            'tls-crypt-v2 clients only with the stateless cookie handshake (force-cookie), which every OpenVPN 2.6 client ' +
            "does; drop 'allow-noncookie' (clients before 2.6 can connect over TCP)");
        }
      }
      let serverKey: Buffer;
      try {
        serverKey = parseTlsCryptV2ServerKey(fileText(d, c));
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        return fail(d, `tls-crypt-v2: ${(e as Error).message}`);
      }
      c.cfg.tlsCryptV2 = { serverKey, maxAgeDays: c.cfg.tlsCryptV2?.maxAgeDays };
    },
  },
  'tls-crypt-v2-max-age': { min: 1, max: 1, run(d, c) { c.tlsCryptV2MaxAge = int(d, 0, 1, 0x7fffffff); } },
  auth: {
    min: 1, max: 1, run(d, c) {
      if (d.args[0]!.toLowerCase() === 'none') {
        fail(d, "auth none: nanovpn always authenticates (CBC data packets and tls-auth need an HMAC); AEAD ciphers ignore 'auth', so the line can go");
      }
      const n = digestByName(d.args[0]!);
      if (!n) fail(d, `auth: unsupported digest '${d.args[0]}'; nanovpn supports ${SUPPORTED_DIGESTS.join(', ')}`);
      c.cfg.auth = n;
    },
  },
  'data-ciphers': { min: 1, max: 1, run(d, c) { c.cfg.dataCiphers = parseCiphers(d); } },
  'ncp-ciphers': {
    min: 1, max: 1, run(d, c) {
      warnOnce(c, d, "'ncp-ciphers' is the old name of 'data-ciphers'");
      c.cfg.dataCiphers = parseCiphers(d);
    },
  },
  'data-ciphers-fallback': { min: 1, max: 1, run(d, c) { c.cipherName = { name: d.args[0]!, d }; c.ncpFallback = true; } },
  cipher: { min: 1, max: 1, run(d, c) { c.cipherName = { name: d.args[0]!, d }; } },
  keepalive: {
    min: 2, max: 2, run(d, c) {
      const interval = int(d, 0, 1, 86400), timeout = int(d, 1, 1, 86400 * 2);
      if (timeout < interval * 2) fail(d, `keepalive: the timeout (${timeout}) must be at least twice the interval (${interval}); 'keepalive 10 60' is typical`);
      c.cfg.keepalive = { interval, timeout };
    },
  },
  push: {
    min: 1, max: 1, run(d, c) {
      const s = d.args[0]!;
      if (s.trim() === '') fail(d, 'push: empty option');
      if (/[\x00-\x1f]/.test(s)) fail(d, 'push: control characters are not allowed');
      const framing = pushedFraming(s);
      if (typeof framing === 'object') fail(d, `push: ${framing.error}`);
      if (framing !== undefined) c.compression.pushed = { framing, option: s.trim() };
      c.cfg.push.push(s);
    },
  },
  'comp-lzo': {
    min: 0, max: 1, run(d, c) {
      const f = compLzoFraming(d.args[0]);
      if (typeof f === 'object') fail(d, f.error);
      c.compression.framing = f;
    },
  },
  compress: {
    min: 0, max: 1, run(d, c) {
      const f = compressFraming(d.args[0]);
      if (typeof f === 'object') fail(d, f.error);
      c.compression.framing = f;
    },
  },
  'comp-noadapt': flag(() => {}),
  inactive: {
    min: 1, max: 2, run(d, c) {
      c.cfg.inactive = { seconds: int(d, 0, 1, 0x7fffffff), bytes: d.args[1] === undefined ? 0 : int(d, 1, 0, Number.MAX_SAFE_INTEGER) };
    },
  },
  route: {
    min: 1, max: 4, run(d, c) {
      const network = ipv4(d, 0);
      const netmask = d.args[1] === undefined || d.args[1] === 'default' ? 0xffffffff : ipv4(d, 1);
      if (maskPrefix(netmask) === undefined) fail(d, `route: '${d.args[1]}' is not a netmask`);
      if (((network & netmask) >>> 0) !== network) fail(d, `route: ${d.args[0]} is not the network address of ${d.args[0]}/${maskPrefix(netmask)}`);
      if (d.args[2] !== undefined && d.args[2] !== 'vpn_gateway' && d.args[2] !== 'default') ipv4(d, 2);
      if (d.args[3] !== undefined) int(d, 3, 0, 0x7fffffff);
      c.cfg.routes.push({ network, netmask });
    },
  },
  'server-ipv6': { min: 1, max: 1, run(d, c) { c.ipv6.server = { net: v6(d, ipv6NetworkArg(d.args[0]!, 'server-ipv6'), 64, 124), line: d.line }; } },
  'ifconfig-ipv6': {
    min: 1, max: 2, run(d, c) {
      const remote = d.args[1] === undefined ? undefined : v6(d, ipv6AddrArg(d.args[1], 'ifconfig-ipv6'));
      c.ipv6.ifconfig = { local: v6(d, ipv6PrefixArg(d.args[0]!, 'ifconfig-ipv6', 64, 124)), remote, line: d.line };
    },
  },
  'ifconfig-ipv6-pool': { min: 1, max: 1, run(d, c) { c.ipv6.pool = { net: v6(d, ipv6PrefixArg(d.args[0]!, 'ifconfig-ipv6-pool', 64, 124)), line: d.line }; } },
  'block-ipv6': flag((c) => { c.cfg.blockIpv6 = true; }),
  'route-ipv6': {
    min: 1, max: 3, run(d, c) {
      const net = v6(d, ipv6NetworkArg(d.args[0]!, 'route-ipv6'));
      if (d.args[1] !== undefined && d.args[1] !== 'vpn_gateway' && d.args[1] !== 'default') v6(d, ipv6AddrArg(d.args[1], 'route-ipv6'));
      if (d.args[2] !== undefined) int(d, 2, 0, 0x7fffffff);
      c.cfg.routesIpv6.push(net);
    },
  },
  'ignore-unknown-option': { min: 1, max: Infinity, run(d, c) { for (const a of d.args) c.ignoreUnknown.add(a); } },
  'allow-compression': {
    min: 1, max: 1, run(d, c) {
      const v = oneOf(d, 0, ['no', 'asym', 'yes'] as const);
      if (c.compression.allow === 'no' && v !== 'no') fail(d, `cannot set allow-compression to '${v}' after it was set to 'no'`);
      c.compression.allow = v;
    },
  },
  'client-to-client': flag((c) => { c.cfg.clientToClient = true; }),
  'duplicate-cn': flag((c) => { c.cfg.duplicateCn = true; }),
  'username-as-common-name': flag((c) => { c.cfg.usernameAsCommonName = true; }),
  'auth-user-pass-optional': flag((c) => { c.cfg.authUserPassOptional = true; }),
  'max-clients': intOpt(1, 1 << 24, (c, v) => { c.cfg.maxClients = v; }),
  'reneg-sec': {
    min: 1, max: 2, run(d, c) {
      c.cfg.renegSec = int(d, 0, 0, 0x7fffffff);
      if (d.args[1] !== undefined) int(d, 1, 0, 0x7fffffff);
    },
  },
  'hand-window': intOpt(1, 86400, (c, v) => { c.cfg.handWindow = v; }),
  'tcp-queue-limit': intOpt(1, 1_000_000, (c, v) => { c.cfg.tcpQueueLimit = v; }),
  'tls-timeout': intOpt(1, 3600, (c, v) => { c.cfg.tlsTimeout = v; }),
  'tran-window': intOpt(1, 0x7fffffff, (c, v) => { c.cfg.tranWindow = v; }),
  verb: intOpt(0, 11, (c, v) => { c.cfg.verb = v; }),
  'explicit-exit-notify': {
    min: 0, max: 1, run(d, c) { c.cfg.explicitExitNotify = d.args.length ? int(d, 0, 0, 100) : 1; },
  },
  'tun-mtu': intOpt(576, 65535, (c, v) => { c.cfg.tunMtu = v; }),
  mssfix: {
    min: 0, max: 2, run(d, c) {
      if (d.args.length === 0) { c.cfg.mssfix = 1492; return; }
      const v = int(d, 0, 0, 65535);
      if (v !== 0 && v < 100) fail(d, `mssfix: ${v} is too small (0 = off, else at least 100)`);
      if (d.args[1] !== undefined) {
        oneOf(d, 1, ['mtu', 'fixed']);
        warnOnce(c, d, `mssfix '${d.args[1]}' flag ignored: nanovpn treats the value as the outer packet size`);
      }
      c.cfg.mssfix = v;
    },
  },
  'crl-verify': {
    min: 1, max: 2, inline: true, run(d, c) {
      if (!d.inline && d.args[1] !== undefined) {
        fail(d, d.args[1] === 'dir' ? "crl-verify: the 'dir' form is not supported; give one PEM CRL file" : `crl-verify: unknown flag '${d.args[1]}'`);
      }
      const text = fileText(d, c);
      if (!pemLabels(text).includes('X509 CRL')) fail(d, "crl-verify: expected a PEM CRL ('-----BEGIN X509 CRL-----')");
      if (d.inline) { c.cfg.crlPem = text; delete c.cfg.crlVerify; } else { c.cfg.crlVerify = filePath(d, c); delete c.cfg.crlPem; }
    },
  },
  'verify-client-cert': {
    min: 0, max: 1, run(d, c) { c.cfg.verifyClientCert = d.args.length ? oneOf(d, 0, ['none', 'optional', 'require'] as const) : 'require'; },
  },
  'remote-cert-tls': {
    min: 1, max: 1, run(d, c) {
      if (d.args[0] === 'server') fail(d, "remote-cert-tls server is a client option; a server uses 'remote-cert-tls client'");
      c.cfg.remoteCertTls = oneOf(d, 0, ['client'] as const);
    },
  },
  'tls-version-min': {
    min: 1, max: 2, run(d, c) {
      const v = d.args[0]!;
      if (d.args[1] !== undefined && d.args[1] !== 'or-highest') fail(d, `tls-version-min: unknown flag '${d.args[1]}'`);
      if (v === '1.3') c.cfg.tlsVersionMin = 'TLSv1.3';
      else if (v === '1.0' || v === '1.1' || v === '1.2' || d.args[1] === 'or-highest') delete c.cfg.tlsVersionMin;
      else fail(d, `tls-version-min: unknown version '${v}' (1.2 or 1.3)`);
    },
  },
  'auth-user-pass-verify': {
    min: 1, max: 2, run(d, c) {
      const method = d.args[1];
      if (method === undefined) fail(d, "--auth-user-pass-verify requires a second parameter ('via-env' or 'via-file'), or 'builtin' for a users file");
      if (method === 'via-env' || method === 'via-file') {
        applyAuthScript(d, c.scripts ??= newScriptConfig(), method === 'via-env' ? 'env' : 'file', c.baseDir);
        return;
      }
      if (method !== 'builtin') fail(d, `second parm to --auth-user-pass-verify must be 'via-env', 'via-file' or 'builtin', got '${method}'`);
      const p = filePath(d, c);
      if (!existsSync(p)) fail(d, `auth-user-pass-verify: users file '${p}' does not exist (create it with 'nanovpn users add ${d.args[0]} NAME')`);
      c.cfg.authUserPassVerify = p;
    },
  },
  'client-config-dir': {
    min: 1, max: 1, run(d, c) {
      const p = filePath(d, c);
      let isDir = false;
      try { isDir = statSync(p).isDirectory(); } catch { /* reported below */ }
      if (!isDir) log('warn', 'config: client-config-dir is not a directory (yet); no per-client configs until it exists', { file: d.file, line: d.line, path: p });
      c.cfg.clientConfigDir = p;
    },
  },
  'ifconfig-pool-persist': {
    min: 1, max: 2, run(d, c) { c.cfg.ifconfigPoolPersist = { path: filePath(d, c),
      seconds: d.args[1] === undefined ? 600 : int(d, 1, 0, 0x7fffffff) }; },
  },
  status: {
    min: 1, max: 2, run(d, c) { c.cfg.status = { path: filePath(d, c),
      seconds: d.args[1] === undefined ? 60 : int(d, 1, 1, 0x7fffffff) }; },
  },
  'status-version': { min: 0, max: 1, run(d, c) { c.cfg.statusVersion = d.args.length ? Number(oneOf(d, 0, ['1', '2', '3'])) as 1 | 2 | 3 : 1; } },
  management: {
    min: 2, max: 3, run(d, c) {
      if (d.args[2] !== undefined) fail(d, 'management: password files are not supported; bind it to 127.0.0.1 or a unix socket');
      if (d.args[1] === 'unix') { c.cfg.management = { path: filePath(d, c) }; return; }
      c.cfg.management = hostPort(d);
    },
  },
  'management-allow-remote': flag((c) => { c.cfg.managementAllowRemote = true; }),
  'management-client-auth': flag((c) => { c.cfg.managementClientAuth = true; }),
  echo: { min: 0, max: Infinity, run(d, c) { (c.cfg.echo ??= []).push(d.args.join(' ')); } },
  parameter: { min: 0, max: Infinity, run(d, c) { (c.cfg.echo ??= []).push(d.args.join(' ')); } },
  'management-hold': flag((c) => { c.cfg.managementHold = true; }),
  'management-log-cache': intOpt(1, 1 << 20, (c, v) => { c.cfg.managementLogCache = v; }),
  'management-client-user': {
    min: 1, max: 1, run(d, c) {
      const id = userId(d.args[0]!);
      if (id === undefined) fail(d, `management-client-user: no user '${d.args[0]}' in /etc/passwd`);
      c.cfg.managementClientUser = id;
    },
  },
  'management-client-group': {
    min: 1, max: 1, run(d, c) {
      const id = groupId(d.args[0]!);
      if (id === undefined) fail(d, `management-client-group: no group '${d.args[0]}' in /etc/group`);
      c.cfg.managementClientGroup = id;
    },
  },
  metrics: { min: 2, max: 2, run(d, c) { c.cfg.metrics = hostPort(d); } },
  'forward-port': {
    min: 3, max: 3, run(d, c) {
      const r = parseForwardPort(d.args);
      if ('error' in r) fail(d, r.error);
      (c.forwards ??= []).push({ rule: r, line: d.line });
    },
  },
  uplink: { min: 1, max: 1, run(d, c) { c.cfg.uplink = oneOf(d, 0, ['nat', 'tun'] as const); } },
  'data-crypto': { min: 1, max: 1, run(d, c) { c.cfg.dataCrypto = oneOf(d, 0, ['auto', 'native', 'node'] as const); } },
  'udp-socket': { min: 1, max: 1, run(d, c) { c.cfg.udpSocket = oneOf(d, 0, ['auto', 'native', 'node'] as const); } },
  'nat-source': { min: 1, max: 1, run(d, c) { ipv4(d, 0); c.cfg.natSource = d.args[0]!; } },
  'state-dir': { min: 1, max: 1, run(d, c) { c.cfg.stateDir = filePath(d, c); } },
  'nat-timeout': {
    min: 2, max: 2, run(d, c) {
      const key = NAT_TIMEOUT_NAMES[oneOf(d, 0, Object.keys(NAT_TIMEOUT_NAMES) as (keyof typeof NAT_TIMEOUT_NAMES)[])];
      c.cfg.natTimeouts = { ...c.cfg.natTimeouts, [key]: int(d, 1, 1, 7 * 86400) };
    },
  },
  'nat-tcp-congestion': {
    min: 1, max: 1, run(d, c) { c.cfg.natTcpCongestion = oneOf(d, 0, ['cubic', 'newreno', 'bbr'] as const); },
  },
  'nat-tcp-pacing': {
    min: 1, max: 1, run(d, c) { c.cfg.natTcpPacing = oneOf(d, 0, ['on', 'off'] as const) === 'on'; },
  },
  'nat-tcp-ecn': {
    min: 1, max: 1, run(d, c) { c.cfg.natTcpEcn = oneOf(d, 0, ['on', 'off'] as const) === 'on'; },
  },
  'nat-flows': {
    min: 1, max: 2, run(d, c) {
      c.cfg.natFlows = { perClient: int(d, 0, 1, 1 << 20), total: d.args.length > 1 ? int(d, 1, 1, 1 << 22) : undefined };
    },
  },
  // The process around the server (log-options.rst, generic-options.rst); cli/serve.ts applies them.
  log: { min: 1, max: 1, run(d, c) { c.cfg.logFile ??= { path: filePath(d, c), append: false }; } },
  'log-append': { min: 1, max: 1, run(d, c) { c.cfg.logFile ??= { path: filePath(d, c), append: true }; } },
  writepid: { min: 1, max: 1, run(d, c) { c.cfg.writepid = filePath(d, c); } },
  daemon: { min: 0, max: 1, run(d, c) { c.cfg.daemon = true; c.cfg.daemonName = d.args[0] ?? 'openvpn'; } },
  syslog: { min: 0, max: 1, run(d, c) { c.cfg.syslog = d.args[0] ?? 'openvpn'; } },
  'suppress-timestamps': flag((c) => { c.cfg.suppressTimestamps = true; }),
  'dev-node': { min: 1, max: 1, run(d, c) { c.cfg.devNode = filePath(d, c); } },
  'remap-usr1': { min: 1, max: 1, run(d, c) { c.cfg.remapUsr1 = oneOf(d, 0, ['SIGHUP', 'SIGTERM'] as const); } },
  capath: { min: 1, max: 1, run(d, c) { c.cfg.capath = capathDir(d, c); } },
  ...Object.fromEntries(Object.entries(SCRIPT_DIRECTIVES).map(([name, { min, max }]): [string, Handler] =>
    [name, { min, max, run(d, c) { applyScriptDirective(d, c.scripts ??= newScriptConfig(), c.baseDir); } }])),
};

/** The directives server-config.ts has a handler for (directive-table.ts marks exactly these implemented). */
export const HANDLED_DIRECTIVES: readonly string[] = Object.keys(handlers);

const NAT_TIMEOUT_NAMES = {
  'tcp-established': 'tcpEstablished', 'tcp-transitory': 'tcpTransitory', 'tcp-time-wait': 'tcpTimeWait',
  'udp-unreplied': 'udpUnreplied', 'udp-replied': 'udpReplied', dns: 'dns',
} as const;
