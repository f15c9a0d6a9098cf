// The runtime of static-key mode: the UDP socket and the TCP listener feed one StaticKeyPeer (sans-IO); the peer's
// tunnel address (ifconfig REMOTE) is the one client the router knows, and the NAT gives it the Internet.
//   datagram / TCP packet ▶ peer.openData ▶ router.fromClient ▶ uplink
//   uplink ▶ router.toClient ▶ peer.sealData ▶ the link the peer last authenticated on
// A TCP connection whose packet fails to authenticate is closed (it is not the peer); one that authenticates takes
// the peer over, and the connection it had before is closed.
import type * as net from 'node:net';
import type { StaticKeyServerConfig } from '../config/types.js';
import { staticKeyKeys, staticKeyMaxPayload } from '../core/crypto/static-key-channel.js';
import { Router, type RouterClient } from '../core/router/router.js';
import { staticKeyOccString } from '../core/session/static-key-occ.js';
import { StaticKeyPeer, type StaticDropReason } from '../core/session/static-key-peer.js';
import { lengthPrefix, TcpDeframer } from '../core/transport/tcp-framing.js';
import type { PeerAddr } from '../core/transport/udp-endpoint.js';
import type { Uplink } from '../core/uplink/uplink.js';
import { ipToString } from '../core/wire/ipv4.js';
import { Driver, Wakeup } from '../io/driver.js';
import { addressPort, plainAddress } from '../io/peer-address.js';
import type { UdpPort } from '../io/udp-port.js';
import { log } from '../log.js';
import { openSockets, type OpenSockets } from './listen-sockets.js';

/** `via`: the socket the peer's packets came in on, and its packets leave through. */
export type StaticLink = { readonly kind: 'udp'; readonly addr: PeerAddr; readonly via: UdpPort } | { readonly kind: 'tcp'; readonly sock: net.Socket };

const sameLink = (a: StaticLink, b: StaticLink): boolean =>
  a.kind === 'udp' ? b.kind === 'udp' && a.via === b.via && a.addr.address === b.addr.address && a.addr.port === b.addr.port : a === b;

const describe = (l: StaticLink): string =>
  l.kind === 'udp' ? `udp ${addressPort(l.addr.address, l.addr.port)}` : `tcp ${addressPort(plainAddress(l.sock.remoteAddress ?? ''), l.sock.remotePort ?? 0)}`;

export class StaticKeyServer implements RouterClient {
  readonly driver: Driver;
  readonly router: Router;
  readonly peer: StaticKeyPeer<StaticLink>;
  readonly ip: number;
  readonly mss: number;
  private sockets?: OpenSockets;
  private readonly tcpSockets = new Set<net.Socket>();
  private uplink?: Uplink;
  private stopping = false;
  private readonly stopHooks: Array<() => void | Promise<void>> = [];
  private readonly wakeup = new Wakeup((t) => { this.peer.tick(t); this.drain(); });
  private dropLogAt = 0;
  private dropsLogged = 0;

  constructor(readonly cfg: StaticKeyServerConfig, opts: { driver?: Driver } = {}) {
    this.driver = opts.driver ?? new Driver();
    this.ip = cfg.ifconfig.remote;
    this.mss = cfg.mssfix ? Math.min(cfg.tunMtu - 40, staticKeyMaxPayload(cfg.auth, cfg.mssfix - 20 - 8) - 40) : 0;
    // The peer's /32 is the router's whole network: nothing in it but the peer, so nothing goes client to client.
    this.router = new Router({
      serverIp: cfg.ifconfig.local, network: cfg.ifconfig.remote, netmask: 0xffffffff, clientToClient: false, mss: this.mss,
    });
    this.peer = new StaticKeyPeer<StaticLink>({
      keys: staticKeyKeys(cfg.secret.bytes, cfg.keyDirection, cfg.cipher, cfg.auth), framing: cfg.compression,
      tunMtu: cfg.tunMtu, ping: cfg.ping, pingRestart: cfg.pingRestart, occOptions: staticKeyOccString({
        proto: cfg.protos[0] ?? 'udp', tunMtu: cfg.tunMtu, framed: cfg.compression !== 'none', local: ipToString(cfg.ifconfig.local),
        remote: ipToString(cfg.ifconfig.remote), keyDirection: cfg.keyDirection, cipher: cfg.cipher, auth: cfg.auth,
      }),
      sendTime: Math.floor(Date.now() / 1000), sameLink,
    });
  }

  setUplink(u: Uplink): void { this.uplink = u; this.router.setUplink(u); }

  /** Runs `fn` at the end of stop(). */
  onStop(fn: () => void | Promise<void>): void { this.stopHooks.push(fn); }

  async start(): Promise<void> {
    const c = this.cfg;
    this.sockets = await openSockets(c.listeners, {
      ipv6Only: c.bindIpv6Only,
      udp: {
        bufBytes: 4 << 20, maxDatagram: Math.max(c.tunMtu, 1500) + 512, mode: c.udpSocket, now: this.driver.now,
        onDatagram: (msg, from, t, via) => this.onUdp(msg, from, t, via),
      },
      tcp: { maxConnections: 16, onConnection: (s) => this.onTcpConnection(s) },
    });
    this.router.add(this);
    log('notice', 'Initialization Sequence Completed', {
      mode: 'static-key', ifconfig: `${ipToString(c.ifconfig.local)} ${ipToString(c.ifconfig.remote)}`, cipher: c.cipher, auth: c.auth,
    });
  }

