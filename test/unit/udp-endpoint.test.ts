// The sans-IO UDP endpoint (src/core/transport/udp-endpoint.ts) and the first-packet vetting it shares with TCP
// (first-packet.ts): demux by peer-id, address and client session id; the stateless cookie; the reset budget;
// client restarts beside the live session; the half-open cap; the float rule; forged and garbage packets.
// Sessions are plain strings here; the clock is a number the tests move.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { type ControlWrap, plainWrap, tlsAuthWrap, tlsCryptWrap } from '../../src/core/session/control-wrap.js';
import { vetFirstPacket } from '../../src/core/transport/first-packet.js';
import { type DatagramEvent, type Incoming, type PeerAddr, UdpEndpoint } from '../../src/core/transport/udp-endpoint.js';
import { emitControl, isParseError, Op, parseControl } from '../../src/core/wire/openvpn-packet.js';

const KEY = randomBytes(256);
const HAND_WINDOW = 60;
const A: PeerAddr = { address: '192.0.2.10', port: 40000 };
const A2: PeerAddr = { address: '192.0.2.10', port: 40001 };   // same host, another port (NAT rebinding)
const B: PeerAddr = { address: '198.51.100.20', port: 50000 };
const FLOOD = '203.0.113.66';

interface Rig { ep: UdpEndpoint<string>; wraps: () => number }

function rig(o: { cap?: number; rate?: number; wrap?: 'crypt' | 'plain' } = {}): Rig {
  let built = 0;
  const server = (replayTime: number): ControlWrap => (o.wrap === 'plain' ? plainWrap() : tlsCryptWrap(KEY, 'server', { replayTime }));
  const ep = new UdpEndpoint<string>({
    responder: server(1000), newWrap: () => { built++; return server(1001); }, handWindowSec: HAND_WINDOW,
    halfOpenCap: o.cap ?? 16, resetRepliesPerSec: o.rate, cookieKey: Buffer.alloc(32, 7),
  });
  return { ep, wraps: () => built };
}

/** One client: its own wrap (its replay ids) and session id. */
class Client {
  readonly sid = randomBytes(8);
  readonly wrap: ControlWrap;
  private pid = 0;
  constructor(kind: 'crypt' | 'plain' = 'crypt') { this.wrap = kind === 'plain' ? plainWrap() : tlsCryptWrap(KEY, 'client', { replayTime: 500 }); }
  reset(packetId = 0): Buffer {
    const reset = emitControl({
      opcode: Op.HARD_RESET_CLIENT_V2, keyId: 0, sessionId: this.sid, acks: [], packetId, payload: Buffer.alloc(0),
    });
    return this.wrap.wrap(reset, 0);
  }
  echo(cookie: Buffer | undefined, opcode: number = Op.ACK_V1): Buffer {
    return this.wrap.wrap(emitControl({
      opcode, keyId: 0, sessionId: this.sid, acks: cookie ? [0] : [], peerSessionId: cookie,
      packetId: opcode === Op.ACK_V1 ? undefined : ++this.pid, payload: opcode === Op.ACK_V1 ? Buffer.alloc(0) : Buffer.from('hello'),
    }), 0);
  }
  control(): Buffer { return this.echo(undefined, Op.CONTROL_V1); }
}

function cookieOf(reply: Buffer, c: Client): Buffer {
  const plain = c.wrap.unwrap(reply, 0);
  assert.ok(plain, 'the reply unwraps with the client key');
  const pkt = parseControl(plain);
  assert.ok(!isParseError(pkt));
  assert.equal(pkt.opcode, Op.HARD_RESET_SERVER_V2);
  assert.deepEqual(pkt.acks, [0]);
  assert.deepEqual(pkt.peerSessionId, c.sid);
  return Buffer.from(pkt.sessionId);
}

function expect<T extends DatagramEvent<string>['t']>(ev: DatagramEvent<string>, t: T): Extract<DatagramEvent<string>, { t: T }> {
  assert.equal(ev.t, t, `expected ${t}, got ${JSON.stringify(ev)}`);
  return ev as Extract<DatagramEvent<string>, { t: T }>;
}

const dropOf = (ev: DatagramEvent<string>): string => expect(ev, 'drop').reason;

