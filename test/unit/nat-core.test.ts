// The sans-IO Nat (core/uplink/nat/nat.ts) over the in-memory NatSockets double, on an explicit clock: the NAT's
// policy (RST for no flow, refused destinations, TTL per TCP state, the UDP filter, UDP reply fragmentation, held
// ACKs at the end of a batch, counters, quotas, one deadline for every timer) without a socket or a timer.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Nat, type NatOptions } from '../../src/core/uplink/nat/nat.js';
import { Reassembler } from '../../src/core/uplink/nat/reassembly.js';
import { ipFromString, ipv4Dst, ipv4Payload, ipv4Src, PROTO_UDP } from '../../src/core/wire/ipv4.js';
import { buildTcpPacket, EMPTY, parseTcpInIpv4, type TcpRepr } from '../../src/core/wire/tcp.js';
import { buildUdpPacket, parseUdp } from '../../src/core/wire/udp.js';
import { MemorySockets, type MemTcpSock, type MemUdpSock } from '../helpers/sim/memory-sockets.js';

const CLIENT = ipFromString('10.8.0.2');
const OTHER_CLIENT = ipFromString('10.8.0.3');
const SERVER = ipFromString('192.0.2.10');
const MSS = 1400;

interface Rig { nat: Nat<MemTcpSock, MemUdpSock>; mem: MemorySockets; out: Buffer[] }

function rig(opts: NatOptions = {}): Rig {
  const mem = new MemorySockets();
  const out: Buffer[] = [];
  let r = 12345;
  const nat = new Nat<MemTcpSock, MemUdpSock>(opts, {
    sockets: mem, deliver: (p) => out.push(p), random: () => (r = (Math.imul(r, 69069) + 1) >>> 0),
  });
  return { nat, mem, out };
}

/** Every TCP segment delivered so far (checksums verified), and the list emptied. */
function takeTcp(out: Buffer[]): TcpRepr[] {
  return out.splice(0).map((p) => {
    const r = parseTcpInIpv4(p);
    assert.ok(!('error' in r), `delivered packet must parse: ${'error' in r ? r.error : ''}`);
    return r;
  });
}

/** Runs every deadline up to `to` (and the batch each one queues), as the io layer's one timer would. */
function advance(nat: Rig['nat'], to: number): void {
  for (let i = 0, at = nat.nextDeadline(); at !== undefined && at <= to; at = nat.nextDeadline(), i++) {
    assert.ok(i < 100_000, 'deadlines do not advance');
    nat.timeout(at);
    if (nat.batchPending()) nat.endBatch(at);
  }
}

/** One client TCP connection, crafted segment by segment. */
class Conn {
  seq = 7000;
  ack = 0;
  constructor(readonly r: Rig, readonly port = 40000, readonly dst = SERVER, readonly dstPort = 80, readonly src = CLIENT) {}
  seg(now: number, over: Partial<TcpRepr> = {}): void {
    const t: TcpRepr = {
      srcPort: this.port, dstPort: this.dstPort, seq: this.seq, ack: this.ack, control: 'none', psh: false,
      window: 4096, sackPermitted: false, payload: EMPTY, ...over,
    };
    this.r.nat.fromClient(CLIENT, buildTcpPacket(this.src, this.dst, t), now);
  }
  data(now: number, n: number, fill = 0x61): void {
    this.seg(now, { payload: Buffer.alloc(n, fill) });
    this.seq = (this.seq + n) >>> 0;
  }
  get sock(): MemTcpSock { return this.r.mem.tcp.find((s) => s.flow.key.clientPort === this.port && !s.closed)!; }
  /** SYN, outbound connect, SYN-ACK, ACK: established at `now`. */
  open(now: number, syn: Partial<TcpRepr> = {}): TcpRepr {
    this.seg(now, { control: 'syn', ack: undefined, mss: MSS, wscale: 7, window: 65535, ...syn });
    this.r.nat.tcpConnected(this.sock.flow, now);
    this.r.nat.endBatch(now);
    const [synAck] = takeTcp(this.r.out);
    assert.equal(synAck?.control, 'syn');
    this.seq = (this.seq + 1) >>> 0;
    this.ack = (synAck.seq + 1) >>> 0;
    this.seg(now);
    this.r.nat.endBatch(now);
    assert.deepEqual(takeTcp(this.r.out), [], 'the ACK of the SYN-ACK needs no answer');
    return synAck;
  }
}

