// tls-crypt-v2 first packets (src/core/transport/first-packet.ts, udp-endpoint.ts, session/tls-crypt-v2-wrap.ts):
// a client's HARD_RESET_CLIENT_V3 is answered statelessly with RESEND_WKC, sealed with its Kc; its
// P_CONTROL_WKC_V1 echo creates the session with Kc; a forged WKc or packet leaves nothing behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  timestampMetadata, unwrapClientKey, WkcOpener, wrapClientKey,
} from '../../src/core/crypto/tls-crypt-v2.js';
import { type ControlWrap, tlsCryptWrap } from '../../src/core/session/control-wrap.js';
import { clientKeyWrap } from '../../src/core/session/tls-crypt-v2-wrap.js';
import { type TlsCryptV2Keys, vetFirstPacket } from '../../src/core/transport/first-packet.js';
import { type DatagramEvent, type PeerAddr, UdpEndpoint } from '../../src/core/transport/udp-endpoint.js';
import { emitControl, isParseError, Op, parseControl } from '../../src/core/wire/openvpn-packet.js';

const SERVER_KEY = randomBytes(128);
const OTHER_SERVER_KEY = randomBytes(128);
const A: PeerAddr = { address: '192.0.2.10', port: 40000 };
const NOW_UNIX = 1_750_000_000;
const EARLY_NEG_PID = 0x0f000001;
const EMPTY = Buffer.alloc(0);

interface Counts { reply: number; session: number; plain: number }

function v2Keys(counts: Counts, maxAgeDays?: number): TlsCryptV2Keys {
  return {
    opener: new WkcOpener(SERVER_KEY),
    wrapFor: (kc, use) => { counts[use]++; return clientKeyWrap(kc, { replayTime: use === 'reply' ? 1000 : 1001 }); },
    maxAgeDays,
  };
}

function rig(o: { maxAgeDays?: number; classic?: boolean } = {}) {
  const counts: Counts = { reply: 0, session: 0, plain: 0 };
  const classicKey = randomBytes(256);
  const ep = new UdpEndpoint<string>({
    responder: o.classic ? tlsCryptWrap(classicKey, 'server', { replayTime: 1000 }) : undefined,
    newWrap: () => { counts.plain++; return tlsCryptWrap(classicKey, 'server', { replayTime: 1001 }); },
    tlsCryptV2: v2Keys(counts, o.maxAgeDays), unixOffsetMs: NOW_UNIX * 1000,
    handWindowSec: 60, halfOpenCap: 16, cookieKey: Buffer.alloc(32, 7),
  });
  return { ep, counts, classicKey };
}

/** A 2.6 tls-crypt-v2 client: Kc, its WKc, replay ids from EARLY_NEG_START + 1. */
class V2Client {
  readonly sid = randomBytes(8);
  readonly kc = randomBytes(256);
  readonly wkc: Buffer;
  readonly wrap: ControlWrap;
  private pid = 0;
  constructor(o: { serverKey?: Buffer; metadata?: Buffer; initialPid?: number } = {}) {
    this.wkc = wrapClientKey(o.serverKey ?? SERVER_KEY, this.kc, o.metadata ?? timestampMetadata(NOW_UNIX - 100));
    this.wrap = tlsCryptWrap(this.kc, 'client', { replayTime: 500, initialPid: o.initialPid ?? EARLY_NEG_PID });
  }
  reset(): Buffer {
    const plain = emitControl({ opcode: Op.HARD_RESET_CLIENT_V3, keyId: 0, sessionId: this.sid, acks: [], packetId: 0, payload: EMPTY });
    return Buffer.concat([this.wrap.wrap(plain, 0), this.wkc]);
  }
  /** P_CONTROL_WKC_V1 acknowledging `cookie` (with the WKc) or a P_CONTROL_V1 (without). */
  control(cookie: Buffer, opcode: number = Op.CONTROL_WKC_V1): Buffer {
    const plain = emitControl({
      opcode, keyId: 0, sessionId: this.sid, acks: [0], peerSessionId: cookie, packetId: ++this.pid, payload: Buffer.from('hello'),
    });
    const w = this.wrap.wrap(plain, 0);
    return opcode === Op.CONTROL_WKC_V1 ? Buffer.concat([w, this.wkc]) : w;
  }
}

function expect<T extends DatagramEvent<string>['t']>(ev: DatagramEvent<string>, t: T): Extract<DatagramEvent<string>, { t: T }> {
  assert.equal(ev.t, t, `expected ${t}, got ${JSON.stringify(ev)}`);
  return ev as Extract<DatagramEvent<string>, { t: T }>;
}
const dropOf = (ev: DatagramEvent<string>): string => expect(ev, 'drop').reason;

