import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkIpv4, emitIpv4, parseIpv4, ipToString, ipFromString, ipv4Src, ipv4Dst, ipv4Proto, ipv4HeaderLen,
  ipv4TotalLen, ipv4IsFragment, ipv4MoreFrags, ipv4FragOffset, ipv4DontFrag, type Ipv4Repr,
} from '../../src/core/wire/ipv4.js';

// Independently built (Python struct + RFC 1071): 10.8.0.2 -> 93.184.216.34, TCP, id 0x1234, DF, TTL 64, 52 bytes.
const HDR = Buffer.from('45000034123440004006e8ab0a0800025db8d822', 'hex');
const PACKET = Buffer.concat([HDR, Buffer.alloc(32)]);
const REPR: Ipv4Repr = {
  src: 0x0a080002, dst: 0x5db8d822, protocol: 6, payloadLen: 32, ttl: 64, ident: 0x1234, dontFrag: true,
  moreFrags: false, fragOffset: 0, tos: 0,
};

test('parse known-answer header', () => {
  assert.deepEqual(parseIpv4(PACKET), REPR);
  assert.equal(ipv4Src(PACKET), 0x0a080002);
  assert.equal(ipv4Dst(PACKET), 0x5db8d822);
  assert.equal(ipv4Proto(PACKET), 6);
  assert.equal(ipv4HeaderLen(PACKET), 20);
  assert.equal(ipv4TotalLen(PACKET), 52);
  assert.equal(ipv4DontFrag(PACKET), true);
  assert.equal(ipv4IsFragment(PACKET), false);
});

test('emit known-answer header into a 0xa5-filled buffer', () => {
  const b = Buffer.alloc(52, 0xa5);
  emitIpv4(REPR, b, 0);
  assert.deepEqual(b.subarray(0, 20), HDR);
  assert.ok(b.subarray(20).every((x) => x === 0xa5), 'emit writes only the header');
});

test('checked constructor rejects bad lengths and versions; bad checksum is reported', () => {
  assert.equal(checkIpv4(HDR.subarray(0, 19)), 'truncated header');
  assert.equal(checkIpv4(Buffer.concat([Buffer.from([0x65]), PACKET.subarray(1)])), 'not IPv4');
  assert.equal(checkIpv4(Buffer.concat([Buffer.from([0x44]), PACKET.subarray(1)])), 'bad IHL');
  assert.equal(checkIpv4(PACKET.subarray(0, 40)), 'truncated packet');
  const bad = Buffer.from(PACKET);
  bad[8] = 63;
  assert.deepEqual(parseIpv4(bad), { error: 'bad header checksum' });
});

test('fragment fields', () => {
  const f = Buffer.from(PACKET);
  f.writeUInt16BE(0x2000 | 185, 6);  // MF, offset 1480
  assert.equal(ipv4MoreFrags(f), true);
  assert.equal(ipv4FragOffset(f), 1480);
  assert.equal(ipv4IsFragment(f), true);
});

const reprArb = fc.record({
  src: fc.integer({ min: 0, max: 0xffffffff }), dst: fc.integer({ min: 0, max: 0xffffffff }),
  protocol: fc.integer({ min: 0, max: 255 }), payloadLen: fc.integer({ min: 0, max: 200 }),
  ttl: fc.integer({ min: 0, max: 255 }), ident: fc.integer({ min: 0, max: 0xffff }), dontFrag: fc.boolean(),
  moreFrags: fc.boolean(), fragOffset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8),
  tos: fc.integer({ min: 0, max: 255 }),
});

test('parse(emit(r)) == r', () => {
  fc.assert(fc.property(reprArb, (r) => {
    const b = Buffer.alloc(20 + r.payloadLen);
    emitIpv4(r, b, 0);
    assert.deepEqual(parseIpv4(b), { ...r });
  }));
});

test('parseIpv4 never throws', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
    const b = Buffer.from(bytes);
    if (b.length > 0) b[0] = (b[0] & 0x0f) | 0x40;  // mostly IPv4, so the deeper checks run too
    parseIpv4(b);
    parseIpv4(Buffer.from(bytes));
  }), { numRuns: 2000 });
});

test('ipToString / ipFromString', () => {
  assert.equal(ipToString(0x0a080002), '10.8.0.2');
  assert.equal(ipToString(0xffffffff), '255.255.255.255');
  assert.equal(ipFromString('192.168.1.254'), 0xc0a801fe);
  assert.throws(() => ipFromString('1.2.3.256'));
  assert.throws(() => ipFromString('1.2.3'));
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => assert.equal(ipFromString(ipToString(n)), n)));
});

test('fragmentIpv4: pieces fit the MTU, offsets are multiples of 8, reassembly gives back the payload', async () => {
  const { fragmentIpv4, ipv4Payload, ipv4FragOffset: off, ipv4MoreFrags: mf, ipv4HeaderChecksumOk } = await import('../../src/core/wire/ipv4.js');
  fc.assert(fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 68, max: 1500 }), (n, mtu) => {
    const p = Buffer.alloc(20 + n);
    emitIpv4({ ...REPR, protocol: 17, payloadLen: n, dontFrag: false }, p, 0);
    for (let i = 20; i < p.length; i++) p[i] = i & 0xff;
    const frags = fragmentIpv4(p, mtu);
    if (p.length <= mtu) { assert.deepEqual(frags, [p]); return; }
    const joined = Buffer.alloc(n);
    frags.forEach((f, i) => {
      assert.ok(f.length <= mtu);
      assert.ok(ipv4HeaderChecksumOk(f));
      assert.equal(off(f) % 8, 0);
      assert.equal(mf(f), i < frags.length - 1);
      ipv4Payload(f).copy(joined, off(f));
    });
    assert.deepEqual(joined, p.subarray(20));
  }));
  const df = Buffer.alloc(1600);
  emitIpv4({ ...REPR, payloadLen: 1580, dontFrag: true }, df, 0);
  assert.deepEqual(fragmentIpv4(df, 1500), []);
});
