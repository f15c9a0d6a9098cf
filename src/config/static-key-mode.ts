// The rules of a config with `secret` (static-key point-to-point mode), checked once every line has been read, as
// OpenVPN 2.6 checks them (options.c, helper.c): ifconfig LOCAL REMOTE is required; server, TLS and many-client
// directives are refused; a CBC cipher must be set (2.6's default here is BF-CBC, which Node cannot run); keepalive
// expands to ping + ping-restart as in p2p mode. Static-key mode is deprecated in 2.6 and refused by 2.7 without
// allow-deprecated-insecure-static-crypto; nanovpn accepts both and warns when the opt-in is absent.
import { log } from '../log.js';
import { settleCompression, type ServerCompression } from './compression.js';
import { ConfigError } from './errors.js';
import type { Directive } from './parse.js';
import type { CipherName, ServerConfig, StaticKey, StaticKeyServerConfig } from './types.js';
import { isAeadCipher, type CbcCipherName } from '../core/crypto/ciphers.js';

export interface StaticKeyInput {
  source: string;
  /** The settings shared with TLS mode, as the handlers left them. */
  draft: Omit<StaticKeyServerConfig, 'mode' | 'secret' | 'keyDirection' | 'ifconfig' | 'cipher' | 'ping' | 'pingRestart' | 'compression'>
    & Pick<ServerConfig, 'topology' | 'keepalive'>;
  secret: { key: StaticKey; d: Directive };
  keyDirection?: 0 | 1;
  ifconfig?: { local: number; remote: number; d: Directive };
  ping?: { seconds: number; d: Directive };
  pingRestart?: { seconds: number; d: Directive };
  cipherName?: { name: string; d: Directive };
  cipherByName: (raw: string) => CipherName | { why: string };
  compression: ServerCompression;
  allowInsecure: boolean;
  mode?: { value: string; d: Directive };
  /** The last line of each directive given. */
  lines: ReadonlyMap<string, number>;
}

export const BF_CBC_DEFAULT_REFUSAL = "static-key mode without a 'cipher' line uses OpenVPN 2.6's default for it, BF-CBC " +
  "(Blowfish), which Node's OpenSSL 3 does not have; set 'cipher AES-256-CBC' on both ends (and the same 'auth' on both)";

const TLS_ONLY = ['ca', 'cert', 'key', 'dh', 'tls-auth', 'tls-crypt', 'tls-server', 'crl-verify', 'remote-cert-tls',
  'verify-client-cert', 'tls-version-min', 'tls-timeout', 'reneg-sec', 'hand-window', 'tran-window',
  'auth-user-pass-verify', 'auth-user-pass-optional', 'username-as-common-name', 'tls-verify', 'tls-crypt-v2-verify'];
const MANY_CLIENTS = ['push', 'client-to-client', 'duplicate-cn', 'max-clients', 'ifconfig-pool', 'ifconfig-pool-persist',
  'client-config-dir', 'client-connect', 'client-disconnect', 'learn-address'];
const NOT_YET = [
  'status', 'management', 'management-allow-remote', 'management-client-auth', 'management-hold', 'management-log-cache',
  'management-client-user', 'management-client-group', 'metrics', 'up', 'down',
];
const NO_EFFECT = ['data-ciphers', 'ncp-ciphers'];

