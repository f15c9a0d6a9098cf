// The whole server path on a virtual clock, handshake included (test/helpers/sim/vpn.ts): a scripted OpenVPN client ─
// up link ─▶ UdpEndpoint (stateless HMAC cookie, the echo, new-session, demux by address and session id, data by
// peer-id) ▶ Session (reliable control channel, fake TLS, key-method 2, PUSH_REPLY) ▶ Router ▶ Nat ▶ the in-memory
// Internet, and back down. Every run is seeded, so a failure replays exactly; wall time is reported, never asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { EndpointDrop, PeerAddr } from '../../src/core/transport/udp-endpoint.js';
import { clientDataChannel } from '../../src/core/crypto/data-channel-for.js';
import { ipFromString } from '../../src/core/wire/ipv4.js';
import { isDataOpcode, isParseError, Op, opcodeOf, parseControl } from '../../src/core/wire/openvpn-packet.js';
import { buildUdpPacket } from '../../src/core/wire/udp.js';
import { fakeEkm } from '../helpers/sim/fake-tls.js';
import type { Link, LinkKnobs } from '../helpers/sim/link.js';
import { Prng } from '../helpers/sim/prng.js';
import { serverWrap } from '../helpers/sim/server.js';
import { HOST } from '../helpers/sim/uplink.js';
import { SimVpn, tapControl, type VpnClient } from '../helpers/sim/vpn.js';

const MB = 1 << 20;
const A: PeerAddr = { address: '192.0.2.10', port: 40000 };
const digest = (b: Buffer | Buffer[]) => createHash('sha256').update(Buffer.isBuffer(b) ? b : Buffer.concat(b)).digest('hex');

function blob(n: number, salt: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 9) + salt) & 0xff;
  return b;
}

/** 20 Mbit/s, 10 ms each way, 3% loss, 5% of datagrams held back 15 ms (overtaken by the next ones). */
const LOSSY: Partial<LinkKnobs> = { loss: 0.03, reorder: 0.05, reorderDelay: 15, latency: 10, rate: 2500 };
const CLEAN: Partial<LinkKnobs> = { latency: 10, rate: 2500 };

function connect(net: SimVpn, vc: VpnClient, maxTime = 60_000): number {
  vc.client.connect(net.now);
  net.sim.runUntil(() => vc.client.established, { maxTime, what: `${vc.client.cn}'s handshake` });
  return vc.client.establishedAt! - vc.client.connectedAt!;
}

/** The client GETs `size` bytes from HOST:80 through its tunnel, and closes after the server's FIN. */
function download(net: SimVpn, vc: VpnClient, size: number, localPort = 41000): { data: Buffer[]; sent: Buffer; reset: boolean } {
  const sent = blob(size, 1);
  net.internet.listen(HOST, 80, (c) => { c.onData = () => { c.write(sent); c.end(); }; });
  const tcp = vc.client.ip.tcp(localPort, HOST, 80);
  const data: Buffer[] = [];
  tcp.onData = (b) => data.push(b);
  tcp.onFin = () => tcp.end(net.now);
  tcp.connect(net.now);
  tcp.write(Buffer.from('GET /blob'), net.now);
  net.sim.runUntil(() => tcp.done, { maxTime: 120_000, what: 'download' });
  return { data, sent, reset: tcp.state === 'reset' };
}

/** Nothing of any client is left in the endpoint, the router, the pool, the NAT or the Internet's sockets. */
function assertEmpty(net: SimVpn, vip: number): void {
  const ep = net.endpoint;
  assert.deepEqual({ size: ep.size, halfOpen: ep.halfOpenCount, addresses: ep.addressCount }, { size: 0, halfOpen: 0, addresses: 0 });
  assert.equal(net.server.conns.size, 0);
  assert.equal(net.router.lookup(vip), undefined, 'the router forgot the client');
  assert.equal(net.server.pool.inUse, 0, 'the address went back to the pool');
  assert.equal(net.nat.size, 0, 'no NAT flow');
  assert.deepEqual(net.internet.sockets.openTcp(), []);
  assert.deepEqual(net.internet.sockets.openUdp(), []);
  assert.equal(net.nat.nextDeadline(), undefined, 'the NAT wants no wake-up');
}