  /** Why the server stopped, as OpenVPN's EXITING/RECONNECTING state names it (a signal name, or "exit"). */
  stopReason = 'exit';

  async stop(reason?: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (reason) this.stopReason = reason;
    const step = async (name: string, fn: () => unknown): Promise<void> => {
      try { await fn(); } catch (e) { log('warn', 'shutdown step failed', { step: name, error: (e as Error).message }); }
    };
    const link = this.peer.link;
    if (this.cfg.explicitExitNotify > 0 && link?.kind === 'udp') {
      await step('notify peer', () => { const b = this.peer.exitNotice(this.driver.now()); if (b) link.via.send(b, link.addr); });
    }
    await step('close UDP socket', () => Promise.all((this.sockets?.udp ?? []).map((u) => u.close())));
    await step('close TCP connections', () => { for (const s of this.tcpSockets) s.destroy(); });
    await step('close TCP listener', () => Promise.all((this.sockets?.tcp ?? []).map((l) => new Promise<void>((res) => l.close(() => res())))));
    await step('close uplink', () => this.uplink?.close());
    for (const fn of this.stopHooks) await step('shutdown hook', fn);
    await step('stop the driver', () => this.driver.stop());
  }

  /** RouterClient: an IP packet for the peer. */
  deliver(packet: Buffer): void {
    const bytes = this.peer.sealData(packet, this.driver.now());
    if (bytes) this.send(bytes);
    this.arm();
  }

  // `msg` and `from` live only during the call; the peer keeps a copy of the address only if the packet authenticates.
  private onUdp(msg: Buffer, from: PeerAddr, t: number, via: UdpPort): void {
    if (this.stopping) return;
    const link: StaticLink = { kind: 'udp', addr: { address: from.address, port: from.port }, via };
    this.onPacket(msg, link, t);
  }

  private onTcpConnection(sock: net.Socket): void {
    if (this.stopping) { sock.destroy(); return; }
    this.tcpSockets.add(sock);
    const link: StaticLink = { kind: 'tcp', sock };
    const deframer = new TcpDeframer();
    sock.on('data', (chunk: Buffer) => {
      const packets = deframer.push(chunk);
      if (!Array.isArray(packets)) { log('warn', 'connection closed', { remote: describe(link), reason: packets.error }); sock.destroy(); return; }
      const t = this.driver.now();
      for (const p of packets) {
        if (sock.destroyed) return;
        this.onPacket(p, link, t);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => { this.tcpSockets.delete(sock); });
  }

  private onPacket(packet: Buffer, link: StaticLink, t: number): void {
    const r = this.peer.openData(packet, link, t);
    this.drain();
    if (r.kind === 'packet') this.router.fromClient(this, r.ip);
    else if (r.kind === 'drop') this.dropped(r.reason, link);
  }

  /** Performs what the peer asks for, then hands its next deadline to the driver. */
  private drain(): void {
    for (let o = this.peer.poll(); o; o = this.peer.poll()) {
      switch (o.t) {
        case 'send': this.send(o.bytes); break;
        case 'locked':
          if (o.previous) {
            log('info', 'peer address changed', { remote: describe(o.link), was: describe(o.previous) });
            if (o.previous.kind === 'tcp') o.previous.sock.destroy();
          } else {
            log('info', 'peer connected', { remote: describe(o.link), vip: ipToString(this.ip) });
          }
          break;
        case 'lost':
          log('info', 'peer lost', { reason: o.reason === 'exit' ? 'peer exited (OCC EXIT)' : `ping-restart (no packet for ${this.cfg.pingRestart} s)` });
          this.router.remove(this);   // the NAT forgets the peer's flows
          this.router.add(this);
          break;
      }
    }
    this.arm();
  }

  private arm(): void {
    if (!this.stopping) this.driver.wakeAt(this.wakeup, this.peer.nextDeadline());
  }

  private send(bytes: Buffer): void {
    const link = this.peer.link;
    if (!link) return;
    if (link.kind === 'udp') { link.via.send(bytes, link.addr); return; }
    if (!link.sock.destroyed) link.sock.write(Buffer.concat([lengthPrefix(bytes.length), bytes]));
  }

  /** A TCP connection that is not the peer's and sends what does not authenticate is closed; drops are logged at
   *  most once per 10 s, with a count. */
  private dropped(reason: StaticDropReason, link: StaticLink): void {
    const current = this.peer.link;
    if (link.kind === 'tcp' && !(current && sameLink(current, link))) link.sock.destroy();
    const t = Date.now();
    if (t < this.dropLogAt) return;
    log('warn', 'packet dropped', { remote: describe(link), reason, count: this.peer.stats.drops - this.dropsLogged });
    this.dropsLogged = this.peer.stats.drops;
    this.dropLogAt = t + 10_000;
  }
}
