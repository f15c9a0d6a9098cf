// The NAT over IPv6, on the in-memory sockets: a client's IPv6 TCP connection ends in the same endpoint as IPv4 and
// is re-opened towards the IPv6 destination (MSS 20 bytes lower), UDP flows answer only from their destination, and
// a destination the host cannot reach gets an ICMPv6 unreachable back instead of silence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nat, type NatOptions } from '../../src/core/uplink/nat/nat.js';
import { formatIpv6, ipv6Dst, ipv6Src, parseIpv6Text } from '../../src/core/wire/ipv6.js';
import { ICMP6, parseIcmpv6InPacket, UNREACH6 } from '../../src/core/wire/icmpv6.js';
import { buildTcp6Packet, buildTcpPacket, EMPTY, parseTcpInIpv6, type TcpRepr } from '../../src/core/wire/tcp.js';
import { buildUdp6Packet, parseUdp6 } from '../../src/core/wire/udp.js';
import { packetPseudo6 } from '../../src/core/wire/ipv6.js';
import { ipFromString } from '../../src/core/wire/ipv4.js';
import { MemorySockets, type MemTcpSock, type MemUdpSock } from '../helpers/sim/memory-sockets.js';

const CLIENT4 = ipFromString('10.8.0.2');
const a6 = (t: string): Buffer => parseIpv6Text(t)!;
const CLIENT6 = a6('fd00:8::1000');
const SERVER6 = a6('2001:db8:5::80');
const TUNNEL6 = a6('fd00:8::1');

function rig(opts: NatOptions = {}) {
  const mem = new MemorySockets();
  const out: Buffer[] = [];
  let r = 99;
  const nat = new Nat<MemTcpSock, MemUdpSock>({
    mss: 1400, icmp6Source: TUNNEL6, sourceAllowed6: (c, src) => c === CLIENT4 && CLIENT6.equals(src), ...opts,
  }, { sockets: mem, deliver: (p) => out.push(p), random: () => (r = (Math.imul(r, 69069) + 1) >>> 0) });
  return { nat, mem, out };
}
const syn = (port = 40000): TcpRepr => ({
  srcPort: port, dstPort: 80, seq: 5000, ack: undefined, control: 'syn', psh: false, window: 65535, mss: 1440, wscale: 7,
  sackPermitted: true, payload: EMPTY,
});
function tcp6(p: Buffer) {
  const r = parseTcpInIpv6(p);
  assert.ok(!('error' in r), `delivered packet must parse: ${'error' in r ? r.error : ''}`);
  return r;
}

test('an IPv6 TCP connection: the flow keeps both addresses, the SYN-ACK offers the IPv6 MSS, data flows both ways', () => {
  const { nat, mem, out } = rig();
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, SERVER6, syn()), 0);
  assert.equal(mem.tcp.length, 1);
  const { flow } = mem.tcp[0]!;
  assert.equal(formatIpv6(flow.key.v6!.dst), '2001:db8:5::80');
  assert.equal(flow.owner, CLIENT4);
  nat.tcpConnected(flow, 1);
  nat.endBatch(1);
  const synAck = tcp6(out[0]!);
  assert.equal(synAck.control, 'syn');
  assert.equal(synAck.mss, 1380, 'the IPv4 MSS less 20 (the larger IPv6 header)');
  assert.equal(formatIpv6(ipv6Src(out[0]!)), '2001:db8:5::80');
  assert.equal(formatIpv6(ipv6Dst(out[0]!)), 'fd00:8::1000');
  out.length = 0;
  const ack = { ...syn(), control: 'none' as const, seq: 5001, ack: (synAck.seq + 1) >>> 0, mss: undefined, wscale: undefined, sackPermitted: false };
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, SERVER6, { ...ack, payload: Buffer.from('GET /') }), 2);
  nat.endBatch(2);
  assert.equal(Buffer.concat(mem.tcp[0]!.written).toString(), 'GET /');
  nat.tcpData(flow, Buffer.from('HTTP/1.1 200'), 3);
  nat.endBatch(3);
  const data = out.map(tcp6).find((s) => s.payload.length > 0);
  assert.equal(data?.payload.toString(), 'HTTP/1.1 200');
  assert.equal(nat.clientStats(CLIENT4)?.packetsIn, 1 + out.length, 'counted for the client\'s IPv4 address');
});

test('IPv4 and IPv6 flows of one client live side by side', () => {
  const { nat, mem } = rig();
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, SERVER6, syn()), 0);
  nat.fromClient(CLIENT4, buildTcpPacket(CLIENT4, ipFromString('192.0.2.10'), syn()), 0);
  assert.equal(mem.tcp.length, 2);
  assert.equal(mem.tcp[1]!.flow.key.v6, undefined);
  assert.equal(nat.clientStats(CLIENT4)?.flowsOpen, 2);
  nat.clientGone(CLIENT4);
  assert.equal(nat.size, 0);
});