/** Reset → cookie → echo: the Incoming, not yet accepted. */
function handshake(ep: UdpEndpoint<string>, from: PeerAddr, c: Client, now = 0): Incoming {
  const reply = expect(ep.handle(from, c.reset(), now), 'reply').bytes;
  return expect(ep.handle(from, c.echo(cookieOf(reply, c)), now), 'new-session').incoming;
}

/** A session named `name` accepted at `from`; established (with `identity`) unless told otherwise. */
const EMPTY = Buffer.alloc(0);

function connect(ep: UdpEndpoint<string>, from: PeerAddr, name: string,
  o: { identity?: string; established?: boolean; now?: number } = {}): Client {
  const c = new Client();
  const inc = handshake(ep, from, c, o.now ?? 0);
  assert.deepEqual(ep.accept(inc, name, o.now ?? 0), {});
  if (o.established ?? true) ep.established(name, o.identity ?? `cert-${name}`);
  return c;
}

function dataV2(peerId: number, len = 40): Buffer {
  const b = randomBytes(len);
  b[0] = (Op.DATA_V2 << 3) | 0;
  b.writeUIntBE(peerId, 1, 3);
  return b;
}

// ---- first contact --------------------------------------------------------------------------------------------

describe('first contact: the stateless cookie', () => {
  test('a reset is answered with a wrapped HARD_RESET_SERVER_V2 whose session id is the cookie; no state, no wrap', () => {
    const { ep, wraps } = rig();
    const c = new Client();
    const r1 = expect(ep.handle(A, c.reset(), 0), 'reply');
    const r2 = expect(ep.handle(A, c.reset(), 10), 'reply');
    assert.deepEqual(cookieOf(r1.bytes, c), cookieOf(r2.bytes, c), 'the same cookie in one slot; peek keeps no replay state');
    assert.equal(ep.size, 0);
    assert.equal(ep.addressCount, 0);
    assert.equal(wraps(), 0);
  });

  test('the echo of the cookie makes a new session with its own wrap, holding the first packet', () => {
    const { ep, wraps } = rig();
    const c = new Client();
    const cookie = cookieOf(expect(ep.handle(A, c.reset(), 0), 'reply').bytes, c);
    const echo = c.echo(cookie, Op.CONTROL_V1);
    const inc = expect(ep.handle(A, echo, 5), 'new-session').incoming;
    assert.equal(wraps(), 1);
    assert.deepEqual(inc.from, A);
    assert.deepEqual(inc.clientSid, c.sid);
    assert.deepEqual(inc.cookie, cookie);
    const pkt = parseControl(inc.first);
    assert.ok(!isParseError(pkt));
    assert.deepEqual(pkt.payload, Buffer.from('hello'));
    assert.equal(inc.wrap.unwrap(echo, 5), undefined, "the session wrap's replay window already holds the echo");
    assert.equal(ep.size, 0, 'nothing is registered until accept');
    assert.deepEqual(ep.accept(inc, 's1', 5), {});
    assert.equal(ep.sessionAt(A), 's1');
    assert.deepEqual(ep.addressOf('s1'), A);
  });

  test('P_CONTROL_V1 echoes are accepted like P_ACK_V1; P_CONTROL_WKC_V1 needs tls-crypt-v2', () => {
    {
      const { ep } = rig();
      const c = new Client();
      const cookie = cookieOf(expect(ep.handle(A, c.reset(), 0), 'reply').bytes, c);
      assert.equal(dropOf(ep.handle(A, c.echo(cookie, Op.CONTROL_WKC_V1), 0)), 'tls-crypt-v2 is not configured');
    }
    for (const op of [Op.ACK_V1, Op.CONTROL_V1]) {
      const { ep } = rig();
      const c = new Client();
      const cookie = cookieOf(expect(ep.handle(A, c.reset(), 0), 'reply').bytes, c);
      expect(ep.handle(A, c.echo(cookie, op), 0), 'new-session');
    }
  });

  test('a cookie is good only for its address, port and client session id, and only for a while', () => {
    const { ep } = rig();
    const c = new Client();
    const cookie = cookieOf(expect(ep.handle(A, c.reset(), 0), 'reply').bytes, c);
    assert.equal(dropOf(ep.handle(B, c.echo(cookie), 0)), 'missing or stale cookie');
    assert.equal(dropOf(ep.handle(A2, c.echo(cookie), 0)), 'missing or stale cookie');
    const other = new Client();
    assert.equal(dropOf(ep.handle(A, other.echo(cookie), 0)), 'missing or stale cookie');
    assert.equal(dropOf(ep.handle(A, c.echo(undefined, Op.CONTROL_V1), 0)), 'missing or stale cookie', 'no ack: no cookie');
    assert.equal(dropOf(ep.handle(A, c.echo(cookie), 4 * HAND_WINDOW * 1000)), 'missing or stale cookie', 'stale');
    expect(ep.handle(A, c.echo(cookie), HAND_WINDOW * 1000), 'new-session');
  });

  test('the reset-reply budget: a burst of `rate`, then one reply per 1/rate s', () => {
    const { ep } = rig({ rate: 200 });
    const c = new Client();
    const reset = c.reset();
    // From 200 sources (a tenth of the budget each): the whole budget goes, then everyone waits.
    for (let i = 0; i < 200; i++) expect(ep.handle({ address: `203.0.113.${i}`, port: 1024 }, reset, 1000), 'reply');
    assert.equal(dropOf(ep.handle(A, reset, 1000)), 'reset replies over budget');
    assert.equal(dropOf(ep.handle(A, reset, 1004)), 'reset replies over budget', 'less than one token back after 4 ms');
    expect(ep.handle(A, reset, 1005), 'reply');
    let replies = 0;
    for (let i = 0; i < 1000; i++) if (ep.handle({ address: `198.18.${i >> 8}.${i & 255}`, port: 1 }, reset, 60_000).t === 'reply') replies++;
    assert.equal(replies, 200, 'a long pause refills the bucket to its burst, no more');
  });

  test('while half the budget is left, one source may take from it: 100 clients behind one address restart at once', () => {
    const { ep } = rig({ rate: 200 });
    let replies = 0;
    for (let i = 0; i < 100; i++) if (ep.handle({ address: '198.51.100.7', port: 2000 + i }, new Client().reset(), 1000).t === 'reply') replies++;
    assert.equal(replies, 100);
  });

  test('below half the budget a source gets only its tenth: its flood leaves the rest for other clients', () => {
    const { ep } = rig({ rate: 200 });
    const reset = new Client().reset();
    let flood = 0;
    for (let i = 0; i < 5000; i++) if (ep.handle({ address: FLOOD, port: 1024 + (i % 60000) }, reset, 1000 + i / 10).t === 'reply') flood++;
    // 500 ms of flood: the upper half of the burst, what refills above half, and its own tenth below it; never the
    // lower half.
    assert.ok(flood >= 100 && flood <= 220, `the flooding source got ${flood} replies`);
    let others = 0;
    for (let i = 0; i < 60; i++) if (ep.handle({ address: `203.0.113.${i}`, port: 1024 }, new Client().reset(), 1500).t === 'reply') others++;
    assert.equal(others, 60, 'the lower half of the budget, less the flooder\'s own tenth, is still there for other sources');
    // An IPv6 source's share is its /64, whatever address in it each packet comes from.
    let v6 = 0;
    for (let i = 0; i < 100; i++) if (ep.handle({ address: `2001:db8:0:7::${(i + 1).toString(16)}`, port: 5 }, reset, 1500).t === 'reply') v6++;
    assert.ok(v6 >= 1 && v6 <= 20, `below half a /64 gets at most its share: got ${v6}`);
    const { ep: fresh } = rig({ rate: 200 });
    for (let i = 0; i < 150; i++) fresh.handle({ address: `2001:db8:0:7::${(i + 1).toString(16)}`, port: 5 }, reset, 1000);
    let more = 0;
    for (let i = 0; i < 50; i++) if (fresh.handle({ address: `2001:db8:0:7::${(i + 1).toString(16)}`, port: 6 }, reset, 1000).t === 'reply') more++;
    assert.equal(more, 0, 'one /64 takes the upper half and its share, then nothing more at that instant');
    expect(fresh.handle({ address: '2001:db8:0:8::1', port: 5 }, reset, 1000), 'reply');
  });
});

