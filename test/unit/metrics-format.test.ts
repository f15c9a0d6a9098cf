// /metrics: Prometheus text format 0.0.4 (escaping, layout), the collected families, and the HTTP endpoint.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { setLogSink, setVerb } from '../../src/log.js';
import type { NatStats } from '../../src/core/uplink/nat/counters.js';
import { collect, CONTENT_TYPE, escapeHelp, escapeLabel, formatFamilies, formatValue, startMetrics } from '../../src/server/metrics.js';
import type { ObservedConn, ObservedServer } from '../../src/server/observe.js';

setVerb(3);
const logs: string[] = [];
setLogSink((l) => logs.push(l));

function fakeConn(cn: string,
  o: { bytesIn?: number; bytesOut?: number; established?: boolean; renegotiations?: number } = {}): ObservedConn {
  return {
    cn, remote: '198.19.1.2:1', proto: 'udp', ip: 0x0a080002, peerId: 0, connectedAt: 0,
    session: {
      established: o.established ?? true, closed: false, lastReceived: 0,
      stats: { bytesIn: o.bytesIn ?? 0, bytesOut: o.bytesOut ?? 0, packetsIn: 1, packetsOut: 2, renegotiations: o.renegotiations ?? 0 },
    },
    kill() {},
  };
}

const NAT: NatStats = {
  flowsOpen: 3, flowsCreated: 10, flowsEvicted: 1, flowsExpired: 4, flowsClosed: 2, packetsOut: 50, bytesOut: 5000,
  packetsIn: 40, bytesIn: 4000, tcpFlows: 2, udpFlows: 1, drops: { 'tcp: beyond window': 3, checksum: 2 }, tcpRetransmits: { timeout: 6, fast: 9, probe: 4 },
  tcpSpurious: { dsack: 1, timestamp: 2 }, tcpEcn: { negotiated: 5, ce: 7, ece: 8 },
};

function fakeServer(conns: ObservedConn[], nat?: NatStats): ObservedServer {
  return {
    conns, stats: { handshakesOk: 5, handshakesFailed: { 'tls-error': 2, 'auth-failed': 1 }, renegotiations: 7 },
    pool: { size: 253, inUse: 2 }, uplinkStats: () => nat,
    udpDropCounts: () => ({ 'missing or stale cookie': 4, 'reset replies over budget': 9 }),
  };
}

