import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reassembler } from '../../src/core/uplink/nat/reassembly.js';
import { emitIpv4, parseIpv4, ipv4Payload, type Ipv4Repr } from '../../src/core/wire/ipv4.js';
import { classify } from '../../src/core/uplink/nat/classify.js';
import { buildUdpPacket } from '../../src/core/wire/udp.js';

const SRC = 0x0a080002;
const DST = 0x08080808;

/** Split an unfragmented packet into fragments carrying at most `size` (multiple of 8) payload bytes each. */
function fragment(packet: Buffer, size: number): Buffer[] {
  const ip = parseIpv4(packet, false) as Ipv4Repr;
  const payload = ipv4Payload(packet);
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const part = payload.subarray(off, off + size);
    const b = Buffer.alloc(20 + part.length);
    emitIpv4({ ...ip, payloadLen: part.length, dontFrag: false, moreFrags: off + size < payload.length, fragOffset: off }, b, 0);
    part.copy(b, 20);
    out.push(b);
  }
  return out;
}

const bigUdp = (n: number, ident = 77) => {
  const p = buildUdpPacket(SRC, DST, { srcPort: 5000, dstPort: 53, payload: Buffer.alloc(n, 0x5a) }, ident);
  p.writeUInt16BE(0, 6);  // clear DF for fragmentation
  p.writeUInt16BE(0, 10);
  emitIpv4(parseIpv4(p, false) as Ipv4Repr, p, 0);
  return p;
};

test('fragments in any order reassemble into the original packet, which classifies as UDP', () => {
  fc.assert(fc.property(fc.integer({ min: 9, max: 4000 }), fc.integer({ min: 1, max: 60 }), fc.integer(), (n, size8, seed) => {
    const orig = bigUdp(n);
    const frags = fragment(orig, size8 * 8);
    // Deterministic shuffle from the seed.
    let s = seed >>> 0;
    for (let i = frags.length - 1; i > 0; i--) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const j = s % (i + 1);
      [frags[i], frags[j]] = [frags[j], frags[i]];
    }
    const r = new Reassembler();
    let whole: Buffer | undefined;
    for (const f of frags) whole = r.add(f, 0) ?? whole;
    if (frags.length === 1) return;  // an unfragmented packet never reaches the reassembler
    assert.ok(whole);
    assert.deepEqual(whole, orig);
    assert.equal(classify(whole).kind, 'udp');
    assert.equal(r.inProgress, 0);
    assert.equal(r.bufferedBytes, 0);
  }), { numRuns: 200 });
});

test('incomplete datagrams time out and free their memory', () => {
  const r = new Reassembler({ maxDatagrams: 4, maxPerSource: 4, maxBytes: 1 << 20, timeout: 1000 });
  const [first] = fragment(bigUdp(3000), 1000 - 1000 % 8);
  assert.equal(r.add(first, 0), undefined);
  assert.equal(r.inProgress, 1);
  r.expire(999);
  assert.equal(r.inProgress, 1);
  r.expire(1000);
  assert.equal(r.inProgress, 0);
  assert.equal(r.bufferedBytes, 0);
  assert.equal(r.counters.timedOut, 1);
});

test('limits: datagrams per source, total bytes; overlaps drop the datagram', () => {
  const r = new Reassembler({ maxDatagrams: 10, maxPerSource: 2, maxBytes: 2500, timeout: 1000 });
  for (let id = 1; id <= 3; id++) r.add(fragment(bigUdp(3000, id), 1000)[0], 0);
  assert.equal(r.inProgress, 2);
  assert.equal(r.counters.overLimit, 1);
  // Bytes: 2 x 1000 buffered; a third 1000 exceeds 2500 and discards that datagram.
  r.add(fragment(bigUdp(3000, 1), 1000)[1], 0);
  assert.equal(r.counters.overLimit, 2);
  assert.ok(r.bufferedBytes <= 2500);
  const r2 = new Reassembler();
  const f = fragment(bigUdp(3000, 9), 1000);
  r2.add(f[0], 0);
  const overlap = Buffer.from(f[1]);
  overlap.writeUInt16BE(0x2000 | (992 / 8), 6);  // starts 8 bytes inside the first fragment
  overlap.writeUInt16BE(0, 10);
  emitIpv4(parseIpv4(overlap, false) as Ipv4Repr, overlap, 0);
  assert.equal(r2.add(overlap, 0), undefined);
  assert.equal(r2.counters.overlapping, 1);
  assert.equal(r2.inProgress, 0);
});

test('Reassembler.add and classify never throw on random packets', () => {
  const r = new Reassembler({ maxDatagrams: 8, maxPerSource: 8, maxBytes: 1 << 16, timeout: 100 });
  const frags = fragment(bigUdp(2000), 512);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(1000), (bytes, now) => {
    classify(Buffer.from(bytes));
    r.add(Buffer.from(bytes), now);
    const m = Buffer.from(frags[bytes.length % frags.length]);
    for (let i = 0; i < bytes.length; i += 2) m[bytes[i] % m.length] = bytes[i + 1] ?? 0;
    classify(m);
    r.add(m, now);
  }), { numRuns: 3000 });
  assert.ok(r.bufferedBytes <= 1 << 16);
});