test('sim handshake: tls-crypt with 3% loss and reordering both ways: cookie, TLS, key-method 2, PUSH_REPLY, a 1 MB download byte-exact, and nothing left once the client leaves', (t) => {
  const w0 = performance.now();
  // Seed 32: the loss hits the handshake in both directions (a client and a server control packet are lost).
  const net = new SimVpn({ seed: 32 });
  const a = net.addClient(A, { up: LOSSY, down: LOSSY });
  const upTap = tapControl(a.up, 'tls-crypt', 'up');
  const downTap = tapControl(a.down, 'tls-crypt', 'down');
  const took = connect(net, a);

  // The cookie: one stateless reset, whose session id became the session's own; one session, at the client's address.
  const conn = net.server.sessionAt(A);
  assert.ok(conn, 'a session at the client address');
  assert.equal(net.server.stats.sessionsCreated, 1);
  assert.ok(net.server.stats.replies >= 1);
  assert.deepEqual(conn.session.serverSid, a.client.serverSid, "the server's session id is the cookie the client echoed");
  assert.deepEqual(conn.session.clientSid, a.client.sid);
  // TLS via the fake, key-method 2, the authorizer's address, PUSH_REPLY with the peer-id the endpoint routes by.
  assert.equal(conn.session.cn, 'alice');
  assert.equal(conn.session.negotiated?.cipher, 'AES-256-GCM');
  assert.equal(conn.session.negotiated?.ekm, true);
  assert.equal(a.client.pushed?.ip, '10.8.0.2');
  assert.equal(a.client.pushed?.peerId, conn.peerId);
  assert.equal(net.router.lookup(ipFromString('10.8.0.2')), conn);
  assert.deepEqual({ size: net.endpoint.size, halfOpen: net.endpoint.halfOpenCount }, { size: 1, halfOpen: 0 }, 'established: no longer half-open');
  // The loss really hit the handshake, and the reliability layers of both sides recovered it.
  assert.ok(a.up.stats.lost > 0 && a.down.stats.lost > 0, 'packets were lost each way during the handshake');
  assert.ok(upTap.retransmits > 0, 'the client retransmitted a control packet');
  assert.ok(downTap.retransmits > 0, 'the server retransmitted a control packet');
  assert.equal(upTap.retransmits, a.client.stats.controlRetransmits, 'the tap and the client count the same retransmissions');
  assert.equal(upTap.unreadable + downTap.unreadable, 0);
  const handshake = { virtualMs: took, up: { ...upTap }, down: { ...downTap }, lost: [a.up.stats.lost, a.down.stats.lost] };

  const d = download(net, a, MB);
  assert.equal(d.reset, false);
  assert.equal(digest(d.data), digest(d.sent), '1 MB arrived byte-exact');
  assert.ok(a.up.stats.reordered > 0 && a.down.stats.reordered > 0, 'the links did reorder');
  assert.equal(conn.session.stats.drops, 0, 'no data packet failed to open at the server');
  assert.equal(a.client.stats.dataOpenFailed, 0);

  // The client leaves (explicit-exit-notify): the session closes and takes its address, peer-id and flows with it.
  a.client.exit(net.now);
  net.sim.runUntil(() => net.server.conns.size === 0, { maxTime: 10_000, what: 'the session to close' });
  assert.deepEqual(net.server.stats.closed, { 'client-exit': 1 });
  net.sim.runFor(5_000);
  assertEmpty(net, ipFromString('10.8.0.2'));
  t.diagnostic(`handshake ${JSON.stringify(handshake)}; total ${(net.now - a.client.connectedAt!).toFixed(0)} ms virtual, `
    + `${(performance.now() - w0).toFixed(0)} ms wall; links up ${JSON.stringify(a.up.stats)} down ${JSON.stringify(a.down.stats)}`);
});

