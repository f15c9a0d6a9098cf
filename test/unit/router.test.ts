import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type RouterClient, type RouterOptions } from '../../src/core/router/router.js';
import type { Uplink } from '../../src/core/uplink/uplink.js';
import {
  emitIpv4, ipFromString as ip, ipv4Payload, IPV4_HEADER_LEN, parseIpv4, PROTO_ICMP, simpleIpv4,
} from '../../src/core/wire/ipv4.js';
import { emitIcmp, ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, parseIcmp, UNREACH } from '../../src/core/wire/icmp.js';
import { buildTcpPacket, parseTcpInIpv4, type TcpRepr } from '../../src/core/wire/tcp.js';
import { buildUdpPacket } from '../../src/core/wire/udp.js';

const SERVER = ip('10.8.0.1');
const A_IP = ip('10.8.0.2');
const B_IP = ip('10.8.0.3');
const OPTS: RouterOptions = { serverIp: SERVER, network: ip('10.8.0.0'), netmask: ip('255.255.255.0'), clientToClient: false, mss: 1400 };

class FakeClient implements RouterClient {
  readonly got: Buffer[] = [];
  constructor(readonly ip: number) {}
  deliver(packet: Buffer): void { this.got.push(Buffer.from(packet)); }
}
class FakeUplink implements Uplink {
  readonly sent: { from: number; packet: Buffer }[] = [];
  readonly gone: number[] = [];
  send(clientIp: number, packet: Buffer): void { this.sent.push({ from: clientIp, packet: Buffer.from(packet) }); }
  clientGone(clientIp: number): void { this.gone.push(clientIp); }
  async close(): Promise<void> {}
}

function setup(over: Partial<RouterOptions> = {}, withUplink = true) {
  const uplink = new FakeUplink();
  const r = new Router({ ...OPTS, ...over }, withUplink ? uplink : undefined);
  const a = new FakeClient(A_IP);
  const b = new FakeClient(B_IP);
  r.add(a);
  r.add(b);
  return { r, a, b, uplink };
}

function icmpEcho(src: number, dst: number, ident: number, seqNo: number, payload: Buffer): Buffer {
  const buf = Buffer.alloc(IPV4_HEADER_LEN + 8 + payload.length);
  emitIpv4(simpleIpv4(src, dst, PROTO_ICMP, 8 + payload.length, 0x1234), buf, 0);
  emitIcmp({ type: ICMP_ECHO_REQUEST, code: 0, rest: (ident << 16) | seqNo, payload }, buf, IPV4_HEADER_LEN);
  return buf;
}
const udp = (src: number, dst: number, dstPort = 53) => buildUdpPacket(src, dst, { srcPort: 40000, dstPort, payload: Buffer.from('query') });
const SYN: TcpRepr = {
  srcPort: 40001, dstPort: 443, seq: 1000, ack: undefined, control: 'syn', psh: false, window: 64240,
  mss: 1460, wscale: 7, sackPermitted: true, payload: Buffer.alloc(0),
};
const mssOf = (packet: Buffer) => {
  const t = parseTcpInIpv4(packet);
  assert.ok(!('error' in t), `bad TCP packet: ${'error' in t ? t.error : ''}`);
  return t.mss;
};
function parsedIp(packet: Buffer) {
  const r = parseIpv4(packet);
  assert.ok(!('error' in r), `bad IPv4 packet: ${'error' in r ? r.error : ''}`);
  return r;
}
function nothingElse(...sinks: { got?: Buffer[]; sent?: unknown[] }[]) {
  for (const s of sinks) assert.equal((s.got ?? s.sent)!.length, 0);
}

// ---- from a client ---------------------------------------------------------------------------------------------

test('anti-spoof: a source address other than the client\'s own is dropped', () => {
  const { r, a, b, uplink } = setup();
  for (const src of [B_IP, ip('10.8.0.77'), ip('8.8.8.8'), SERVER]) r.fromClient(a, udp(src, ip('1.1.1.1')));
  assert.equal(r.counters.drops.spoofed, 4);
  nothingElse(a, b, uplink);
});

