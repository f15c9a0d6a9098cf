// Random and mutated inputs into the session in every state: nothing throws, and nextDeadline() is never in the
// past. The driver plays the io loop: before an input at time t it ticks every deadline that fell due up to t.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clientDataKeys, AeadDataChannel, type DataChannel } from '../../src/core/crypto/data-channel.js';
import { emitClientKm2, textMessage } from '../../src/core/session/key-method2.js';
import { OCC_MAGIC, PING_MAGIC, type Session } from '../../src/core/session/session.js';
import { Op } from '../../src/core/wire/openvpn-packet.js';
import {
  ASSIGN, CLIENT_HELLO, clientKm2, drain, ekmFor, type Fixture, IP_PACKET, only, type Peer, seq, sessionAfterReset,
  sessionAuthWait, sessionEstablished, sessionTlsHandshake, T0, type WrapKind,
} from './fixtures/session-harness.js';

// ---- states -------------------------------------------------------------------------------------------------------

interface State { f: Fixture; handles: number[]; client: DataChannel }

const STATES: { name: string; build: (wrap: WrapKind) => State }[] = [
  { name: 'after reset', build: (wrap) => plainState(sessionAfterReset({ wrap })) },
  { name: 'TLS handshake', build: (wrap) => plainState(sessionTlsHandshake({ wrap })) },
  { name: 'auth wait', build: (wrap) => plainState(sessionAuthWait({ wrap })) },
  {
    name: 'refused (close pending)',
    build: (wrap) => {
      const f = sessionAuthWait({ wrap });
      f.s.handleAuth(f.handle, { ok: false, reason: 'fuzz' }, T0);
      drain(f.s);
      return plainState(f);
    },
  },
  {
    name: 'established',
    build: (wrap) => {
      const f = sessionEstablished({ wrap, params: { renegSec: 30, tranWindow: 20 } });
      return { f, handles: [f.handle], client: f.client };
    },
  },
  {
    name: 'renegotiating (client SOFT_RESET kid 1 in)',
    build: (wrap) => {
      const f = sessionEstablished({ wrap, params: { renegSec: 30, tranWindow: 20 } });
      f.s.handleControl(f.peer.packet(Op.SOFT_RESET_V1, 1), T0);
      const [open] = only(drain(f.s), 'tls-open');
      return { f, handles: [f.handle, open.handle], client: f.client };
    },
  },
];

function plainState(f: Fixture): State {
  return { f, handles: [f.handle], client: new AeadDataChannel(clientDataKeys(ekmFor(0), 'AES-256-GCM')) };
}

// ---- seeds: real packets of this session ------------------------------------------------------------------------------

function controlSeeds(peer: Peer): Buffer[] {
  return [
    peer.packet(Op.HARD_RESET_CLIENT_V2, 0),
    peer.packet(Op.CONTROL_V1, 0, { packetId: 1, acks: [0], payload: CLIENT_HELLO }),
    peer.packet(Op.CONTROL_V1, 0, { packetId: 2, acks: [1, 2, 3], payload: seq(0, 300) }),
    peer.packet(Op.ACK_V1, 0, { acks: [0, 1, 2, 3, 4, 5, 6, 7] }),
    peer.packet(Op.SOFT_RESET_V1, 1),
    peer.packet(Op.SOFT_RESET_V1, 1, { acks: [0] }),
    peer.packet(Op.CONTROL_V1, 1, { packetId: 1, acks: [0], payload: CLIENT_HELLO }),
    peer.packet(Op.ACK_V1, 1, { acks: [0, 1] }),
    peer.packet(Op.CONTROL_WKC_V1, 0, { packetId: 3, payload: seq(9, 20) }),
  ];
}
function dataSeeds(client: DataChannel): Buffer[] {
  const next = new AeadDataChannel(clientDataKeys(ekmFor(1), 'AES-256-GCM'));
  return [
    client.sealV2(0, ASSIGN.peerId, IP_PACKET), client.sealV2(0, ASSIGN.peerId, PING_MAGIC),
    client.sealV1(0, IP_PACKET), client.sealV2(0, ASSIGN.peerId, Buffer.concat([OCC_MAGIC, Buffer.from([0])])),
    client.sealV2(0, ASSIGN.peerId, Buffer.alloc(0)), next.sealV2(1, ASSIGN.peerId, IP_PACKET),
  ];
}
const PLAINTEXT_SEEDS = [
  emitClientKm2(clientKm2()), textMessage('PUSH_REQUEST'), textMessage('EXIT'), textMessage('junk'), Buffer.from('PUSH_'),
];

// ---- actions ---------------------------------------------------------------------------------------------------------