// ---- a forged HARD_RESET flood beside a legit handshake -------------------------------------------------------

const FLOOD_SRC = '203.0.113.66';
const FLOOD_PORTS = 5000;
const FLOOD_PACKETS = 12_000;
const FLOOD_PER_MS = 40;   // 40,000 packets/s
const RTT = 20;
const TLS_TIMEOUT_MS = 2000;

/** bench/lib/flood.py's packets: a forged tls-crypt HARD_RESET_CLIENT_V2 (opcode 7, key id 0, random session id,
 *  packet id, time, tag and ciphertext), or one time in ten its `garbage` kind (random bytes of random length). */
function floodPacket(rng: Prng): { bytes: Buffer; kind: 'reset' | 'garbage' } {
  const garbage = rng.chance(0.1);
  const b = Buffer.alloc(garbage ? rng.int(1, 201) : 1 + 8 + 4 + 4 + 32 + 37);
  for (let i = 0; i < b.length; i++) b[i] = rng.u32() & 0xff;
  if (!garbage) b[0] = Op.HARD_RESET_CLIENT_V2 << 3;
  return { bytes: b, kind: garbage ? 'garbage' : 'reset' };
}

const ENDPOINT_DROPS: EndpointDrop[] = [
  'empty packet', 'first packet with a nonzero key id', 'tls-crypt-v2 is not configured', 'unexpected first packet',
  'client without tls-crypt-v2 (the server requires it)', 'tls-crypt-v2 client key failed verification',
  'tls-crypt-v2 client key too old or without a timestamp', 'tls-crypt-v2 client without early negotiation (before OpenVPN 2.6)',
  'packet failed tls-auth/tls-crypt verification', 'malformed first packet', 'client reset with a nonzero packet id',
  'truncated data packet', 'data packet for an unknown peer id', 'data packet from an unknown address', 'reset replies over budget',
  'missing or stale cookie', 'first packet failed the replay check', 'float to an address held by another client',
];

function floodRun(flood: boolean) {
  const net = new SimVpn({ seed: 7 });
  const a = net.addClient(A, { up: CLEAN, down: CLEAN });
  const rng = new Prng(1194);
  const sent = { reset: 0, garbage: 0 };
  const max = { size: 0, halfOpen: 0, addresses: 0, conns: 0, dropKeys: 0 };
  const sample = () => {
    const ep = net.endpoint;
    max.size = Math.max(max.size, ep.size);
    max.halfOpen = Math.max(max.halfOpen, ep.halfOpenCount);
    max.addresses = Math.max(max.addresses, ep.addressCount);
    max.conns = Math.max(max.conns, net.server.conns.size);
    max.dropKeys = Math.max(max.dropKeys, net.server.drops.size);
  };
  const start = net.now;
  if (flood) {
    // 40 packets per ms from ports 20000.. (cycling through FLOOD_PORTS), from 100 ms before the client connects
    // until well after it is up.
    let n = 0;
    for (let ms = 0; ms < Math.ceil(FLOOD_PACKETS / FLOOD_PER_MS); ms++) {
      net.sim.at(start + ms, () => {
        for (let i = 0; i < FLOOD_PER_MS && n < FLOOD_PACKETS; i++, n++) {
          const p = floodPacket(rng);
          sent[p.kind]++;
          net.inject({ address: FLOOD_SRC, port: 20000 + (n % FLOOD_PORTS) }, p.bytes);
        }
        sample();
      });
    }
  }
  net.sim.at(start + 100, () => a.client.connect(net.now));
  net.sim.runUntil(() => a.client.established, { maxTime: 30_000, what: 'the legit handshake' });
  const took = a.client.establishedAt! - a.client.connectedAt!;
  net.sim.runFor(FLOOD_PACKETS / FLOOD_PER_MS + 100);   // the rest of the flood
  sample();
  return { net, a, took, sent, max };
}

