// One read-only snapshot of the server for the status file, the management interface and /metrics.
// The writers that format it (status-file.ts, metrics.ts) are pure functions of the snapshot.
import type { NatStats } from '../core/uplink/nat/counters.js';
import { maskPrefix } from '../config/ipv4-text.js';
import { ipToString } from '../core/wire/ipv4.js';
import type { ForwardStats } from './port-forward.js';
import { formatIpv6 } from '../core/wire/ipv6.js';

export const TITLE = 'nanovpn 0.1.0 (OpenVPN 2.6 compatible)';

interface SessionStats { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number; renegotiations: number }

/** What observation needs from a Conn (a Conn satisfies it; unit tests pass plain objects). */
export interface ObservedConn {
  readonly cn: string | undefined;
  readonly remote: string;
  readonly proto: 'udp' | 'tcp';
  readonly ip: number;
  readonly ip6?: Buffer;
  readonly peerId?: number;
  readonly username?: string;
  readonly connectedAt?: number;          // ms since the epoch
  /** Subnets behind the client (iroute): OpenVPN lists each in the routing table. */
  readonly iroutes?: readonly { readonly network: number; readonly netmask: number }[];
  readonly session: {
    readonly established: boolean;
    readonly closed: boolean;
    readonly stats: SessionStats;
    readonly negotiated?: { readonly cipher: string };
    readonly lastReceived: number;        // monotonic ms (performance.now())
  };
  kill(message: string): void;
}

/** What observation needs from a VpnServer. */
export interface ObservedServer {
  readonly conns: Iterable<ObservedConn>;
  readonly stats: { handshakesOk: number; handshakesFailed: Record<string, number>; renegotiations: number };
  readonly pool: { readonly size: number; readonly inUse: number };
  uplinkStats(): NatStats | undefined;
  /** UDP packets dropped before any session owned them (forged, garbage, over budget), by reason. */
  udpDropCounts?(): Record<string, number>;
  /** `status-version`: what the management `status` command without a version prints (as in 2.6; default 1). */
  readonly cfg?: { readonly statusVersion?: 1 | 2 | 3 };
  /** Socket-level state for the management `io-state` command (VpnServer.ioState). */
  ioState?(): Record<string, unknown>;
  /** forward-port counters, one entry per rule. */
  forwardStats?(): ForwardStats[];
}

export interface ClientInfo {
  conn: ObservedConn;
  cn: string;
  realAddress: string;
  vip: string;
  /** The client's iroute subnets as OpenVPN prints them, "NETWORK/BITS". */
  iroutes?: string[];
  /** The IPv6 address, '' when it has none. */
  vip6?: string;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  connectedSince: number;                 // seconds since the epoch
  lastRef: number;                        // seconds since the epoch
  username: string;
  clientId: number;
  peerId: number;
  cipher: string;
}

export interface Snapshot {
  time: number;                           // seconds since the epoch
  clients: ClientInfo[];
}

// OpenVPN's management client id: assigned once per connection, never reused.
const clientIds = new WeakMap<ObservedConn, number>();
let nextClientId = 0;

export function clientIdOf(c: ObservedConn): number {
  let id = clientIds.get(c);
  if (id === undefined) { id = nextClientId++; clientIds.set(c, id); }
  return id;
}

/** The client's address as OpenVPN prints it: an IPv4-mapped IPv6 address (dual-stack listener) shown as IPv4. */
export function realAddress(c: ObservedConn): string {
  return c.remote.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+:\d+)$/i, '$1');
}

/** Connections that finished their handshake and are still up, oldest first. */
export function liveConns(server: ObservedServer): ObservedConn[] {
  const out: ObservedConn[] = [];
  for (const c of server.conns) if (c.session.established && !c.session.closed) out.push(c);
  return out.sort((a, b) => (a.connectedAt ?? 0) - (b.connectedAt ?? 0));
}

/** `wallMs` is Date.now(), `monoMs` performance.now(): session timestamps are monotonic. */
export function snapshot(server: ObservedServer, wallMs: number, monoMs: number): Snapshot {
  const clients = liveConns(server).map((conn): ClientInfo => {
    const s = conn.session.stats;
    const since = Math.floor((conn.connectedAt ?? wallMs) / 1000);
    return {
      conn,
      cn: conn.cn ?? 'UNDEF',
      realAddress: realAddress(conn),
      vip: conn.ip ? ipToString(conn.ip) : '',
      iroutes: (conn.iroutes ?? []).map((r) => `${ipToString(r.network)}/${maskPrefix(r.netmask) ?? 32}`),
      vip6: conn.ip6 ? formatIpv6(conn.ip6) : '',
      bytesIn: s.bytesIn, bytesOut: s.bytesOut, packetsIn: s.packetsIn, packetsOut: s.packetsOut,
      connectedSince: since,
      lastRef: Math.max(since, Math.floor((wallMs - (monoMs - conn.session.lastReceived)) / 1000)),
      username: conn.username ?? 'UNDEF',
      clientId: clientIdOf(conn),
      peerId: conn.peerId ?? 0xffffffff,
      cipher: conn.session.negotiated?.cipher ?? 'none',
    };
  });
  return { time: Math.floor(wallMs / 1000), clients };
}

/** Renegotiations of closed sessions (kept by the server) plus those of live ones. */
export function renegotiationsTotal(server: ObservedServer): number {
  let n = server.stats.renegotiations;
  for (const c of server.conns) if (!c.session.closed) n += c.session.stats.renegotiations;
  return n;
}

/** OpenVPN 2.6's time_string(): local time as "YYYY-MM-DD HH:MM:SS". */
export function timeString(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
