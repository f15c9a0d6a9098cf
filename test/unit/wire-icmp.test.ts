import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildIcmpEchoReply, buildIcmpUnreachable, parseIcmp, UNREACH } from '../../src/core/wire/icmp.js';
import { parseIpv4, ipv4Payload } from '../../src/core/wire/ipv4.js';

// Independently built: 10.8.0.2 -> 10.8.0.1 echo request id 0x4242 seq 7 "abcd", and the ICMP part of its reply.
const PING = Buffer.from('4500002000010000400166ca0a0800020a0800010800f0ef4242000761626364', 'hex');
const PONG_ICMP = Buffer.from('0000f8ef4242000761626364', 'hex');

test('echo reply: addresses swapped, known-answer ICMP bytes, valid IP header', () => {
  const r = buildIcmpEchoReply(PING);
  assert.ok(r);
  const ip = parseIpv4(r);
  assert.ok(!('error' in ip));
  assert.equal(ip.src, 0x0a080001);
  assert.equal(ip.dst, 0x0a080002);
  assert.equal(ip.protocol, 1);
  assert.deepEqual(ipv4Payload(r), PONG_ICMP);
});

test('no echo reply for non-requests, bad checksums, fragments, non-ICMP', () => {
  const reply = buildIcmpEchoReply(PING)!;
  assert.equal(buildIcmpEchoReply(reply), undefined);
  const bad = Buffer.from(PING); bad[30] ^= 1;
  assert.equal(buildIcmpEchoReply(bad), undefined);
  const frag = Buffer.from(PING); frag.writeUInt16BE(0x2000, 6);
  assert.equal(buildIcmpEchoReply(frag), undefined);
  assert.equal(buildIcmpEchoReply(Buffer.alloc(10)), undefined);
});

test('destination unreachable quotes the original header and data', () => {
  const u = buildIcmpUnreachable(PING, UNREACH.PORT, 0x0a080001);
  const ip = parseIpv4(u);
  assert.ok(!('error' in ip));
  assert.equal(ip.src, 0x0a080001);
  assert.equal(ip.dst, 0x0a080002);
  const m = parseIcmp(ipv4Payload(u));
  assert.ok(!('error' in m));
  assert.equal(m.type, 3);
  assert.equal(m.code, 3);
  assert.deepEqual(m.payload, PING);
  const big = Buffer.concat([PING.subarray(0, 20), Buffer.alloc(1000)]);
  big.writeUInt16BE(1020, 2);
  assert.equal(buildIcmpUnreachable(big, UNREACH.HOST, 1).length, 576, 'capped at 576 bytes (RFC 1812)');
  const fn = parseIcmp(ipv4Payload(buildIcmpUnreachable(PING, UNREACH.FRAG_NEEDED, 1, 1400)));
  assert.ok(!('error' in fn) && fn.rest === 1400);
});

test('parseIcmp and buildIcmpEchoReply never throw', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => {
    parseIcmp(Buffer.from(bytes));
    buildIcmpEchoReply(Buffer.from(bytes));
    const m = Buffer.from(PING);
    for (let i = 0; i < bytes.length; i += 2) m[bytes[i] % m.length] = bytes[i + 1] ?? 0;
    buildIcmpEchoReply(m);
  }), { numRuns: 2000 });
});
