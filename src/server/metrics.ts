// `metrics HOST PORT` (nanovpn extension): GET /metrics in the Prometheus text exposition format, version 0.0.4.
import { listen } from '../io/listen.js';
import * as http from 'node:http';
import { log } from '../log.js';
import { liveConns, type ObservedServer, renegotiationsTotal } from './observe.js';
import type { ForwardStats } from './port-forward.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values: backslash, double quote and line feed are escaped. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed are escaped. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export type Labels = Record<string, string>;
export interface Family { name: string; help: string; type: 'counter' | 'gauge'; samples: Array<[Labels, number]> }

export function formatFamilies(families: Family[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const [labels, value] of f.samples) {
      const ls = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      out += `${f.name}${ls ? `{${ls}}` : ''} ${formatValue(value)}\n`;
    }
  }
  return out;
}

/** Resident set size; undefined where the platform cannot tell (the metric is then left out). */
function residentBytes(): number | undefined {
  try { return process.memoryUsage.rss(); } catch { return undefined; }
}

/** Every metric, from the live server state. */
export function collect(server: ObservedServer, mem: { rss?: number } = { rss: residentBytes() }): Family[] {
  const live = liveConns(server);
  // Several sessions may share a CN (duplicate-cn): one series per CN, summed.
  const perCn = new Map<string, { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }>();
  for (const c of live) {
    const s = c.session.stats;
    const k = c.cn ?? '';
    const e = perCn.get(k) ?? { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
    e.bytesIn += s.bytesIn; e.bytesOut += s.bytesOut; e.packetsIn += s.packetsIn; e.packetsOut += s.packetsOut;
    perCn.set(k, e);
  }
  const cns = [...perCn.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const hs = server.stats;
  const nat = server.uplinkStats();
  const families: Family[] = [
    { name: 'nanovpn_sessions', help: 'Established client sessions.', type: 'gauge', samples: [[{}, live.length]] },
    {
      name: 'nanovpn_handshakes_total', help: 'Client handshakes, by result and failure reason.', type: 'counter',
      samples: [
        [{ result: 'ok' }, hs.handshakesOk],
        ...Object.entries(hs.handshakesFailed).sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([reason, n]): [Labels, number] => [{ result: 'failed', reason }, n]),
      ],
    },
    {
      name: 'nanovpn_client_bytes_total', help: 'Link bytes of connected clients (in = from the client).', type: 'counter',
      samples: cns.flatMap(([cn, s]): Array<[Labels, number]> => [[{ cn, direction: 'in' }, s.bytesIn], [{ cn, direction: 'out' }, s.bytesOut]]),
    },
    {
      name: 'nanovpn_client_packets_total', help: 'Data packets of connected clients (in = from the client).', type: 'counter',
      samples: cns.flatMap(([cn, s]): Array<[Labels, number]> => [[{ cn, direction: 'in' }, s.packetsIn], [{ cn, direction: 'out' }, s.packetsOut]]),
    },
    { name: 'nanovpn_renegotiations_total', help: 'Data channel key renegotiations.', type: 'counter', samples: [[{}, renegotiationsTotal(server)]] },
    {
      name: 'nanovpn_pool_addresses', help: 'Client addresses in the pool, by state.', type: 'gauge',
      samples: [[{ state: 'used' }, server.pool.inUse], [{ state: 'free' }, server.pool.size - server.pool.inUse]],
    },
  ];
  const udpDrops = server.udpDropCounts?.();
  if (udpDrops) {
    families.push({
      name: 'nanovpn_udp_drops_total', help: 'UDP packets dropped before any session owned them, by reason.', type: 'counter',
      samples: Object.entries(udpDrops).sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => [{ reason }, n]),
    });
  }
  if (nat) {
    families.push(
      { name: 'nanovpn_nat_flows_open', help: 'Open NAT flows.', type: 'gauge', samples: [[{}, nat.flowsOpen]] },
      {
        name: 'nanovpn_nat_flows_total', help: 'NAT flow events.', type: 'counter',
        samples: [
          [{ event: 'created' }, nat.flowsCreated], [{ event: 'expired' }, nat.flowsExpired],
          [{ event: 'evicted' }, nat.flowsEvicted], [{ event: 'closed' }, nat.flowsClosed],
        ],
      },
      {
        name: 'nanovpn_nat_bytes_total', help: 'IP bytes through the NAT (out = client to Internet).', type: 'counter',
        samples: [[{ direction: 'out' }, nat.bytesOut], [{ direction: 'in' }, nat.bytesIn]],
      },
      {
        name: 'nanovpn_nat_drops_total', help: 'Packets the NAT dropped, by reason.', type: 'counter',
        samples: Object.entries(nat.drops).sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => [{ reason }, n]),
      },
      {
        name: 'nanovpn_nat_tcp_retransmits_total', help: 'TCP segments the NAT sent again towards clients, by trigger (timeout, fast = duplicate ACKs or SACK, probe = tail loss probe).', type: 'counter',
        samples: [[{ trigger: 'timeout' }, nat.tcpRetransmits.timeout], [{ trigger: 'fast' }, nat.tcpRetransmits.fast], [{ trigger: 'probe' }, nat.tcpRetransmits.probe]],
      },
      {
        name: 'nanovpn_nat_tcp_spurious_recoveries_total', help: 'Loss recoveries of the NAT\'s TCP undone as spurious, by what showed it (dsack, timestamp).', type: 'counter',
        samples: [[{ by: 'dsack' }, nat.tcpSpurious.dsack], [{ by: 'timestamp' }, nat.tcpSpurious.timestamp]],
      },
      {
        name: 'nanovpn_nat_tcp_ecn_total', help: 'ECN on the NAT\'s TCP towards clients: connections that negotiated it, CE-marked segments received, ECE signals acted on.', type: 'counter',
        samples: [[{ event: 'negotiated' }, nat.tcpEcn.negotiated], [{ event: 'ce' }, nat.tcpEcn.ce], [{ event: 'ece' }, nat.tcpEcn.ece]],
      },
    );
  }
  const fwd = server.forwardStats?.();
  if (fwd?.length) families.push(...forwardFamilies(fwd));
  if (mem.rss !== undefined) {
    families.push({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', samples: [[{}, mem.rss]] });
  }
  return families;
}

/** forward-port: connections (UDP: flows) by result, the open ones, and payload bytes, per rule. */
function forwardFamilies(fwd: ForwardStats[]): Family[] {
  return [
    {
      name: 'nanovpn_forward_connections_total', help: 'forward-port connections (UDP: flows, one per outer source) accepted or refused, by rule.', type: 'counter',
      samples: fwd.flatMap((f): Array<[Labels, number]> => [
        [{ rule: f.rule, result: 'accepted' }, f.accepted],
        ...Object.entries(f.refused).map(([reason, n]): [Labels, number] => [{ rule: f.rule, result: 'refused', reason }, n]),
      ]),
    },
    {
      name: 'nanovpn_forward_active', help: 'Open forward-port connections (UDP: flows), by rule.', type: 'gauge',
      samples: fwd.map((f): [Labels, number] => [{ rule: f.rule }, f.active]),
    },
    {
      name: 'nanovpn_forward_bytes_total', help: 'forward-port payload bytes (in = from the outer peer to the client), by rule.', type: 'counter',
      samples: fwd.flatMap((f): Array<[Labels, number]> => [[{ rule: f.rule, direction: 'in' }, f.bytesIn], [{ rule: f.rule, direction: 'out' }, f.bytesOut]]),
    },
  ];
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves /metrics; resolves undefined (after a warning) when the address cannot be bound. */
export async function startMetrics(server: ObservedServer, o: { host: string; port: number }): Promise<MetricsServer | undefined> {
  const srv = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n'); return; }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = formatFamilies(collect(server));
    } catch (e) {
      log('error', 'metrics: collection failed', { error: (e as Error).message });
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  srv.headersTimeout = 10_000;
  srv.requestTimeout = 10_000;
  srv.keepAliveTimeout = 5_000;
  try {
    await listen(srv, o.port, o.host);
  } catch (e) {
    log('warn', 'metrics: cannot listen, continuing without it', { address: o.host, port: o.port, error: (e as Error).message });
    return undefined;
  }
  srv.on('error', (e) => log('error', 'metrics: listener error', { error: e.message }));
  const port = (srv.address() as { port: number }).port;
  log('info', 'metrics endpoint listening', { address: o.host, port, path: '/metrics' });
  return {
    port,
    close: () => new Promise<void>((res) => { srv.close(() => res()); srv.closeAllConnections(); }),
  };
}
