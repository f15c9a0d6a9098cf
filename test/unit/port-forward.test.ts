// forward-port, sans IO: which client a rule picks (common name: the newest session; fixed address), refusals
// counted and logged once per interval, the per-source UDP flows; the NAT's active open towards a client (SYN,
// SYN-ACK, the outer connection's bytes both ways, half-close, resets, the connect timeout, the client leaving);
// the router handing packets for the server's own address to the uplink; the directive's parsing and checks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';
import { chooseClient, PortForward, ruleName, type ForwardCandidate, type ForwardRule } from '../../src/core/forward/port-forward.js';
import { Router } from '../../src/core/router/router.js';
import { Nat } from '../../src/core/uplink/nat/nat.js';
import { ipFromString, ipToString, ipv4Dst, ipv4Src } from '../../src/core/wire/ipv4.js';
import { buildTcpPacket, EMPTY, parseTcpInIpv4, type TcpRepr } from '../../src/core/wire/tcp.js';
import { buildUdpPacket, parseUdp } from '../../src/core/wire/udp.js';
import { ipv4Payload } from '../../src/core/wire/ipv4.js';
import { MemorySockets, type MemTcpSock, type MemUdpSock } from '../helpers/sim/memory-sockets.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

const LOCAL = ipFromString('10.8.0.1');
const CLIENT = ipFromString('10.8.0.2');
const PORT = 8000;

const session = (cn: string | undefined, ip: number, established = true, closed = false): ForwardCandidate =>
  ({ cn, ip, session: { established, closed } });
const byCn: ForwardRule = { proto: 'tcp', listen: { host: '0.0.0.0', port: 8080 }, target: { cn: 'alice' }, port: PORT };
const byIp: ForwardRule = { ...byCn, target: { ip: ipFromString('10.8.0.9') } };

describe('forward-port: which client', () => {
  test('by common name: the newest established session of that name; handshaking or closed sessions do not count', () => {
    assert.equal(chooseClient(byCn, [session('alice', ipFromString('10.8.0.2')), session('bob', ipFromString('10.8.0.3')),
      session('alice', ipFromString('10.8.0.4')), session('alice', ipFromString('10.8.0.5'), false),
      session('alice', ipFromString('10.8.0.6'), true, true)]), ipFromString('10.8.0.4'));
    assert.equal(chooseClient(byCn, [session('bob', CLIENT)]), undefined);
    assert.equal(chooseClient(byCn, []), undefined);
  });

  test('by fixed address: the session holding it, whatever its name', () => {
    assert.equal(chooseClient(byIp, [session('x', CLIENT), session('carol', ipFromString('10.8.0.9'))]), ipFromString('10.8.0.9'));
    assert.equal(chooseClient(byIp, [session('carol', CLIENT)]), undefined);
  });

  test('the rule as text', () => {
    assert.equal(ruleName(byCn, ipToString), 'tcp 0.0.0.0:8080 alice:8000');
    assert.equal(ruleName(byIp, ipToString), 'tcp 0.0.0.0:8080 10.8.0.9:8000');
  });
});

describe('forward-port: admission and counters', () => {
  test('an offline client is refused and counted; the first refusal of an interval is logged, the rest summarized', () => {
    const pf = new PortForward<{ dead: boolean }>(byCn, 'r', { logIntervalMs: 1000 });
    const a = pf.admit([], '198.18.0.1:5000', 0);
    assert.equal(a.t, 'refuse');
    assert.ok(a.t === 'refuse' && a.reason === 'client offline' && a.log?.sample === '198.18.0.1:5000');
    const b = pf.admit([], '198.18.0.1:5001', 10);
    assert.ok(b.t === 'refuse' && b.log === undefined, 'within the interval: counted, not logged');
    pf.admit([], '198.18.0.1:5002', 20);
    assert.equal(pf.counters.refused['client offline'], 3);
    assert.equal(pf.counters.accepted, 0);
    assert.equal(pf.nextLogDeadline(), 1000);
    assert.deepEqual(pf.pollLog(1000).map((r) => [r.reason, r.count, r.sample]), [['client offline', 2, '198.18.0.1:5001']]);
  });

  test('an online client is admitted; opened/closed keep the active count', () => {
    const pf = new PortForward<{ dead: boolean }>(byCn, 'r');
    const a = pf.admit([session('alice', CLIENT)], 'p', 0);
    assert.deepEqual(a, { t: 'forward', clientIp: CLIENT });
    pf.opened();
    pf.opened();
    pf.closed();
    assert.equal(pf.counters.accepted, 2);
    assert.equal(pf.counters.active, 1);
  });

  test('UDP: one flow per outer source, forgotten once the NAT lets it go', () => {
    const pf = new PortForward<{ dead: boolean }>({ ...byCn, proto: 'udp' }, 'r');
    const f1 = { dead: false }, f2 = { dead: false };
    pf.addUdpFlow('a:1', f1);
    pf.addUdpFlow('a:2', f2);
    assert.equal(pf.udpFlow('a:1'), f1);
    assert.equal(pf.counters.active, 2);
    pf.udpFlowGone('a:1', f1);
    assert.equal(pf.udpFlow('a:1'), undefined);
    f2.dead = true;   // removed from the NAT without the hook having run yet
    assert.equal(pf.udpFlow('a:2'), undefined);
    assert.equal(pf.counters.active, 1);
  });
});