// ---- forged and malformed packets -------------------------------------------------------------------------------

describe('forged and malformed packets', () => {
  test('each refused first packet names its reason', () => {
    const { ep } = rig();
    const c = new Client();
    const keyed = c.reset();
    keyed[0] |= 1;
    const v3 = Buffer.from(c.reset());
    v3[0] = Op.HARD_RESET_CLIENT_V3 << 3;
    const serverOp = Buffer.from(c.reset());
    serverOp[0] = Op.HARD_RESET_SERVER_V2 << 3;
    const bad = Buffer.from(c.reset());
    bad[bad.length - 1] ^= 1;
    const cases: [Buffer, string][] = [
      [Buffer.alloc(0), 'empty packet'],
      [Buffer.from([Op.DATA_V2 << 3, 0, 0]), 'truncated data packet'],
      [dataV2(77), 'data packet for an unknown peer id'],
      [Buffer.concat([Buffer.from([Op.DATA_V1 << 3]), randomBytes(40)]), 'data packet from an unknown address'],
      [keyed, 'first packet with a nonzero key id'],
      [v3, 'tls-crypt-v2 is not configured'],
      [serverOp, 'unexpected first packet'],
      [bad, 'packet failed tls-auth/tls-crypt verification'],
      [c.reset(1), 'client reset with a nonzero packet id'],
    ];
    for (const [pkt, reason] of cases) assert.equal(dropOf(ep.handle(A, pkt, 0)), reason, reason);
  });

  test('a verified but unparsable first packet is malformed', () => {
    const { ep } = rig({ wrap: 'plain' });
    const b = Buffer.alloc(12);
    b[0] = Op.CONTROL_V1 << 3;
    b[9] = 9;   // 9 acks: more than a control packet may carry
    assert.equal(dropOf(ep.handle(A, b, 0)), 'malformed first packet');
  });

  test('any bytes from anywhere: never throws, builds no wrap, leaves no state, always says why', () => {
    const { ep, wraps } = rig();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 65535 }), (bytes, port) => {
      const ev = ep.handle({ address: FLOOD, port }, Buffer.from(bytes), 0);
      assert.ok(ev.t === 'drop' || ev.t === 'reply', ev.t);
    }), { numRuns: 3000 });
    assert.equal(wraps(), 0);
    assert.equal(ep.size, 0);
    assert.equal(ep.addressCount, 0);
  });

  test('a forged reset from an established client address neither reaches nor closes its session', () => {
    const { ep, wraps } = rig();
    connect(ep, A, 'alice');
    const built = wraps();
    for (let i = 0; i < 100; i++) {
      const f = randomBytes(1 + 8 + 8 + 32 + 14);
      f[0] = Op.HARD_RESET_CLIENT_V2 << 3;
      assert.equal(dropOf(ep.handle(A, f, 0)), 'packet failed tls-auth/tls-crypt verification');
    }
    assert.equal(ep.sessionAt(A), 'alice');
    assert.equal(wraps(), built);
  });

  test('without tls-auth a reset with a new session id (forged or a real restart) only gets a cookie reply', () => {
    const { ep } = rig({ wrap: 'plain' });
    const c = new Client('plain');
    const inc = handshake(ep, A, c);
    ep.accept(inc, 'alice', 0);
    ep.established('alice', 'cert-a');
    const forger = new Client('plain');
    expect(ep.handle(A, forger.reset(), 0), 'reply');
    assert.equal(ep.sessionAt(A), 'alice', 'the live session stays; only an established replacement ends it');
    assert.equal(expect(ep.handle(A, c.control(), 0), 'control').session, 'alice');
  });
});

