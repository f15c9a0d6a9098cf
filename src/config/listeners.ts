// The sockets a server listens on, from proto, port/lport, local and bind, as OpenVPN reads them:
// - proto NAME (2.6 link-options.rst, socket.c proto_names): udp, tcp-server and tcp (a server's tcp is tcp-server)
//   take either family; udp4, tcp4-server, tcp4 IPv4 only; udp6, tcp6-server, tcp6 IPv6 only. nanovpn lets
//   several proto lines accumulate (one socket each).
// - Where a socket binds (2.6.14 verified): without local, IPv4 0.0.0.0, except for an IPv6-only proto, which binds
//   ::. An IPv6 socket is dual-stack (IPV6_V6ONLY off: IPv4 clients arrive as IPv4-mapped addresses) unless
//   `bind ipv6only`. local HOST binds the host's first address of the proto's family.
// - local ADDR [PORT [PROTO]] (2.7's multi-socket, link-options.rst of 2.7): each line is a socket of its own; a
//   line without PORT takes port/lport, one without PROTO the proto lines' (nanovpn: one socket per proto line);
//   '*' is no address. 2.7 allows several only in server mode: static-key mode takes one.
import { isIP } from 'node:net';
import type { AddressFamily, Listener, Proto } from './types.js';

export interface ProtoName { proto: Proto; family: AddressFamily }

/** A server's proto NAME (case-insensitive, as OpenVPN), or why not. */
export function parseProtoName(text: string): ProtoName | { error: string } {
  const p = text.toLowerCase();
  const m = /^(udp|tcp)([46]?)(-server)?$/.exec(p);
  if (m && !(m[1] === 'udp' && m[3])) {
    return { proto: m[1] as Proto, family: m[2] === '4' ? 'inet' : m[2] === '6' ? 'inet6' : 'any' };
  }
  if (/^tcp[46]?-client$/.test(p)) return { error: `proto '${text}' is for clients; a server uses tcp-server (or udp)` };
  return { error: `unknown protocol '${text}' (use udp, udp4, udp6, tcp-server, tcp4-server or tcp6-server)` };
}

/** One `local` line as read: undefined parts fall back to port and the proto lines. */
export interface LocalLine { host?: string; port?: number; proto?: ProtoName; line: number }

export interface ListenerInput {
  protos: readonly ProtoName[];
  port: number;
  locals: readonly LocalLine[];
  /** Static-key mode: one peer, one local line (2.7: several only in server mode). */
  pointToPoint: boolean;
}

/** The listeners, or an error with its line. */
export function settleListeners(i: ListenerInput): Listener[] | { error: string; line?: number } {
  const protos = i.protos.length > 0 ? i.protos : [{ proto: 'udp', family: 'any' } as const];
  if (i.pointToPoint && i.locals.length > 1) {
    const error = "several 'local' lines open one socket each, which only a TLS server serves (static-key mode has one peer): keep one";
    return { error, line: i.locals[1]!.line };
  }
  const out: (Listener & { line?: number })[] = [];
  if (i.locals.length === 0) for (const p of protos) out.push({ proto: p.proto, family: p.family, port: i.port });
  for (const l of i.locals) {
    for (const p of l.proto ? [l.proto] : protos) {
      const family = literalFamily(l.host);
      if (family && p.family !== 'any' && family !== p.family) {
        const v = p.family === 'inet' ? '4' : '6';
        return { error: `local ${l.host}: not an IPv${v} address, as proto ${p.proto}${v} needs`, line: l.line };
      }
      const host = l.host !== undefined ? { host: l.host } : {};
      out.push({ proto: p.proto, family: family ?? p.family, ...host, port: l.port ?? i.port, line: l.line });
    }
  }
  for (let a = 0; a < out.length; a++) {
    for (let b = 0; b < a; b++) {
      const x = out[a]!, y = out[b]!;
      if (x.proto === y.proto && x.port === y.port && x.host === y.host && x.family === y.family) {
        return { error: `${x.proto} ${x.host ?? 'on all addresses'} port ${x.port} is listed twice`, line: x.line };
      }
    }
  }
  return out.map(({ line: _line, ...l }) => l);
}

function literalFamily(host: string | undefined): AddressFamily | undefined {
  const f = host === undefined ? 0 : isIP(host);
  return f === 4 ? 'inet' : f === 6 ? 'inet6' : undefined;
}
