import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseUdp, emitUdp, buildUdpPacket } from '../../src/core/wire/udp.js';
import { parseIpv4, ipv4Payload } from '../../src/core/wire/ipv4.js';

const SRC = 0x0a080002;
const DST = 0x5db8d822;
// Independently built: 5353 -> 53, payload "hi!", checksum over the pseudo-header of SRC -> DST.
const DGRAM = Buffer.from('14e90035000b216c686921', 'hex');

test('parse and emit known-answer datagram', () => {
  assert.deepEqual(parseUdp(DGRAM, SRC, DST), { srcPort: 5353, dstPort: 53, payload: Buffer.from('hi!') });
  const b = Buffer.alloc(11, 0xa5);
  assert.equal(emitUdp({ srcPort: 5353, dstPort: 53, payload: Buffer.from('hi!') }, b, 0, SRC, DST), 11);
  assert.deepEqual(b, DGRAM);
});

test('checksum errors, zero checksum accepted, lengths checked', () => {
  const bad = Buffer.from(DGRAM); bad[8] ^= 1;
  assert.deepEqual(parseUdp(bad, SRC, DST), { error: 'bad UDP checksum' });
  const none = Buffer.from(bad); none.writeUInt16BE(0, 6);
  assert.ok(!('error' in parseUdp(none, SRC, DST)));
  assert.deepEqual(parseUdp(DGRAM.subarray(0, 7)), { error: 'truncated UDP header' });
  const long = Buffer.from(DGRAM); long.writeUInt16BE(12, 4);
  assert.deepEqual(parseUdp(long), { error: 'bad UDP length' });
  // Trailing bytes beyond the UDP length are ignored, and the checksum covers only the datagram.
  assert.ok(!('error' in parseUdp(Buffer.concat([DGRAM, Buffer.from([9, 9])]), SRC, DST)));
});

test('parse(emit(r)) == r inside an IPv4 packet', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }),
    fc.uint8Array({ maxLength: 100 }), (sp, dp, payload) => {
      const r = { srcPort: sp, dstPort: dp, payload: Buffer.from(payload) };
      const p = buildUdpPacket(SRC, DST, r);
      assert.ok(!('error' in parseIpv4(p)));
      assert.deepEqual(parseUdp(ipv4Payload(p), SRC, DST), r);
    }));
});

test('parseUdp never throws', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, ip) => {
    parseUdp(Buffer.from(bytes));
    parseUdp(Buffer.from(bytes), ip, SRC);
  }), { numRuns: 2000 });
});