function assertNoState(ep: UdpEndpoint<string>, counts: Counts, replies = 0): void {
  assert.equal(ep.size, 0);
  assert.equal(ep.addressCount, 0);
  assert.equal(ep.halfOpenCount, 0);
  assert.equal(counts.session, 0, 'no session wrap');
  assert.equal(counts.plain, 0, 'no classic session wrap');
  assert.ok(counts.reply <= replies + 1, `at most one transient Kc wrap (${counts.reply})`);
}

describe('WkcOpener', () => {
  test('opens what unwrapClientKey opens, at an offset in a packet, and nothing else', () => {
    const opener = new WkcOpener(SERVER_KEY);
    for (const md of [timestampMetadata(NOW_UNIX), Buffer.concat([Buffer.from([0]), randomBytes(300)])]) {
      const kc = randomBytes(256);
      const wkc = wrapClientKey(SERVER_KEY, kc, md);
      const wire = Buffer.concat([randomBytes(60), wkc]);
      assert.deepEqual(opener.open(wire, 60), unwrapClientKey(SERVER_KEY, wkc));
      assert.deepEqual(opener.open(wire, 60)?.kc, kc);
      for (const i of [60, 60 + 31, 60 + 32, wire.length - 3, wire.length - 1]) {
        const bad = Buffer.from(wire);
        bad[i]! ^= 1;
        assert.equal(opener.open(bad, 60), undefined, `byte ${i}`);
      }
      assert.equal(new WkcOpener(OTHER_SERVER_KEY).open(wire, 60), undefined);
    }
  });
});