// ---- demux ------------------------------------------------------------------------------------------------------

describe('demux', () => {
  test('control by address and client session id; a retransmitted reset of the session goes to the session', () => {
    const { ep } = rig();
    const c = connect(ep, A, 'alice');
    assert.equal(expect(ep.handle(A, c.control(), 0), 'control').session, 'alice');
    assert.equal(expect(ep.handle(A, c.reset(), 0), 'control').session, 'alice');
    assert.equal(ep.handle(B, c.control(), 0).t, 'drop', 'the same packet from another address is first contact');
    assert.equal(dropOf(ep.handle(A, new Client().control(), 0)), 'missing or stale cookie', 'another sid from the address');
  });

  test('data: P_DATA_V2 by peer-id (moved when the address differs), P_DATA_V1 by address', () => {
    const { ep } = rig();
    connect(ep, A, 'alice');
    const id = ep.allocatePeerId('alice');
    const d = expect(ep.handle(A, dataV2(id), 0), 'data');
    assert.equal(d.session, 'alice');
    assert.equal(d.moved, false);
    assert.equal(expect(ep.handle(A2, dataV2(id), 0), 'data').moved, true);
    assert.equal(expect(ep.handle(B, dataV2(id), 0), 'data').moved, true);
    const v1 = Buffer.concat([Buffer.from([Op.DATA_V1 << 3]), randomBytes(40)]);
    assert.equal(expect(ep.handle(A, v1, 0), 'data').session, 'alice');
    assert.equal(dropOf(ep.handle(B, v1, 0)), 'data packet from an unknown address');
  });

  test('peer-ids: unique across UDP and TCP sessions, stable per session, routing only UDP data, freed on close', () => {
    const { ep } = rig();
    connect(ep, A, 'alice');
    const a = ep.allocatePeerId('alice');
    const t = ep.allocatePeerId('tcp-bob');   // a TCP session: an id, but no UDP route
    assert.notEqual(a, t);
    assert.equal(ep.allocatePeerId('alice'), a, 'asking again gives the same id');
    assert.equal(dropOf(ep.handle(A, dataV2(t), 0)), 'data packet for an unknown peer id');
    ep.closed('alice');
    ep.closed('tcp-bob');
    assert.equal(dropOf(ep.handle(A, dataV2(a), 0)), 'data packet for an unknown peer id');
    const ids = new Set<number>();
    for (let i = 0; i < 1000; i++) ids.add(ep.allocatePeerId(`s${i}`));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.ok(id >= 0 && id < 0xffffff);
  });

  test('closed() forgets the session: address, peer-id and half-open entry', () => {
    const { ep } = rig();
    connect(ep, A, 'alice', { established: false });
    ep.allocatePeerId('alice');
    assert.equal(ep.halfOpenCount, 1);
    ep.closed('alice');
    assert.equal(ep.size, 0);
    assert.equal(ep.addressCount, 0);
    assert.equal(ep.halfOpenCount, 0);
    assert.equal(ep.sessionAt(A), undefined);
    ep.closed('alice');   // harmless twice
  });
});

