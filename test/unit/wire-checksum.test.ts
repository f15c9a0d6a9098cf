import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sum, combine, finish, pseudoHeader, update16, update32, rewriteBytes } from '../../src/core/wire/checksum.js';

test('RFC 1071 §3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2', () => {
  const b = Buffer.from('0001f203f4f5f6f7', 'hex');
  assert.equal(sum(b, 0, b.length), 0xddf2);
  assert.equal(finish(sum(b, 0, b.length)), 0x220d);
});

test('odd length pads the last byte with zero; an offset and the initial value are honoured', () => {
  const b = Buffer.from('ff00010203', 'hex');
  assert.equal(sum(b, 1, 3), 0x0001 + 0x0200);
  assert.equal(sum(b, 1, 2, 0x10), 0x0011);
});

test('the sum of a region equals combining the sums of its even-length parts', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(150), (bytes, cut) => {
    const b = Buffer.from(bytes);
    const k = Math.min(cut * 2, b.length - (b.length % 2));
    assert.equal(combine(sum(b, 0, k), sum(b, k, b.length - k)), sum(b, 0, b.length));
  }));
});

test('a region with its checksum filled in verifies (sums to 0xffff)', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 2, maxLength: 200 }), (bytes) => {
    const b = Buffer.from(bytes);
    if (b.length % 2) return;
    b.writeUInt16BE(0, 0);
    b.writeUInt16BE(finish(sum(b, 0, b.length)), 0);
    assert.equal(sum(b, 0, b.length), 0xffff);
  }));
});

test('pseudo-header sum of 10.8.0.2 -> 93.184.216.34 TCP length 32', () => {
  // 0a08 + 0002 + 5db8 + d822 + 0006 + 0020, folded.
  const expect = 0x0a08 + 0x0002 + 0x5db8 + 0xd822 + 0x0006 + 0x0020;
  assert.equal(pseudoHeader(0x0a080002, 0x5db8d822, 6, 32), (expect & 0xffff) + (expect >>> 16));
});

test('RFC 1624 incremental update equals a full recompute (16-bit word, 32-bit field, odd offsets)', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 8, maxLength: 120 }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }),
    (bytes, at, repl) => {
      const b = Buffer.from(bytes.length % 2 ? [...bytes, 0] : bytes);
      const ckOff = 0;
      b.writeUInt16BE(0, ckOff);
      b.writeUInt16BE(finish(sum(b, 0, b.length)), ckOff);
      const pos = 2 + (at % (b.length - 2 - repl.length + 1 > 0 ? b.length - 2 - repl.length + 1 : 1));
      if (pos + repl.length > b.length) return;
      rewriteBytes(b, 0, pos, repl, ckOff);
      assert.deepEqual([...b.subarray(pos, pos + repl.length)], [...repl]);
      const full = Buffer.from(b);
      full.writeUInt16BE(0, ckOff);
      assert.equal(b.readUInt16BE(ckOff), finish(sum(full, 0, full.length)));
    }));
});

test('update16/update32 match recomputation for an address rewrite', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 12, maxLength: 64 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, addr) => {
    const b = Buffer.from(bytes.length % 2 ? [...bytes, 1] : bytes);
    b.writeUInt16BE(0, 0);
    const ck = finish(sum(b, 0, b.length));
    const old = b.readUInt32BE(4);
    b.writeUInt32BE(addr >>> 0, 4);
    assert.equal(update32(ck, old, addr >>> 0), finish(sum(b, 0, b.length)));
    const w = b.readUInt16BE(8);
    const ck2 = finish(sum(b, 0, b.length));
    b.writeUInt16BE(addr & 0xffff, 8);
    assert.equal(update16(ck2, w, addr & 0xffff), finish(sum(b, 0, b.length)));
  }));
});
