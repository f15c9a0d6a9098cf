import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frame, MAX_TCP_PACKET, TcpDeframer } from '../../src/core/transport/tcp-framing.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** The first TCP bytes of a real 2.6.14 client (protocol doc §1). */
const FIRST = hex('000e 38d0480db24eea2bd0 00 00000000');
const RESET = FIRST.subarray(2);
const A = Buffer.from('first packet');
const B = Buffer.alloc(300, 0xab);
const C = Buffer.from([0x42]);
const STREAM = Buffer.concat([frame(A), frame(B), frame(C)]);

function packets(r: Buffer[] | { error: string }): Buffer[] {
  assert.ok(Array.isArray(r), `unexpected error: ${Array.isArray(r) ? '' : r.error}`);
  return r;
}

test('frame: u16 big-endian length, then the packet (real client reset)', () => {
  assert.deepEqual(frame(RESET), FIRST);
  assert.deepEqual(packets(new TcpDeframer().push(FIRST)), [RESET]);
});

test('several packets in one chunk come out in order', () => {
  const d = new TcpDeframer();
  assert.deepEqual(packets(d.push(STREAM)), [A, B, C]);
  assert.equal(d.buffered, 0);
});

test('a stream split at every offset yields the same packets', () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const d = new TcpDeframer();
    const got = [...packets(d.push(STREAM.subarray(0, cut))), ...packets(d.push(STREAM.subarray(cut)))];
    assert.deepEqual(got, [A, B, C], `split at ${cut}`);
    assert.equal(d.buffered, 0);
  }
});

test('byte-at-a-time delivery: each packet appears exactly when its last byte arrives', () => {
  const d = new TcpDeframer();
  const ends = new Map([[2 + A.length, A], [4 + A.length + B.length, B], [STREAM.length, C]]);
  for (let i = 0; i < STREAM.length; i++) {
    const out = packets(d.push(STREAM.subarray(i, i + 1)));
    const want = ends.get(i + 1);
    assert.deepEqual(out, want ? [want] : [], `after byte ${i + 1}`);
    assert.equal(d.buffered, want ? 0 : (i + 1) - [...ends.keys()].filter((e) => e <= i).reduce((m, e) => Math.max(m, e), 0));
  }
});

test('leftover bytes are copied: reusing the caller chunk does not corrupt the next packet', () => {
  const d = new TcpDeframer();
  const chunk = Buffer.from(STREAM.subarray(0, 5));
  assert.deepEqual(packets(d.push(chunk)), []);
  chunk.fill(0xee);
  assert.deepEqual(packets(d.push(STREAM.subarray(5))), [A, B, C]);
});

test('an empty chunk is harmless', () => {
  const d = new TcpDeframer();
  assert.deepEqual(packets(d.push(Buffer.alloc(0))), []);
  assert.deepEqual(packets(d.push(STREAM.subarray(0, 1))), []);
  assert.deepEqual(packets(d.push(Buffer.alloc(0))), []);
  assert.deepEqual(packets(d.push(STREAM.subarray(1))), [A, B, C]);
});

const BAD_LENGTHS: [string, Buffer][] = [
  ['zero length', hex('0000')],
  ['zero length after a good packet', Buffer.concat([frame(A), hex('0000 ff')])],
  [`length ${MAX_TCP_PACKET + 1}`, hex((MAX_TCP_PACKET + 1).toString(16).padStart(4, '0'))],
  ['length 0xffff', hex('ffff 00')],
];
for (const [name, bytes] of BAD_LENGTHS) {
  test(`error: ${name}`, () => {
    const r = new TcpDeframer().push(bytes);
    assert.ok(!Array.isArray(r), 'expected an error');
    assert.match(r.error, /bad packet length/);
  });
}

test(`length ${MAX_TCP_PACKET} is still allowed`, () => {
  const big = Buffer.alloc(MAX_TCP_PACKET, 7);
  assert.deepEqual(packets(new TcpDeframer().push(frame(big))), [big]);
});

test('a bad length split across chunks is caught once its second byte arrives', () => {
  const d = new TcpDeframer();
  assert.deepEqual(packets(d.push(hex('00'))), []);
  const r = d.push(hex('00'));
  assert.ok(!Array.isArray(r));
});

test('property: any packets, any chunking → the same packets', () => {
  const pkt = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a));
  fc.assert(fc.property(fc.array(pkt, { maxLength: 8 }), fc.array(fc.nat({ max: 300 }), { maxLength: 10 }), (pkts, cuts) => {
    const stream = Buffer.concat(pkts.map(frame));
    const d = new TcpDeframer();
    const got: Buffer[] = [];
    let off = 0;
    for (const c of cuts) { got.push(...packets(d.push(stream.subarray(off, off + c)))); off = Math.min(stream.length, off + c); }
    got.push(...packets(d.push(stream.subarray(off))));
    assert.deepEqual(got, pkts);
    assert.equal(d.buffered, 0);
  }), { numRuns: 300 });
});