// ---- the NAT's active open ----

interface Rig { nat: Nat<MemTcpSock, MemUdpSock>; mem: MemorySockets; out: Buffer[] }

function rig(): Rig {
  const mem = new MemorySockets();
  const out: Buffer[] = [];
  let r = 777;
  const nat = new Nat<MemTcpSock, MemUdpSock>({ localIp: LOCAL }, {
    sockets: mem, deliver: (p) => out.push(p), random: () => (r = (Math.imul(r, 69069) + 1) >>> 0),
  });
  return { nat, mem, out };
}

function outerSock(): MemTcpSock {
  return {
    id: 1000, flow: undefined as never, corked: false, paused: false, ended: false, closed: undefined, written: [],
    writtenBytes: 0, unconfirmed: [],
  };
}

function takeTcp(out: Buffer[]): { src: number; dst: number; seg: TcpRepr }[] {
  return out.splice(0).map((p) => {
    const seg = parseTcpInIpv4(p);
    assert.ok(!('error' in seg));
    return { src: ipv4Src(p), dst: ipv4Dst(p), seg };
  });
}

/** The client's side, crafted segment by segment. */
class Peer {
  seq = 90_000;
  ack = 0;
  ourPort = 0;
  constructor(readonly r: Rig) {}
  seg(now: number, over: Partial<TcpRepr> = {}): void {
    const t: TcpRepr = {
      srcPort: PORT, dstPort: this.ourPort, seq: this.seq, ack: this.ack, control: 'none', psh: false, window: 8192,
      sackPermitted: false, payload: EMPTY, ...over,
    };
    this.r.nat.fromClient(CLIENT, buildTcpPacket(CLIENT, LOCAL, t), now);
    this.r.nat.endBatch(now);
  }
  /** Our SYN arrived: answer it with a SYN-ACK. */
  synAck(now: number, syn: TcpRepr): void {
    this.ourPort = syn.srcPort;
    this.ack = (syn.seq + 1) >>> 0;
    this.seg(now, { control: 'syn', mss: 1400, window: 65535 });
    this.seq = (this.seq + 1) >>> 0;
  }
}

function open(r: Rig, sock = outerSock()): { sock: MemTcpSock; syn: TcpRepr } {
  const flow = r.nat.tcpOpenToClient(CLIENT, PORT, sock, 0);
  assert.ok(flow);
  (sock as { flow: unknown }).flow = flow;
  r.nat.endBatch(0);
  const [syn, ...rest] = takeTcp(r.out);
  assert.equal(rest.length, 0);
  assert.equal(syn!.src, LOCAL, 'from the server\'s tunnel address');
  assert.equal(syn!.dst, CLIENT);
  return { sock, syn: syn!.seg };
}