test('malformed packets are dropped', () => {
  const { r, a, b, uplink } = setup();
  const good = udp(A_IP, ip('1.1.1.1'));
  const v6 = Buffer.from(good); v6[0] = 0x60;
  const truncated = good.subarray(0, good.length - 1);
  const badIhl = Buffer.from(good); badIhl[0] = 0x44;
  for (const p of [Buffer.alloc(0), good.subarray(0, 19), v6, truncated, badIhl]) r.fromClient(a, p);
  assert.equal(r.counters.drops.malformed, 4);
  assert.equal(r.counters.drops['ipv6-off'], 1, 'an IPv6 packet where the server has no IPv6');
  assert.equal(r.counters.fromClients, 5);
  nothingElse(a, b, uplink);
});

test('ICMP echo to the server address is answered to the sender', () => {
  const { r, a, b, uplink } = setup();
  const payload = Buffer.from('abcdefghijklmnop');
  r.fromClient(a, icmpEcho(A_IP, SERVER, 0x4242, 7, payload));
  assert.equal(a.got.length, 1);
  const reply = a.got[0];
  const hdr = parsedIp(reply);
  assert.deepEqual([hdr.src, hdr.dst, hdr.protocol], [SERVER, A_IP, PROTO_ICMP]);
  const icmp = parseIcmp(ipv4Payload(reply));
  assert.ok(!('error' in icmp));
  assert.deepEqual([icmp.type, icmp.code, icmp.rest], [ICMP_ECHO_REPLY, 0, (0x4242 << 16) | 7]);
  assert.deepEqual(icmp.payload, payload);
  assert.equal(r.counters.local, 1);
  nothingElse(b, uplink);
});

test('anything else to the server address is dropped (not sent to the uplink)', () => {
  const { r, a, b, uplink } = setup();
  r.fromClient(a, udp(A_IP, SERVER));
  const reply = icmpEcho(A_IP, SERVER, 1, 1, Buffer.from('x'));
  reply[IPV4_HEADER_LEN] = ICMP_ECHO_REPLY;   // an echo *reply* (checksum now wrong too)
  r.fromClient(a, reply);
  assert.equal(r.counters.drops['local-unhandled'], 2);
  nothingElse(a, b, uplink);
});

test('client-to-client on: the packet reaches the other client unchanged', () => {
  const { r, a, b, uplink } = setup({ clientToClient: true });
  const p = udp(A_IP, B_IP);
  r.fromClient(a, p);
  assert.deepEqual(b.got, [p]);
  assert.equal(r.counters.clientToClient, 1);
  nothingElse(a, uplink);
});

test('client-to-client off: ICMP administratively prohibited back to the sender', () => {
  const { r, a, b, uplink } = setup({ clientToClient: false });
  const p = udp(A_IP, B_IP);
  r.fromClient(a, p);
  assert.equal(b.got.length, 0);
  assert.equal(a.got.length, 1);
  const hdr = parsedIp(a.got[0]);
  assert.deepEqual([hdr.src, hdr.dst], [SERVER, A_IP]);
  const icmp = parseIcmp(ipv4Payload(a.got[0]));
  assert.ok(!('error' in icmp));
  assert.deepEqual([icmp.type, icmp.code], [ICMP_DEST_UNREACHABLE, UNREACH.ADMIN_PROHIBITED]);
  assert.deepEqual(icmp.payload.subarray(0, 28), p.subarray(0, 28), 'quotes the original header and 8 bytes');
  assert.equal(r.counters.drops['c2c-disabled'], 1);
  nothingElse(uplink);
});

test('a pool address with no client: ICMP host unreachable, whatever client-to-client says', () => {
  for (const clientToClient of [true, false]) {
    const { r, a, b, uplink } = setup({ clientToClient });
    r.fromClient(a, udp(A_IP, ip('10.8.0.99')));
    assert.equal(a.got.length, 1);
    const icmp = parseIcmp(ipv4Payload(a.got[0]));
    assert.ok(!('error' in icmp));
    assert.deepEqual([icmp.type, icmp.code], [ICMP_DEST_UNREACHABLE, UNREACH.HOST]);
    assert.equal(r.counters.drops['no-client'], 1);
    nothingElse(b, uplink);
  }
});

