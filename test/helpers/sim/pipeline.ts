// The whole data path on a virtual clock: a scripted OpenVPN client (its data channel and a small TCP, tcp-client.ts)
// ─ up link ─▶ Session.openData ▶ Router.fromClient ▶ Nat ▶ the in-memory Internet (internet.ts), and back:
// Internet ▶ Nat ▶ Router.toClient ▶ Session.sealDataParts ─ down link ─▶ the client. The links carry the encrypted
// datagrams and apply the fault knobs (link.ts); every random choice comes from one seed.
//
// The control channel is not simulated: the session starts established, from the unit tests' session harness
// (test/unit/fixtures/session-harness.ts: scripted client packets and a fake TLS that emits the events node:tls
// would). Only data packets cross the links; the server's keepalive pings do too, and the client ignores them.
import assert from 'node:assert/strict';
import type { DataChannel } from '../../../src/core/crypto/data-channel.js';
import { Router, type RouterClient } from '../../../src/core/router/router.js';
import { PING_MAGIC, type Session } from '../../../src/core/session/session.js';
import { Nat, type NatOptions } from '../../../src/core/uplink/nat/nat.js';
import type { Uplink } from '../../../src/core/uplink/uplink.js';
import { ipFromString, ipv4Dst, ipv4Payload, ipv4Proto, ipv4Src, PROTO_TCP, PROTO_UDP } from '../../../src/core/wire/ipv4.js';
import { isDataOpcode, opcodeOf } from '../../../src/core/wire/openvpn-packet.js';
import { buildTcpPacket, parseTcpInIpv4 } from '../../../src/core/wire/tcp.js';
import { buildUdpPacket, parseUdp } from '../../../src/core/wire/udp.js';
import { ASSIGN, drain, sessionEstablished, T0 } from '../../unit/fixtures/session-harness.js';
import { Internet } from './internet.js';
import { CLEAN_LINK, Link, type LinkKnobs } from './link.js';
import type { MemTcpSock, MemUdpSock } from './memory-sockets.js';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';
import { SimTcp, type SimTcpOptions } from './tcp-client.js';

export const CLIENT_IP = ipFromString(ASSIGN.ip);
export const SERVER_IP = ipFromString(ASSIGN.gateway);
/** An Internet host. */
export const HOST = ipFromString('198.18.0.1');

export interface SimOptions {
  seed: number;
  /** Client → server. */
  up?: Partial<LinkKnobs>;
  /** Server → client. */
  down?: Partial<LinkKnobs>;
  nat?: NatOptions;
  /** The router's MSS clamp (0 = off). */
  routerMss?: number;
  /** One-way delay between the NAT's sockets and the Internet hosts, ms. */
  internetLatency?: number;
}

export class SimNet {
  readonly sim = new Scheduler(T0);
  readonly rng: Prng;
  readonly internet: Internet;
  readonly nat: Nat<MemTcpSock, MemUdpSock>;
  readonly router: Router;
  readonly session: Session;
  readonly up: Link;
  readonly down: Link;
  /** Datagrams the client received that were not for one of its sockets (ICMP, unknown ports). */
  readonly clientStray: Buffer[] = [];
  /** UDP payloads the client received, by its local port. */
  readonly clientUdp = new Map<number, Buffer[]>();
  readonly counters = { clientOpenFailed: 0, serverOpenFailed: 0, pings: 0 };
  private readonly client: DataChannel;
  private readonly tcps = new Map<number, SimTcp>();

