import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { frame, unframe, type Framing } from '../../src/core/compression/framing.js';
import { lz4Decompress } from '../../src/core/compression/lz4.js';
import { lzo1xDecompress } from '../../src/core/compression/lzo1x.js';
import { clientFraming } from '../../src/core/session/client-framing.js';
import { lz4Blocks, lzopBlocks } from '../helpers/compressors.js';

/** Text-like and packet-like inputs: runs, repeats near and far (past 2 KiB, 16 KiB), random tails. */
function samples(): Buffer[] {
  const words = Buffer.from('GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n');
  const ipPacket = Buffer.concat([Buffer.from('4500054c1c4640004006', 'hex'), Buffer.alloc(1320, 0x61)]);
  const far = randomBytes(3000);
  return [
    Buffer.concat(Array.from({ length: 40 }, () => words)),
    ipPacket,
    Buffer.concat([far, randomBytes(100), far.subarray(0, 1500)]),
    Buffer.concat([randomBytes(17000), Buffer.alloc(50), randomBytes(20)]).fill(7, 5000, 5300),
    (() => { const b = randomBytes(40000); b.copy(b, 20000, 100, 9000); return b; })(),
    Buffer.alloc(70000, 0),
    Buffer.from('abcabcabcabcabcabcabcabcabcabcabcabcabcabc'),
  ];
}

test('LZO1X: every compressed block lzop makes (levels 1, 3, 7, 9) decodes to its input', () => {
  let blocks = 0;
  for (const level of [1, 3, 7, 9]) {
    for (const data of samples()) {
      for (const b of lzopBlocks(data, level)) {
        assert.deepEqual(lzo1xDecompress(b.compressed, b.plain.length), b.plain, `level ${level}, ${b.plain.length} bytes`);
        blocks++;
      }
    }
  }
  assert.ok(blocks >= 20, `only ${blocks} compressed blocks were produced`);
});

test('LZO1X: one stream of each instruction, written out by hand', () => {
  const dec = (bytes: number[], max = 100000) => lzo1xDecompress(Uint8Array.from(bytes), max);
  const END = [0x11, 0, 0];
  const ascii = (s: string) => [...Buffer.from(s)];
  // First byte 17 + n: n literals.
  assert.equal(dec([17 + 5, ...ascii('hello'), ...END])?.toString(), 'hello');
  // 2 literals (S = 2), then a 2-byte copy from distance 2 that brings 1 literal.
  assert.equal(dec([17 + 2, ...ascii('xy'), (1 << 2) | 1, 0, ...ascii('z'), ...END])?.toString(), 'xyxyz');
  // 1LLDDDSS: 6 bytes from distance 3.
  assert.equal(dec([17 + 3, ...ascii('abc'), 0b1_01_010_00, 0, ...END])?.toString(), 'abcabcabc');
  // 01LDDDSS: 4 bytes from distance 1 + 2 + 8 * 1 = 11.
  const eleven = ascii('0123456789A');
  assert.equal(dec([17 + 11, ...eleven, 0b01_1_010_00, 1, ...END])?.toString(), '0123456789A0123');
  // 0000LLLL after a match with S = 0: 3 + 2 literals; a run of 300 (18 + 255 + 27) with a zero extension byte.
  const abc = dec([17 + 3, ...ascii('abc'), 0b01_0_010_00, 0, 2, ...ascii('wxyzq'), ...END]);
  assert.equal(abc?.toString(), 'abcabcwxyzq');
  const lit = randomBytes(300);
  assert.deepEqual(dec([0x00, 0x00, 27, ...lit, ...END]), lit);
  // 001LLLLL with extension (33 + 7 = 40 bytes) from distance 300 (D = 299).
  const v = 299 << 2;
  const m3 = dec([0x00, 0x00, 27, ...lit, 0x20, 7, v & 255, v >> 8, ...END]);
  assert.deepEqual(m3, Buffer.concat([lit, lit.subarray(0, 40)]));
  // After a literal run of 4+: 0000DDSS HHHHHHHH is 3 bytes from 2049 + D + 4H.
  const big = randomBytes(2100);
  const bigRun = [0x00, ...Array(8).fill(0), 2100 - 18 - 8 * 255];
  const m1 = dec([...bigRun, ...big, 0b0000_01_00, 1, ...END]);
  assert.deepEqual(m1, Buffer.concat([big, big.subarray(2100 - (2049 + 1 + 4), 2100 - (2049 + 1 + 4) + 3)]));
  // 0001HLLL: 5 bytes from 16384 + 6.
  const huge = randomBytes(17000);
  const z = Math.floor((17000 - 18) / 255);
  const hugeRun = [0x00, ...Array(z).fill(0), 17000 - 18 - 255 * z];
  const m4 = dec([...hugeRun, ...huge, 0x10 | 3, 6 << 2, 0, ...END]);
  assert.deepEqual(m4, Buffer.concat([huge, huge.subarray(17000 - 16390, 17000 - 16390 + 5)]));
  assert.equal(dec(END)?.length, 0);
});

