// Session.tick at exactly Session.nextDeadline() does what the deadline was for, at any time, fractional ones too.
// The io clock is fractional milliseconds (performance.now()), and `last + interval` rounds: compared as
// `now - last >= interval`, a tick at the deadline could find 9999.9999999999 ms and do nothing, while
// nextDeadline() kept returning that same instant. A real clock moves on and the driver only spins for a turn or
// two; a virtual clock (test/helpers/sim) stands still there for good.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PING_MAGIC, Session } from '../../src/core/session/session.js';
import { Op } from '../../src/core/wire/openvpn-packet.js';
import { ASSIGN, CLIENT_SID, IP_PACKET, drain, only, sessionEstablished, sessionParams, type Established } from './fixtures/session-harness.js';

/** A time whose sum with `interval` rounds down, (t + interval) - t < interval: one just below a power of two whose
 *  sum lands above it, where the result has one bit less of fraction (here 2^21 ms, some 35 minutes of uptime). */
function roundingDown(interval: number): number {
  const base = 2 ** 21 - interval / 2;
  for (let i = 1; i < 10_000; i++) {
    const t = base + i / 10_007;
    if (t + interval - t < interval) return t;
  }
  throw new Error('no such time');
}

/** An established session whose client acknowledged everything at `t` (so lastRecv = t) and to which the server
 *  last sent at `t` (lastSent = t): nothing is due until a keepalive deadline. */
function quietAt(f: Established, t: number): void {
  const { s, peer } = f;
  peer.readAll(f.out, t);
  for (const a of peer.acks(0, t)) s.handleControl(a, t);
  s.handleControl(peer.packet(Op.ACK_V1, 0, {}, t), t);   // something from the client at t, in any case
  assert.ok(s.sealData(Buffer.from('x'), t));
  s.tick(t);
  drain(s);
}

describe('tick at nextDeadline() acts, however the deadline rounded', () => {
  test('keepalive: the ping goes out at lastSent + ping interval', () => {
    const f = sessionEstablished();
    const t = roundingDown(10_000);
    quietAt(f, t);
    const at = f.s.nextDeadline()!;
    assert.equal(at, t + 10_000, 'the ping is the next thing due');
    f.s.tick(at);
    assert.equal(only(drain(f.s), 'link').length, 1, 'the ping');
    assert.ok(f.s.nextDeadline()! > at, 'and the deadline moved on');
  });

  test('ping-restart: the session closes at lastRecv + 2 × ping-restart', () => {
    const f = sessionEstablished({ params: { keepalive: { interval: 0, timeout: 60 } } });
    const t = roundingDown(120_000);
    quietAt(f, t);
    const at = f.s.nextDeadline()!;
    assert.equal(at, t + 120_000, 'ping-restart is the next thing due');
    f.s.tick(at);
    assert.equal(f.s.closeKind, 'ping-restart');
  });

  test('hand-window: a handshake that did not finish closes at createdAt + hand-window', () => {
    const t = roundingDown(60_000);
    const s = new Session(sessionParams({ tlsTimeout: 1000 }), CLIENT_SID, t);
    drain(s);
    const at = s.nextDeadline()!;
    assert.equal(at, t + 60_000, 'hand-window is the next thing due');
    s.tick(at);
    assert.equal(s.closeKind, 'hand-window');
  });
});

describe('inactive SECONDS [BYTES] (OpenVPN 2.6 register_activity)', () => {
  test('tunnel payload either way moves the deadline; keepalives do not; at the deadline the session closes', () => {
    const f = sessionEstablished({ params: { keepalive: { interval: 10, timeout: 60 }, inactive: { seconds: 30, bytes: 0 } } });
    const t0 = f.now;
    assert.equal(f.s.nextDeadline()! <= t0 + 30_000, true);
    f.s.openData(f.client.sealV2(0, ASSIGN.peerId, IP_PACKET), t0 + 20_000);
    f.s.openData(f.client.sealV2(0, ASSIGN.peerId, PING_MAGIC), t0 + 45_000);   // a keepalive: no activity
    f.s.tick(t0 + 49_999);
    assert.equal(f.s.closed, false, 'the packet at +20 s moved the deadline to +50 s');
    f.s.tick(t0 + 50_000);
    assert.equal(f.s.closeKind, 'inactive');
  });

  test('BYTES: less than that many bytes within SECONDS still closes; an outbound packet counts too', () => {
    const f = sessionEstablished({ params: { inactive: { seconds: 30, bytes: IP_PACKET.length * 2 } } });
    const t0 = f.now;
    f.s.openData(f.client.sealV2(0, ASSIGN.peerId, IP_PACKET), t0 + 10_000);
    f.s.tick(t0 + 30_000);
    assert.equal(f.s.closeKind, 'inactive', 'one packet is less than BYTES');
    const g = sessionEstablished({ params: { inactive: { seconds: 30, bytes: IP_PACKET.length * 2 } } });
    g.s.openData(g.client.sealV2(0, ASSIGN.peerId, IP_PACKET), g.now + 10_000);
    assert.ok(g.s.sealDataParts(IP_PACKET, g.now + 11_000));
    g.s.tick(g.now + 40_000);
    assert.equal(g.s.closed, false, 'in and out together reach BYTES at +11 s: the deadline is +41 s');
    g.s.tick(g.now + 41_000);
    assert.equal(g.s.closeKind, 'inactive');
  });
});