describe('forward-port: the NAT opens the connection towards the client', () => {
  test('SYN with our options; after the SYN-ACK the outer bytes flow both ways and both sides half-close', () => {
    const r = rig();
    const { sock, syn } = open(r);
    assert.equal(syn.control, 'syn');
    assert.equal(syn.ack, undefined);
    assert.equal(syn.dstPort, PORT);
    assert.ok(syn.srcPort >= 49152, 'an ephemeral port');
    assert.ok(syn.mss !== undefined && syn.wscale !== undefined && syn.sackPermitted && syn.tsVal !== undefined);
    // The outer peer speaks first; its bytes wait for the handshake.
    r.nat.tcpData(sock.flow, Buffer.from('GET / HTTP/1.0\r\n\r\n'), 1);
    r.nat.endBatch(1);
    assert.deepEqual(takeTcp(r.out), [], 'nothing before the SYN-ACK');
    const peer = new Peer(r);
    peer.synAck(5, syn);
    const [ack] = takeTcp(r.out);
    assert.equal(ack!.seg.ack, peer.seq);
    assert.equal(ack!.seg.payload.toString(), 'GET / HTTP/1.0\r\n\r\n', 'the held bytes go with the ACK');
    assert.equal(sock.flow.ep.state, 'established');
    peer.ack = (peer.ack + ack!.seg.payload.length) >>> 0;
    // The client answers and closes its side; the outer socket gets the bytes and the end.
    peer.seg(10, { payload: Buffer.from('HTTP/1.0 200 OK\r\n\r\nhi'), control: 'fin' });
    assert.equal(Buffer.concat(sock.written).toString(), 'HTTP/1.0 200 OK\r\n\r\nhi');
    assert.ok(sock.ended, 'the client\'s FIN ends the outer socket');
    // The outer peer ends too: our FIN, the client's ACK of it, and the flow is done (no reset).
    r.nat.tcpWritten(sock.flow, sock.writtenBytes, 11);
    r.nat.tcpEnded(sock.flow, 11);
    r.nat.endBatch(11);
    const fin = takeTcp(r.out).find((p) => p.seg.control === 'fin');
    assert.ok(fin, 'our FIN');
    peer.seq = (peer.seq + 'HTTP/1.0 200 OK\r\n\r\nhi'.length + 1) >>> 0;
    peer.ack = (fin!.seg.seq + 1) >>> 0;
    peer.seg(12);
    assert.equal(sock.closed, 'close');
    assert.equal(r.nat.stats().tcpFlows, 0);
  });

  test('a closed port on the client (RST to our SYN) resets the outer connection', () => {
    const r = rig();
    const { sock, syn } = open(r);
    const peer = new Peer(r);
    peer.ourPort = syn.srcPort;
    peer.ack = (syn.seq + 1) >>> 0;
    peer.seq = 0;
    peer.seg(3, { control: 'rst' });
    assert.equal(sock.closed, 'reset');
  });

  test('an ACK that is not for our SYN is answered with a reset and changes nothing', () => {
    const r = rig();
    const { sock, syn } = open(r);
    const peer = new Peer(r);
    peer.ourPort = syn.srcPort;
    peer.ack = (syn.seq + 1000) >>> 0;
    peer.seg(3);
    const [rst] = takeTcp(r.out);
    assert.equal(rst!.seg.control, 'rst');
    assert.equal(rst!.seg.seq, peer.ack);
    assert.equal(sock.closed, undefined);
    assert.equal(sock.flow.ep.state, 'synSent');
  });

  test('an unanswered SYN is resent with a growing delay, then the outer connection is reset at the connect timeout', () => {
    const r = rig();
    const { sock } = open(r);
    const resent: number[] = [];
    for (let i = 0, at = r.nat.nextDeadline(); at !== undefined && i < 50; at = r.nat.nextDeadline(), i++) {
      r.nat.timeout(at);
      r.nat.endBatch(at);
      for (const p of takeTcp(r.out)) if (p.seg.control === 'syn') resent.push(at);
      if (sock.closed) break;
    }
    assert.ok(resent.length >= 3, `SYN resent: ${resent.join(',')}`);
    const gaps = resent.slice(1).map((t, i) => t - resent[i]!);
    assert.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!), `delays grow: ${gaps.join(',')}`);
    assert.equal(sock.closed, 'reset');
  });

  test('the client leaving resets the outer connection', () => {
    const r = rig();
    const { sock, syn } = open(r);
    new Peer(r).synAck(2, syn);
    r.nat.clientGone(CLIENT);
    assert.equal(sock.closed, 'reset');
  });

  test('a connection the client opens to the server\'s own address is refused with a reset, and no socket is opened', () => {
    const r = rig();
    r.nat.fromClient(CLIENT, buildTcpPacket(CLIENT, LOCAL, {
      srcPort: 40000, dstPort: 22, seq: 1, ack: undefined, control: 'syn', psh: false, window: 1000, sackPermitted: false, payload: EMPTY,
    }), 0);
    const [rst] = takeTcp(r.out);
    assert.equal(rst!.seg.control, 'rst');
    assert.equal(r.mem.tcp.length, 0);
    assert.equal(r.nat.stats().drops['local-port-closed'], 1);
  });

  test('UDP: the outer datagram reaches the client from the tunnel address; its answer goes to the flow\'s handle', () => {
    const r = rig();
    const handle: MemUdpSock = { id: 5, flow: undefined as never, sent: [], closed: false };
    const flow = r.nat.udpOpenToClient(CLIENT, 7000, handle, 0);
    assert.ok(flow);
    (handle as { flow: unknown }).flow = flow;
    r.nat.udpForwardIn(flow, Buffer.from('ping'), 1);
    const [p] = r.out.splice(0);
    assert.equal(ipv4Src(p!), LOCAL);
    const d = parseUdp(ipv4Payload(p!));
    assert.ok(!('error' in d));
    assert.equal(d.dstPort, 7000);
    assert.equal(d.payload.toString(), 'ping');
    r.nat.fromClient(CLIENT, buildUdpPacket(CLIENT, LOCAL, { srcPort: 7000, dstPort: d.srcPort, payload: Buffer.from('pong') }), 2);
    assert.deepEqual(handle.sent.map(String), ['pong']);
    r.nat.clientGone(CLIENT);
    assert.equal(handle.closed, true, 'the flow goes with the client (udpClose on its handle)');
  });

  test('without localIp the NAT opens nothing towards clients', () => {
    const mem = new MemorySockets();
    const nat = new Nat<MemTcpSock, MemUdpSock>({}, { sockets: mem, deliver: () => {}, random: () => 1 });
    assert.equal(nat.tcpOpenToClient(CLIENT, PORT, outerSock(), 0), undefined);
  });
});

