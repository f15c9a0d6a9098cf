import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sum, combine, pseudoHeader, finish } from '../../src/core/wire/checksum.js';
import { ipv4HeaderChecksumOk } from '../../src/core/wire/ipv4.js';
import {
  parseTcp, parseTcpInIpv4, emitTcp, buildTcpPacket, clampTcpMss, tcpHeaderLen, EMPTY, type TcpRepr,
} from '../../src/core/wire/tcp.js';

// Independently built (Python struct + RFC 1071): 10.8.0.2:40000 -> 93.184.216.34:80 SYN seq 0x01020304
// window 64240, options MSS 1460, NOP, WS 7, NOP, NOP, SACK-permitted.
const SYN_PACKET = Buffer.from(
  '45000034123440004006e8ab0a0800025db8d8229c40005001020304000000008002faf093a50000020405b40103030701010402', 'hex');
const SRC = 0x0a080002;
const DST = 0x5db8d822;
const SYN: TcpRepr = {
  srcPort: 40000, dstPort: 80, seq: 0x01020304, ack: undefined, control: 'syn', psh: false, window: 64240,
  mss: 1460, wscale: 7, sackPermitted: true, tsVal: undefined, tsEcr: undefined, ece: false, cwr: false, ecn: 0, payload: EMPTY,
};

test('parse known-answer SYN (checksum verified)', () => {
  assert.deepEqual(parseTcpInIpv4(SYN_PACKET), SYN);
});

test('emit known-answer SYN into a 0xa5-filled buffer', () => {
  const b = Buffer.alloc(32, 0xa5);
  assert.equal(emitTcp(SYN, b, 0, SRC, DST), 32);
  assert.deepEqual(b, SYN_PACKET.subarray(20));
  assert.deepEqual(buildTcpPacket(SRC, DST, SYN, undefined, 0x1234), SYN_PACKET);
});

test('flags: SYN+FIN and SYN+RST rejected, RST+FIN is a reset, port 0 rejected, bad checksum rejected', () => {
  const seg = Buffer.from(SYN_PACKET.subarray(20));
  const withFlags = (f: number) => { const s = Buffer.from(seg); s[13] = f; return s; };
  assert.deepEqual(parseTcp(withFlags(0x03)), { error: 'SYN with FIN or RST' });
  assert.deepEqual(parseTcp(withFlags(0x06)), { error: 'SYN with FIN or RST' });
  const rf = parseTcp(withFlags(0x15));
  assert.ok(!('error' in rf) && rf.control === 'rst' && rf.ack === 0);
  const p0 = Buffer.from(seg); p0.writeUInt16BE(0, 2);
  assert.deepEqual(parseTcp(p0), { error: 'TCP port 0' });
  const pseudo = pseudoHeader(SRC, DST, 6, seg.length);
  assert.ok(!('error' in parseTcp(seg, pseudo)));
  const bad = Buffer.from(seg); bad[4] ^= 1;
  assert.deepEqual(parseTcp(bad, pseudo), { error: 'bad TCP checksum' });
});

test('window scale above 14 is clamped to 14 (RFC 7323 §2.3); bad option lengths are errors', () => {
  const seg = Buffer.from(SYN_PACKET.subarray(20));
  seg[27] = 20;
  const r = parseTcp(seg);
  assert.ok(!('error' in r) && r.wscale === 14);
  const bad = Buffer.from(SYN_PACKET.subarray(20)); bad[21] = 3;  // MSS option length 3
  assert.deepEqual(parseTcp(bad), { error: 'bad MSS option' });
  const zero = Buffer.from(SYN_PACKET.subarray(20)); zero[26] = 0;  // WS option length 0
  assert.deepEqual(parseTcp(zero), { error: 'bad TCP option length' });
});

// Independently built (Python struct + RFC 1071): 10.8.0.2:40000 -> 93.184.216.34:80 ACK seq 0x01020305
// ack 0x0a0b0c0d window 1000, options NOP NOP SACK(18) with blocks 0a0b1000-0a0b2000 and fffffff0-00000010 (wraps).
const SACK_PACKET = Buffer.from(
  '4500003c123440004006e8a30a0800025db8d8229c400050010203050a0b0c0da01003e81b1a0000010105120a0b10000a0b2000fffffff000000010',
  'hex');
const SACK_ACK: TcpRepr = {
  srcPort: 40000, dstPort: 80, seq: 0x01020305, ack: 0x0a0b0c0d, control: 'none', psh: false, window: 1000,
  sackPermitted: false, sack: [[0x0a0b1000, 0x0a0b2000], [0xfffffff0, 0x10]], tsVal: undefined, tsEcr: undefined,
  ece: false, cwr: false, ecn: 0, payload: EMPTY,
};