test('broadcast and multicast destinations are dropped', () => {
  const { r, a, b, uplink } = setup({ clientToClient: true });
  const dsts = ['255.255.255.255', '10.8.0.255', '10.8.0.0', '224.0.0.251', '239.255.255.250', '230.1.2.3'];
  for (const d of dsts) r.fromClient(a, udp(A_IP, ip(d)));
  assert.equal(r.counters.drops.broadcast, dsts.length);
  nothingElse(a, b, uplink);
});

test('other destinations go to the uplink tagged with the client address', () => {
  const { r, a, b, uplink } = setup();
  const p = udp(A_IP, ip('8.8.8.8'));
  r.fromClient(a, p);
  r.fromClient(a, udp(A_IP, ip('10.9.0.1')));   // just outside the tunnel subnet
  assert.equal(uplink.sent.length, 2);
  assert.deepEqual(uplink.sent[0], { from: A_IP, packet: p });
  assert.equal(r.counters.toUplink, 2);
  nothingElse(a, b);
});

test('TCP SYNs to the uplink get their MSS clamped (checksum still valid); smaller MSS and non-SYNs untouched', () => {
  const { r, a, uplink } = setup({ mss: 1400 });
  r.fromClient(a, buildTcpPacket(A_IP, ip('1.1.1.1'), SYN));
  r.fromClient(a, buildTcpPacket(A_IP, ip('1.1.1.1'), { ...SYN, mss: 1300 }));
  const ack = buildTcpPacket(A_IP, ip('1.1.1.1'), { ...SYN, control: 'none', ack: 5, mss: 1460 });
  r.fromClient(a, ack);
  assert.equal(uplink.sent.length, 3);
  assert.deepEqual(uplink.sent.slice(0, 2).map((s) => mssOf(s.packet)), [1400, 1300]);
  assert.deepEqual(uplink.sent[2].packet, ack, 'a non-SYN segment is forwarded byte for byte');
});

test('mss 0 turns clamping off', () => {
  const { r, a, uplink } = setup({ mss: 0 });
  r.fromClient(a, buildTcpPacket(A_IP, ip('1.1.1.1'), SYN));
  assert.equal(mssOf(uplink.sent[0].packet), 1460);
});

test('without an uplink, outside traffic is dropped; setUplink enables it', () => {
  const { r, a } = setup({}, false);
  r.fromClient(a, udp(A_IP, ip('8.8.8.8')));
  assert.equal(r.counters.drops['no-uplink'], 1);
  const u = new FakeUplink();
  r.setUplink(u);
  r.fromClient(a, udp(A_IP, ip('8.8.8.8')));
  assert.equal(u.sent.length, 1);
});

// ---- towards a client ------------------------------------------------------------------------------------------

test('toClient: looked up by destination address, SYN-ACK MSS clamped', () => {
  const { r, a, b } = setup();
  const p = udp(ip('8.8.8.8'), B_IP);
  r.toClient(p);
  assert.deepEqual(b.got, [p]);
  r.toClient(buildTcpPacket(ip('1.1.1.1'), A_IP, { ...SYN, srcPort: 443, dstPort: 40001, ack: 1001 }));
  assert.equal(a.got.length, 1);
  assert.equal(mssOf(a.got[0]), 1400);
  assert.equal(r.counters.fromUplink, 2);
});

test('toClient: unknown destination and short packets are dropped', () => {
  const { r, a, b } = setup();
  r.toClient(udp(ip('8.8.8.8'), ip('10.8.0.50')));
  r.toClient(Buffer.alloc(10));
  assert.equal(r.counters.drops['no-client'], 1);
  assert.equal(r.counters.drops.malformed, 1);
  nothingElse(a, b);
});

test('lookup, add and remove: removing tells the uplink; a stale client does not remove its replacement', () => {
  const { r, a, uplink } = setup();
  assert.equal(r.lookup(A_IP), a);
  const a2 = new FakeClient(A_IP);
  r.add(a2);                     // the same address handed to a new session
  assert.equal(r.lookup(A_IP), a2);
  r.remove(a);                   // the old session goes away later
  assert.equal(r.lookup(A_IP), a2);
  r.remove(a2);
  assert.equal(r.lookup(A_IP), undefined);
  assert.deepEqual(uplink.gone, [A_IP, A_IP]);
  r.toClient(udp(ip('8.8.8.8'), A_IP));
  assert.equal(a2.got.length, 0);
});