test('sim handshake: a forged HARD_RESET flood from 5,000 ports leaves no state, costs the legit handshake nothing, and is counted by reason', (t) => {
  const w0 = performance.now();
  const base = floodRun(false);
  const { net, a, took, sent, max } = floodRun(true);
  const w1 = performance.now();

  // The legit client: its handshake is its own three round trips (reset/cookie, echo+ClientHello/server flight,
  // Finished+key-method 2/PUSH_REPLY) plus serialization, exactly as without the flood. The bound allows one lost or
  // refused control packet on top (one tls-timeout): a flood that took the reset budget or a half-open slot from
  // the client would cost it at least that.
  assert.ok(a.client.established);
  assert.equal(took, base.took, 'the flood did not delay the handshake at all');
  assert.ok(took >= 3 * RTT && took < 3 * RTT + 10, `three round trips (${took} ms)`);
  assert.ok(took <= 3 * RTT + TLS_TIMEOUT_MS, 'within the bound');
  assert.equal(a.client.stats.controlRetransmits, 0);

  // No state for the forged packets: at every millisecond of the flood the endpoint held at most the legit client.
  assert.deepEqual(max, { size: 1, halfOpen: 1, addresses: 1, conns: 1, dropKeys: max.dropKeys });
  const ep = net.endpoint;
  assert.deepEqual({ size: ep.size, halfOpen: ep.halfOpenCount, addresses: ep.addressCount }, { size: 1, halfOpen: 0, addresses: 1 });
  assert.equal(net.server.stats.sessionsCreated, 1);
  assert.equal(net.server.stats.replies, 1, 'one cookie reset, the legit client\'s: no reflection toward the forged sources');
  assert.equal(net.unroutable.packets, 0, 'nothing was sent to a forged source');

  // Every forged packet was dropped and counted by the endpoint's reason; none reached the reset budget.
  const counts = net.server.drops.countsByReason();
  const total = Object.values(counts).reduce((x, y) => x + y, 0);
  assert.equal(total, FLOOD_PACKETS, 'each forged packet counted once');
  assert.equal(sent.reset + sent.garbage, FLOOD_PACKETS);
  for (const r of Object.keys(counts)) assert.ok(ENDPOINT_DROPS.includes(r as EndpointDrop), `an endpoint drop reason: ${r}`);
  assert.ok(counts['packet failed tls-auth/tls-crypt verification']! >= sent.reset, 'every forged reset failed tls-crypt');
  assert.equal(counts['reset replies over budget'], undefined, 'forged resets never reach the budget');
  assert.equal(counts['missing or stale cookie'], undefined);
  // The log: one line per reason at its first drop, then one summary per reason per 10 s interval.
  const reasons = Object.keys(counts).length;
  assert.ok(net.server.dropLog.length <= 2 * reasons, `bounded log (${net.server.dropLog.length} lines for ${reasons} reasons)`);
  assert.ok(max.dropKeys <= reasons, 'one summary key per reason, however many source ports');

  // The flood over, the summaries close and the legit client keeps working.
  net.sim.runFor(25_000);
  assert.equal(net.server.drops.size, 0, 'the drop summary closed its keys');
  assert.equal(net.server.dropLog.reduce((s, r) => s + r.count, 0), FLOOD_PACKETS, 'the log accounts for every drop');
  net.internet.udpRespond(HOST, 7, (p, reply) => reply(p));
  a.client.ip.udp(30000, HOST, 7, Buffer.from('still here'));
  net.sim.runFor(200);
  assert.deepEqual(a.client.ip.udpIn.get(30000)?.map(String), ['still here']);
  t.diagnostic(`flood: ${FLOOD_PACKETS} packets (${sent.reset} resets, ${sent.garbage} garbage), handshake ${took} ms virtual, `
    + `${(w1 - w0).toFixed(0)} ms wall for both runs; drops ${JSON.stringify(counts)}; log lines ${net.server.dropLog.length}`);
});