test('LZO1X: malformed streams give null, never a throw or bytes past max', () => {
  const dec = (bytes: number[], max = 1000) => lzo1xDecompress(Uint8Array.from(bytes), max);
  assert.equal(dec([17 + 5, ...Buffer.from('hello')]), null, 'no end marker');
  assert.equal(dec([17 + 5, ...Buffer.from('hel')]), null, 'literals cut short');
  assert.equal(dec([17 + 3, 0x61, 0x62, 0x63, 0b1_01_111_00, 0, 0x11, 0, 0]), null, 'distance 8 with 3 bytes out');
  assert.equal(dec([17 + 5, ...Buffer.from('hello'), 0x11, 0, 0], 4), null, 'past max');
  assert.equal(dec([17 + 5, ...Buffer.from('hello'), 0x11, 0, 0, 0x00]), null, 'bytes after the end marker');
  assert.equal(dec([]), null);
  const real = lzopBlocks(samples()[0]!)[0]!;
  assert.equal(lzo1xDecompress(real.compressed, real.plain.length - 1), null, 'one byte short of room');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 3000 }), (bytes, max) => {
    const out = lzo1xDecompress(bytes, max);
    return out === null || out.length <= max;
  }), { numRuns: 3000 });
  fc.assert(fc.property(fc.integer({ min: 0, max: real.compressed.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, b) => {
    const bytes = Buffer.from(real.compressed);
    bytes[i] = b;
    const out = lzo1xDecompress(bytes, 4000);
    return out === null || out.length <= 4000;
  }), { numRuns: 2000 });
});

test('LZ4: every compressed block lz4 makes (levels 1, 9, 12) decodes to its input', () => {
  let blocks = 0;
  for (const level of [1, 9, 12]) {
    for (const data of samples()) {
      for (const b of lz4Blocks(data, level)) {
        assert.deepEqual(lz4Decompress(b.compressed, b.plain.length), b.plain, `level ${level}, ${b.plain.length} bytes`);
        blocks++;
      }
    }
  }
  assert.ok(blocks >= 15, `only ${blocks} compressed blocks were produced`);
});

test('LZ4: hand-written blocks, and malformed ones give null', () => {
  const dec = (bytes: number[], max = 1000) => lz4Decompress(Uint8Array.from(bytes), max);
  assert.equal(dec([0x50, ...Buffer.from('hello')])?.toString(), 'hello');
  // 3 literals, a 9-byte match from distance 3, an empty last sequence.
  assert.equal(dec([0x35, ...Buffer.from('abc'), 3, 0, 0x00])?.toString(), 'abcabcabcabc');
  // 15 + 5 literals; a match of 15 + 4 + 1 extension.
  const lits = [...Buffer.from('ABCDEFGHIJKLMNOPQRST')];
  assert.equal(dec([0xff, 5, ...lits, 20, 0, 1, 0x10, ...Buffer.from('!')])?.toString(), 'ABCDEFGHIJKLMNOPQRST'.repeat(2) + '!');
  assert.equal(dec([0x35, ...Buffer.from('abc'), 0, 0, 0x00]), null, 'distance 0');
  assert.equal(dec([0x35, ...Buffer.from('abc'), 4, 0, 0x00]), null, 'distance past the output');
  assert.equal(dec([0x35, ...Buffer.from('abc'), 3, 0]), null, 'ends on a match');
  assert.equal(dec([0x50, ...Buffer.from('hel')]), null, 'literals cut short');
  assert.equal(dec([0x50, ...Buffer.from('hello')], 4), null, 'past max');
  assert.equal(dec([]), null);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 3000 }), (bytes, max) => {
    const out = lz4Decompress(bytes, max);
    return out === null || out.length <= max;
  }), { numRuns: 3000 });
});

const ip = Buffer.from('450000541c46400040010000c0a80001c0a80002', 'hex');
const ALL: Framing[] = ['none', 'lzo-stub', 'lzo', 'stub', 'lz4', 'stub-v2', 'lz4-v2'];

