// Status file: OpenVPN 2.6 status-version 2/3 and version 1 text, the snapshot behind it, and the periodic writer.
process.env.TZ = 'UTC';
import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setLogSink, setVerb } from '../../src/log.js';
import { type ObservedConn, type ObservedServer, type Snapshot, snapshot, timeString, TITLE, clientIdOf } from '../../src/server/observe.js';
import { formatStatusV1, formatStatusV2, startStatusFile } from '../../src/server/status-file.js';

// 2026-01-02 03:04:05 UTC
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

type FakeConnFields = Partial<{ cn: string; remote: string; ip: number; peerId: number; connectedAt: number; established: boolean;
  closed: boolean; bytesIn: number; bytesOut: number; lastReceived: number; cipher: string }>;
function fakeConn(o: FakeConnFields = {}): ObservedConn & { killedWith: string[] } {
  const killedWith: string[] = [];
  return {
    cn: o.cn ?? 'client1', remote: o.remote ?? '198.19.1.2:50000', proto: 'udp', ip: o.ip ?? 0x0a080002,
    peerId: o.peerId ?? 0, connectedAt: o.connectedAt ?? T0,
    session: {
      established: o.established ?? true, closed: o.closed ?? false,
      stats: { bytesIn: o.bytesIn ?? 100, bytesOut: o.bytesOut ?? 200, packetsIn: 1, packetsOut: 2, renegotiations: 0 },
      negotiated: { cipher: o.cipher ?? 'AES-256-GCM' }, lastReceived: o.lastReceived ?? 0,
    },
    kill(m: string) { killedWith.push(m); },
    killedWith,
  };
}

function fakeServer(conns: ObservedConn[]): ObservedServer {
  return {
    conns, stats: { handshakesOk: conns.length, handshakesFailed: {}, renegotiations: 0 }, pool: { size: 253, inUse: conns.length },
    uplinkStats: () => undefined,
  };
}

test('timeString is OpenVPN 2.6 local time "YYYY-MM-DD HH:MM:SS"', () => {
  assert.equal(timeString(T0 / 1000), '2026-01-02 03:04:05');
  assert.equal(timeString(0), '1970-01-01 00:00:00');
});

test('status v2: the exact OpenVPN 2.6 lines for one client', () => {
  const snap: Snapshot = {
    time: T0 / 1000 + 10,
    clients: [{
      conn: fakeConn(), cn: 'client1', realAddress: '198.19.1.2:57664', vip: '10.8.0.2', bytesIn: 2327, bytesOut: 2369,
      packetsIn: 5, packetsOut: 6, connectedSince: T0 / 1000, lastRef: T0 / 1000 + 1, username: 'UNDEF', clientId: 0, peerId: 0,
      cipher: 'AES-256-GCM',
    }],
  };
  assert.equal(formatStatusV2(snap), [
    `TITLE,${TITLE}`,
    `TIME,2026-01-02 03:04:15,${T0 / 1000 + 10}`,
    'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
    `CLIENT_LIST,client1,198.19.1.2:57664,10.8.0.2,,2327,2369,2026-01-02 03:04:05,${T0 / 1000},UNDEF,0,0,AES-256-GCM`,
    'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)',
    `ROUTING_TABLE,10.8.0.2,client1,198.19.1.2:57664,2026-01-02 03:04:06,${T0 / 1000 + 1}`,
    'GLOBAL_STATS,Max bcast/mcast queue length,0',
    'GLOBAL_STATS,dco_enabled,0',
    'END',
    '',
  ].join('\n'));
});

test('status v2 with an IPv6 address: the Virtual IPv6 Address column and a routing table row for it', () => {
  const snap: Snapshot = {
    time: T0 / 1000 + 10,
    clients: [{
      conn: fakeConn(), cn: 'client1', realAddress: '198.19.1.2:57664', vip: '10.8.0.2', vip6: 'fd00:8::1000', bytesIn: 1, bytesOut: 2,
      packetsIn: 5, packetsOut: 6, connectedSince: T0 / 1000, lastRef: T0 / 1000 + 1, username: 'UNDEF', clientId: 0, peerId: 0,
      cipher: 'AES-256-GCM',
    }],
  };
  const lines = formatStatusV2(snap).split('\n');
  assert.ok(lines.includes(`CLIENT_LIST,client1,198.19.1.2:57664,10.8.0.2,fd00:8::1000,1,2,2026-01-02 03:04:05,${T0 / 1000},UNDEF,0,0,AES-256-GCM`));
  assert.ok(lines.includes(`ROUTING_TABLE,fd00:8::1000,client1,198.19.1.2:57664,2026-01-02 03:04:06,${T0 / 1000 + 1}`));
});

