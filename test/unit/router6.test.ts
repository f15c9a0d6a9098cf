import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type RouterClient, type RouterOptions } from '../../src/core/router/router.js';
import type { Uplink } from '../../src/core/uplink/uplink.js';
import { ipFromString as ip } from '../../src/core/wire/ipv4.js';
import { formatIpv6, parseIpv6Prefix, parseIpv6Text, type Ipv6Net } from '../../src/core/wire/ipv6.js';
import { ICMP6, parseIcmpv6InPacket, UNREACH6 } from '../../src/core/wire/icmpv6.js';
import { buildTcp6Packet, parseTcpInIpv6, type TcpRepr } from '../../src/core/wire/tcp.js';
import { buildUdp6Packet } from '../../src/core/wire/udp.js';
import { ipv6Dst, ipv6Src } from '../../src/core/wire/ipv6.js';

const a6 = (t: string): Buffer => parseIpv6Text(t)!;
const net6 = (t: string): Ipv6Net => parseIpv6Prefix(t) as Ipv6Net;
const SERVER6 = a6('fd00:8::1');
const OPTS: RouterOptions = {
  serverIp: ip('10.8.0.1'), network: ip('10.8.0.0'), netmask: ip('255.255.255.0'), clientToClient: false, mss: 1400,
  ipv6: { serverIp6: SERVER6, network6: net6('fd00:8::/64'), mss6: 1380, routes6: [net6('fd00:99::/32')] },
};

class FakeClient implements RouterClient {
  readonly got: Buffer[] = [];
  constructor(readonly ip: number, readonly ip6?: Buffer, readonly iroutes6?: Ipv6Net[]) {}
  deliver(packet: Buffer): void { this.got.push(Buffer.from(packet)); }
}
class FakeUplink implements Uplink {
  readonly sent: { from: number; packet: Buffer }[] = [];
  send(clientIp: number, packet: Buffer): void { this.sent.push({ from: clientIp, packet: Buffer.from(packet) }); }
  clientGone(): void {}
  async close(): Promise<void> {}
}

function setup(over: Partial<RouterOptions> = {}) {
  const uplink = new FakeUplink();
  const r = new Router({ ...OPTS, ...over }, uplink);
  const a = new FakeClient(ip('10.8.0.2'), a6('fd00:8::1000'), [net6('fd00:99:1::/48')]);
  const b = new FakeClient(ip('10.8.0.3'), a6('fd00:8::1001'));
  r.add(a);
  r.add(b);
  return { r, a, b, uplink };
}

function echo(src: Buffer, dst: Buffer): Buffer {
  // An echo request built as the kernel builds one: type 128, id 1, seq 1, "ping".
  const body = Buffer.from('80000000000100017069 6e67'.replace(/ /g, ''), 'hex');
  const p = Buffer.alloc(40 + body.length);
  p.writeUInt32BE(0x60000000, 0); p.writeUInt16BE(body.length, 4); p[6] = 58; p[7] = 64;
  src.copy(p, 8); dst.copy(p, 24); body.copy(p, 40);
  // Checksum over the pseudo-header, computed here independently of the codec.
  let s = 0;
  const words = Buffer.concat([src, dst, Buffer.from([0, 0, 0, body.length, 0, 0, 0, 58]), body]);
  for (let i = 0; i < words.length; i += 2) s += words.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p.writeUInt16BE(~s & 0xffff, 42);
  return p;
}
const udp = (src: Buffer, dst: Buffer) => buildUdp6Packet(src, dst, { srcPort: 40000, dstPort: 53, payload: Buffer.from('q') });
const SYN: TcpRepr = {
  srcPort: 40001, dstPort: 443, seq: 1000, ack: undefined, control: 'syn', psh: false, window: 64240,
  mss: 1440, sackPermitted: true, payload: Buffer.alloc(0),
};
const icmpOf = (p: Buffer) => parseIcmpv6InPacket(p);

test('ping to the server\'s IPv6 address is answered by the router', () => {
  const { r, a, uplink } = setup();
  r.fromClient(a, echo(a.ip6!, SERVER6));
  assert.equal(a.got.length, 1);
  const m = icmpOf(a.got[0]!);
  assert.equal(m?.type, ICMP6.ECHO_REPLY);
  assert.equal(formatIpv6(ipv6Src(a.got[0]!)), 'fd00:8::1');
  assert.equal(formatIpv6(ipv6Dst(a.got[0]!)), 'fd00:8::1000');
  assert.equal(uplink.sent.length, 0);
  assert.equal(r.counters.local, 1);
});

test('anti-spoof: own /128 and iroute-ipv6 pass; other sources and link-local are dropped', () => {
  const { r, a, uplink } = setup();
  const out = a6('2001:db8::53');
  r.fromClient(a, udp(a.ip6!, out));
  r.fromClient(a, udp(a6('fd00:99:1::7'), out));
  assert.equal(uplink.sent.length, 2);
  assert.equal(uplink.sent[0]!.from, a.ip, 'the uplink learns the client by its IPv4 address');
  r.fromClient(a, udp(a6('fd00:8::1001'), out));
  r.fromClient(a, udp(a6('2001:db8::1'), out));
  assert.equal(r.counters.drops['ipv6-spoofed'], 2);
  // What a 2.6 client's tun sends at startup: router solicitations and MLD from fe80::, DAD probes from ::.
  r.fromClient(a, udp(a6('fe80::1234'), a6('ff02::2')));
  r.fromClient(a, udp(a6('::'), a6('ff02::16')));
  assert.equal(r.counters.drops['ipv6-link-local'], 2);
  r.fromClient(a, udp(a.ip6!, a6('ff02::1')));
  assert.equal(r.counters.drops['ipv6-broadcast'], 1);
  assert.equal(a.got.length, 0, 'no ICMPv6 for quiet drops');
  assert.equal(uplink.sent.length, 2);
});