test('a connect that finds no IPv6 route answers with ICMPv6 no route, quoting the SYN; other failures only reset', () => {
  const { nat, mem, out } = rig();
  const synPacket = buildTcp6Packet(CLIENT6, SERVER6, syn());
  nat.fromClient(CLIENT4, synPacket, 0);
  nat.tcpFailed(mem.tcp[0]!.flow, 1, 'ENETUNREACH');
  nat.endBatch(1);
  const m = parseIcmpv6InPacket(out[0]!);
  assert.equal(m?.type, ICMP6.DEST_UNREACHABLE);
  assert.equal(m?.code, UNREACH6.NO_ROUTE);
  assert.deepEqual(m?.body, synPacket);
  assert.equal(formatIpv6(ipv6Src(out[0]!)), 'fd00:8::1', 'from the server\'s tunnel address');
  assert.equal(nat.stats().drops['ipv6-no-route'], 1);
  out.length = 0;
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, SERVER6, syn(40001)), 2);
  nat.tcpFailed(mem.tcp[1]!.flow, 3, 'ECONNREFUSED');
  nat.endBatch(3);
  assert.deepEqual(out.map((p) => tcp6(p).control), ['rst'], 'a refusal is a reset, as over IPv4');
  out.length = 0;
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, SERVER6, syn(40002)), 4);
  nat.tcpFailed(mem.tcp[2]!.flow, 5, 'EHOSTUNREACH');
  assert.equal(parseIcmpv6InPacket(out[0]!)?.code, UNREACH6.ADDRESS);
});

test('UDP over IPv6: replies only from the destination, a failed send with no route is answered with ICMPv6', () => {
  const { nat, mem, out } = rig();
  const q = buildUdp6Packet(CLIENT6, SERVER6, { srcPort: 5353, dstPort: 7, payload: Buffer.from('ping') });
  nat.fromClient(CLIENT4, q, 0);
  const s = mem.udp[0]!;
  assert.deepEqual(s.sent.map(String), ['ping']);
  nat.udpReceived6(s.flow, Buffer.from('pong'), a6('2001:db8:5::81'), 7, 1);
  assert.equal(out.length, 0);
  assert.equal(nat.stats().drops['udp-foreign-source'], 1);
  nat.udpReceived6(s.flow, Buffer.from('pong'), SERVER6, 7, 1);
  const u = parseUdp6(out[0]!.subarray(40), packetPseudo6(out[0]!, 17, 0));
  assert.ok(!('error' in u));
  assert.deepEqual([u.srcPort, u.dstPort, u.payload.toString()], [7, 5353, 'pong']);
  out.length = 0;
  nat.udpSendFailed(s.flow, 'ENETUNREACH', Buffer.from('ping'));
  const m = parseIcmpv6InPacket(out[0]!);
  assert.equal(m?.code, UNREACH6.NO_ROUTE);
  assert.deepEqual(m?.body, q, 'the quote is the datagram as the client sent it');
});

test('big UDP replies are fragmented to the MTU with IPv6 fragment headers', () => {
  const { nat, mem, out } = rig({ mtu: 1400 });
  nat.fromClient(CLIENT4, buildUdp6Packet(CLIENT6, SERVER6, { srcPort: 5353, dstPort: 53, payload: Buffer.from('q') }), 0);
  nat.udpReceived6(mem.udp[0]!.flow, Buffer.alloc(3000, 1), SERVER6, 53, 1);
  assert.equal(out.length, 3);
  for (const f of out) { assert.ok(f.length <= 1400); assert.equal(f[6], 44); }
});

test('spoofed, bad-destination, ICMPv6 and fragment packets are dropped and counted', () => {
  const { nat, mem } = rig();
  nat.fromClient(CLIENT4, buildTcp6Packet(a6('fd00:8::1001'), SERVER6, syn()), 0);
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, a6('::1'), syn()), 0);
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, a6('::ffff:10.0.0.1'), syn()), 0);
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, a6('ff02::1'), syn()), 0);
  const frag = buildUdp6Packet(CLIENT6, SERVER6, { srcPort: 1, dstPort: 2, payload: Buffer.alloc(8) }); frag[6] = 44;
  nat.fromClient(CLIENT4, frag, 0);
  const noV6 = rig({ sourceAllowed6: undefined });
  noV6.nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, SERVER6, syn()), 0);
  assert.equal(mem.tcp.length, 0);
  assert.equal(noV6.mem.tcp.length, 0);
  const d = nat.stats().drops;
  assert.deepEqual([d.spoofed, d['bad-destination'], d.fragment6], [1, 3, 1]);
  assert.equal(noV6.nat.stats().drops.spoofed, 1, 'without sourceAllowed6 no IPv6 is taken');
});

test('a segment for no IPv6 flow is answered with an IPv6 reset', () => {
  const { nat, out } = rig();
  nat.fromClient(CLIENT4, buildTcp6Packet(CLIENT6, SERVER6, { ...syn(), control: 'none', ack: 1, mss: undefined, wscale: undefined }), 0);
  const r = tcp6(out[0]!);
  assert.equal(r.control, 'rst');
  assert.equal(formatIpv6(ipv6Dst(out[0]!)), 'fd00:8::1000');
});