  constructor(o: SimOptions) {
    this.rng = new Prng(o.seed);
    const f = sessionEstablished();
    this.session = f.s;
    this.client = f.client;
    this.internet = new Internet(this.sim, o.internetLatency ?? 1);
    const natRng = new Prng(o.seed ^ 0x5eed);
    this.nat = new Nat(o.nat ?? {}, {
      sockets: this.internet.sockets, random: () => natRng.u32(), deliver: (p) => this.router.toClient(p),
    });
    this.internet.nat = this.nat;
    const uplink: Uplink = {
      send: (ip, p) => this.nat.fromClient(ip, p, this.sim.now),
      clientGone: (ip) => this.nat.clientGone(ip),
      close: async () => this.nat.shutdown(),
    };
    this.router = new Router({
      serverIp: SERVER_IP, network: ipFromString('10.8.0.0'), netmask: ipFromString('255.255.255.0'),
      clientToClient: false, mss: o.routerMss ?? 0,
    }, uplink);
    const rc: RouterClient = {
      ip: CLIENT_IP,
      deliver: (packet) => {
        const parts = this.session.sealDataParts(packet, this.sim.now);
        if (parts) this.down.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      },
    };
    this.router.add(rc);
    this.up = new Link(this.sim, new Prng(o.seed * 2 + 1), { ...CLEAN_LINK, ...o.up }, (w) => this.serverReceive(rc, w));
    this.down = new Link(this.sim, new Prng(o.seed * 2 + 2), { ...CLEAN_LINK, ...o.down }, (w) => this.clientReceive(w));
    drain(this.session);  // the fixture's outputs are history

    this.sim.addParty(this.nat);
    this.sim.addParty({
      nextDeadline: () => this.session.nextDeadline(),
      timeout: (now) => this.session.tick(now),
    });
    this.sim.onTurnEnd(() => {
      // Node runs the NAT's batch in the setImmediate after a burst of input: here, after each turn.
      for (let i = 0; this.nat.batchPending(); i++) {
        assert.ok(i < 10, 'the NAT keeps asking for batches');
        this.nat.endBatch(this.sim.now);
      }
      for (let out = this.session.poll(); out; out = this.session.poll()) {
        if (out.t === 'link') this.down.send(out.bytes);
      }
    });
  }

  get now(): number { return this.sim.now; }

  /** A client TCP connection to host:port from `localPort`. */
  tcp(localPort: number, host: number, port: number, opts: Partial<SimTcpOptions> = {}): SimTcp {
    const t = new SimTcp(localPort, port, this.rng.u32(), (r) => this.sendIp(buildTcpPacket(CLIENT_IP, host, r)), opts);
    this.tcps.set(localPort, t);
    this.sim.addParty(t);
    return t;
  }

  /** A UDP datagram from the client. */
  udp(localPort: number, host: number, port: number, payload: Buffer): void {
    this.sendIp(buildUdpPacket(CLIENT_IP, host, { srcPort: localPort, dstPort: port, payload }));
  }

  /** Any IPv4 packet from the client, sealed with its data key and sent on the up link. */
  sendIp(ip: Buffer): void {
    this.up.send(this.client.sealV2(0, ASSIGN.peerId, ip));
  }

  private serverReceive(rc: RouterClient, wire: Buffer): void {
    const now = this.sim.now;
    if (!isDataOpcode(opcodeOf(wire[0]!))) { this.session.handleControl(wire, now); return; }
    const r = this.session.openData(wire, now);
    if (!Buffer.isBuffer(r)) { if (r.kind === 'drop') this.counters.serverOpenFailed++; return; }
    this.router.fromClient(rc, r);
  }

  private clientReceive(wire: Buffer): void {
    if (!isDataOpcode(opcodeOf(wire[0]!))) return;  // control packets: the handshake is over
    const r = this.client.open(wire, this.sim.now);
    if (!r.ok) { this.counters.clientOpenFailed++; return; }
    const ip = r.plain;
    if (ip.length === PING_MAGIC.length && ip.equals(PING_MAGIC)) { this.counters.pings++; return; }
    if (ipv4Dst(ip) !== CLIENT_IP) { this.clientStray.push(Buffer.from(ip)); return; }
    if (ipv4Proto(ip) === PROTO_TCP) {
      const seg = parseTcpInIpv4(ip);
      assert.ok(!('error' in seg), `the client got a bad TCP packet: ${'error' in seg ? seg.error : ''}`);
      const t = this.tcps.get(seg.dstPort);
      if (t) t.input(seg, this.sim.now); else this.clientStray.push(Buffer.from(ip));
      return;
    }
    if (ipv4Proto(ip) === PROTO_UDP) {
      const u = parseUdp(ipv4Payload(ip), ipv4Src(ip), CLIENT_IP);
      if ('error' in u) { this.clientStray.push(Buffer.from(ip)); return; }
      const list = this.clientUdp.get(u.dstPort) ?? [];
      list.push(Buffer.from(u.payload));
      this.clientUdp.set(u.dstPort, list);
      return;
    }
    this.clientStray.push(Buffer.from(ip));
  }
}