test('ECN (RFC 3168): ECE is flag bit 0x40, CWR 0x80; the ECN field is the low two bits of the IPv4 TOS byte', () => {
  const p = buildTcpPacket(SRC, DST, { ...SACK_ACK, ece: true, cwr: true, ecn: 3 }, undefined, 0x1234);
  assert.equal(p[1], 0x03, 'TOS: CE');
  assert.equal(p[33], 0xd0, 'flags: CWR, ECE, ACK');
  assert.ok(ipv4HeaderChecksumOk(p), 'the IPv4 header checksum covers the TOS byte');
  const back = parseTcpInIpv4(p);
  assert.ok(!('error' in back));
  assert.deepEqual([back.ece, back.cwr, back.ecn], [true, true, 3]);
  const plain = parseTcpInIpv4(buildTcpPacket(SRC, DST, { ...SACK_ACK, ece: true, ecn: 2 }));
  assert.ok(!('error' in plain));
  assert.deepEqual([plain.ece, plain.cwr, plain.ecn], [true, false, 2]);
});

test('SACK blocks: parse and emit a known-answer ACK with two blocks', () => {
  assert.deepEqual(parseTcpInIpv4(SACK_PACKET), SACK_ACK);
  assert.deepEqual(buildTcpPacket(SRC, DST, SACK_ACK, undefined, 0x1234), SACK_PACKET);
});

/** A bare ACK segment (no checksum) with the given option bytes, padded with EOL to a multiple of 4. */
function ackWithOptions(opts: number[], control = 0x10): Buffer {
  const optLen = Math.ceil(opts.length / 4) * 4;
  const seg = Buffer.alloc(20 + optLen);
  seg.writeUInt16BE(40000, 0); seg.writeUInt16BE(80, 2); seg.writeUInt32BE(1, 4); seg.writeUInt32BE(2, 8);
  seg[12] = ((20 + optLen) / 4) << 4; seg[13] = control; seg.writeUInt16BE(1000, 14);
  Buffer.from(opts).copy(seg, 20);
  return seg;
}
const block = (l: number, r: number): number[] =>
  [...Buffer.from([l >>> 24, l >> 16, l >> 8, l, r >>> 24, r >> 16, r >> 8, r].map((x) => x & 0xff))];

test('SACK blocks: one to four blocks parse in order; none means no sack field', () => {
  for (let n = 1; n <= 4; n++) {
    const blocks = Array.from({ length: n }, (_, i) => [100 * i + 10, 100 * i + 20] as [number, number]);
    const r = parseTcp(ackWithOptions([1, 1, 5, 2 + 8 * n, ...blocks.flatMap(([l, rr]) => block(l, rr))]));
    assert.ok(!('error' in r));
    assert.deepEqual(r.sack, blocks);
  }
  const plain = parseTcp(ackWithOptions([]));
  assert.ok(!('error' in plain) && !('sack' in plain));
});

test('SACK blocks: lengths other than 2 + 8n (n = 1..4) are rejected; on a SYN they are not lifted', () => {
  for (const len of [2, 3, 9, 11, 17, 38]) {
    const body = Array.from({ length: Math.max(0, len - 2) }, (_, i) => i);
    assert.deepEqual(parseTcp(ackWithOptions([5, len, ...body])), { error: 'bad SACK option' }, `length ${len}`);
  }
  // A length running past the header is the generic option error.
  assert.deepEqual(parseTcp(ackWithOptions([1, 1, 5, 18, ...block(1, 2)])), { error: 'bad TCP option length' });
  const syn = parseTcp(ackWithOptions([1, 1, 5, 10, ...block(1, 2)], 0x02));
  assert.ok(!('error' in syn) && syn.control === 'syn' && !('sack' in syn));
});

test('timestamps (RFC 7323 §3): NOP NOP kind 8 length 10 TSval TSecr; beside them at most 3 SACK blocks fit', () => {
  const ts = parseTcp(ackWithOptions([1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7]));
  assert.ok(!('error' in ts));
  assert.equal(ts.tsVal, 0xdeadbeef);
  assert.equal(ts.tsEcr, 7);
  assert.deepEqual(parseTcp(ackWithOptions([8, 9, 0, 0, 0, 0, 0, 0, 0])), { error: 'bad timestamps option' });
  const synTs = parseTcp(ackWithOptions([8, 10, 0, 0, 0, 1, 0, 0, 0, 0], 0x02));
  assert.ok(!('error' in synTs) && synTs.tsVal === 1 && synTs.tsEcr === 0);
  const r: TcpRepr = {
    ...SACK_ACK, tsVal: 0x01020304, tsEcr: 0xfffffffe,
    sack: [[1, 2], [3, 4], [5, 6], [7, 8]],
  };
  assert.equal(tcpHeaderLen(r), 60);
  const back = parseTcpInIpv4(buildTcpPacket(SRC, DST, r));
  assert.ok(!('error' in back));
  assert.deepEqual(back.sack, [[1, 2], [3, 4], [5, 6]]);
  assert.equal(back.tsVal, 0x01020304);
  assert.equal(back.tsEcr, 0xfffffffe);
  const bytes = buildTcpPacket(SRC, DST, { ...SACK_ACK, sack: undefined, tsVal: 0x11223344, tsEcr: 0x55667788 });
  assert.equal(bytes.subarray(40, 52).toString('hex'), '0101080a1122334455667788');
});

