// Per-client files in client-config-dir: the file named after the client's common name, else "DEFAULT".
// Supported: ifconfig-push IP NETMASK|PEER, ifconfig-ipv6-push IP/BITS [REMOTE], iroute NET [MASK],
// iroute-ipv6 NET/BITS, push "...", push-reset, disable.
import { readFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { log } from '../log.js';
import { ConfigError } from './errors.js';
import { maskPrefix, parseIPv4 } from './ipv4-text.js';
import { parseConfig } from './parse.js';
import { ipv6AddrArg, ipv6NetworkArg, ipv6PrefixArg } from './ipv6-config.js';
import type { Ipv6Net } from '../core/wire/ipv6.js';

export interface ClientConfig {
  /** The second address is a netmask in topology subnet, the client's peer in net30 and p2p (checked when used). */
  ifconfigPush?: { ip: number; second: number };
  /** `iroute NET MASK`: subnets behind this client, with where each was written (for conflicts). */
  iroutes: { network: number; netmask: number; file: string; line: number }[];
  /** `ifconfig-ipv6-push IP/BITS [REMOTE]`; REMOTE absent: the server's own IPv6 address. */
  ifconfigIpv6Push?: { local: Ipv6Net; remote?: Buffer };
  /** `iroute-ipv6 NET/BITS`: IPv6 subnets behind this client. */
  iroutes6: { net: Ipv6Net; file: string; line: number }[];
  push: string[];
  pushReset: boolean;
  disable: boolean;
}

const UNSUPPORTED_WARN: Record<string, string> = {
  'comp-lzo': 'a per-client compression framing is not supported: the server config decides it',
  compress: 'a per-client compression framing is not supported: the server config decides it',
};

/** Parses a ccd file. Throws ConfigError (file:line) on anything it cannot honour safely. */
export function parseClientConfig(text: string, file: string): ClientConfig {
  const cfg: ClientConfig = { iroutes: [], iroutes6: [], push: [], pushReset: false, disable: false };
  for (const d of parseConfig(text, file)) {
    const fail = (why: string): never => { throw new ConfigError(file, d.line, why); };
    if (d.inline) fail(`inline <${d.name}> block is not allowed in a client-config-dir file`);
    const nargs = (n: number): void => { if (d.args.length !== n) fail(`'${d.name}' takes ${n} argument${n === 1 ? '' : 's'}, got ${d.args.length}`); };
    switch (d.name) {
      case 'ifconfig-push': {
        nargs(2);
        const ip = parseIPv4(d.args[0]!), second = parseIPv4(d.args[1]!);
        if (ip === undefined) fail(`ifconfig-push: '${d.args[0]}' is not an IPv4 address`);
        if (second === undefined) fail(`ifconfig-push: '${d.args[1]}' is not an IPv4 address (a netmask in topology subnet, the peer in net30 and p2p)`);
        cfg.ifconfigPush = { ip: ip!, second: second! };
        break;
      }
      case 'iroute': {
        if (d.args.length < 1 || d.args.length > 2) fail(`'iroute' takes NETWORK [NETMASK], got ${d.args.length} arguments`);
        const network = parseIPv4(d.args[0]!), netmask = d.args[1] === undefined ? 0xffffffff : parseIPv4(d.args[1]);
        if (network === undefined) fail(`iroute: '${d.args[0]}' is not an IPv4 address`);
        if (netmask === undefined || maskPrefix(netmask) === undefined) fail(`iroute: '${d.args[1]}' is not a netmask`);
        if (((network! & netmask!) >>> 0) !== network) fail(`iroute: ${d.args[0]} is not the network address of ${d.args[0]}/${maskPrefix(netmask!)}`);
        cfg.iroutes.push({ network: network!, netmask: netmask!, file, line: d.line });
        break;
      }
      case 'ifconfig-ipv6-push': {
        if (d.args.length < 1 || d.args.length > 2) fail(`'ifconfig-ipv6-push' takes ADDRESS/BITS [REMOTE], got ${d.args.length} arguments`);
        const local = ipv6PrefixArg(d.args[0]!, 'ifconfig-ipv6-push', 64, 124);
        if (typeof local === 'string') fail(local);
        const remote = d.args[1] === undefined ? undefined : ipv6AddrArg(d.args[1], 'ifconfig-ipv6-push');
        if (typeof remote === 'string') fail(remote);
        cfg.ifconfigIpv6Push = { local: local as Ipv6Net, remote: remote as Buffer | undefined };
        break;
      }
      case 'iroute-ipv6': {
        nargs(1);
        const net = ipv6NetworkArg(d.args[0]!, 'iroute-ipv6');
        if (typeof net === 'string') fail(net);
        cfg.iroutes6.push({ net: net as Ipv6Net, file, line: d.line });
        break;
      }
      case 'push':
        nargs(1);
        if (d.args[0]!.trim() === '') fail('push: empty option');
        if (/[\x00-\x1f]/.test(d.args[0]!)) fail('push: control characters are not allowed');
        cfg.push.push(d.args[0]!);
        break;
      case 'push-reset': nargs(0); cfg.pushReset = true; break;
      case 'disable': nargs(0); cfg.disable = true; break;
      default: {
        const why = Object.hasOwn(UNSUPPORTED_WARN, d.name) ? UNSUPPORTED_WARN[d.name] : undefined;
        if (why === undefined) fail(`'${d.name}' is not supported in a client-config-dir file`);
        log('warn', `ccd: '${d.name}' ignored: ${why}`, { file, line: d.line });
      }
    }
  }
  return cfg;
}

/** Path of the ccd file for `cn`, or undefined if the name could escape the folder or is not a plain file name. */
export function ccdPath(dir: string, cn: string): string | undefined {
  if (cn === '' || cn === '.' || cn === '..' || /[/\\\x00-\x1f\x7f]/.test(cn)) return undefined;
  const base = resolve(dir);
  const p = join(base, cn);
  return dirname(p) === base ? p : undefined;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(path, undefined, `cannot read client config: ${code ?? (e as Error).message}`);
  }
}

/**
 * The client's ccd settings: its own file, else DEFAULT, else undefined. A CN that is unsafe as a file name gets
 * only DEFAULT (with a warning). Throws ConfigError for an unreadable or invalid file.
 */
export async function readClientConfig(dir: string, cn: string): Promise<ClientConfig | undefined> {
  const own = ccdPath(dir, cn);
  if (own === undefined) log('warn', 'ccd: common name is not a safe file name; only DEFAULT applies', { cn: JSON.stringify(cn) });
  for (const path of own === undefined ? [join(resolve(dir), 'DEFAULT')] : [own, join(resolve(dir), 'DEFAULT')]) {
    const text = await readIfExists(path);
    if (text !== undefined) return parseClientConfig(text, path);
  }
  return undefined;
}