test('framing: the bytes each framing sends, and each reads them back', () => {
  const expect: Record<Framing, Buffer> = {
    none: ip,
    'lzo-stub': Buffer.concat([Buffer.from([0xfa]), ip]),
    lzo: Buffer.concat([Buffer.from([0xfa]), ip]),
    stub: Buffer.concat([Buffer.from([0xfb]), ip.subarray(1), ip.subarray(0, 1)]),
    lz4: Buffer.concat([Buffer.from([0xfb]), ip.subarray(1), ip.subarray(0, 1)]),
    'stub-v2': ip,
    'lz4-v2': ip,
  };
  for (const f of ALL) {
    const sent = frame(f, ip);
    assert.deepEqual(sent, expect[f], f);
    assert.deepEqual(unframe(f, Buffer.from(sent), 2000), ip, `${f} round trip`);
  }
  const starts50 = Buffer.from([0x50, 1, 2, 3]);
  assert.deepEqual(frame('stub-v2', starts50), Buffer.from([0x50, 0, 0x50, 1, 2, 3]));
  assert.deepEqual(unframe('stub-v2', Buffer.from([0x50, 0, 0x50, 1, 2, 3]), 100), starts50);
  assert.deepEqual(frame('lzo', Buffer.alloc(0)), Buffer.alloc(0));
});

test('framing: compressed packets from a peer are decompressed where the framing has an algorithm', () => {
  const payload = Buffer.concat([ip, Buffer.alloc(1200, 0x41)]);
  const lzo = lzopBlocks(payload)[0]!.compressed;
  const lz4 = lz4Blocks(payload)[0]!.compressed;
  assert.deepEqual(unframe('lzo', Buffer.concat([Buffer.from([0x66]), lzo]), 1600), payload);
  // lz4 (swap): 0x69 in front, the block's first byte moved to the end.
  const swapped = Buffer.concat([Buffer.from([0x69]), lz4.subarray(1), lz4.subarray(0, 1)]);
  assert.deepEqual(unframe('lz4', swapped, 1600), payload);
  assert.deepEqual(unframe('lz4-v2', Buffer.concat([Buffer.from([0x50, 0x01]), lz4]), 1600), payload);
  // The stub framings never decompress (OpenVPN drops such a packet: "Bad compression stub ... header byte").
  assert.equal(unframe('lzo-stub', Buffer.concat([Buffer.from([0x66]), lzo]), 1600), 'framing');
  assert.equal(unframe('stub', Buffer.from(swapped), 1600), 'framing');
  assert.equal(unframe('stub-v2', Buffer.concat([Buffer.from([0x50, 0x01]), lz4]), 1600), 'framing');
  assert.equal(unframe('lzo', Buffer.from([0x45, 0, 0]), 1600), 'framing', 'an unframed packet');
  assert.equal(unframe('lzo', Buffer.concat([Buffer.from([0x66]), lzo.subarray(0, 10)]), 1600), 'decompress');
  assert.equal(unframe('lzo', Buffer.concat([Buffer.from([0x66]), lzo]), 1000), 'decompress', 'larger than max');
});

const OCC = 'V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method 2,tls-client';
const OCC_COMP = 'V4,dev-type tun,link-mtu 1542,tun-mtu 1500,proto UDPv4,comp-lzo,auth SHA1,keysize 128,key-method 2,tls-client';
const stubV2 = new Map([['IV_COMP_STUBv2', '1']]);
const old = new Map<string, string>();

test('client framing: pushed, own, migrate, and none', () => {
  // The config pushes it: every client frames as pushed, whatever its own options say.
  assert.deepEqual(clientFraming('lzo-stub', true, OCC, stubV2), { framing: 'lzo-stub' });
  assert.deepEqual(clientFraming('stub-v2', true, OCC_COMP, stubV2), { framing: 'stub-v2' });
  // The server's own framing, not pushed: the clients that frame get it, the others none.
  assert.deepEqual(clientFraming('lzo', false, OCC_COMP, stubV2), { framing: 'lzo' });
  assert.deepEqual(clientFraming('lzo', false, OCC, stubV2), { framing: 'none' });
  // No framing, or compress migrate: a client that frames is moved to a stub.
  for (const server of ['none', 'migrate'] as const) {
    assert.deepEqual(clientFraming(server, false, OCC_COMP, stubV2), { framing: 'stub-v2', pushFraming: 'compress stub-v2' });
    assert.deepEqual(clientFraming(server, false, OCC_COMP, old), { framing: 'lzo-stub', pushFraming: 'comp-lzo no' });
    assert.deepEqual(clientFraming(server, false, `${OCC},comp-lzo`, old), { framing: 'lzo-stub', pushFraming: 'comp-lzo no' });
    assert.deepEqual(clientFraming(server, false, OCC, stubV2), { framing: 'none' });
  }
});