describe('Nat: TCP open and refusal', () => {
  test('a SYN opens a socket; the SYN-ACK waits for the connect; counters follow each packet', () => {
    const r = rig();
    const c = new Conn(r);
    c.seg(0, { control: 'syn', ack: undefined, mss: MSS, wscale: 7, window: 65535 });
    assert.deepEqual(r.mem.calls, ['tcpConnect 1']);
    assert.equal(c.sock.flow.key.dstIp, SERVER);
    assert.equal(c.sock.flow.key.dstPort, 80);
    r.nat.endBatch(0);
    assert.deepEqual(r.out, [], 'no SYN-ACK before the outbound connection is up');
    r.nat.tcpConnected(c.sock.flow, 3);
    assert.ok(r.nat.batchPending());
    r.nat.endBatch(3);
    const [synAck, ...more] = takeTcp(r.out);
    assert.deepEqual(more, []);
    assert.equal(synAck.control, 'syn');
    assert.equal(synAck.ack, 7001);
    assert.equal(synAck.mss, 1460);
    const st = r.nat.stats();
    assert.equal(st.packetsOut, 1);
    assert.equal(st.packetsIn, 1);
    assert.equal(st.flowsCreated, 1);
    assert.equal(st.tcpFlows, 1);
    assert.equal(r.nat.clientStats(CLIENT)?.flowsOpen, 1);
  });

  test('a refused connect resets the client <SEQ=0><ACK=ISN+1>; the socket is closed, not reset', () => {
    const r = rig();
    const c = new Conn(r);
    c.seg(0, { control: 'syn', ack: undefined, mss: MSS });
    const sock = c.sock;
    r.nat.tcpFailed(sock.flow, 5);
    r.nat.endBatch(5);
    const [rst] = takeTcp(r.out);
    assert.equal(rst.control, 'rst');
    assert.equal(rst.seq, 0);
    assert.equal(rst.ack, 7001);
    assert.equal(sock.closed, 'close');
    assert.equal(r.nat.size, 0);
    assert.equal(r.nat.stats().flowsClosed, 1);
  });

  test('the server failing after the connect resets both sides', () => {
    const r = rig();
    const c = new Conn(r);
    c.open(0);
    const sock = c.sock;
    r.nat.tcpFailed(sock.flow, 10);
    const [rst] = takeTcp(r.out);  // the RST goes out with the close, before the batch
    assert.equal(rst.control, 'rst');
    assert.equal(rst.seq, c.ack);
    assert.equal(sock.closed, 'reset');
    assert.equal(r.nat.size, 0);
  });

  test('a socket that closes with a direction still open resets the client; a clean close does not', () => {
    const r = rig();
    const a = new Conn(r, 40001);
    a.open(0);
    r.nat.tcpClosed(a.sock.flow, false, 5);
    assert.equal(takeTcp(r.out)[0]?.control, 'rst');
    assert.equal(r.nat.size, 0);

    const b = new Conn(r, 40002);
    b.open(10);
    const sock = b.sock;
    r.nat.tcpClosed(sock.flow, true, 15);
    assert.deepEqual(takeTcp(r.out), []);
    assert.equal(r.nat.size, 1, 'the endpoint finishes on its own');
    assert.equal(sock.closed, undefined);
  });

  test('a segment for no flow gets a RST, a RST for no flow gets nothing', () => {
    const r = rig();
    const c = new Conn(r);
    c.seg(0, { ack: 555, payload: Buffer.from('zz') });
    const [a] = takeTcp(r.out);
    assert.deepEqual([a.control, a.seq, a.ack], ['rst', 555, undefined]);
    c.seg(0, { control: 'fin', ack: undefined, payload: Buffer.from('abc') });
    const [b] = takeTcp(r.out);
    assert.deepEqual([b.control, b.seq, b.ack], ['rst', 0, 7000 + 3 + 1]);
    c.seg(0, { control: 'rst', ack: undefined });
    assert.deepEqual(r.out, []);
    assert.equal(r.nat.stats().drops['tcp-no-flow'], 3);
    assert.deepEqual(r.mem.calls, []);
  });

  test('no flow is opened to this-network, multicast or broadcast destinations', () => {
    const r = rig();
    for (const [i, d] of ['0.1.2.3', '224.0.0.5', '239.255.255.250', '255.255.255.255'].entries()) {
      new Conn(r, 41000 + i, ipFromString(d)).seg(0, { control: 'syn', ack: undefined });
      r.nat.fromClient(CLIENT, buildUdpPacket(CLIENT, ipFromString(d), { srcPort: 5000 + i, dstPort: 1900, payload: Buffer.from('M') }), 0);
    }
    assert.equal(r.nat.stats().drops['bad-destination'], 8);
    assert.deepEqual(r.mem.calls, []);
    assert.equal(r.nat.size, 0);
  });

  test('a packet whose source is not the client is dropped as spoofed', () => {
    const r = rig();
    new Conn(r, 40000, SERVER, 80, OTHER_CLIENT).seg(0, { control: 'syn', ack: undefined });
    r.nat.fromClient(CLIENT, buildUdpPacket(OTHER_CLIENT, SERVER, { srcPort: 1, dstPort: 2, payload: EMPTY }), 0);
    assert.equal(r.nat.stats().drops.spoofed, 2);
    assert.deepEqual(r.mem.calls, []);
  });

  test('a host behind the client (sourceAllowed): its flows are opened, count as the client\'s and go with it', () => {
    const LAN_HOST = 0xc0a84d0a;   // 192.168.77.10
    const r = rig({ sourceAllowed: (client, src) => client === CLIENT && src === LAN_HOST });
    r.nat.fromClient(CLIENT, buildUdpPacket(LAN_HOST, SERVER, { srcPort: 5000, dstPort: 53, payload: Buffer.from('q') }), 0);
    new Conn(r, 40000, SERVER, 80, LAN_HOST).seg(0, { control: 'syn', ack: undefined });
    assert.equal(r.nat.stats().drops.spoofed ?? 0, 0);
    assert.equal(r.nat.clientStats(CLIENT)?.flowsOpen, 2);
    assert.equal(r.nat.clientStats(LAN_HOST), undefined, 'no client of its own');
    r.nat.fromClient(CLIENT, buildUdpPacket(OTHER_CLIENT, SERVER, { srcPort: 1, dstPort: 2, payload: EMPTY }), 0);
    assert.equal(r.nat.stats().drops.spoofed, 1, 'other sources are still refused');
    r.nat.clientGone(CLIENT);
    assert.equal(r.nat.size, 0, "the host's flows went with its client");
  });

  test('a new SYN on a 4-tuple in TIME-WAIT replaces the old flow', () => {
    const r = rig();
    const c = new Conn(r);
    c.open(0);
    const first = c.sock;
    r.nat.tcpEnded(first.flow, 1);  // server FIN first
    r.nat.endBatch(1);
    const [fin] = takeTcp(r.out);
    assert.equal(fin.control, 'fin');
    c.ack = (c.ack + 1) >>> 0;
    c.seg(2, { control: 'fin' });  // ACKs their FIN and sends ours: NAT FIN-WAIT-2 → TIME-WAIT
    c.seq = (c.seq + 1) >>> 0;
    r.nat.endBatch(2);
    assert.equal(takeTcp(r.out)[0]?.ack, c.seq);
    assert.equal(first.flow.ep.state, 'timeWait');
    c.seq = (c.seq + 100_000) >>> 0;
    c.seg(3, { control: 'syn', ack: undefined, mss: MSS });
    assert.ok(first.closed, 'the TIME-WAIT flow is gone');
    assert.deepEqual(r.out, [], 'the client is not reset: its SYN-ACK waits for the new connect');
    assert.equal(r.nat.stats().flowsCreated, 2);
    assert.equal(r.nat.size, 1);
    assert.equal(r.mem.openTcp().length, 1);
  });
});

