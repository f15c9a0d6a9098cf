// Opens the server's sockets from its listeners (config/listeners.ts), for the TLS server and the static-key server
// alike: each UDP listener a UdpPort, each TCP listener a net.Server. A host name is resolved here, once, to its
// first address of the listener's family (OpenVPN's getaddrinfo); no address means 0.0.0.0, or :: for an
// IPv6-only proto. IPv6 sockets are dual-stack unless ipv6Only. One socket that cannot open closes those already
// open and fails the start with an error that names it.
import * as dns from 'node:dns/promises';
import * as net from 'node:net';
import type { Listener } from '../config/types.js';
import type { PeerAddr } from '../core/transport/udp-endpoint.js';
import { listen } from '../io/listen.js';
import { openUdpPort, type UdpPort, type UdpPortOptions } from '../io/udp-port.js';
import { log } from '../log.js';

export interface SocketOptions {
  ipv6Only: boolean;
  udp: Pick<UdpPortOptions, 'bufBytes' | 'maxDatagram' | 'mode' | 'now'> & {
    /** As UdpPortOptions.onDatagram, with the socket it came in on (replies leave through it). */
    onDatagram: (msg: Buffer, from: PeerAddr, now: number, via: UdpPort) => void;
  };
  tcp: { maxConnections: number; onConnection: (sock: net.Socket) => void };
}

export interface OpenSockets {
  readonly udp: UdpPort[];
  readonly tcp: net.Server[];
  close(): Promise<void>;
}

export async function openSockets(listeners: readonly Listener[], o: SocketOptions): Promise<OpenSockets> {
  const udp: UdpPort[] = [];
  const tcp: net.Server[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(udp.map((u) => u.close()));
    await Promise.all(tcp.map((s) => new Promise<void>((res) => s.close(() => res()))));
  };
  try {
    for (const l of listeners) {
      const host = await bindAddress(l);
      const name = `${l.proto} ${l.host !== undefined && l.host !== host ? `${l.host} (${host})` : host} port ${l.port}`;
      try {
        if (l.proto === 'udp') udp.push(await openUdp(host, l, o));
        else tcp.push(await openTcp(host, l, o));
      } catch (e) {
        throw new Error(`cannot listen on ${name}: ${(e as Error).message}`, { cause: e });
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { udp, tcp, close };
}

async function openUdp(host: string, l: Listener, o: SocketOptions): Promise<UdpPort> {
  // Datagrams arrive on a later turn of the event loop than the one that opens the socket.
  const ref: { port?: UdpPort } = {};
  const { port, fallback } = await openUdpPort({
    ...o.udp, host, port: l.port, ipv6Only: o.ipv6Only,
    onDatagram: (msg, from, t) => { if (ref.port) o.udp.onDatagram(msg, from, t, ref.port); },
    onError: (e) => log('error', 'UDP socket error', { error: e.message }),
  });
  ref.port = port;
  if (fallback) log('info', 'udp-socket: the native addon is not available, using node:dgram', { reason: fallback });
  log('notice', 'listening', { proto: 'udp', address: host, port: port.port, link: linkName('udp', port.family, o), socket: port.kind });
  return port;
}

async function openTcp(host: string, l: Listener, o: SocketOptions): Promise<net.Server> {
  const srv = net.createServer({ noDelay: true }, o.tcp.onConnection);
  srv.maxConnections = o.tcp.maxConnections;
  await listen(srv, l.port, host, o.ipv6Only);
  srv.on('error', (e) => log('error', 'TCP listener error', { error: e.message }));
  const family = net.isIPv6(host) ? 6 : 4;
  log('notice', 'listening', { proto: 'tcp', address: host, port: l.port, link: linkName('tcp', family, o) });
  return srv;
}

/** The literal to bind: the listener's address, its host name's first address of its family, or the wildcard. */
export async function bindAddress(l: Listener): Promise<string> {
  if (l.host === undefined) return l.family === 'inet6' ? '::' : '0.0.0.0';
  if (net.isIP(l.host)) return l.host;
  const family = l.family === 'inet' ? 4 : l.family === 'inet6' ? 6 : 0;
  try {
    return (await dns.lookup(l.host, { family })).address;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`local ${l.host}: cannot resolve it${family ? ` to an IPv${family} address` : ''} (${err.code ?? err.message})`, { cause: e });
  }
}

/** As OpenVPN names its link (UDPv4, UDPv6, TCPv4_SERVER, TCPv6_SERVER), and whether IPv4 clients reach it. */
const linkName = (proto: 'udp' | 'tcp', family: 4 | 6, o: SocketOptions): string =>
  `${proto.toUpperCase()}v${family}${proto === 'tcp' ? '_SERVER' : ''}${family === 6 ? (o.ipv6Only ? '(ipv6only)' : '(dual-stack)') : ''}`;
