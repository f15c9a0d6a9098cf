import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addToAddr, checkIpv6, formatIpv6, fragmentIpv6, inPrefix, ipv6Upper, networkOf, overlaps6, parseIpv6Prefix,
  parseIpv6Text, pseudoHeader6,
} from '../../src/core/wire/ipv6.js';
import {
  buildIcmpv6EchoReply, buildIcmpv6PacketTooBig, buildIcmpv6Unreachable, parseIcmpv6InPacket, UNREACH6,
} from '../../src/core/wire/icmpv6.js';
import { buildTcp6Packet, clampTcpMss6, parseTcpInIpv6, EMPTY } from '../../src/core/wire/tcp.js';
import { buildUdp6Packet, parseUdp6 } from '../../src/core/wire/udp.js';
import { packetPseudo6 } from '../../src/core/wire/ipv6.js';

// Captured with tcpdump between two Linux 6.x network namespaces (fd00::1 and fd00::2 on a veth pair,
// net.ipv6.auto_flowlabels=0), link headers stripped; TCP and UDP read from a tun device instead (veth leaves their
// checksums to the hardware), except the RST, whose checksum was completed with Python.
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
/** ping -6 -s 4 -p 61626364 fd00::2: echo request id 0x5404 seq 1 "abcd". */
const PING = hex('60000000000c3a40fd000000000000000000000000000001fd00000000000000000000000000000280006ce85404000161626364');
const PONG = hex('60000000000c3a40fd000000000000000000000000000002fd00000000000000000000000000000181006be85404000161626364');
/** connect() from [fd00::1]:40000 to [fd00::2]:7: SYN with MSS 1440, SACK-permitted, timestamps, window scale 10. */
const SYN = hex('6000000000280640fd000000000000000000000000000001fd0000000000000000000000000000029c4000070cac38af00000000a002fd2095a30000020405a00402080aea2aef7a000000000103030a');
/** The closed port's RST+ACK. */
const RST = hex('6000000000140640fd000000000000000000000000000002fd00000000000000000000000000000100079c400000000095e30880501400007b210000');
/** sendto("hi") from [fd00::1]:40001 to [fd00::2]:9 ... */
const UDP = hex('60000000000a1140fd000000000000000000000000000001fd0000000000000000000000000000029c410009000a01226869');
/** ... and the kernel's port unreachable for it (quoting the datagram as it came over the veth). */
const PORT_UNREACH = hex('60000000003a3a40fd000000000000000000000000000002fd00000000000000000000000000000101049a550000000060000000000a1140fd000000000000000000000000000001fd0000000000000000000000000000029c410009000afa1f6869');
/** An MLDv2 report to ff02::16 behind a hop-by-hop header (router alert), as a fresh interface sends. */
const MLD = hex('6000000000380001fe8000000000000050d6c4fffea3cceaff0200000000000000000000000000163a000502000001008f00bffb0000000204000000ff0200000000000000000001ffa3ccea04000000ff0200000000000000000001ff000001');
const A1 = parseIpv6Text('fd00::1')!;
const A2 = parseIpv6Text('fd00::2')!;