describe('Nat: batches (held ACKs and corked writes)', () => {
  test('a burst is written corked and ACKed once, in the first batch without segments', () => {
    const r = rig({ tcpQuickAcks: 0 });
    const c = new Conn(r);
    c.open(0);
    const sock = c.sock;
    r.mem.calls.length = 0;
    for (let i = 0; i < 4; i++) c.data(10, MSS);
    assert.deepEqual(r.mem.calls, ['tcpCork 1', 'tcpWrite 1 1400', 'tcpWrite 1 1400', 'tcpWrite 1 1400', 'tcpWrite 1 1400']);
    r.nat.endBatch(10);
    assert.deepEqual(r.out, [], 'the ACK waits while the burst goes on');
    assert.ok(sock.corked);
    assert.ok(r.nat.batchPending(), 'the held ACK and the cork need another batch');
    r.nat.endBatch(11);
    const acks = takeTcp(r.out);
    assert.deepEqual(acks.map((a) => a.ack), [c.seq]);
    assert.ok(!sock.corked);
    assert.equal(r.nat.batchPending(), false);
  });

  test('16 segments are ACKed in their own batch; 64 KiB written uncork in it too', () => {
    const r = rig({ tcpQuickAcks: 0 });
    const c = new Conn(r);
    c.open(0);
    const sock = c.sock;
    for (let i = 0; i < 16; i++) c.data(10, MSS);
    r.nat.endBatch(10);
    assert.deepEqual(takeTcp(r.out).map((a) => a.ack), [c.seq]);
    assert.ok(sock.corked, '22,400 bytes stay corked while the burst goes on');
    for (let i = 0; i < 47; i++) c.data(11, MSS);
    r.nat.endBatch(11);
    assert.ok(!sock.corked, 'more than 64 KiB corked: uncorked although the burst goes on');
    assert.equal(sock.writtenBytes, 63 * MSS);
  });

  test('a new connection\'s first segments are ACKed every second one, also within a burst', () => {
    const r = rig();
    const c = new Conn(r);
    c.open(0);
    for (let i = 0; i < 2; i++) c.data(10, MSS);
    r.nat.endBatch(10);
    assert.deepEqual(takeTcp(r.out).map((a) => a.ack), [c.seq], 'quick: no wait for the burst to end');
  });

  test('the ACK delay bounds a held ACK when no batch ends the burst', () => {
    const r = rig();
    const c = new Conn(r);
    c.open(0);
    c.data(100, 500);  // one small segment: no ACK at burst end either, only the delayed ACK
    r.nat.endBatch(100);
    r.nat.endBatch(101);
    assert.deepEqual(r.out, []);
    assert.equal(r.nat.nextDeadline(), 140);
    advance(r.nat, 139);
    assert.deepEqual(r.out, []);
    advance(r.nat, 140);
    assert.deepEqual(takeTcp(r.out).map((a) => a.ack), [c.seq]);
  });

  test('reading pauses when the client side holds tcpSndBuf bytes and resumes below half', () => {
    const r = rig({ tcpSndBuf: 8192, tcpBufMax: 8192 });
    const c = new Conn(r);
    c.open(0);
    const sock = c.sock;
    r.nat.tcpData(sock.flow, Buffer.alloc(10_000, 0x62), 5);
    assert.ok(sock.paused);
    r.nat.endBatch(5);
    const segs = takeTcp(r.out);
    assert.equal(segs.reduce((n, s) => n + s.payload.length, 0), 10_000);
    assert.ok(sock.paused, 'sent but not acknowledged: still held');
    c.ack = (c.ack + 10_000) >>> 0;
    c.seg(6);
    r.nat.endBatch(6);
    assert.ok(!sock.paused);
    assert.ok(r.mem.calls.includes('tcpResume 1'));
  });

  test('a loss recovery holding SACKed data still reads on once what is unsent falls below half a window', () => {
    const r = rig({ tcpSndBuf: 8192, tcpBufMax: 1 << 20 });
    const c = new Conn(r);
    c.open(0, { sackPermitted: true });
    const sock = c.sock;
    r.nat.tcpData(sock.flow, Buffer.alloc(10 * MSS, 0x62), 1);
    r.nat.endBatch(1);
    advance(r.nat, 20);
    const first = takeTcp(r.out).filter((s) => s.payload.length > 0);
    assert.equal(new Set(first.map((x) => x.seq)).size, 10, 'the initial window goes out (its tail perhaps probed again)');
    const isn = first[0]!.seq;
    let held = 10;
    while (!sock.paused && held < 100) { r.nat.tcpData(sock.flow, Buffer.alloc(MSS, 0x63), 20); held++; }
    assert.ok(sock.paused && held > 11, `the flight and one more window are held (${held} segments)`);
    // The first segment is lost; the client SACKs the other nine, so nothing is cumulatively acknowledged.
    c.seg(40, { sack: [[(isn + MSS) >>> 0, (isn + 10 * MSS) >>> 0]] });
    r.nat.endBatch(40);
    advance(r.nat, 45);
    const next = takeTcp(r.out).filter((s) => s.payload.length > 0);
    assert.ok(next.some((s) => s.seq === isn), 'the hole is retransmitted');
    assert.ok(next.some((s) => ((s.seq - isn) >>> 0) >= 10 * MSS), 'new data goes out during the recovery');
    assert.equal(sock.flow.ep.txQueued(), held * MSS, 'everything is held until the hole is filled');
    assert.ok(!sock.paused, 'reading resumed although SACKed data fills the buffer');
  });

  test('write completions reopen the window (the socket confirms what it took)', () => {
    const r = rig({ tcpRcvBuf: 16 * 1024, tcpBufMax: 16 * 1024 });
    const c = new Conn(r);
    c.open(0);
    const sock = c.sock;
    for (let i = 0; i < 11; i++) c.data(10, MSS);  // 15,400 of 16,384 bytes
    r.nat.endBatch(10);
    r.nat.endBatch(11);
    const [ack] = takeTcp(r.out);
    assert.equal(ack.ack, c.seq);
    assert.equal(ack.window, 16 * 1024 - 11 * MSS, 'a 16 KiB buffer is not scaled');
    for (const n of sock.unconfirmed.splice(0)) r.nat.tcpWritten(sock.flow, n, 12);
    r.nat.endBatch(12);
    const [update] = takeTcp(r.out);
    assert.ok(update, 'a window update once the socket took the bytes');
    assert.equal(update.window, 16 * 1024, 'window reopened');
  });
});

