// What the management interface says about a client (OpenVPN 2.6's >CLIENT: notifications), as pure functions:
//
//   ClientFacts (+ stage) → env lines "name=value" → >CLIENT:CONNECT|REAUTH|ESTABLISHED|DISCONNECT + >CLIENT:ENV,...
//
// The variables are the ones OpenVPN 2.6 has in a client's environment at that stage, as far as nanovpn knows them
// (no script_type, no daemon_* and no options of its own config). Never the password.
import type { PeerCertInfo } from '../core/session/session.js';
import { timeString } from './observe.js';

export interface ClientFacts {
  cn?: string;
  username?: string;
  /** "IP:PORT" of the client (IPv4-mapped IPv6 already shown as IPv4). */
  remote: string;
  peerInfo?: ReadonlyMap<string, string>;
  cert?: PeerCertInfo;
  /** The client's VPN address and the second word of its ifconfig (netmask in subnet, peer in net30). */
  vip?: string;
  vipSecond?: string;
  topology?: 'subnet' | 'net30' | 'p2p';
  /** Seconds since the epoch the connection began. */
  createdSec: number;
  bytesReceived?: number;
  bytesSent?: number;
}

export type ClientStage = 'connect' | 'established' | 'disconnect';

/** OpenVPN's validate_peer_info_line: NAME=VALUE, NAME of [A-Za-z0-9_], VALUE printable, no blanks-only junk. */
export function validPeerInfoLine(name: string, value: string): boolean {
  return /^[A-Za-z0-9_]{1,64}$/.test(name) && /^[\x20-\x7e]{0,255}$/.test(value);
}

const hostPort = (addr: string): [string, string] => {
  const i = addr.lastIndexOf(':');
  return i < 0 ? [addr, ''] : [addr.slice(0, i), addr.slice(i + 1)];
};

/** Lower-case colon hex, as OpenVPN prints digests and serials. */
const colonHex = (s: string): string => s.toLowerCase();

function hexSerialToColon(hex: string): string {
  const h = hex.length % 2 ? `0${hex}` : hex;
  return (h.match(/../g) ?? []).join(':').toLowerCase();
}

/** The env lines of one client at `stage`, newest first like OpenVPN's env list; a value with a newline is left out. */
export function clientEnv(f: ClientFacts, stage: ClientStage, nowSec: number): string[] {
  const env: [string, string | number | undefined][] = [];
  if (stage === 'disconnect') {
    env.push(['time_duration', Math.max(0, nowSec - f.createdSec)], ['bytes_sent', f.bytesSent ?? 0], ['bytes_received', f.bytesReceived ?? 0]);
  }
  const [ip, port] = hostPort(f.remote);
  if (stage !== 'connect') {
    env.push(['time_unix', f.createdSec], ['time_ascii', timeString(f.createdSec)]);
    if (f.vip) {
      if (f.topology === 'subnet') env.push(['ifconfig_pool_netmask', f.vipSecond]);
      else env.push(['ifconfig_pool_local_ip', f.vipSecond]);
      env.push(['ifconfig_pool_remote_ip', f.vip]);
    }
    env.push(['trusted_port', port], ['trusted_ip', ip]);
  }
  env.push(['common_name', f.cn]);
  for (const [k, v] of [...(f.peerInfo ?? new Map<string, string>())].reverse()) if (validPeerInfoLine(k, v)) env.push([k, v]);
  env.push(['untrusted_port', port], ['untrusted_ip', ip]);
  if (f.username) env.push(['username', f.username]);
  const c = f.cert;
  if (c) {
    for (const [k, v] of [...c.subject].reverse()) env.push([`X509_0_${k}`, v]);
    const serialDec = /^[0-9a-fA-F]+$/.test(c.serialHex) ? BigInt(`0x${c.serialHex}`).toString(10) : undefined;
    env.push(
      ['tls_serial_hex_0', hexSerialToColon(c.serialHex)], ['tls_serial_0', serialDec],
      ['tls_digest_sha256_0', colonHex(c.sha256)], ['tls_digest_0', colonHex(c.sha1)],
      ['tls_id_0', c.subject.map(([k, v]) => `${k}=${v}`).join(', ')],
    );
  }
  const out: string[] = [];
  for (const [k, v] of env) {
    if (v === undefined || k === 'password') continue;
    const s = String(v);
    if (/[\r\n]/.test(s)) continue;
    out.push(`${k}=${s}`);
  }
  return out;
}