export function staticKeyConfig(i: StaticKeyInput): StaticKeyServerConfig {
  const at = (name: string): number | undefined => i.lines.get(name);
  function fail(line: number | undefined, why: string): never { throw new ConfigError(i.source, line, why); }
  const with2 = "'secret' (static-key mode)";
  if (at('server') !== undefined) fail(at('server'), `'server' and ${with2} cannot be used together: a server of many clients needs TLS keys (ca, cert, key), as in OpenVPN 2.6`);
  if (i.mode?.value === 'server') fail(i.mode.d.line, `'mode server' needs TLS (ca, cert, key); ${with2} is point-to-point: remove the mode line or write 'mode p2p'`);
  for (const n of TLS_ONLY) if (at(n) !== undefined) fail(at(n), `'${n}' is a TLS-mode directive and cannot be used with ${with2}, as in OpenVPN 2.6; remove it`);
  for (const n of MANY_CLIENTS) if (at(n) !== undefined) fail(at(n), `'${n}' is for a server of many clients (TLS mode); ${with2} has one peer; remove it`);
  for (const n of NOT_YET) if (at(n) !== undefined) fail(at(n), `'${n}' is not available in nanovpn's static-key mode; remove it`);
  for (const n of NO_EFFECT) {
    if (at(n) !== undefined) log('warn', `config: '${n}' has no effect in static-key mode: there is no cipher negotiation; 'cipher' sets the cipher`, { file: i.source, line: at(n) });
  }
  if (at('topology') !== undefined && i.draft.topology === 'subnet') {
    fail(at('topology'), `'topology subnet' does not fit ${with2}: 'ifconfig LOCAL REMOTE' is point-to-point; remove the topology line`);
  }
  if (i.draft.uplink === 'tun') fail(at('uplink'), "'uplink tun' is not available in nanovpn's static-key mode; remove it to use the userspace NAT");
  if (!i.ifconfig) fail(undefined, "static-key mode ('secret') needs 'ifconfig LOCAL REMOTE' (for example 'ifconfig 10.8.0.1 10.8.0.2'; the peer has the mirror line)");
  const { local, remote, d: ifd } = i.ifconfig;
  if (local === remote) fail(ifd.line, 'ifconfig: the local and the remote address must differ');
  for (const a of [local, remote]) {
    if (a === 0 || a === 0xffffffff || a >>> 28 === 0xe || a >>> 24 === 127) fail(ifd.line, 'ifconfig: a tunnel address cannot be 0.0.0.0, broadcast, multicast or loopback');
  }

  const cipher = staticCipher(i);
  const { ping, pingRestart } = timers(i);
  const comp = settleCompression(i.compression);
  const compLine = at('compress') ?? at('comp-lzo') ?? at('allow-compression');
  if (comp.error) fail(compLine, comp.error);
  const framing = comp.framing;
  if (framing === 'migrate') fail(compLine, "'compress migrate' needs a server that pushes; in static-key mode give both ends the same comp-lzo or compress line");
  for (const w of comp.warnings) log('warn', `config: ${w}`, { file: i.source, line: compLine });

  if (i.allowInsecure) {
    log('info', 'config: static-key mode (secret) allowed by allow-deprecated-insecure-static-crypto', { file: i.source });
  } else {
    log('warn', "config: static-key mode ('secret') is deprecated since OpenVPN 2.6, and 2.7 refuses it unless " +
      "'allow-deprecated-insecure-static-crypto' is set: one long-lived key protects every packet, with no forward " +
      'secrecy and no peer authentication beyond holding the key; plan a move to TLS (ca, cert, key)', { file: i.source, line: i.secret.d.line });
  }
  const { topology: _t, keepalive: _k, ...shared } = i.draft;
  return {
    ...shared, mode: 'static-key', secret: i.secret.key, keyDirection: i.keyDirection, ifconfig: { local, remote },
    cipher, ping, pingRestart, compression: framing,
  };
}

function staticCipher(i: StaticKeyInput): CbcCipherName {
  const set = i.cipherName;
  if (!set) throw new ConfigError(i.source, i.secret.d.line, BF_CBC_DEFAULT_REFUSAL);
  const found = i.cipherByName(set.name);
  if (typeof found !== 'string') {
    if (set.name.toUpperCase() === 'BF-CBC') {
      throw new ConfigError(i.source, set.d.line, "BF-CBC (Blowfish) is not available: Node's OpenSSL 3 does not have it; set 'cipher AES-256-CBC' on both ends");
    }
    throw new ConfigError(i.source, set.d.line, `'${set.d.name} ${set.name}': ${found.why}`);
  }
  if (isAeadCipher(found)) {
    throw new ConfigError(i.source, set.d.line, `'cipher ${found}': static-key mode has no AEAD ciphers (OpenVPN 2.6 allows them only with TLS); use AES-256-CBC, AES-192-CBC or AES-128-CBC`);
  }
  return found;
}

/** ping / ping-restart, or keepalive expanded as 2.6 does for a point-to-point peer (helper.c helper_keepalive). */
function timers(i: StaticKeyInput): { ping: number; pingRestart: number } {
  const ka = i.draft.keepalive;
  if (ka) {
    const other = i.ping ?? i.pingRestart;
    if (other) throw new ConfigError(i.source, other.d.line, `'${other.d.name}' conflicts with keepalive, which sets ping and ping-restart already; keep one of them`);
    return { ping: ka.interval, pingRestart: ka.timeout };
  }
  return { ping: i.ping?.seconds ?? 0, pingRestart: i.pingRestart?.seconds ?? 0 };
}
