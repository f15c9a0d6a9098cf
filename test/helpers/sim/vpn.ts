// The whole server on a virtual clock, handshake included:
//   scripted OpenVPN clients (openvpn-client.ts) ─ up links ─▶ SimServer (server.ts: UdpEndpoint ▶ Session, fake TLS,
//   an authorizer stub) ▶ Router ▶ Nat ▶ the in-memory Internet (uplink.ts, internet.ts), and back down: Internet ▶
//   Nat ▶ Router ▶ Session.sealDataParts ▶ the path to whichever client holds the destination address now.
// Each client has its own pair of links with the fault knobs (link.ts); datagrams carry their source address, so a
// client behind a NAT that rebinds (rebind()) arrives from its new address. inject() puts any datagram from any
// address on a clean path to the server (floods, replays, forgeries). Every random choice comes from the seed.
import type { PeerAddr } from '../../../src/core/transport/udp-endpoint.js';
import { isControlOpcode, isParseError, opcodeOf, parseControl } from '../../../src/core/wire/openvpn-packet.js';
import { T0, type WrapKind } from '../../unit/fixtures/session-harness.js';
import { CLEAN_LINK, Link, type LinkKnobs } from './link.js';
import { type SimClientOptions, SimOpenVpnClient } from './openvpn-client.js';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';
import { clientWrap, SimServer, type SimServerOptions, serverWrap } from './server.js';
import { SimUplink, type SimUplinkOptions } from './uplink.js';

export interface SimVpnOptions extends SimUplinkOptions {
  wrap?: WrapKind;
  server?: Partial<SimServerOptions>;
  /** The path inject() uses (default: clean, 10 ms). */
  inject?: Partial<LinkKnobs>;
}

export interface SimClientLinks {
  /** Client → server. */
  up: Partial<LinkKnobs>;
  /** Server → client. */
  down: Partial<LinkKnobs>;
}

export interface VpnClient {
  client: SimOpenVpnClient;
  up: Link<PeerAddr>;
  down: Link;
}

const key = (a: PeerAddr): string => `${a.address}:${a.port}`;

export class SimVpn {
  readonly sim = new Scheduler(T0);
  readonly uplink: SimUplink;
  readonly server: SimServer;
  readonly clients: VpnClient[] = [];
  /** Datagrams the server sent to an address no client holds (replies to forged sources, an old address). */
  readonly unroutable = { packets: 0, bytes: 0 };
  /** The path inject() uses. */
  readonly injectPath: Link<PeerAddr>;
  private readonly holders = new Map<string, VpnClient>();
  private readonly wrap: WrapKind;

  constructor(readonly o: SimVpnOptions) {
    this.wrap = o.wrap ?? 'tls-crypt';
    this.uplink = new SimUplink(this.sim, o);
    this.server = new SimServer(this.sim, this.uplink.router, (to, b) => this.toClient(to, b), { wrap: this.wrap, ...o.server });
    this.sim.addParty(this.server);
    this.injectPath = new Link<PeerAddr>(this.sim, new Prng(mix(o.seed, 0, 9)), { ...CLEAN_LINK, ...o.inject },
      (b, from) => this.server.receive(from, b));
  }

  get now(): number { return this.sim.now; }
  get internet() { return this.uplink.internet; }
  get nat() { return this.uplink.nat; }
  get router() { return this.uplink.router; }
  get endpoint() { return this.server.endpoint; }

  /** A client at `addr` (not yet connected: call client.connect(now)). */
  addClient(addr: PeerAddr, links: Partial<SimClientLinks> = {}, o: Partial<SimClientOptions> = {}): VpnClient {
    const i = this.clients.length + 1;
    const s = this.o.seed;
    const up = new Link<PeerAddr>(this.sim, new Prng(mix(s, i, 1)), { ...CLEAN_LINK, ...links.up },
      (b, from) => this.server.receive(from, b));
    const client = new SimOpenVpnClient(this.sim, new Prng(mix(s, i, 3)), addr, (b, from) => up.send(b, from), { wrap: this.wrap, ...o });
    const down = new Link(this.sim, new Prng(mix(s, i, 2)), { ...CLEAN_LINK, ...links.down }, (b) => client.receive(b, this.sim.now));
    const vc: VpnClient = { client, up, down };
    this.clients.push(vc);
    this.holders.set(key(addr), vc);
    this.sim.addParty(client);
    return vc;
  }

  /** The client's NAT maps it to `addr` from now on; what the server sends to its old address is lost. */
  rebind(vc: VpnClient, addr: PeerAddr): void {
    this.holders.delete(key(vc.client.addr));
    vc.client.rebind(addr);
    this.holders.set(key(addr), vc);
  }

  /** A datagram from `from` to the server on the inject path. */
  inject(from: PeerAddr, bytes: Buffer): void { this.injectPath.send(bytes, from); }

  private toClient(to: PeerAddr, bytes: Buffer): void {
    const vc = this.holders.get(key(to));
    if (!vc) { this.unroutable.packets++; this.unroutable.bytes += bytes.length; return; }
    vc.down.send(bytes);
  }
}

/** Control packets on a link, read at the sender with the wrap's peek (no replay state): how many were sent, and
 *  how many of them carried a (session, key id, packet-id) already sent once: retransmissions. ACKs carry no
 *  packet-id and are never counted as retransmissions. */
export interface ControlTap { packets: number; acks: number; retransmits: number; unreadable: number }

export function tapControl<T>(link: Link<T>, wrap: WrapKind, direction: 'up' | 'down'): ControlTap {
  // A peek needs the receiver's keys: the server's for the up link, a client's for the down link.
  const reader = direction === 'up' ? serverWrap(wrap, {}) : clientWrap(wrap, {});
  const seen = new Set<string>();
  const tap: ControlTap = { packets: 0, acks: 0, retransmits: 0, unreadable: 0 };
  link.onSend = (bytes) => {
    if (bytes.length === 0 || !isControlOpcode(opcodeOf(bytes[0]!))) return;
    const plain = reader.peek(bytes);
    const p = plain && parseControl(plain);
    if (!p || isParseError(p)) { tap.unreadable++; return; }
    tap.packets++;
    if (p.packetId === undefined) { tap.acks++; return; }
    const id = `${p.sessionId.toString('hex')}/${p.keyId}/${p.packetId}`;
    if (seen.has(id)) tap.retransmits++; else seen.add(id);
  };
  return tap;
}

/** A seed per (run, client, purpose), so adding a client changes no other client's randomness. */
function mix(seed: number, i: number, purpose: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b) ^ Math.imul(purpose + 1, 0xc2b2ae35)) >>> 0;
}