test('address text: RFC 4291 forms in, RFC 5952 out', () => {
  assert.equal(formatIpv6(parseIpv6Text('2001:DB8:0:0:0:0:2:1')!), '2001:db8::2:1');
  assert.equal(formatIpv6(parseIpv6Text('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIpv6(parseIpv6Text('2001:0:0:1:0:0:0:1')!), '2001:0:0:1::1', 'the longest zero run');
  assert.equal(formatIpv6(parseIpv6Text('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1', 'the first of equal runs');
  assert.equal(formatIpv6(parseIpv6Text('::')!), '::');
  assert.equal(formatIpv6(parseIpv6Text('::1')!), '::1');
  assert.equal(formatIpv6(parseIpv6Text('fe80::')!), 'fe80::');
  assert.equal(parseIpv6Text('::ffff:10.8.0.1')!.toString('hex'), '00000000000000000000ffff0a080001');
  for (const bad of ['', ':', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'g::1', '12345::', '::1.2.3', '1.2.3.4', '::01.2.3.4', 'fe80::1%eth0']) {
    assert.equal(parseIpv6Text(bad), undefined, bad);
  }
  assert.deepEqual(parseIpv6Prefix('2001:db8::/64'), { addr: parseIpv6Text('2001:db8::'), bits: 64 });
  assert.equal(typeof parseIpv6Prefix('2001:db8::'), 'string');
  assert.equal(typeof parseIpv6Prefix('2001:db8::/129'), 'string');
  assert.deepEqual(parseIpv6Prefix('2001:db8::5', true), { addr: parseIpv6Text('2001:db8::5'), bits: 128 });
});

test('address text round-trips for any address', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
    const t = formatIpv6(b);
    assert.deepEqual(parseIpv6Text(t), Buffer.from(b));
  }), { numRuns: 2000 });
});

test('prefixes: membership, overlap, network, addition', () => {
  const net = parseIpv6Prefix('2001:db8:1::/48') as { addr: Buffer; bits: number };
  assert.ok(inPrefix(parseIpv6Text('2001:db8:1:ffff::1')!, 0, net));
  assert.ok(!inPrefix(parseIpv6Text('2001:db8:2::1')!, 0, net));
  const odd = { addr: parseIpv6Text('2001:db8:80::')!, bits: 41 };
  assert.ok(inPrefix(parseIpv6Text('2001:db8:ff::')!, 0, odd));
  assert.ok(!inPrefix(parseIpv6Text('2001:db8:7f::')!, 0, odd));
  assert.ok(overlaps6(net, { addr: parseIpv6Text('2001:db8:1:5::')!, bits: 64 }));
  assert.ok(!overlaps6(net, { addr: parseIpv6Text('2001:db8:2::')!, bits: 64 }));
  assert.equal(formatIpv6(networkOf(parseIpv6Text('2001:db8::1234:5678')!, 112)), '2001:db8::1234:0');
  assert.equal(formatIpv6(addToAddr(parseIpv6Text('2001:db8::ffff')!, 1)), '2001:db8::1:0');
  assert.equal(formatIpv6(addToAddr(parseIpv6Text('2001:db8::')!, 0x1000)), '2001:db8::1000');
});

test('header checks and the extension header walk (MLD behind hop-by-hop)', () => {
  assert.equal(checkIpv6(PING), undefined);
  assert.equal(checkIpv6(PING.subarray(0, 45)), 'truncated packet');
  assert.equal(checkIpv6(Buffer.alloc(39)), 'truncated header');
  assert.deepEqual(ipv6Upper(PING), { proto: 58, offset: 40 });
  assert.deepEqual(ipv6Upper(MLD), { proto: 58, offset: 48 });
  const m = parseIcmpv6InPacket(MLD);
  assert.equal(m?.type, 143, 'MLDv2 report, checksum verified through the hop-by-hop header');
  const frag = Buffer.from(UDP); frag[6] = 44;
  assert.deepEqual(ipv6Upper(frag), { fragment: true });
  const esp = Buffer.from(UDP); esp[6] = 50;
  assert.ok('error' in ipv6Upper(esp));
  const cut = Buffer.from(MLD.subarray(0, 44)); cut.writeUInt16BE(4, 4);
  assert.ok('error' in ipv6Upper(cut), 'a hop-by-hop header cut short');
});

test('ICMPv6 echo reply: the kernel\'s own reply, byte for byte', () => {
  assert.deepEqual(buildIcmpv6EchoReply(PING), PONG);
  assert.equal(buildIcmpv6EchoReply(PONG), undefined, 'no reply to a reply');
  const bad = Buffer.from(PING); bad[50] ^= 1;
  assert.equal(buildIcmpv6EchoReply(bad), undefined, 'bad checksum');
});

test('ICMPv6 port unreachable: the kernel\'s own error, byte for byte', () => {
  assert.deepEqual(buildIcmpv6Unreachable(PORT_UNREACH.subarray(48), UNREACH6.PORT, A2), PORT_UNREACH);
  assert.equal(buildIcmpv6Unreachable(PORT_UNREACH, UNREACH6.PORT, A1), undefined, 'no error about an error');
  assert.equal(buildIcmpv6Unreachable(MLD, UNREACH6.ADDRESS, A1), undefined, 'no error to a multicast destination');
  const big = buildUdp6Packet(A1, A2, { srcPort: 1, dstPort: 2, payload: Buffer.alloc(3000) });
  const u = buildIcmpv6Unreachable(big, UNREACH6.NO_ROUTE, A2)!;
  assert.equal(u.length, 1280, 'capped at the minimum MTU');
  assert.ok(parseIcmpv6InPacket(u));
  const ptb = parseIcmpv6InPacket(buildIcmpv6PacketTooBig(UDP, 1400, A2)!);
  assert.equal(ptb?.type, 2);
  assert.equal(ptb?.rest, 1400);
});

test('TCP over IPv6: the captured SYN and RST parse (checksums), and build back byte for byte', () => {
  const syn = parseTcpInIpv6(SYN);
  assert.ok(!('error' in syn));
  assert.equal(syn.mss, 1440);
  assert.equal(syn.wscale, 10);
  assert.equal(syn.sackPermitted, true);
  assert.equal(syn.tsVal, 0xea2aef7a);
  const rst = parseTcpInIpv6(RST);
  assert.ok(!('error' in rst));
  assert.equal(rst.control, 'rst');
  assert.deepEqual(buildTcp6Packet(A2, A1, rst), RST);
  const bad = Buffer.from(SYN); bad[60] ^= 1;
  assert.deepEqual(parseTcpInIpv6(bad), { error: 'bad TCP checksum' });
});

test('TCP over IPv6: the ECN field is the low two bits of the traffic class, both ways; the flow label stays 0', () => {
  const rst = parseTcpInIpv6(RST);
  assert.ok(!('error' in rst));
  assert.equal(rst.ecn, 0);
  for (const ecn of [1, 2, 3]) {
    const p = buildTcp6Packet(A2, A1, { ...rst, ecn });
    assert.equal(p.readUInt32BE(0), (0x60000000 | (ecn << 20)) >>> 0, `ECN ${ecn}: version 6, traffic class ${ecn}`);
    assert.deepEqual(p.subarray(4), RST.subarray(4), 'nothing else changes (the traffic class is not in the checksum)');
    const back = parseTcpInIpv6(p);
    assert.ok(!('error' in back));
    assert.equal(back.ecn, ecn);
  }
});

test('MSS clamp over IPv6 keeps the checksum valid', () => {
  const p = Buffer.from(SYN);
  assert.ok(clampTcpMss6(p, 1380));
  const r = parseTcpInIpv6(p);
  assert.ok(!('error' in r));
  assert.equal(r.mss, 1380);
  assert.ok(!clampTcpMss6(p, 1400), 'already below');
  assert.ok(!clampTcpMss6(Buffer.from(RST), 100), 'not a SYN');
});

test('UDP over IPv6: the captured datagram parses, a zero checksum is refused, build gives the same bytes', () => {
  const r = parseUdp6(UDP.subarray(40), packetPseudo6(UDP, 17, 0));
  assert.ok(!('error' in r));
  assert.deepEqual(r, { srcPort: 40001, dstPort: 9, payload: Buffer.from('hi') });
  assert.deepEqual(buildUdp6Packet(A1, A2, r), UDP);
  const zero = Buffer.from(UDP); zero.writeUInt16BE(0, 46);
  assert.ok('error' in parseUdp6(zero.subarray(40), packetPseudo6(zero, 17, 0)));
  assert.equal(pseudoHeader6(A1, A2, 17, 10), packetPseudo6(UDP, 17, 10));
});

test('fragmentation by the source: fragments of at most the MTU that carry the whole payload', () => {
  const big = buildUdp6Packet(A1, A2, { srcPort: 1, dstPort: 2, payload: Buffer.alloc(3000, 7) });
  const frags = fragmentIpv6(big, 1400, 0xabcdef01);
  assert.ok(frags.length === 3);
  let joined = Buffer.alloc(0);
  for (const [i, f] of frags.entries()) {
    assert.ok(f.length <= 1400);
    assert.equal(f[6], 44);
    assert.equal(f[40], 17);
    assert.equal(f.readUInt32BE(44), 0xabcdef01);
    assert.equal(f.readUInt16BE(42) & 1, i < frags.length - 1 ? 1 : 0);
    assert.equal(f.readUInt16BE(42) & ~7, joined.length);
    joined = Buffer.concat([joined, f.subarray(48)]);
  }
  assert.deepEqual(joined, big.subarray(40));
  assert.deepEqual(fragmentIpv6(UDP, 1280, 1), [UDP]);
});

test('parsers never throw on garbage', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 0, max: 255 }), (bytes, b0) => {
    const p = Buffer.from(bytes);
    if (p.length > 0) p[0] = (6 << 4) | (b0 & 15);
    if (p.length >= 6) p.writeUInt16BE(Math.max(0, p.length - 40), 4);
    checkIpv6(p);
    if (!checkIpv6(p)) { ipv6Upper(p); parseTcpInIpv6(p); clampTcpMss6(p, 500); buildIcmpv6Unreachable(p, 0, A1); }
    parseIcmpv6InPacket(p);
    buildIcmpv6EchoReply(p);
  }), { numRuns: 3000 });
  assert.equal(EMPTY.length, 0);
});