// ---- cookie echoes that must not make a session ----------------------------------------------------------------

const HAND_WINDOW = 60;

/** Every datagram a client sends, as it leaves (lost ones too). */
function capture(link: Link<PeerAddr>): Buffer[] {
  const out: Buffer[] = [];
  link.onSend = (b) => out.push(Buffer.from(b));
  return out;
}

/** The client's echo: its first P_CONTROL_V1 (the ClientHello), which acknowledges our cookie reset. */
function echoIn(sent: Buffer[], cookie: Buffer): Buffer {
  const reader = serverWrap('tls-crypt', {});
  const echo = sent.find((b) => opcodeOf(b[0]!) === Op.CONTROL_V1);
  assert.ok(echo, 'the client sent its echo');
  const p = parseControl(reader.peek(echo)!);
  assert.ok(!isParseError(p));
  assert.ok(p.acks.includes(0) && p.peerSessionId?.equals(cookie), 'it acknowledges the cookie reset and carries the cookie');
  return echo;
}

test('sim handshake: a cookie echo replayed from another address, or after the hand-window, makes no session', () => {
  const net = new SimVpn({ seed: 11, server: { handWindow: HAND_WINDOW } });
  const ep = net.endpoint;
  const stale = () => net.server.drops.countsByReason()['missing or stale cookie'] ?? 0;
  const state = () => ({
    size: ep.size, halfOpen: ep.halfOpenCount, addresses: ep.addressCount, created: net.server.stats.sessionsCreated,
  });
  const a = net.addClient(A, { up: CLEAN, down: CLEAN });
  const sentByA = capture(a.up);
  connect(net, a);
  const conn = net.server.sessionAt(A)!;
  const echo = echoIn(sentByA, a.client.serverSid!);
  assert.deepEqual(state(), { size: 1, halfOpen: 0, addresses: 1, created: 1 });

  // From another host, and from the client's host but another port: the cookie is bound to address and port.
  net.inject({ address: '198.51.100.20', port: 50000 }, echo);
  net.inject({ address: A.address, port: A.port + 1 }, echo);
  net.sim.runFor(50);
  assert.equal(stale(), 2, 'both dropped: the cookie is not theirs');
  assert.deepEqual(state(), { size: 1, halfOpen: 0, addresses: 1, created: 1 }, 'no session, no half-open entry, no address');
  // From the client's own address: it belongs to the live session (address and session id), whose replay window
  // has seen it.
  const drops = conn.session.stats.drops;
  net.inject(A, echo);
  net.sim.runFor(50);
  assert.equal(conn.session.stats.drops, drops + 1);
  assert.equal(conn.session.lastDropReason, 'control-unwrap');
  assert.deepEqual(state(), { size: 1, halfOpen: 0, addresses: 1, created: 1 });
  assert.ok(a.client.established && !conn.session.closed);

  // Carol's echo is lost (her uplink fails right after her reset got its cookie), and someone replays it from her
  // own address two hand-windows later, past every cookie slot check() accepts (at most 1.5 × (hand-window + 1) s).
  const D: PeerAddr = { address: '192.0.2.77', port: 51000 };
  const c = net.addClient(D, { up: CLEAN, down: CLEAN }, { cn: 'carol' });
  const sentByC = capture(c.up);
  c.client.connect(net.now);
  const replies = net.server.stats.replies;
  net.sim.runUntil(() => net.server.stats.replies > replies, { maxTime: 1000, what: "carol's cookie" });
  c.up.knobs.loss = 1;
  net.sim.runUntil(() => c.client.serverSid !== undefined, { maxTime: 1000, what: 'the cookie to reach carol' });
  const lateEcho = echoIn(sentByC, c.client.serverSid!);
  net.sim.runFor(2 * HAND_WINDOW * 1000);
  const before = stale();
  net.inject(D, lateEcho);
  net.sim.runFor(50);
  assert.equal(stale(), before + 1, 'the late echo is dropped as a stale cookie');
  assert.deepEqual(state(), { size: 1, halfOpen: 0, addresses: 1, created: 1 }, 'and makes nothing');
  assert.ok(a.client.established && !conn.session.closed, 'alice is still up (keepalive both ways)');

  // Carol's uplink comes back: she has started over at her own hand-window (a new session id) and gets in.
  c.up.knobs.loss = 0;
  net.sim.runUntil(() => c.client.established, { maxTime: 10_000, what: "carol's new handshake" });
  assert.ok(c.client.stats.restarts >= 1);
  assert.deepEqual(state(), { size: 2, halfOpen: 0, addresses: 2, created: 2 });
});

