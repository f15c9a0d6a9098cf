// The whole data path on a virtual clock: a scripted OpenVPN client (its data channel and a small TCP, tcp-client.ts)
// ─ up link ─▶ Session.openData ▶ Router.fromClient ▶ Nat ▶ the in-memory Internet (internet.ts), and back:
// Internet ▶ Nat ▶ Router.toClient ▶ Session.sealDataParts ─ down link ─▶ the client. The links carry the encrypted
// datagrams and apply the fault knobs (link.ts); every random choice comes from one seed.
//
// The control channel is not simulated here: the session starts established, from the unit tests' session harness
// (test/unit/fixtures/session-harness.ts: scripted client packets and a fake TLS that emits the events node:tls
// would). Only data packets cross the links; the server's keepalive pings do too, and the client ignores them.
// vpn.ts simulates the whole path instead: UDP endpoint, cookie, control channel and handshake included.
import type { DataChannel } from '../../../src/core/crypto/data-channel.js';
import type { Router, RouterClient } from '../../../src/core/router/router.js';
import { PING_MAGIC, type Session } from '../../../src/core/session/session.js';
import type { Nat, NatOptions } from '../../../src/core/uplink/nat/nat.js';
import { ipFromString } from '../../../src/core/wire/ipv4.js';
import { isDataOpcode, opcodeOf } from '../../../src/core/wire/openvpn-packet.js';
import { ASSIGN, drain, sessionEstablished, T0 } from '../../unit/fixtures/session-harness.js';
import { ClientIp } from './client-ip.js';
import type { Internet } from './internet.js';
import { CLEAN_LINK, Link, type LinkKnobs } from './link.js';
import type { MemTcpSock, MemUdpSock } from './memory-sockets.js';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';
import type { SimTcp, SimTcpOptions } from './tcp-client.js';
import { SimUplink } from './uplink.js';

export { HOST, SERVER_IP } from './uplink.js';
export const CLIENT_IP = ipFromString(ASSIGN.ip);

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
  readonly down: Link<number>;
  /** Sees each IP packet towards the client as it is sealed (`sent`) and as the client opens it (`delivered`), with
   *  one id per packet sent, so a test can tell which transmission of a segment arrived. */
  onDownIp?: (ip: Buffer, phase: 'sent' | 'delivered', id: number) => void;
  private downId = 0;
  /** Datagrams the client received that were not for one of its sockets (ICMP, unknown ports). */
  readonly clientStray: Buffer[];
  /** UDP payloads the client received, by its local port. */
  readonly clientUdp: Map<number, Buffer[]>;
  readonly counters = { clientOpenFailed: 0, serverOpenFailed: 0, pings: 0 };
  private readonly client: DataChannel;
  private readonly ipStack: ClientIp;

  constructor(o: SimOptions) {
    this.rng = new Prng(o.seed);
    const f = sessionEstablished();
    this.session = f.s;
    this.client = f.client;
    const uplink = new SimUplink(this.sim, o);
    this.internet = uplink.internet;
    this.nat = uplink.nat;
    this.router = uplink.router;
    this.ipStack = new ClientIp(this.sim, this.rng, CLIENT_IP, (ip) => this.sendIp(ip));
    this.clientStray = this.ipStack.stray;
    this.clientUdp = this.ipStack.udpIn;
    const rc: RouterClient = {
      ip: CLIENT_IP,
      deliver: (packet) => {
        const id = ++this.downId;
        this.onDownIp?.(packet, 'sent', id);
        const parts = this.session.sealDataParts(packet, this.sim.now);
        if (parts) this.down.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts), id);
      },
    };
    this.router.add(rc);
    this.up = new Link(this.sim, new Prng(o.seed * 2 + 1), { ...CLEAN_LINK, ...o.up }, (w) => this.serverReceive(rc, w));
    this.down = new Link(this.sim, new Prng(o.seed * 2 + 2), { ...CLEAN_LINK, ...o.down }, (w, id) => this.clientReceive(w, id));
    drain(this.session);  // the fixture's outputs are history

    this.sim.addParty({
      nextDeadline: () => this.session.nextDeadline(),
      timeout: (now) => this.session.tick(now),
    });
    this.sim.onTurnEnd(() => {
      for (let out = this.session.poll(); out; out = this.session.poll()) {
        if (out.t === 'link') this.down.send(out.bytes, 0);
      }
    });
  }

  get now(): number { return this.sim.now; }

  /** A client TCP connection to host:port from `localPort`. */
  tcp(localPort: number, host: number, port: number, opts: Partial<SimTcpOptions> = {}): SimTcp {
    return this.ipStack.tcp(localPort, host, port, opts);
  }

  /** A UDP datagram from the client. */
  udp(localPort: number, host: number, port: number, payload: Buffer): void {
    this.ipStack.udp(localPort, host, port, payload);
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

  private clientReceive(wire: Buffer, id: number): void {
    if (!isDataOpcode(opcodeOf(wire[0]!))) return;  // control packets: the handshake is over
    const r = this.client.open(wire, this.sim.now);
    if (!r.ok) { this.counters.clientOpenFailed++; return; }
    const ip = r.plain;
    if (ip.length === PING_MAGIC.length && ip.equals(PING_MAGIC)) { this.counters.pings++; return; }
    this.onDownIp?.(ip, 'delivered', id);
    this.ipStack.receive(ip, this.sim.now);
  }
}