// ---- client restarts --------------------------------------------------------------------------------------------

describe('a client restart (new session id from the address of a live session)', () => {
  test('runs beside the live session and replaces it only once established', () => {
    const { ep } = rig();
    const old = connect(ep, A, 'old');
    const fresh = new Client();
    const inc = handshake(ep, A, fresh);
    assert.deepEqual(ep.accept(inc, 'new', 0), {});
    assert.equal(ep.sessionAt(A), 'old', 'still the live session');
    assert.equal(expect(ep.handle(A, fresh.control(), 0), 'control').session, 'new');
    assert.equal(expect(ep.handle(A, old.control(), 0), 'control').session, 'old');
    assert.equal(ep.established('new', 'cert-old'), 'old', 'the caller closes the replaced session');
    assert.equal(ep.sessionAt(A), 'new');
    ep.closed('old');
    assert.equal(ep.sessionAt(A), 'new', 'closing the replaced session leaves its successor alone');
    assert.equal(expect(ep.handle(A, fresh.control(), 0), 'control').session, 'new');
  });

  test('a restart that never finishes leaves the live session as it was', () => {
    const { ep } = rig();
    const old = connect(ep, A, 'old');
    ep.accept(handshake(ep, A, new Client()), 'new', 0);
    ep.closed('new');
    assert.equal(ep.sessionAt(A), 'old');
    assert.equal(expect(ep.handle(A, old.control(), 0), 'control').session, 'old');
    assert.equal(ep.addressCount, 1);
  });

  test('a newer restart supersedes an unfinished one', () => {
    const { ep } = rig();
    connect(ep, A, 'old');
    ep.accept(handshake(ep, A, new Client()), 'r1', 0);
    assert.deepEqual(ep.accept(handshake(ep, A, new Client()), 'r2', 0), { superseded: 'r1' });
    ep.closed('r1');
    assert.equal(ep.established('r2', 'x'), 'old');
  });

  test('when the live session closes first, the restart becomes the session at the address', () => {
    const { ep } = rig();
    connect(ep, A, 'old');
    const fresh = new Client();
    ep.accept(handshake(ep, A, fresh), 'new', 0);
    ep.closed('old');
    assert.equal(ep.sessionAt(A), 'new');
    assert.equal(ep.established('new', 'x'), undefined, 'nothing left to replace');
  });
});