test('client-to-client over IPv6: allowed when enabled, else administratively prohibited', () => {
  const off = setup();
  off.r.fromClient(off.a, udp(off.a.ip6!, off.b.ip6!));
  assert.equal(off.b.got.length, 0);
  assert.equal(icmpOf(off.a.got[0]!)?.type, ICMP6.DEST_UNREACHABLE);
  assert.equal(icmpOf(off.a.got[0]!)?.code, UNREACH6.ADMIN_PROHIBITED);
  const on = setup({ clientToClient: true });
  on.r.fromClient(on.a, udp(on.a.ip6!, on.b.ip6!));
  on.r.fromClient(on.b, udp(on.b.ip6!, a6('fd00:99:1::99')));
  assert.equal(on.b.got.length, 1);
  assert.equal(on.a.got.length, 1, 'to a host behind a (iroute-ipv6)');
  assert.equal(on.r.counters.clientToClient, 2);
});

test('unclaimed addresses: address unreachable in the server network, no route in a route-ipv6 subnet', () => {
  const { r, a, uplink } = setup();
  r.fromClient(a, udp(a.ip6!, a6('fd00:8::4444')));
  assert.equal(icmpOf(a.got[0]!)?.code, UNREACH6.ADDRESS);
  r.fromClient(a, udp(a.ip6!, a6('fd00:99:2::1')));
  assert.equal(icmpOf(a.got[1]!)?.code, UNREACH6.NO_ROUTE);
  assert.equal(uplink.sent.length, 0);
  assert.equal(formatIpv6(ipv6Src(a.got[1]!)), 'fd00:8::1', 'errors come from the server\'s address');
});

test('from the uplink: longest prefix wins, SYNs clamped to the IPv6 MSS, unknown destinations dropped', () => {
  const { r, a, b } = setup();
  const c = new FakeClient(ip('10.8.0.4'), a6('fd00:8::1002'), [net6('fd00:99:1:5::/64')]);
  const wide = new FakeClient(ip('10.8.0.5'), undefined, [net6('fd00:99::/40')]);
  r.add(c); r.add(wide);
  r.toClient(udp(a6('2001:db8::53'), a6('fd00:99:1:5::1')));
  r.toClient(udp(a6('2001:db8::53'), a6('fd00:99:1:6::1')));
  r.toClient(udp(a6('2001:db8::53'), a6('fd00:99:2::1')));
  assert.equal(c.got.length, 1);
  assert.equal(a.got.length, 1);
  assert.equal(wide.got.length, 1);
  r.toClient(buildTcp6Packet(a6('2001:db8::80'), b.ip6!, { ...SYN, ack: 5 }));
  const t = parseTcpInIpv6(b.got[0]!);
  assert.ok(!('error' in t));
  assert.equal(t.mss, 1380);
  r.toClient(udp(a6('2001:db8::53'), a6('fd00:8::9999')));
  assert.equal(r.counters.drops['ipv6-no-client'], 1);
  r.remove(c);
  r.toClient(udp(a6('2001:db8::53'), a6('fd00:99:1:5::1')));
  assert.equal(a.got.length, 2, 'after c left, its subnet falls to the shorter prefix');
});

test('SYNs to the uplink are clamped too; without IPv6 configured every IPv6 packet is dropped', () => {
  const { r, a, uplink } = setup();
  r.fromClient(a, buildTcp6Packet(a.ip6!, a6('2001:db8::80'), SYN));
  const t = parseTcpInIpv6(uplink.sent[0]!.packet);
  assert.ok(!('error' in t));
  assert.equal(t.mss, 1380);
  const plain = new Router({ ...OPTS, ipv6: undefined }, uplink);
  plain.add(a);
  plain.fromClient(a, udp(a.ip6!, a6('2001:db8::53')));
  plain.toClient(udp(a6('2001:db8::53'), a.ip6!));
  assert.equal(plain.counters.drops['ipv6-off'], 2);
  assert.equal(uplink.sent.length, 1);
});

test('a malformed IPv6 packet is counted, never thrown on', () => {
  const { r, a } = setup();
  r.fromClient(a, Buffer.from([0x60, 0, 0]));
  r.toClient(Buffer.from([0x60]));
  assert.equal(r.counters.drops['ipv6-malformed'], 2);
  assert.equal(r.v6?.irouteOwner(net6('fd00:99:1:8::/64')), a);
  assert.equal(r.v6?.lookup(a6('fd00:99:1::1')), a);
});

test('block-ipv6: every IPv6 packet from a client is answered with ICMPv6 no route from the given source, none forwarded', () => {
  const { r, a, uplink } = setup({ blockIpv6From: a6('fe80::7') });
  r.fromClient(a, udp(a.ip6!, a6('2001:db8::53')));
  r.fromClient(a, echo(a.ip6!, SERVER6));
  assert.equal(a.got.length, 2);
  for (const p of a.got) {
    assert.equal(icmpOf(p)?.type, ICMP6.DEST_UNREACHABLE);
    assert.equal(icmpOf(p)?.code, UNREACH6.NO_ROUTE);
    assert.equal(formatIpv6(ipv6Src(p)), 'fe80::7');
  }
  assert.equal(uplink.sent.length, 0);
  assert.equal(r.counters.drops['ipv6-blocked'], 2);
});