/** Every sample line as "name{labels}" -> value. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

test('label values escape backslash, double quote and line feed; HELP escapes backslash and line feed', () => {
  assert.equal(escapeLabel('plain'), 'plain');
  assert.equal(escapeLabel('a"b'), 'a\\"b');
  assert.equal(escapeLabel('a\\b'), 'a\\\\b');
  assert.equal(escapeLabel('a\nb'), 'a\\nb');
  assert.equal(escapeLabel('\\"\n'), '\\\\\\"\\n');
  assert.equal(escapeLabel('ünïcode,{}='), 'ünïcode,{}=');
  assert.equal(escapeHelp('say "hi"\\\n'), 'say "hi"\\\\\\n');
  assert.equal(formatValue(NaN), 'NaN');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  assert.equal(formatValue(12), '12');
});

test('formatFamilies: HELP and TYPE once per family, then its samples', () => {
  const text = formatFamilies([
    { name: 'x_total', help: 'Things.', type: 'counter', samples: [[{ a: 'q"', b: 'n\n' }, 1], [{}, 2]] },
    { name: 'y', help: 'Y.', type: 'gauge', samples: [] },
  ]);
  assert.equal(text, [
    '# HELP x_total Things.', '# TYPE x_total counter', 'x_total{a="q\\"",b="n\\n"} 1', 'x_total 2',
    '# HELP y Y.', '# TYPE y gauge', '',
  ].join('\n'));
});

test('collect: sessions, handshakes, per-CN bytes/packets (summed across sessions), renegotiations, pool, NAT, memory', () => {
  const conns = [
    fakeConn('client1', { bytesIn: 100, bytesOut: 200, renegotiations: 1 }),
    fakeConn('client1', { bytesIn: 1, bytesOut: 2 }),
    fakeConn('we"ird\\cn\n', { bytesIn: 9, bytesOut: 8 }),
    fakeConn('handshaking', { established: false, bytesIn: 1 }),
  ];
  const text = formatFamilies(collect(fakeServer(conns, NAT), { rss: 123456 }));
  const s = samples(text);
  assert.equal(s.get('nanovpn_sessions'), 3);
  assert.equal(s.get('nanovpn_handshakes_total{result="ok"}'), 5);
  assert.equal(s.get('nanovpn_handshakes_total{result="failed",reason="tls-error"}'), 2);
  assert.equal(s.get('nanovpn_handshakes_total{result="failed",reason="auth-failed"}'), 1);
  assert.equal(s.get('nanovpn_client_bytes_total{cn="client1",direction="in"}'), 101);
  assert.equal(s.get('nanovpn_client_bytes_total{cn="client1",direction="out"}'), 202);
  assert.equal(s.get('nanovpn_client_bytes_total{cn="we\\"ird\\\\cn\\n",direction="in"}'), 9);
  assert.equal(s.get('nanovpn_client_packets_total{cn="client1",direction="in"}'), 2);
  assert.equal(s.get('nanovpn_client_packets_total{cn="client1",direction="out"}'), 4);
  assert.equal([...s.keys()].filter((k) => k.includes('handshaking')).length, 0);
  assert.equal(s.get('nanovpn_renegotiations_total'), 8);   // 7 from closed sessions + 1 live
  assert.equal(s.get('nanovpn_pool_addresses{state="used"}'), 2);
  assert.equal(s.get('nanovpn_pool_addresses{state="free"}'), 251);
  assert.equal(s.get('nanovpn_nat_flows_open'), 3);
  assert.equal(s.get('nanovpn_nat_flows_total{event="created"}'), 10);
  assert.equal(s.get('nanovpn_nat_flows_total{event="expired"}'), 4);
  assert.equal(s.get('nanovpn_nat_flows_total{event="evicted"}'), 1);
  assert.equal(s.get('nanovpn_nat_bytes_total{direction="out"}'), 5000);
  assert.equal(s.get('nanovpn_nat_bytes_total{direction="in"}'), 4000);
  assert.equal(s.get('nanovpn_nat_drops_total{reason="tcp: beyond window"}'), 3);
  assert.equal(s.get('nanovpn_nat_drops_total{reason="checksum"}'), 2);
  assert.equal(s.get('nanovpn_udp_drops_total{reason="missing or stale cookie"}'), 4);
  assert.equal(s.get('nanovpn_udp_drops_total{reason="reset replies over budget"}'), 9);
  assert.equal(s.get('nanovpn_nat_tcp_retransmits_total{trigger="timeout"}'), 6);
  assert.equal(s.get('nanovpn_nat_tcp_retransmits_total{trigger="fast"}'), 9);
  assert.equal(s.get('nanovpn_nat_tcp_retransmits_total{trigger="probe"}'), 4);
  assert.equal(s.get('nanovpn_nat_tcp_ecn_total{event="negotiated"}'), 5);
  assert.equal(s.get('nanovpn_nat_tcp_ecn_total{event="ce"}'), 7);
  assert.equal(s.get('nanovpn_nat_tcp_ecn_total{event="ece"}'), 8);
  assert.equal(s.get('process_resident_memory_bytes'), 123456);
  // Every family has exactly one HELP and one TYPE line, before its samples; no sample line is broken.
  const names = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(names).size, names.length);
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    assert.match(line, /^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\["\\n])*",?)*\})? -?\d+(\.\d+)?(e[+-]?\d+)?$/, line);
  }
});

test('collect without a NAT uplink (tun) or without a known RSS leaves those families out', () => {
  const text = formatFamilies(collect(fakeServer([]), { rss: 1 }));
  assert.doesNotMatch(text, /nanovpn_nat_/);
  assert.match(text, /^nanovpn_sessions 0$/m);
  assert.match(text, /^process_resident_memory_bytes 1$/m);
  assert.doesNotMatch(formatFamilies(collect(fakeServer([]), {})), /process_resident_memory_bytes/);
});

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type?: string; body: string }> {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d) => { body += d; });
      r.on('end', () => res({ status: r.statusCode!, type: r.headers['content-type'], body }));
    });
    req.on('error', rej);
    req.end();
  });
}

test('HTTP: GET /metrics is 200 with the 0.0.4 content type; other paths 404; other methods 405', async () => {
  const m = await startMetrics(fakeServer([fakeConn('client1', { bytesIn: 77 })], NAT), { host: '127.0.0.1', port: 0 });
  assert.ok(m);
  try {
    const r = await get(m.port, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.type, CONTENT_TYPE);
    assert.equal(samples(r.body).get('nanovpn_client_bytes_total{cn="client1",direction="in"}'), 77);
    assert.ok(samples(r.body).get('process_resident_memory_bytes')! > 0);
    assert.equal((await get(m.port, '/metrics?x=1')).status, 200);
    const head = await get(m.port, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await get(m.port, '/')).status, 404);
    assert.equal((await get(m.port, '/metricsx')).status, 404);
    assert.equal((await get(m.port, '/metrics', 'POST')).status, 405);
  } finally {
    await m.close();
  }
});

test('HTTP: a port already in use gives a warning and no endpoint', async () => {
  const blocker = http.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  logs.length = 0;
  try {
    assert.equal(await startMetrics(fakeServer([]), { host: '127.0.0.1', port }), undefined);
    assert.ok(logs.some((l) => / WARN metrics: cannot listen/.test(l)));
  } finally {
    await new Promise((r) => blocker.close(r));
  }
});