describe('forward-port: the router', () => {
  const tcpTo = (dst: number): Buffer => buildTcpPacket(CLIENT, dst, {
    srcPort: PORT, dstPort: 50000, seq: 1, ack: 1, control: 'none', psh: false, window: 1000, sackPermitted: false, payload: EMPTY,
  });
  const opts = { serverIp: LOCAL, network: ipFromString('10.8.0.0'), netmask: ipFromString('255.255.255.0'), clientToClient: false, mss: 0 };
  for (const localToUplink of [true, false]) {
    test(`a client's TCP segment to the server's address ${localToUplink ? 'goes to the uplink' : 'is dropped'} (localToUplink ${localToUplink})`, () => {
      const sent: Buffer[] = [];
      const uplink = { send: (_ip: number, p: Buffer) => sent.push(p), clientGone: () => {}, close: async () => {} };
      const router = new Router({ ...opts, localToUplink }, uplink);
      router.fromClient({ ip: CLIENT, deliver: () => {} }, tcpTo(LOCAL));
      assert.equal(sent.length, localToUplink ? 1 : 0);
      assert.equal(router.counters.drops['local-unhandled'] ?? 0, localToUplink ? 0 : 1);
    });
  }
});

describe('forward-port: the directive', () => {
  let fx: ConfigFixture;
  before(() => { fx = makeConfigFixture(); setLogSink(() => {}); });
  after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });
  const src = (): string => join(fx.dir, 'server.conf');
  const build = (extra: string) => buildServerConfig(STOCK_CONFIG + extra, src(), fx.dir);
  const stockLines = STOCK_CONFIG.split('\n').length - 1;
  function fails(extra: string, line: number, re: RegExp): void {
    assert.throws(() => build(extra), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.line, stockLines + line, e.message);
      assert.match(e.reason, re);
      return true;
    });
  }

  test('rules by common name and by fixed address, with and without a listen address', () => {
    const c = build('forward-port tcp 8080 alice:80\nforward-port udp 198.18.0.2:5353 10.8.0.20:53\nforward-port tcp 8081 a:b:80\n');
    assert.deepEqual(c.forwards, [
      { proto: 'tcp', listen: { host: '0.0.0.0', port: 8080 }, target: { cn: 'alice' }, port: 80 },
      { proto: 'udp', listen: { host: '198.18.0.2', port: 5353 }, target: { ip: ipFromString('10.8.0.20') }, port: 53 },
      { proto: 'tcp', listen: { host: '0.0.0.0', port: 8081 }, target: { cn: 'a:b' }, port: 80 },
    ]);
    assert.equal(build('').forwards, undefined);
  });

  test('bad rules: file:line and the reason', () => {
    fails('forward-port sctp 80 a:80\n', 1, /'sctp' must be tcp or udp/);
    fails('forward-port tcp 0 a:80\n', 1, /not a port from 1 to 65535/);
    fails('forward-port tcp 8080 alice\n', 1, /needs a client: COMMON_NAME:PORT/);
    fails('forward-port tcp 8080 :80\n', 1, /needs a client/);
    fails('forward-port tcp host:8080 a:80\n', 1, /listen address 'host' is not an IPv4 address/);
    fails('forward-port tcp 8080 a:80 extra\n', 1, /forward-port/);
    fails('forward-port tcp 8080 10.9.0.5:80\n', 1, /10\.9\.0\.5 is not in the VPN \(10\.8\.0\.0\/24\)/);
    fails('forward-port tcp 8080 10.8.0.1:80\n', 1, /the server's own tunnel address/);
    fails('forward-port tcp 8080 a:80\nforward-port udp 8080 a:80\nforward-port tcp 0.0.0.0:8080 b:80\n', 3,
      /tcp 0\.0\.0\.0:8080 is already forwarded \(line 14\)/);
    fails('forward-port tcp 8080 a:80\nuplink tun\n', 1, /needs 'uplink nat'/);
  });
});