// ---- iroute / route -------------------------------------------------------------------------------------------------

const LAN = { network: ip('192.168.1.0'), netmask: ip('255.255.255.0') };
const LAN_HOST = ip('192.168.1.20');
class GatewayClient extends FakeClient {
  constructor(ip: number, readonly iroutes: { network: number; netmask: number }[]) { super(ip); }
}
function withGateway(over: Partial<RouterOptions> = {}) {
  const uplink = new FakeUplink();
  const r = new Router({ ...OPTS, clientToClient: true, ...over }, uplink);
  const gw = new GatewayClient(A_IP, [LAN]);
  const b = new FakeClient(B_IP);
  r.add(gw);
  r.add(b);
  return { r, gw, b, uplink };
}

test('iroute: packets for the subnet go to its client; its hosts may send through that client only', () => {
  const { r, gw, b, uplink } = withGateway();
  const toLan = udp(B_IP, LAN_HOST);
  r.fromClient(b, toLan);
  assert.deepEqual(gw.got, [toLan], 'another client reaches a host behind the gateway');
  const fromLan = udp(LAN_HOST, B_IP);
  r.fromClient(gw, fromLan);
  assert.deepEqual(b.got, [fromLan], 'the LAN host answers through its gateway');
  r.fromClient(b, udp(LAN_HOST, B_IP));
  assert.equal(r.counters.drops.spoofed, 1, 'the LAN address from another client is spoofed');
  r.fromClient(gw, udp(LAN_HOST, ip('198.51.100.7')));
  assert.equal(uplink.sent.length, 1, "a LAN host's packet to the Internet goes to the uplink tagged with the gateway");
  assert.equal(uplink.sent[0]!.from, A_IP);
  r.toClient(udp(ip('198.51.100.7'), LAN_HOST));
  assert.equal(gw.got.length, 2, 'a reply from the uplink to the LAN host reaches the gateway');
  assert.equal(r.lookup(LAN_HOST), gw);
  r.remove(gw);
  assert.equal(r.lookup(LAN_HOST), undefined);
  assert.equal(r.irouteOwner(LAN), undefined);
});

test('iroute: without client-to-client, administratively prohibited; longest prefix wins; overlaps are found', () => {
  const { r, b } = withGateway({ clientToClient: false });
  r.fromClient(b, udp(B_IP, LAN_HOST));
  assert.equal(r.counters.drops['c2c-disabled'], 1);
  assert.equal(parsedIp(b.got[0]!).protocol, 1, 'an ICMP error goes back');
  const c = new GatewayClient(ip('10.8.0.4'), [{ network: ip('192.168.1.16'), netmask: ip('255.255.255.240') }]);
  r.add(c);
  assert.equal(r.lookup(LAN_HOST), c, 'the /28 inside the /24');
  assert.equal(r.lookup(ip('192.168.1.40')), r.lookup(ip('192.168.1.41')));
  assert.notEqual(r.lookup(ip('192.168.1.40')), c);
  assert.equal(r.irouteOwner({ network: ip('192.168.0.0'), netmask: ip('255.255.0.0') }) !== undefined, true, 'a /16 around them overlaps');
  assert.equal(r.irouteOwner({ network: ip('192.168.2.0'), netmask: ip('255.255.255.0') }), undefined);
});

test('route: a routed subnet no client claims is unreachable, not sent to the Internet', () => {
  const { r, b, uplink } = withGateway({ routes: [{ network: ip('192.168.254.0'), netmask: ip('255.255.255.0') }] });
  r.fromClient(b, udp(B_IP, ip('192.168.254.9')));
  assert.equal(uplink.sent.length, 0);
  assert.equal(r.counters.drops['no-iroute'], 1);
  assert.equal(parsedIp(b.got[0]!).protocol, 1);
});
