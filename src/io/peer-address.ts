// Peer addresses at the socket boundary. A dual-stack IPv6 socket sees an IPv4 peer as ::ffff:a.b.c.d; everything
// past the socket (the cookie, the half-open and per-source limits, float, logs, status) sees it as a.b.c.d, as
// OpenVPN 2.6 prints it, and the socket maps it back when it sends. IPv6 text is canonical (RFC 5952: lower case,
// the longest run of zero groups as ::), so one peer is one string whichever way the kernel or a user wrote it.
import * as net from 'node:net';

/** `address` as the rest of the server sees it: an IPv4-mapped IPv6 address as IPv4, IPv6 in canonical text. */
export function plainAddress(address: string): string {
  if (!address.includes(':')) return address;
  const w = ipWords(address);
  return w ? wordsText(w) : address;
}

/** The 4 words (host order) of an address, IPv4 as IPv4-mapped; undefined for what is not an IP literal (a zone
 *  index included: the server's peers have none). */
export function ipWords(address: string, out = new Uint32Array(4)): Uint32Array | undefined {
  if (net.isIPv4(address)) {
    out[0] = 0; out[1] = 0; out[2] = 0xffff; out[3] = ipv4Number(address);
    return out;
  }
  if (!net.isIPv6(address) || address.includes('%')) return undefined;
  let text = address.toLowerCase();
  if (text.includes('.')) {
    // A dotted IPv4 tail is two groups.
    const at = text.lastIndexOf(':') + 1;
    const v4 = ipv4Number(text.slice(at));
    text = `${text.slice(0, at)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  const parse = (h: string): number[] => (h === '' ? [] : h.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = halves.length === 2 ? [...head, ...Array<number>(8 - head.length - rest.length).fill(0), ...rest] : head;
  if (groups.length !== 8) return undefined;
  for (let i = 0; i < 4; i++) out[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return out;
}

export const isIpv4Mapped = (w: ArrayLike<number>): boolean => w[0] === 0 && w[1] === 0 && w[2] === 0xffff;

/** The text of 4 address words: IPv4-mapped as dotted IPv4, anything else as canonical IPv6. */
export function wordsText(w: ArrayLike<number>): string {
  if (isIpv4Mapped(w)) { const v = w[3]!; return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`; }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i]! >>> 16, w[i]! & 0xffff);
  // The longest run of two or more zero groups (the first of equal runs) becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** An IPv4 address (on a dual-stack socket) in the form the socket sends to. */
export function socketAddress(address: string, family: 4 | 6): string | undefined {
  if (net.isIPv4(address)) return family === 6 ? `::ffff:${address}` : address;
  return family === 6 && net.isIPv6(address) ? address : undefined;
}

/** `address:port` for logs and status, as OpenVPN 2.7 prints peers: IPv4 bare, IPv6 in brackets. */
export function addressPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function ipv4Number(a: string): number {
  const p = a.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}