// ---- the half-open cap ------------------------------------------------------------------------------------------

describe('the `from` of a datagram is valid only during the call (the native socket rewrites one object)', () => {
  test('a session keeps its own copy of the address it was created and floated at', () => {
    const { ep } = rig();
    const from = { address: A.address, port: A.port };
    const c = new Client();
    const reply = expect(ep.handle(from, c.reset(), 0), 'reply').bytes;
    const inc = expect(ep.handle(from, c.echo(cookieOf(reply, c)), 0), 'new-session').incoming;
    ep.accept(inc, 'alice', 0);
    ep.established('alice', 'cert-alice');
    from.address = B.address; from.port = B.port;
    assert.deepEqual(ep.addressOf('alice'), A);
    assert.equal(ep.sessionAt(A), 'alice');
    assert.equal(ep.sessionAt(B), undefined);
    assert.deepEqual(ep.authenticated('alice', from), { t: 'floated', closes: [] });
    from.address = FLOOD; from.port = 1;
    assert.deepEqual(ep.addressOf('alice'), B);
    assert.equal(expect(ep.handle(B, c.control(), 0), 'control').session, 'alice');
    ep.closed('alice');
    assert.equal(ep.addressCount, 0);
  });

  test('sessions at many ports of one address and one port of many addresses are kept apart and all forgotten', () => {
    const { ep } = rig({ cap: 64 });
    const names: string[] = [];
    for (let i = 0; i < 8; i++) {
      for (const address of [A.address, B.address]) {
        const name = `${address}-${i}`;
        connect(ep, { address, port: 41000 + i }, name);
        names.push(name);
      }
    }
    assert.equal(ep.addressCount, 16);
    for (let i = 0; i < 8; i++) assert.equal(ep.sessionAt({ address: B.address, port: 41000 + i }), `${B.address}-${i}`);
    for (const n of names) ep.closed(n);
    assert.equal(ep.addressCount, 0);
    assert.equal(ep.size, 0);
  });
});

describe('half-open sessions', () => {
  test('at the cap the busiest address loses its oldest; a client from another address is never the one', () => {
    const { ep } = rig({ cap: 4, rate: 10_000 });   // a budget that lets one address make dozens of handshakes
    connect(ep, B, 'client', { established: false });
    const evicted: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = ep.accept(handshake(ep, { address: FLOOD, port: 2000 + i }, new Client()), `f${i}`, i);
      if (r.evicted) { evicted.push(r.evicted); ep.closed(r.evicted); }
    }
    assert.deepEqual(evicted, Array.from({ length: 47 }, (_, i) => `f${i}`));
    assert.equal(ep.halfOpenCount, 4);
    assert.equal(ep.sessionAt(B), 'client');
  });

  test('established sessions do not count against the cap', () => {
    const { ep } = rig({ cap: 2 });
    for (let i = 0; i < 10; i++) connect(ep, { address: FLOOD, port: 3000 + i }, `ok${i}`);
    assert.equal(ep.halfOpenCount, 0);
    assert.equal(ep.size, 10);
    assert.deepEqual(ep.accept(handshake(ep, A, new Client()), 'x', 0), {});
  });
});

// ---- float ------------------------------------------------------------------------------------------------------