const mutation = fc.record({
  mode: fc.integer({ min: 0, max: 4 }), at: fc.nat(), val: fc.nat({ max: 255 }), cut: fc.nat(),
  random: fc.uint8Array({ maxLength: 120 }),
});
type Mutation = { mode: number; at: number; val: number; cut: number; random: Uint8Array };

function mutate(seed: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(seed);
  switch (m.mode) {
    case 0: return b;
    case 1: if (b.length > 0) b[m.at % b.length] = m.val; return b;
    case 2: return b.subarray(0, m.cut % (b.length + 1));
    case 3: return Buffer.from(m.random);
    default: return Buffer.concat([b, Buffer.from(m.random)]);
  }
}

const action = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('control' as const), seed: fc.nat(), m: mutation }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('data' as const), seed: fc.nat(), m: mutation }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('plaintext' as const), seed: fc.nat(), m: mutation, h: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ciphertext' as const), len: fc.nat({ max: 6000 }), h: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('secure' as const), h: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('auth' as const), ok: fc.boolean(), h: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('seal' as const) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.oneof(fc.nat({ max: 50 }), fc.nat({ max: 200_000 })) }) },
);
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never;

// ---- the driver ---------------------------------------------------------------------------------------------------

function assertNotPast(s: Session, now: number, what: string): void {
  const d = s.nextDeadline();
  if (d !== undefined) assert.ok(d >= now, `${what}: nextDeadline ${d} is before now ${now}`);
}

/** Advances the clock to `to`, ticking each deadline on the way as the io loop's timer would. */
function advance(s: Session, from: number, to: number): number {
  let now = from;
  for (let i = 0; i < 10_000; i++) {
    const d = s.nextDeadline();
    if (d === undefined || d > to) return to;
    now = Math.max(now, d);
    s.tick(now);
    drain(s);
    const after = s.nextDeadline();
    assert.ok(after === undefined || after > now, `tick(${now}) left a deadline at ${after}`);
  }
  assert.fail('the session keeps asking for ticks (livelock)');
}

function run(st: State, actions: Action[], start = T0): void {
  const { f } = st;
  const { s } = f;
  const ctl = controlSeeds(f.peer);
  const data = dataSeeds(st.client);
  let now = start;
  const pick = <T>(list: T[], i: number) => list[i % list.length];
  for (const a of actions) {
    switch (a.k) {
      case 'advance': now = advance(s, now, now + a.ms); continue;
      case 'control': s.handleControl(mutate(pick(ctl, a.seed), a.m), now); break;
      case 'data': s.openData(mutate(pick(data, a.seed), a.m), now); break;
      case 'plaintext': s.handleTls(pick(st.handles, a.h), { kind: 'plaintext', bytes: mutate(pick(PLAINTEXT_SEEDS, a.seed), a.m) }, now); break;
      case 'ciphertext': s.handleTls(pick(st.handles, a.h), { kind: 'ciphertext', bytes: seq(a.len, a.len) }, now); break;
      case 'secure': s.handleTls(pick(st.handles, a.h), { kind: 'secure', info: { authorized: true, ekm: ekmFor(1) } }, now); break;
      case 'auth': s.handleAuth(pick(st.handles, a.h), a.ok ? { ok: true, assign: ASSIGN } : { ok: false, reason: 'fuzz' }, now); break;
      case 'seal': s.sealData(IP_PACKET, now); break;
    }
    for (const o of drain(s)) if (o.t === 'tls-open') st.handles.push(o.handle);
    assertNotPast(s, now, a.k);
  }
}

for (const st of STATES) {
  for (const wrap of ['plain', 'tls-crypt'] as WrapKind[]) {
    test(`fuzz [${wrap}] ${st.name}: no throw, no deadline in the past`, () => {
      fc.assert(fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), (actions) => {
        run(st.build(wrap), actions);
      }), { numRuns: wrap === 'plain' ? 200 : 80 });
    });
  }
}

test('fuzz: establishing after a long auth wait leaves no deadline in the past (found by this fuzzer, fixed in 5f796ab)', () => {
  fc.assert(fc.property(fc.nat({ max: 59_999 }), fc.array(action, { maxLength: 20 }), (wait, actions) => {
    const st = STATES[2].build('plain');
    const { s, handle } = st.f;
    const now = advance(s, T0, T0 + wait);
    s.handleAuth(handle, { ok: true, assign: ASSIGN }, now);
    drain(s);
    assertNotPast(s, now, 'auth');
    run(st, actions, now);
  }), { numRuns: 300 });
});

test('fuzz driver sanity: real seeds do reach the session (a seed ACK stops the reset retransmission)', () => {
  const st = STATES[0].build('plain');
  const before = st.f.s.nextDeadline();
  st.f.s.handleControl(controlSeeds(st.f.peer)[3], T0);
  assert.equal(before, T0 + 2000);
  assert.equal(st.f.s.nextDeadline(), T0 + 60_000);
});