test('status v2 with no clients keeps both headers and END', () => {
  const lines = formatStatusV2({ time: 0, clients: [] }).split('\n');
  assert.deepEqual(lines.map((l) => l.split(',').slice(0, 2).join(',')), [
    `TITLE,${TITLE}`, 'TIME,1970-01-01 00:00:00', 'HEADER,CLIENT_LIST', 'HEADER,ROUTING_TABLE',
    'GLOBAL_STATS,Max bcast/mcast queue length', 'GLOBAL_STATS,dco_enabled', 'END', '',
  ]);
});

test('status v3 separates with tabs; a separator or line break inside a field cannot forge a column or line', () => {
  const conn = fakeConn({ cn: 'evil,cn\tx\nCLIENT_LIST' });
  const snap = snapshot(fakeServer([conn]), T0, 0);
  const v2 = formatStatusV2(snap).split('\n');
  const row2 = v2.find((l) => l.startsWith('CLIENT_LIST,'))!;
  assert.equal(row2.split(',').length, 13);
  assert.equal(row2.split(',')[1], 'evil_cn\tx_CLIENT_LIST');
  assert.equal(v2.filter((l) => l.startsWith('CLIENT_LIST')).length, 1);
  const v3 = formatStatusV2(snap, '\t').split('\n');
  const row3 = v3.find((l) => l.startsWith('CLIENT_LIST\t'))!;
  assert.equal(row3.split('\t').length, 13);
  assert.equal(row3.split('\t')[1], 'evil,cn_x_CLIENT_LIST');
  assert.equal(v3[0], `TITLE\t${TITLE}`);
});

test('status v1: OpenVPN CLIENT LIST / ROUTING TABLE / GLOBAL STATS layout', () => {
  const snap = snapshot(fakeServer([fakeConn({ bytesIn: 7, bytesOut: 9 })]), T0, 0);
  assert.deepEqual(formatStatusV1(snap).split('\n'), [
    'OpenVPN CLIENT LIST',
    'Updated,2026-01-02 03:04:05',
    'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since',
    'client1,198.19.1.2:50000,7,9,2026-01-02 03:04:05',
    'ROUTING TABLE',
    'Virtual Address,Common Name,Real Address,Last Ref',
    '10.8.0.2,client1,198.19.1.2:50000,2026-01-02 03:04:05',
    'GLOBAL STATS',
    'Max bcast/mcast queue length,0',
    'END',
    '',
  ]);
});

test('status v1/v2: a client\'s iroute subnets follow its address in the routing table as NETWORK/BITS (OpenVPN 2.6)', () => {
  const conn = { ...fakeConn(), iroutes: [{ network: 0xc0a86400, netmask: 0xffffff00 }, { network: 0xc0a86505, netmask: 0xffffffff }] };
  const snap = snapshot(fakeServer([conn]), T0, 0);
  assert.deepEqual(formatStatusV2(snap).split('\n').filter((l) => l.startsWith('ROUTING_TABLE,')).map((l) => l.split(',').slice(1, 3).join(',')),
    ['10.8.0.2,client1', '192.168.100.0/24,client1', '192.168.101.5/32,client1']);
  const v1 = formatStatusV1(snap).split('\n');
  assert.deepEqual(v1.slice(v1.indexOf('ROUTING TABLE') + 2, v1.indexOf('GLOBAL STATS')).map((l) => l.split(',')[0]),
    ['10.8.0.2', '192.168.100.0/24', '192.168.101.5/32']);
});