describe('float (an authenticated data packet from a new address)', () => {
  test('moves an established session: its control and data follow it, the old address is free', () => {
    const { ep } = rig();
    const c = connect(ep, A, 'alice');
    const id = ep.allocatePeerId('alice');
    assert.deepEqual(ep.authenticated('alice', B), { t: 'floated', closes: [] });
    assert.deepEqual(ep.addressOf('alice'), B);
    assert.equal(ep.sessionAt(A), undefined);
    assert.equal(ep.sessionAt(B), 'alice');
    assert.equal(expect(ep.handle(B, dataV2(id), 0), 'data').moved, false);
    assert.equal(expect(ep.handle(B, c.control(), 0), 'control').session, 'alice');
    assert.equal(ep.handle(A, c.control(), 0).t, 'drop');
    assert.equal(ep.addressCount, 1);
  });

  test('the same address, or a session not yet established: no float', () => {
    const { ep } = rig();
    connect(ep, A, 'alice');
    assert.deepEqual(ep.authenticated('alice', { address: A.address, port: A.port }), { t: 'stay' });
    connect(ep, B, 'bob', { established: false });
    assert.deepEqual(ep.authenticated('bob', A2), { t: 'stay' });
    assert.deepEqual(ep.addressOf('bob'), B);
    assert.deepEqual(ep.authenticated('nobody', A2), { t: 'stay' });
  });

  test('onto an address held by another client (another certificate): refused, both stay', () => {
    const { ep } = rig();
    connect(ep, A, 'alice', { identity: 'cert-alice' });
    connect(ep, B, 'bob', { identity: 'cert-bob' });
    assert.deepEqual(ep.authenticated('alice', B), { t: 'refused', reason: 'float to an address held by another client' });
    assert.equal(ep.sessionAt(A), 'alice');
    assert.equal(ep.sessionAt(B), 'bob');
  });

  test('onto an address held by a session still in its handshake: refused', () => {
    const { ep } = rig();
    connect(ep, A, 'alice', { identity: 'cert-alice' });
    connect(ep, B, 'pending', { established: false });
    assert.equal(ep.authenticated('alice', B).t, 'refused');
  });

  test('onto an address held by the same client (same certificate): that older session is closed', () => {
    const { ep } = rig();
    connect(ep, A, 'phone', { identity: 'cert-x' });
    connect(ep, B, 'phone-old', { identity: 'cert-x' });
    assert.deepEqual(ep.authenticated('phone', B), { t: 'floated', closes: ['phone-old'] });
    assert.equal(ep.sessionAt(B), 'phone');
    ep.closed('phone-old');
    assert.equal(ep.sessionAt(B), 'phone', 'closing the displaced session leaves the floated one');
  });

  test('a session leaving an address hands it to the restart waiting there', () => {
    const { ep } = rig();
    connect(ep, A, 'old', { identity: 'x' });
    ep.accept(handshake(ep, A, new Client()), 'new', 0);
    assert.equal(ep.authenticated('old', B).t, 'floated');
    assert.equal(ep.sessionAt(A), 'new');
    assert.equal(ep.established('new', 'x'), undefined, 'the floated session is not replaced');
    assert.equal(ep.sessionAt(B), 'old');
  });
});

// ---- IPv6 peers (the socket hands over canonical IPv6 text, and IPv4-mapped peers as plain IPv4) ------------------

