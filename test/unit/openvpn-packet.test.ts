import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  controlLength, emitControl, isControlOpcode, isDataOpcode, isParseError, keyIdOf, Op, opcodeOf, parseControl,
  type ControlPacket,
} from '../../src/core/wire/openvpn-packet.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const EMPTY = Buffer.alloc(0);
const C_SID = hex('d0480db24eea2bd0');   // the real client sid of protocol doc §1
const S_SID = hex('1112131415161718');

function parsed(buf: Buffer): ControlPacket {
  const p = parseControl(buf);
  assert.ok(!isParseError(p), `parse failed: ${isParseError(p) ? p.error : ''}`);
  return p;
}

// ---- known answers (protocol doc §1, §2.1, §4.1) ------------------------------------------------------------

const VECTORS: { name: string; bytes: Buffer; pkt: ControlPacket }[] = [
  {
    name: 'client HARD_RESET_CLIENT_V2 (14 bytes, real 2.6.14 capture)',
    bytes: hex('38 d0480db24eea2bd0 00 00000000'),
    pkt: { opcode: Op.HARD_RESET_CLIENT_V2, keyId: 0, sessionId: C_SID, acks: [], peerSessionId: undefined, packetId: 0, payload: EMPTY },
  },
  {
    name: 'server HARD_RESET_SERVER_V2 that ACKs it (26 bytes)',
    bytes: hex('40 1112131415161718 01 00000000 d0480db24eea2bd0 00000000'),
    pkt: { opcode: Op.HARD_RESET_SERVER_V2, keyId: 0, sessionId: S_SID, acks: [0], peerSessionId: C_SID, packetId: 0, payload: EMPTY },
  },
  {
    name: 'P_ACK_V1 with four acks and no message packet-id',
    bytes: hex('28 d0480db24eea2bd0 04 00000005 00000004 00000003 00000002 1112131415161718'),
    pkt: { opcode: Op.ACK_V1, keyId: 0, sessionId: C_SID, acks: [5, 4, 3, 2], peerSessionId: S_SID, packetId: undefined, payload: EMPTY },
  },
  {
    name: 'P_CONTROL_V1 kid 2 with one ack, pid 1 and a TLS payload',
    bytes: hex('22 d0480db24eea2bd0 01 00000000 1112131415161718 00000001 160301'),
    pkt: { opcode: Op.CONTROL_V1, keyId: 2, sessionId: C_SID, acks: [0], peerSessionId: S_SID, packetId: 1, payload: hex('160301') },
  },
  {
    name: 'SOFT_RESET kid 1 (first byte 0x19), no acks, pid 0',
    bytes: hex('19 1112131415161718 00 00000000'),
    pkt: { opcode: Op.SOFT_RESET_V1, keyId: 1, sessionId: S_SID, acks: [], peerSessionId: undefined, packetId: 0, payload: EMPTY },
  },
];

for (const v of VECTORS) {
  test(`known answer: ${v.name}: parse`, () => {
    assert.deepEqual(parsed(v.bytes), v.pkt);
  });
  test(`known answer: ${v.name}: emit`, () => {
    assert.equal(controlLength(v.pkt), v.bytes.length);
    assert.deepEqual(emitControl(v.pkt), v.bytes);
  });
}

test('known answer sizes: client reset is 14 bytes, the server reset that ACKs it 26', () => {
  assert.equal(VECTORS[0].bytes.length, 14);
  assert.equal(VECTORS[1].bytes.length, 26);
});

test('first-byte helpers: opcode << 3 | key_id', () => {
  const table: [number, number, number][] = [
    [0x38, Op.HARD_RESET_CLIENT_V2, 0], [0x40, Op.HARD_RESET_SERVER_V2, 0], [0x19, Op.SOFT_RESET_V1, 1],
    [0x48, Op.DATA_V2, 0], [0x50, Op.HARD_RESET_CLIENT_V3, 0], [0x4f, Op.DATA_V2, 7], [0x31, Op.DATA_V1, 1],
  ];
  for (const [b, op, kid] of table) {
    assert.equal(opcodeOf(b), op, `opcode of ${b.toString(16)}`);
    assert.equal(keyIdOf(b), kid, `key id of ${b.toString(16)}`);
  }
  assert.deepEqual([...Array(32).keys()].filter(isControlOpcode), [3, 4, 5, 7, 8, 10, 11]);
  assert.deepEqual([...Array(32).keys()].filter(isDataOpcode), [6, 9]);
});

// ---- rejections -------------------------------------------------------------------------------------------------