describe('Nat: timers and idle timeouts', () => {
  test('one deadline: the SYN-ACK is resent at its RTO, not before, then after twice the RTO', () => {
    const r = rig();
    const c = new Conn(r);
    c.seg(0, { control: 'syn', ack: undefined, mss: MSS });
    r.nat.tcpConnected(c.sock.flow, 10);
    r.nat.endBatch(10);
    assert.equal(takeTcp(r.out).length, 1);
    assert.equal(r.nat.nextDeadline(), 1000, 'the idle sweep comes first');
    advance(r.nat, 1009);
    assert.deepEqual(r.out, []);
    assert.equal(r.nat.nextDeadline(), 1010);
    advance(r.nat, 1010);
    assert.deepEqual(takeTcp(r.out).map((s) => s.control), ['syn']);
    advance(r.nat, 3009);
    assert.deepEqual(r.out, []);
    advance(r.nat, 3010);
    assert.deepEqual(takeTcp(r.out).map((s) => s.control), ['syn']);
    assert.equal(r.nat.stats().tcpRetransmits.timeout, 2);
  });

  test('an early or repeated timeout does nothing', () => {
    const r = rig();
    const c = new Conn(r);
    c.open(0);
    for (const t of [0, 1, 1, 500, 999]) r.nat.timeout(t);
    assert.equal(r.nat.batchPending(), false);
    assert.deepEqual(r.out, []);
    assert.equal(r.nat.size, 1);
  });

  test('TTL per TCP state: half-open flows expire after tcp-transitory, established ones after tcp-established', () => {
    const r = rig({ timeouts: { tcpTransitory: 10, tcpEstablished: 100 } });
    const half = new Conn(r, 40001);
    half.seg(0, { control: 'syn', ack: undefined, mss: MSS });  // never connects (connect timeout is 20 s)
    const halfSock = half.sock;
    const est = new Conn(r, 40002);
    est.open(0);
    const estSock = est.sock;
    advance(r.nat, 9_000);
    assert.equal(r.nat.size, 2);
    advance(r.nat, 11_000);
    assert.equal(r.nat.size, 1);
    const [rst] = takeTcp(r.out);
    assert.deepEqual([rst.control, rst.dstPort, rst.ack], ['rst', 40001, 7001]);
    assert.equal(halfSock.closed, 'close');
    advance(r.nat, 99_000);
    assert.equal(r.nat.size, 1, 'the established flow is idle but not expired');
    assert.deepEqual(r.out, []);
    advance(r.nat, 101_000);
    assert.equal(r.nat.size, 0);
    const [rst2] = takeTcp(r.out);
    assert.deepEqual([rst2.control, rst2.dstPort], ['rst', 40002]);
    assert.equal(estSock.closed, 'reset');
    assert.equal(r.nat.stats().flowsExpired, 2);
    assert.equal(r.nat.nextDeadline(), undefined, 'nothing left to wake up for');
  });

  test('CLOSE-WAIT keeps the long timeout; LAST-ACK gets the short one', () => {
    const r = rig({ timeouts: { tcpTransitory: 10, tcpEstablished: 100 } });
    const c = new Conn(r);
    c.open(0);
    c.seg(0, { control: 'fin' });  // client half-close: CLOSE-WAIT
    c.seq = (c.seq + 1) >>> 0;
    r.nat.endBatch(0);
    takeTcp(r.out);
    assert.equal(c.sock.flow.ep.state, 'closeWait');
    advance(r.nat, 50_000);
    assert.equal(r.nat.size, 1);
    r.nat.tcpEnded(c.sock.flow, 50_000);  // our FIN: LAST-ACK, never ACKed
    r.nat.endBatch(50_000);
    assert.equal(c.sock.flow.ep.state, 'lastAck');
    advance(r.nat, 61_000);
    assert.equal(r.nat.size, 0);
  });

  test('TIME-WAIT ends the flow after tcp-time-wait, gracefully', () => {
    const r = rig();
    const c = new Conn(r);
    c.open(0);
    const sock = c.sock;
    r.nat.tcpEnded(sock.flow, 1);
    r.nat.endBatch(1);
    takeTcp(r.out);
    c.ack = (c.ack + 1) >>> 0;
    c.seg(2, { control: 'fin' });
    r.nat.endBatch(2);
    takeTcp(r.out);
    advance(r.nat, 5_001);
    assert.equal(r.nat.size, 1);
    advance(r.nat, 5_002);
    assert.equal(r.nat.size, 0);
    assert.equal(sock.closed, 'close');
    assert.equal(r.nat.stats().flowsClosed, 1);
    assert.deepEqual(r.out, []);
  });
});