// ---- float -------------------------------------------------------------------------------------------------------

test('sim handshake: after a NAT rebinding the next data packet authenticates and the session floats; forged data from elsewhere does not', () => {
  const A2: PeerAddr = { address: A.address, port: 40999 };
  const X: PeerAddr = { address: '198.51.100.99', port: 12345 };
  const net = new SimVpn({ seed: 5 });
  const ep = net.endpoint;
  const a = net.addClient(A, { up: CLEAN, down: CLEAN });
  connect(net, a);
  const conn = net.server.sessionAt(A)!;
  const vip = ipFromString(a.client.pushed!.ip);
  net.internet.udpRespond(HOST, 7, (p, reply) => reply(p));
  const echoed = () => (a.client.ip.udpIn.get(30000) ?? []).map(String);
  const ping = (text: string) => { a.client.ip.udp(30000, HOST, 7, Buffer.from(text)); net.sim.runFor(100); };
  ping('before');
  assert.deepEqual(echoed(), ['before']);

  // The client's NAT maps it to another port; its next data packet comes from there.
  const sent = capture(a.up);
  net.rebind(a, A2);
  ping('after');
  assert.equal(net.server.stats.floated, 1);
  assert.deepEqual(ep.addressOf(conn), A2, 'the session moved to the new address');
  assert.equal(ep.sessionAt(A2), conn);
  assert.equal(ep.sessionAt(A), undefined);
  assert.equal(ep.addressCount, 1);
  assert.deepEqual(echoed(), ['before', 'after'], 'the answer to that very packet went to the new address');
  assert.equal(net.unroutable.packets, 0, 'nothing went to the old address');

  // From a third address: a well-formed P_DATA_V2 with the client's peer-id and a fresh packet-id but another key,
  // and a replay of the client's own last data packet. Neither authenticates, so neither moves the session.
  const wrongKey = clientDataChannel(fakeEkm(Buffer.alloc(32, 0x99)), a.client.pushed!.cipher, 'SHA1', { initialSendPacketId: 1e6 });
  const forged = buildUdpPacket(vip, HOST, { srcPort: 30000, dstPort: 7, payload: Buffer.from('forged') });
  const replayed = sent.filter((b) => isDataOpcode(opcodeOf(b[0]!))).at(-1)!;
  const drops = conn.session.stats.drops;
  const datagrams = net.internet.counters.datagrams;
  net.inject(X, wrongKey.sealV2(0, conn.peerId!, forged));
  net.sim.runFor(50);
  assert.equal(conn.session.lastDropReason, 'data-auth');
  net.inject(X, replayed);
  net.sim.runFor(50);
  assert.equal(conn.session.lastDropReason, 'data-replay');
  assert.equal(conn.session.stats.drops, drops + 2);
  assert.deepEqual(ep.addressOf(conn), A2, 'still at the new address');
  assert.equal(ep.sessionAt(X), undefined);
  assert.equal(net.server.stats.floated, 1);
  assert.equal(net.internet.counters.datagrams, datagrams, 'nothing of the forged packets reached the Internet');
  assert.equal(net.unroutable.packets, 0, 'nothing was sent to the third address');

  ping('still');
  assert.deepEqual(echoed(), ['before', 'after', 'still']);
  assert.ok(!conn.session.closed);
});