const BAD: { name: string; bytes: Buffer }[] = [
  { name: 'empty', bytes: EMPTY },
  { name: '9 bytes (no n_acks)', bytes: hex('38 d0480db24eea2bd0') },
  { name: 'key-method 1 client reset (opcode 1)', bytes: hex('08 d0480db24eea2bd0 00 00000000') },
  { name: 'key-method 1 server reset (opcode 2)', bytes: hex('10 d0480db24eea2bd0 00 00000000') },
  { name: 'P_DATA_V1 opcode', bytes: hex('30 d0480db24eea2bd0 00 00000000') },
  { name: 'P_DATA_V2 opcode', bytes: hex('48 d0480db24eea2bd0 00 00000000') },
  { name: 'opcode 0', bytes: hex('00 d0480db24eea2bd0 00 00000000') },
  { name: 'opcode 12', bytes: hex('60 d0480db24eea2bd0 00 00000000') },
  { name: 'opcode 31', bytes: hex('f8 d0480db24eea2bd0 00 00000000') },
  { name: '9 acks', bytes: Buffer.concat([hex('20 d0480db24eea2bd0 09'), Buffer.alloc(9 * 4 + 8 + 4)]) },
  { name: 'ack block cut in the acks', bytes: hex('20 d0480db24eea2bd0 02 00000000 000000') },
  { name: 'ack block without the peer sid', bytes: hex('20 d0480db24eea2bd0 01 00000000 11121314151617') },
  { name: 'P_CONTROL_V1 without message pid', bytes: hex('20 d0480db24eea2bd0 00 000000') },
  { name: 'reset without message pid', bytes: hex('38 d0480db24eea2bd0 00') },
];

for (const b of BAD) {
  test(`parseControl rejects: ${b.name}`, () => {
    const r = parseControl(b.bytes);
    assert.ok(isParseError(r), 'expected a ParseError');
    assert.equal(typeof r.error, 'string');
  });
}

test('P_ACK_V1 needs no message pid: 10 bytes with zero acks parse', () => {
  assert.deepEqual(parsed(hex('28 d0480db24eea2bd0 00')),
    { opcode: Op.ACK_V1, keyId: 0, sessionId: C_SID, acks: [], peerSessionId: undefined, packetId: undefined, payload: EMPTY });
});

test('emitControl: acks without a peer session id is a programmer error', () => {
  assert.throws(() => emitControl({ opcode: Op.ACK_V1, keyId: 0, sessionId: S_SID, acks: [1], payload: EMPTY }));
});

test('emitControl: peerSessionId is ignored without acks, packetId defaults to 0', () => {
  const b = emitControl({ opcode: Op.CONTROL_V1, keyId: 0, sessionId: S_SID, acks: [], peerSessionId: C_SID, payload: EMPTY });
  assert.deepEqual(b, hex('20 1112131415161718 00 00000000'));
});

// ---- properties ------------------------------------------------------------------------------------------------

const controlOps = [Op.SOFT_RESET_V1, Op.CONTROL_V1, Op.ACK_V1, Op.HARD_RESET_CLIENT_V2, Op.HARD_RESET_SERVER_V2,
  Op.HARD_RESET_CLIENT_V3, Op.CONTROL_WKC_V1];
const sidArb = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a));
const packetArb: fc.Arbitrary<ControlPacket> = fc.record({
  opcode: fc.constantFrom(...controlOps),
  keyId: fc.integer({ min: 0, max: 7 }),
  sessionId: sidArb,
  acks: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 8 }),
  peer: sidArb,
  pid: fc.nat({ max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
}).map(({ opcode, keyId, sessionId, acks, peer, pid, payload }) => ({
  opcode, keyId, sessionId, acks,
  peerSessionId: acks.length > 0 ? peer : undefined,
  packetId: opcode === Op.ACK_V1 ? undefined : pid,
  payload,
}));

test('property: parse(emit(p)) equals p', () => {
  fc.assert(fc.property(packetArb, (p) => {
    const bytes = emitControl(p);
    assert.equal(bytes.length, controlLength(p));
    assert.deepEqual(parsed(bytes), p);
  }), { numRuns: 500 });
});

test('property: parseControl never throws, and whatever parses re-emits to the same bytes', () => {
  const seeds = [...VECTORS.map((v) => v.bytes), ...BAD.map((b) => b.bytes)];
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat({ max: 255 }), fc.nat({ max: 40 })).map(
    ([b, at, v, cut]) => {
      const c = Buffer.from(b);
      if (c.length > 0) c[at % c.length] = v;
      return c.subarray(0, Math.max(0, c.length - (cut % 4)));
    });
  const anyBytes = fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a));
  fc.assert(fc.property(fc.oneof(anyBytes, mutated), (buf) => {
    const r = parseControl(buf);
    if (isParseError(r)) return;
    assert.deepEqual(emitControl(r), buf);
  }), { numRuns: 2000 });
});