describe('Nat: UDP', () => {
  const DST = ipFromString('198.51.100.7');
  const udp = (r: Rig, srcPort: number, dstPort: number, payload: string, now = 0, dst = DST): void =>
    r.nat.fromClient(CLIENT, buildUdpPacket(CLIENT, dst, { srcPort, dstPort, payload: Buffer.from(payload) }), now);

  test('only the destination answers a flow (endpoint-dependent filtering)', () => {
    const r = rig();
    udp(r, 5353, 9999, 'q');
    const [s] = r.mem.udp;
    assert.deepEqual(s.sent.map(String), ['q']);
    r.nat.udpReceived(s.flow, Buffer.from('x'), ipFromString('203.0.113.1'), 9999, 1);
    r.nat.udpReceived(s.flow, Buffer.from('x'), DST, 1234, 1);
    assert.deepEqual(r.out, []);
    assert.equal(r.nat.stats().drops['udp-foreign-source'], 2);
    r.nat.udpReceived(s.flow, Buffer.from('answer'), DST, 9999, 2);
    const [p] = r.out;
    assert.equal(ipv4Src(p), DST);
    assert.equal(ipv4Dst(p), CLIENT);
    const u = parseUdp(ipv4Payload(p), DST, CLIENT);
    assert.ok(!('error' in u));
    assert.deepEqual([u.srcPort, u.dstPort, u.payload.toString()], [9999, 5353, 'answer']);
  });

  test('an answered flow lives udp-replied, an unanswered one udp-unreplied, DNS dns', () => {
    const r = rig();
    udp(r, 6000, 9999, 'a');
    udp(r, 6001, 9999, 'b');
    udp(r, 6002, 53, 'c');
    const [answered, silent, dns] = r.mem.udp;
    r.nat.udpReceived(answered.flow, Buffer.from('A'), DST, 9999, 1);
    r.nat.udpReceived(dns.flow, Buffer.from('C'), DST, 53, 1);
    advance(r.nat, 9_000);
    assert.equal(r.nat.size, 3);
    advance(r.nat, 12_000);
    assert.ok(dns.closed && !silent.closed, 'DNS: 10 s');
    advance(r.nat, 29_000);
    assert.ok(!silent.closed);
    advance(r.nat, 32_000);
    assert.ok(silent.closed && !answered.closed, 'unanswered: 30 s');
    advance(r.nat, 180_000);
    assert.ok(!answered.closed);
    advance(r.nat, 182_000);
    assert.ok(answered.closed, 'answered: 180 s');
    assert.equal(r.nat.stats().flowsExpired, 3);
    assert.equal(r.nat.stats().udpFlows, 0);
  });

  test('a reply bigger than the MTU reaches the client as valid fragments', () => {
    const r = rig({ mtu: 1400 });
    udp(r, 6000, 9999, 'q');
    const big = Buffer.alloc(4000);
    for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
    r.nat.udpReceived(r.mem.udp[0].flow, big, DST, 9999, 1);
    assert.equal(r.out.length, 3);
    const ra = new Reassembler();
    let whole: Buffer | undefined;
    for (const f of r.out) {
      assert.ok(f.length <= 1400);
      whole ??= ra.add(f, 0);
    }
    assert.ok(whole);
    assert.equal(whole[9], PROTO_UDP);
    const u = parseUdp(ipv4Payload(whole), DST, CLIENT);
    assert.ok(!('error' in u));
    assert.deepEqual(u.payload, big);
  });

  test('the per-client quota evicts the oldest unanswered flows and closes their sockets', () => {
    const r = rig({ perClientFlows: 16, maxFlows: 64 });
    for (let i = 0; i < 200; i++) udp(r, 10_000 + i, 9, 'x');
    const st = r.nat.stats();
    assert.deepEqual([st.flowsOpen, st.flowsCreated, st.flowsEvicted], [16, 200, 184]);
    assert.equal(r.mem.openUdp().length, 16);
    assert.deepEqual(r.mem.openUdp().map((s) => s.flow.key.clientPort), Array.from({ length: 16 }, (_, i) => 10_184 + i));
  });

  test('a send error is counted; a socket error ends the flow', () => {
    const r = rig();
    udp(r, 6000, 9999, 'q');
    const [s] = r.mem.udp;
    r.nat.udpSendFailed(s.flow);
    assert.equal(r.nat.stats().drops['udp-send-error'], 1);
    r.nat.udpFailed(s.flow);
    assert.ok(s.closed);
    assert.equal(r.nat.size, 0);
    r.nat.udpSendFailed(s.flow);
    assert.equal(r.nat.stats().drops['udp-send-error'], 1, 'not counted for a flow that is gone');
  });
});

