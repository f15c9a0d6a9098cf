// The environment variables OpenVPN 2.6 hands its scripts (script-options.rst, "Environmental Variables"), built
// from what nanovpn knows: pure functions from data to NAME -> value. A script's environment is only these, as in
// 2.6 (execve with OpenVPN's own set, not the server's environment).
import { X509Certificate } from 'node:crypto';
import { ipToString } from '../core/wire/ipv4.js';

export type ScriptEnv = Record<string, string>;

/** The settings 2.6 exports once at start (setenv_settings), after the config's setenv lines. */
export function startEnv(o: {
  config: string; verb: number; proto: 'udp' | 'tcp'; local?: string; port: number; startedAtSec: number; pid: number;
  setenv: readonly (readonly [string, string])[];
}): ScriptEnv {
  const env: ScriptEnv = {};
  for (const [k, v] of o.setenv) env[k] = v;
  Object.assign(env, {
    config: o.config, verb: String(o.verb), daemon: '0', daemon_log_redirect: '0',
    daemon_start_time: String(o.startedAtSec), daemon_pid: String(o.pid),
    proto_1: o.proto === 'tcp' ? 'tcp-server' : 'udp', local_port_1: String(o.port),
  });
  if (o.local !== undefined) env.local_1 = o.local;
  return env;
}

/**
 * The tunnel device's variables (2.6 sets them around the up script and keeps them for every later script).
 * `second` is the netmask in topology subnet (ifconfig_netmask), the peer address in net30 and p2p (ifconfig_remote).
 */
export function tunEnv(o: { dev?: string; mtu: number; local: number; second: number; topology: 'subnet' | 'net30' | 'p2p' }): ScriptEnv {
  const env: ScriptEnv = { tun_mtu: String(o.mtu), script_context: 'init', ifconfig_local: ipToString(o.local) };
  if (o.dev !== undefined) { env.dev = o.dev; env.dev_type = 'tun'; }
  env[o.topology === 'subnet' ? 'ifconfig_netmask' : 'ifconfig_remote'] = ipToString(o.second);
  return env;
}

/** `untrusted_ip`/`untrusted_port` (before authentication) or `trusted_*`: the client's real address. An IPv6
 *  address goes in *_ip6, an IPv4-mapped one in *_ip as its IPv4 form. `remote` is "ADDRESS:PORT". */
export function addressEnv(prefix: 'trusted' | 'untrusted', remote: string): ScriptEnv {
  const cut = remote.lastIndexOf(':');
  if (cut < 0) return {};
  let ip = remote.slice(0, cut).replace(/^\[(.*)\]$/, '$1');
  const port = remote.slice(cut + 1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  return { [ip.includes(':') ? `${prefix}_ip6` : `${prefix}_ip`]: ip, [`${prefix}_port`]: port };
}

/** The client's IV_ and UV_ peer-info lines, as 2.6 exports them: a line whose name is not [A-Za-z0-9_] is skipped,
 *  and in a value anything unprintable, white space, '$', '(' and '`' become '_'. */
export function peerInfoEnv(peerInfo: ReadonlyMap<string, string>): ScriptEnv {
  const env: ScriptEnv = {};
  for (const [k, v] of peerInfo) {
    if (!/^(IV|UV)_[A-Za-z0-9_]*$/.test(k)) continue;
    env[k] = v.replace(/[^\x21-\x7e]|[$(`]/g, '_');
  }
  return env;
}

/** One certificate's subject fields in order, as [short name, value]. */
function subjectFields(cert: X509Certificate): [string, string][] {
  return cert.subject.split('\n').filter((l) => l.includes('=')).map((l) => {
    const eq = l.indexOf('=');
    return [l.slice(0, eq), l.slice(eq + 1)];
  });
}

/** The subject as 2.6 prints it (and passes to tls-verify): "C=US, O=Org, CN=name", in the certificate's order. */
export function subjectLine(cert: X509Certificate): string {
  return subjectFields(cert).map(([k, v]) => `${k}=${v}`).join(', ');
}

const colonHex = (hex: string): string => (hex.length % 2 ? `0${hex}` : hex).toLowerCase().match(/../g)!.join(':');

/** The variables of the certificate at `depth` (0: the client's, 1: its issuer, ...): X509_{n}_{field} (a repeated
 *  field as _1, _2, ...), tls_id_{n}, tls_digest_{n} / tls_digest_sha256_{n}, tls_serial_{n} / tls_serial_hex_{n}. */
export function certEnv(cert: X509Certificate, depth: number): ScriptEnv {
  const env: ScriptEnv = {};
  for (const [k, v] of subjectFields(cert)) {
    const base = `X509_${depth}_${k}`.replace(/[^\x20-\x7e]/g, '_');
    let name = base;
    for (let i = 1; Object.hasOwn(env, name) && i < 1000; i++) name = `${base}_${i}`;
    env[name] = v.replace(/[\x00-\x1f\x7f]/g, '_');
  }
  env[`tls_id_${depth}`] = subjectLine(cert);
  env[`tls_digest_${depth}`] = cert.fingerprint.toLowerCase();
  env[`tls_digest_sha256_${depth}`] = cert.fingerprint256.toLowerCase();
  const serialHex = cert.serialNumber.replace(/^0+(?=.)/, '');
  env[`tls_serial_${depth}`] = BigInt(`0x${serialHex}`).toString(10);
  env[`tls_serial_hex_${depth}`] = colonHex(serialHex);
  return env;
}

/** The client's virtual address for client-connect and client-disconnect (2.6's multi_set_virtual_addr_env). */
export function poolEnv(topology: 'subnet' | 'net30' | 'p2p', ip: number, second: number): ScriptEnv {
  return topology === 'subnet'
    ? { ifconfig_pool_remote_ip: ipToString(ip), ifconfig_pool_netmask: ipToString(second) }
    : { ifconfig_pool_remote_ip: ipToString(ip), ifconfig_pool_local_ip: ipToString(second) };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** time_ascii: ctime()'s form in local time, without the newline ("Thu Dec  3 17:40:54 2026"). */
export function ctimeString(d: Date): string {
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** The environment a script is started with: below script-security 3 no variable whose name starts with
 *  "password" (2.6's env_allowed); control characters in a value become '_'. */
export function childEnv(env: ScriptEnv, security: number): ScriptEnv {
  const out: ScriptEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (security < 3 && k.startsWith('password')) continue;
    out[k] = v.replace(/[\x00-\x1f\x7f]/g, '_');
  }
  return out;
}