describe('UDP: the stateless V3 handshake', () => {
  test('a V3 reset gets a cookie reset sealed with Kc that asks for the WKc again; WKC_V1 creates the session', () => {
    const { ep, counts } = rig();
    const c = new V2Client();
    const reply = expect(ep.handle(A, c.reset(), 0), 'reply').bytes;
    assertNoState(ep, counts, 1);
    const plain = c.wrap.unwrap(reply, 0);
    assert.ok(plain, 'the reply unwraps with the client key');
    const pkt = parseControl(plain);
    assert.ok(!isParseError(pkt));
    assert.equal(pkt.opcode, Op.HARD_RESET_SERVER_V2);
    assert.deepEqual(pkt.acks, [0]);
    assert.deepEqual(pkt.peerSessionId, c.sid);
    assert.equal(pkt.packetId, 0);
    assert.equal(pkt.payload.toString('hex'), '000100020001', 'EARLY_NEG_FLAGS = RESEND_WKC');
    const cookie = Buffer.from(pkt.sessionId);

    const inc = expect(ep.handle(A, c.control(cookie), 0), 'new-session').incoming;
    assert.equal(counts.session, 1);
    assert.equal(counts.plain, 0);
    assert.equal(inc.tlsCryptV2, true);
    assert.deepEqual(inc.cookie, cookie);
    const first = parseControl(inc.first);
    assert.ok(!isParseError(first));
    assert.equal(first.opcode, Op.CONTROL_WKC_V1);
    assert.equal(first.payload.toString(), 'hello');
    // The session's wrap is Kc's: a later CONTROL_V1, and a resent WKC_V1 (its WKc cut off), both unwrap.
    assert.ok(inc.wrap.unwrap(c.control(cookie, Op.CONTROL_V1), 0));
    assert.ok(inc.wrap.unwrap(c.control(cookie, Op.CONTROL_WKC_V1), 0));
    assert.equal(inc.wrap.unwrap(c.control(cookie, Op.CONTROL_V1).subarray(1), 0), undefined);
    // The server's packets are tls-crypt with Kc, server side.
    const out = emitControl({
      opcode: Op.CONTROL_V1, keyId: 0, sessionId: cookie, acks: [1], peerSessionId: c.sid, packetId: 1, payload: EMPTY,
    });
    assert.deepEqual(c.wrap.unwrap(inc.wrap.wrap(out, 0), 0), out);
  });

  test('a tampered WKc, a WKc of another server key or a tampered packet: dropped, nothing kept', () => {
    const c = new V2Client();
    const reset = c.reset();
    const wkcAt = reset.length - c.wkc.length;
    const cases: [Buffer, string][] = [];
    for (const i of [wkcAt, wkcAt + 40, reset.length - 1]) {
      const b = Buffer.from(reset); b[i]! ^= 1; cases.push([b, 'tls-crypt-v2 client key failed verification']);
    }
    cases.push([new V2Client({ serverKey: OTHER_SERVER_KEY }).reset(), 'tls-crypt-v2 client key failed verification']);
    for (const i of [1, 9, 20, wkcAt - 1]) {
      const b = Buffer.from(reset); b[i]! ^= 1; cases.push([b, 'packet failed tls-auth/tls-crypt verification']);
    }
    cases.push([reset.subarray(0, reset.length - 1), 'tls-crypt-v2 client key failed verification']);
    for (const [pkt, reason] of cases) {
      const { ep, counts } = rig();
      assert.equal(dropOf(ep.handle(A, pkt, 0)), reason);
      assertNoState(ep, counts);
    }
  });

  test('the WKC_V1 echo needs the cookie of its address and a WKc of this server', () => {
    const { ep, counts } = rig();
    const c = new V2Client();
    const reply = expect(ep.handle(A, c.reset(), 0), 'reply').bytes;
    const cookie = Buffer.from((parseControl(c.wrap.unwrap(reply, 0)!) as { sessionId: Buffer }).sessionId);
    assert.equal(dropOf(ep.handle({ address: A.address, port: 1 }, c.control(cookie), 0)), 'missing or stale cookie');
    const noWkc = c.control(cookie, Op.CONTROL_V1);
    assert.equal(dropOf(ep.handle(A, noWkc, 0)), 'client without tls-crypt-v2 (the server requires it)');
    const forged = c.control(cookie);
    forged[forged.length - 10]! ^= 1;
    assert.equal(dropOf(ep.handle(A, forged, 0)), 'tls-crypt-v2 client key failed verification');
    assertNoState(ep, counts, 4);
  });

  test('a V3 client without early negotiation (before 2.6) is dropped before any reply', () => {
    const { ep, counts } = rig();
    assert.equal(dropOf(ep.handle(A, new V2Client({ initialPid: 1 }).reset(), 0)),
      'tls-crypt-v2 client without early negotiation (before OpenVPN 2.6)');
    assertNoState(ep, counts);
  });

  test('tls-crypt-v2 only: a V2 reset is refused; with tls-crypt beside it, both kinds of clients are answered', () => {
    const v2only = rig();
    const classic = (key: Buffer): Buffer => tlsCryptWrap(key, 'client', { replayTime: 1 }).wrap(emitControl({
      opcode: Op.HARD_RESET_CLIENT_V2, keyId: 0, sessionId: randomBytes(8), acks: [], packetId: 0, payload: EMPTY,
    }), 0);
    assert.equal(dropOf(v2only.ep.handle(A, classic(v2only.classicKey), 0)), 'client without tls-crypt-v2 (the server requires it)');
    const both = rig({ classic: true });
    const r = expect(both.ep.handle(A, classic(both.classicKey), 0), 'reply');
    assert.ok(tlsCryptWrap(both.classicKey, 'client').unwrap(r.bytes, 0));
    expect(both.ep.handle(A, new V2Client().reset(), 0), 'reply');
  });

  test('tls-crypt-v2-max-age: older keys and keys without a timestamp are refused', () => {
    const day = 86400;
    const cases: [Buffer, boolean][] = [
      [timestampMetadata(NOW_UNIX - 100), true],
      [timestampMetadata(NOW_UNIX - 30 * day + 10), true],
      [timestampMetadata(NOW_UNIX - 30 * day - 10), false],
      [Buffer.from([0, 1, 2, 3]), false],
    ];
    for (const [metadata, ok] of cases) {
      const { ep, counts } = rig({ maxAgeDays: 30 });
      const ev = ep.handle(A, new V2Client({ metadata }).reset(), 0);
      if (ok) expect(ev, 'reply');
      else { assert.equal(dropOf(ev), 'tls-crypt-v2 client key too old or without a timestamp'); assertNoState(ep, counts); }
    }
  });
});

describe('TCP: the V3 reset is the first packet', () => {
  test('vetted as a reset with the client key; without tls-crypt-v2 configured it is refused', () => {
    const counts: Counts = { reply: 0, session: 0, plain: 0 };
    const c = new V2Client({ initialPid: 1 });
    const v = vetFirstPacket(c.reset(), undefined, 'reset', v2Keys(counts), NOW_UNIX);
    assert.ok('kind' in v && v.kind === 'reset', JSON.stringify(v));
    assert.deepEqual(v.clientSid, c.sid);
    assert.deepEqual(v.tlsCryptV2?.clientKey.kc, c.kc);
    assert.equal(v.tlsCryptV2?.earlyNegotiation, false);
    assert.deepEqual(vetFirstPacket(c.reset(), tlsCryptWrap(randomBytes(256), 'server'), 'reset'), { drop: 'tls-crypt-v2 is not configured' });
    assert.deepEqual(vetFirstPacket(c.control(randomBytes(8)), undefined, 'reset', v2Keys(counts)), { drop: 'unexpected first packet' });
  });
});