describe('Nat: client gone and shutdown', () => {
  test('clientGone closes every flow of the client and sends it nothing', () => {
    const r = rig();
    const a = new Conn(r, 40001);
    a.open(0);
    const aSock = a.sock;
    r.nat.fromClient(CLIENT, buildUdpPacket(CLIENT, SERVER, { srcPort: 7, dstPort: 7, payload: EMPTY }), 0);
    const b = new Conn(r, 40002, SERVER, 80);
    b.seg(0, { control: 'syn', ack: undefined });
    r.nat.clientGone(CLIENT);
    assert.deepEqual(r.out, []);
    assert.equal(aSock.closed, 'reset');
    assert.equal(r.mem.openTcp().length + r.mem.openUdp().length, 0);
    assert.equal(r.nat.size, 0);
    assert.equal(r.nat.clientStats(CLIENT), undefined);
    r.nat.clientGone(CLIENT);  // twice is harmless
  });

  test('shutdown closes everything, takes no more input and wants no timer', () => {
    const r = rig();
    new Conn(r, 40001).open(0);
    r.nat.fromClient(CLIENT, buildUdpPacket(CLIENT, SERVER, { srcPort: 7, dstPort: 7, payload: EMPTY }), 0);
    r.nat.shutdown();
    assert.equal(r.nat.size, 0);
    assert.equal(r.mem.openTcp().length + r.mem.openUdp().length, 0);
    assert.equal(r.nat.nextDeadline(), undefined);
    const before = r.nat.stats().packetsOut;
    new Conn(r, 40003).seg(1, { control: 'syn', ack: undefined });
    assert.equal(r.nat.stats().packetsOut, before);
    assert.equal(r.mem.tcp.length, 1);
  });
});

test('congestion control: BBR by default, a configured one for every flow', () => {
  const model = (opts: NatOptions): boolean => {
    const r = rig(opts);
    const c = new Conn(r);
    c.seg(0, { control: 'syn', ack: undefined, mss: MSS, wscale: 7, window: 65535, sackPermitted: true });
    r.nat.tcpConnected(c.sock.flow, 1);
    return (c.sock.flow.ep as unknown as { bbr?: object }).bbr !== undefined;
  };
  assert.equal(model({}), true, 'default: BBR');
  assert.equal(model({ tcpCongestion: 'bbr' }), true);
  assert.equal(model({ tcpCongestion: 'cubic' }), false);
});