describe('IPv6 peers', () => {
  const V6: PeerAddr = { address: 'fd00:198:19:1::2', port: 40000 };
  const V6_SAME_64: PeerAddr = { address: 'fd00:198:19:1::3', port: 40000 };
  const V6_OTHER: PeerAddr = { address: 'fd00:198:19:2::2', port: 41000 };

  test('the cookie handshake completes from an IPv6 address; the echo from another address of its /64 or port is refused', () => {
    const { ep } = rig();
    const c = new Client();
    const cookie = cookieOf(expect(ep.handle(V6, c.reset(), 0), 'reply').bytes, c);
    assert.equal(dropOf(ep.handle(V6_SAME_64, c.echo(cookie), 0)), 'missing or stale cookie');
    assert.equal(dropOf(ep.handle({ address: V6.address, port: V6.port + 1 }, c.echo(cookie), 0)), 'missing or stale cookie');
    const inc = expect(ep.handle(V6, c.echo(cookie), 0), 'new-session').incoming;
    assert.deepEqual(inc.from, V6);
    assert.deepEqual(ep.accept(inc, 'v6', 0), {});
    assert.equal(ep.sessionAt(V6), 'v6');
  });

  test('an IPv6 session and an IPv4 one are told apart by address; data routes by peer-id, control by address', () => {
    const { ep } = rig();
    const c6 = connect(ep, V6, 'six');
    const c4 = connect(ep, A, 'four');
    assert.equal(expect(ep.handle(V6, c6.control(), 0), 'control').session, 'six');
    assert.equal(expect(ep.handle(A, c4.control(), 0), 'control').session, 'four');
    const id = ep.allocatePeerId('six');
    const ev = expect(ep.handle(V6, dataV2(id), 0), 'data');
    assert.equal(ev.session, 'six');
    assert.equal(ev.moved, false);
  });

  test('float: an established IPv6 session moves to a new IPv6 address (and from IPv6 to IPv4) on an authenticated packet', () => {
    const { ep } = rig();
    connect(ep, V6, 'roamer');
    const id = ep.allocatePeerId('roamer');
    assert.equal(expect(ep.handle(V6_OTHER, dataV2(id), 0), 'data').moved, true);
    assert.deepEqual(ep.authenticated('roamer', V6_OTHER), { t: 'floated', closes: [] });
    assert.deepEqual(ep.addressOf('roamer'), V6_OTHER);
    assert.equal(ep.sessionAt(V6), undefined);
    assert.equal(expect(ep.handle(V6_OTHER, dataV2(id), 0), 'data').moved, false);
    assert.deepEqual(ep.authenticated('roamer', B), { t: 'floated', closes: [] });
    assert.equal(ep.sessionAt(B), 'roamer');
    assert.equal(ep.addressCount, 1);
  });

  test('float onto an IPv6 address held by another client is refused', () => {
    const { ep } = rig();
    connect(ep, V6, 'alice', { identity: 'cert-alice' });
    connect(ep, V6_OTHER, 'bob', { identity: 'cert-bob' });
    assert.equal(ep.authenticated('alice', V6_OTHER).t, 'refused');
    assert.equal(ep.sessionAt(V6_OTHER), 'bob');
  });

  test('the half-open cap counts a /64 as one source: a flood from many addresses of one /64 evicts only its own', () => {
    const { ep } = rig({ cap: 4 });
    const ok = new Client();
    assert.deepEqual(ep.accept(handshake(ep, V6_OTHER, ok), 'client', 0), {});
    const evicted: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = ep.accept(handshake(ep, { address: `fd00:198:19:1::${(i + 10).toString(16)}`, port: 5000 }, new Client()), `f${i}`, i);
      if (r.evicted) evicted.push(r.evicted);
    }
    assert.ok(evicted.length > 0);
    assert.ok(!evicted.includes('client'), `evicted: ${evicted.join(' ')}`);
    assert.equal(ep.sessionAt(V6_OTHER), 'client');
  });
});

// ---- first-packet vetting, shared with TCP ------------------------------------------------------------------------

describe('vetFirstPacket', () => {
  test('TCP takes only a client reset; UDP also takes the cookie echo', () => {
    const w = tlsAuthWrap(KEY, 0, 'SHA256', 'server', { replayTime: 1 });
    const client = tlsAuthWrap(KEY, 1, 'SHA256', 'client', { replayTime: 2 });
    const sid = randomBytes(8);
    const reset = client.wrap(
      emitControl({ opcode: Op.HARD_RESET_CLIENT_V2, keyId: 0, sessionId: sid, acks: [], packetId: 0, payload: Buffer.alloc(0) }), 0);
    const echo = client.wrap(
      emitControl({ opcode: Op.ACK_V1, keyId: 0, sessionId: sid, acks: [0], peerSessionId: Buffer.alloc(8, 3), payload: EMPTY }), 0);
    assert.deepEqual(vetFirstPacket(reset, w, 'reset'), { kind: 'reset', clientSid: sid });
    assert.deepEqual(vetFirstPacket(reset, w, 'reset-or-echo'), { kind: 'reset', clientSid: sid });
    assert.deepEqual(vetFirstPacket(echo, w, 'reset'), { drop: 'unexpected first packet' });
    assert.deepEqual(vetFirstPacket(echo, w, 'reset-or-echo'), { kind: 'echo', clientSid: sid, cookie: Buffer.alloc(8, 3) });
    assert.deepEqual(vetFirstPacket(reset, w, 'reset'), { kind: 'reset', clientSid: sid }, 'peek again: no replay state');
    const wrongKey = tlsAuthWrap(randomBytes(256), 0, 'SHA256', 'server');
    assert.deepEqual(vetFirstPacket(reset, wrongKey, 'reset'), { drop: 'packet failed tls-auth/tls-crypt verification' });
  });
});
