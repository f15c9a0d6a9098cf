// `forward-port tcp|udp [LISTEN_ADDR:]PORT CLIENT:PORT` (nanovpn extension): the text of one rule, and the checks
// that need the whole config. CLIENT is a common name, or an IPv4 address: the client with that fixed address
// (ifconfig-push in its client-config-dir file). LISTEN_ADDR defaults to every address (0.0.0.0).
import type { ForwardRule } from '../core/forward/port-forward.js';
import { formatIPv4, maskPrefix, parseIPv4 } from './ipv4-text.js';

/** One rule from the directive's arguments, or why not. */
export function parseForwardPort(args: readonly string[]): ForwardRule | { error: string } {
  const [proto, listen, target] = args;
  if (proto !== 'tcp' && proto !== 'udp') return { error: `forward-port: '${proto}' must be tcp or udp` };
  const l = splitPort(listen!);
  if ('error' in l) return { error: `forward-port: listen '${listen}': ${l.error}` };
  const host = l.host ?? '0.0.0.0';
  if (parseIPv4(host) === undefined) return { error: `forward-port: listen address '${host}' is not an IPv4 address` };
  if (!target!.includes(':')) return { error: `forward-port: '${target}' needs a client: COMMON_NAME:PORT or IP:PORT` };
  const t = splitPort(target!);
  if ('error' in t) return { error: `forward-port: client '${target}': ${t.error}` };
  if (t.host === undefined || t.host === '') return { error: `forward-port: '${target}' needs a client: COMMON_NAME:PORT or IP:PORT` };
  const ip = parseIPv4(t.host);
  return { proto, listen: { host, port: l.port }, target: ip === undefined ? { cn: t.host } : { ip }, port: t.port };
}

/** The checks against the rest of the config: addresses in the VPN, one rule per listening socket. */
export function checkForwardRules(rules: readonly { rule: ForwardRule; line: number }[],
  net: { network: number; netmask: number }, serverIp: number): { line: number; error: string } | undefined {
  const seen = new Map<string, number>();
  for (const { rule, line } of rules) {
    if ('ip' in rule.target) {
      const ip = rule.target.ip;
      if (((ip & net.netmask) >>> 0) !== net.network) {
        return { line, error: `forward-port: ${formatIPv4(ip)} is not in the VPN (${formatIPv4(net.network)}/${maskPrefix(net.netmask)}); give a client's fixed address or its common name` };
      }
      if (ip === serverIp) return { line, error: `forward-port: ${formatIPv4(ip)} is the server's own tunnel address` };
    }
    const key = `${rule.proto} ${rule.listen.host}:${rule.listen.port}`;
    const other = seen.get(key);
    if (other !== undefined) return { line, error: `forward-port: ${key} is already forwarded (line ${other})` };
    seen.set(key, line);
  }
  return undefined;
}

/** "HOST:PORT" or "PORT" (split at the last colon: a common name may hold colons). */
function splitPort(s: string): { host?: string; port: number } | { error: string } {
  const i = s.lastIndexOf(':');
  const portText = i < 0 ? s : s.slice(i + 1);
  if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return { error: `'${portText}' is not a port from 1 to 65535` };
  }
  return i < 0 ? { port: Number(portText) } : { host: s.slice(0, i), port: Number(portText) };
}