/**
 * One >CLIENT: notification with its ENV block. `nClients` (CONNECT, REAUTH, ESTABLISHED) is OpenVPN's
 * n_clients, written first as its man_output_extra_env does.
 */
export function clientNotification(
  kind: 'CONNECT' | 'REAUTH' | 'ESTABLISHED' | 'DISCONNECT', cid: number, kid: number | undefined, env: string[], nClients?: number,
): string[] {
  const head = kind === 'CONNECT' || kind === 'REAUTH' ? `>CLIENT:${kind},${cid},${kid ?? 0}` : `>CLIENT:${kind},${cid}`;
  const extra = kind !== 'DISCONNECT' && nClients !== undefined ? [`>CLIENT:ENV,n_clients=${nClients}`] : [];
  return [head, ...extra, ...env.map((e) => `>CLIENT:ENV,${e}`), '>CLIENT:ENV,END'];
}

/** The variables `env-filter 2` keeps (OpenVPN 2.6's list; a name ending in "_" is a prefix). */
const FILTER_NAMES = [
  'username=', 'password=', 'X509_0_CN=', 'tls_serial_', 'untrusted_ip=', 'ifconfig_local=', 'ifconfig_netmask=',
  'daemon_start_time=', 'daemon_pid=', 'dev=', 'ifconfig_pool_remote_ip=', 'ifconfig_pool_netmask=', 'time_duration=',
  'bytes_sent=', 'bytes_received=', 'session_id=', 'session_state=',
];

/** `env-filter N`: 0 keeps every variable, 1 the X509_ ones and the list, 2 only the list, 3 and above none. */
export function envFilterKeeps(variable: string, level: number): boolean {
  if (level <= 0) return true;
  if (level <= 1 && variable.startsWith('X509_')) return true;
  return level <= 2 && FILTER_NAMES.some((n) => variable.startsWith(n));
}

const ENV = '>CLIENT:ENV,';
const isPeerInfo = (variable: string): boolean => /^(IV|UV)_/.test(variable);

/**
 * A >CLIENT: notification as one management client with `env-filter level` sees it. As 2.6: with a filter, a
 * CONNECT or REAUTH shows the client's peer info (IV_, UV_) unfiltered right after n_clients; END always stays.
 */
export function filterNotification(lines: readonly string[], level: number): string[] {
  if (level <= 0) return [...lines];
  const head = lines[0] ?? '';
  const auth = head.startsWith('>CLIENT:CONNECT,') || head.startsWith('>CLIENT:REAUTH,');
  const out = [head];
  const rest: string[] = [];
  for (const l of lines.slice(1)) {
    if (!l.startsWith(ENV) || l === `${ENV}END`) { rest.push(l); continue; }
    const v = l.slice(ENV.length);
    if (isPeerInfo(v)) { if (auth) out.push(l); }
    else if (envFilterKeeps(v, level)) rest.push(l);
  }
  return [...out, ...rest];
}

/** >CLIENT:ADDRESS,CID,ADDR,PRI: the client's VPN address (primary 1) or a subnet it routes (iroute, primary 0). */
export function addressNotification(cid: number, addr: string, primary: boolean): string {
  return `>CLIENT:ADDRESS,${cid},${addr},${primary ? 1 : 0}`;
}

export function bytecountClientLine(cid: number, bytesIn: number, bytesOut: number): string {
  return `>BYTECOUNT_CLI:${cid},${bytesIn},${bytesOut}`;
}

/** A management state record: >STATE:TIME,NAME,DETAIL,TUN_IP,REMOTE_IP,REMOTE_PORT,LOCAL_IP,LOCAL_PORT. */
export interface StateRecord { time: number; name: string; detail?: string; tunIp?: string; localIp?: string; localPort?: number }

export function stateLine(s: StateRecord): string {
  return `${s.time},${s.name},${s.detail ?? ''},${s.tunIp ?? ''},,,${s.localIp ?? ''},${s.localPort ?? ''}`;
}

/** A log record as the log command prints it: TIME,FLAGS,MESSAGE (FLAGS: I info, W warning, N non-fatal error, D debug). */
export interface LogRecord { time: number; flags: string; text: string }

export function logLine(r: LogRecord): string {
  return `${r.time},${r.flags},${r.text}`;
}