test('snapshot: only established, open sessions, oldest first; last ref from the monotonic clock', () => {
  const a = fakeConn({ cn: 'a', connectedAt: T0 + 5000, lastReceived: 99_000 });
  const b = fakeConn({ cn: 'b', connectedAt: T0, ip: 0x0a080003, peerId: 7, cipher: 'CHACHA20-POLY1305', lastReceived: 30_000 });
  const handshaking = fakeConn({ cn: 'h', established: false });
  const gone = fakeConn({ cn: 'g', closed: true });
  // Wall clock T0 + 60 s is monotonic 100 s: 'a' was last heard at monotonic 99 s, i.e. T0 + 59 s.
  const snap = snapshot(fakeServer([a, handshaking, b, gone]), T0 + 60_000, 100_000);
  assert.deepEqual(snap.clients.map((c) => c.cn), ['b', 'a']);
  assert.equal(snap.time, T0 / 1000 + 60);
  const [cb, ca] = snap.clients;
  assert.equal(ca!.lastRef, T0 / 1000 + 59);
  assert.equal(cb!.vip, '10.8.0.3');
  assert.equal(cb!.peerId, 7);
  assert.equal(cb!.cipher, 'CHACHA20-POLY1305');
  assert.equal(cb!.connectedSince, T0 / 1000);
  // 'b' was last heard at T0 - 10 s (its handshake packets): last ref never precedes the connection.
  assert.equal(cb!.lastRef, T0 / 1000);
  // Client ids are stable per connection and distinct.
  assert.equal(clientIdOf(a), ca!.clientId);
  assert.notEqual(ca!.clientId, cb!.clientId);
  assert.equal(snapshot(fakeServer([a]), T0, 0).clients[0]!.clientId, ca!.clientId);
});

function captureLogs(): string[] {
  const lines: string[] = [];
  setVerb(3);
  setLogSink((l) => lines.push(l));
  return lines;
}

test('startStatusFile writes the status-version it is given: 1, 2 (the default here) or 3', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-status-'));
  try {
    const conns: ObservedConn[] = [fakeConn({ cn: 'alice' })];
    for (const [version, re] of [[1, /^OpenVPN CLIENT LIST\nUpdated,/], [2, /^TITLE,/], [3, /^TITLE\t.*\nTIME\t.*\nHEADER\tCLIENT_LIST\t/]] as const) {
      const path = join(dir, `v${version}.log`);
      const st = startStatusFile(fakeServer(conns), { path, seconds: 3600, version });
      await st.close();
      assert.match(readFileSync(path, 'utf8'), re, `version ${version}`);
      assert.match(readFileSync(path, 'utf8'), /alice/);
    }
  } finally {
    setLogSink((l) => process.stdout.write(l + '\n'));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startStatusFile writes at once, atomically (no temp files left), and once more on close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-status-'));
  const logs = captureLogs();
  try {
    const conns: ObservedConn[] = [fakeConn({ cn: 'first' })];
    const path = join(dir, 'status.log');
    const st = startStatusFile(fakeServer(conns), { path, seconds: 3600 });
    await st.write();
    const first = readFileSync(path, 'utf8');
    assert.match(first, /^TITLE,/);
    assert.match(first, /\nCLIENT_LIST,first,/);
    assert.match(first, /\nEND\n$/);
    conns.length = 0;
    conns.push(fakeConn({ cn: 'second' }));
    await st.close();
    const last = readFileSync(path, 'utf8');
    assert.match(last, /\nCLIENT_LIST,second,/);
    assert.doesNotMatch(last, /first/);
    assert.deepEqual(readdirSync(dir), ['status.log']);
    assert.equal(logs.filter((l) => / WARN /.test(l)).length, 0);
  } finally {
    setLogSink((l) => process.stdout.write(l + '\n'));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing status file logs one warning per run of failures and never throws; recovery is logged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-status-'));
  const logs = captureLogs();
  try {
    const sub = join(dir, 'not-yet');
    const path = join(sub, 'status.log');
    const st = startStatusFile(fakeServer([fakeConn()]), { path, seconds: 3600 });
    await st.write();
    await st.write();
    await st.write();
    const warns = logs.filter((l) => / WARN status file/.test(l));
    assert.equal(warns.length, 1, logs.join('\n'));
    assert.ok(warns[0]!.includes(path));
    mkdirSync(sub);
    await st.write();
    assert.ok(existsSync(path));
    assert.ok(logs.some((l) => / INFO status file: writing again/.test(l)));
    // A read-only directory fails again: one new warning.
    if (process.getuid?.() !== 0) {
      chmodSync(sub, 0o500);
      await st.write();
      await st.write();
      assert.equal(logs.filter((l) => / WARN status file/.test(l)).length, 2);
      chmodSync(sub, 0o700);
    }
    await st.close();
  } finally {
    setLogSink((l) => process.stdout.write(l + '\n'));
    rmSync(dir, { recursive: true, force: true });
  }
});