const reprArb = fc.record({
  srcPort: fc.integer({ min: 1, max: 0xffff }), dstPort: fc.integer({ min: 1, max: 0xffff }),
  seq: fc.integer({ min: 0, max: 0xffffffff }), ack: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  control: fc.constantFrom('none', 'syn', 'fin', 'rst' as const), psh: fc.boolean(), window: fc.integer({ min: 0, max: 0xffff }),
  mss: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
  wscale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }), sackPermitted: fc.boolean(),
  sack: fc.option(fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })),
    { minLength: 1, maxLength: 4 }), { nil: undefined }),
  ts: fc.option(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), { nil: undefined }),
  ece: fc.boolean(), cwr: fc.boolean(), ecn: fc.integer({ min: 0, max: 3 }),
  payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
}).map((r) => {
  // MSS, window scale and SACK-permitted are only meaningful (and only parsed) on SYNs, SACK blocks only on others.
  const { ts, ...rest } = r;
  const out: TcpRepr = { ...rest };
  // The parser always sets both timestamp fields (undefined without the option), so every parsed segment has one shape.
  out.tsVal = ts?.[0];
  out.tsEcr = ts?.[1];
  if (ts && out.sack) out.sack = out.sack.slice(0, 3);
  if (r.control !== 'syn') { delete out.mss; delete out.wscale; out.sackPermitted = false; }
  if (r.control === 'syn' || out.sack === undefined) delete out.sack;
  if (out.mss === undefined) delete out.mss;
  if (out.wscale === undefined) delete out.wscale;
  return out;
});

test('parse(emit(r)) == r with a valid checksum; data pieces equal one payload', () => {
  fc.assert(fc.property(reprArb, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (r, s, d) => {
    const p = buildTcpPacket(s, d, r);
    assert.deepEqual(parseTcpInIpv4(p), r);
    const cut = r.payload.length >> 1;
    const q = buildTcpPacket(s, d, { ...r, payload: EMPTY }, [r.payload.subarray(0, cut), r.payload.subarray(cut)]);
    assert.deepEqual(q, p);
    assert.equal(tcpHeaderLen(r) + 20 + r.payload.length, p.length);
  }));
});

test('parseTcp / parseTcpInIpv4 / clampTcpMss never throw on random bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
    const b = Buffer.from(bytes);
    parseTcp(b);
    parseTcp(b, 0x1234);
    parseTcpInIpv4(b);
    clampTcpMss(Buffer.from(bytes), 1000);
    // And mutations of a real SYN, which get past the early checks.
    const m = Buffer.from(SYN_PACKET);
    for (let i = 0; i < bytes.length; i += 2) m[bytes[i] % m.length] = bytes[i + 1] ?? 0;
    parseTcpInIpv4(m);
    clampTcpMss(m, 1000);
  }), { numRuns: 3000 });
});

function tcpChecksumOk(packet: Buffer): boolean {
  const seg = packet.subarray(20);
  return combine(pseudoHeader(packet.readUInt32BE(12), packet.readUInt32BE(16), 6, seg.length), sum(seg, 0, seg.length)) === 0xffff;
}

test('clampTcpMss lowers the MSS of a SYN and keeps the checksum valid', () => {
  const p = Buffer.from(SYN_PACKET);
  assert.equal(clampTcpMss(p, 1360), true);
  const r = parseTcpInIpv4(p);
  assert.ok(!('error' in r));
  assert.equal(r.mss, 1360);
  assert.ok(tcpChecksumOk(p));
  assert.equal(clampTcpMss(p, 1400), false, 'a smaller MSS is left alone');
  assert.equal(clampTcpMss(Buffer.from(buildTcpPacket(SRC, DST, { ...SYN, control: 'none', mss: undefined })), 100), false);
});

test('clampTcpMss at an odd option offset equals a full recompute', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }),
    (nops, mssIn, clamp) => {
      // Header: 20 bytes + `nops` NOPs + MSS option + padding NOPs to a multiple of 4.
      const optLen = Math.ceil((nops + 4) / 4) * 4;
      const seg = Buffer.alloc(20 + optLen, 1);
      seg.writeUInt16BE(1234, 0); seg.writeUInt16BE(80, 2); seg.writeUInt32BE(7, 4); seg.writeUInt32BE(0, 8);
      seg[12] = ((20 + optLen) / 4) << 4; seg[13] = 0x02; seg.writeUInt16BE(1000, 14); seg.writeUInt16BE(0, 18);
      seg[20 + nops] = 2; seg[21 + nops] = 4; seg.writeUInt16BE(mssIn, 22 + nops);
      seg.writeUInt16BE(0, 16);
      seg.writeUInt16BE(finish(combine(pseudoHeader(SRC, DST, 6, seg.length), sum(seg, 0, seg.length))), 16);
      const p = Buffer.concat([SYN_PACKET.subarray(0, 20), seg]);
      p.writeUInt16BE(p.length, 2);
      p.writeUInt16BE(0, 10);
      p.writeUInt16BE(finish(sum(p, 0, 20)), 10);
      const changed = clampTcpMss(p, clamp);
      assert.equal(changed, mssIn > clamp);
      assert.equal(p.readUInt16BE(42 + nops), Math.min(mssIn, clamp));
      assert.ok(tcpChecksumOk(p));
    }));
});
