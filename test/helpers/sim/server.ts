// The server's glue in a simulation: what src/server/server.ts (onUdp, acceptUdp, floated, established, closed) and
// src/server/conn.ts (drain, perform, onData, arm/fire) do with the UDP endpoint's events and the sessions' outputs,
// with the sockets, node:tls and the Authorizer replaced and the protocol objects themselves from src:
//   datagram (from, bytes) ─▶ UdpEndpoint.handle ─▶ data     ─▶ Session.openData ─▶ float rule ─▶ Router.fromClient
//                                                ├▶ control  ─▶ Session.handleControl
//                                                ├▶ new-session ─▶ new Session(cookie) ─▶ accept ─▶ handlePlainControl
//                                                ├▶ reply    ─▶ the cookie reset, back to `from`
//                                                └▶ drop     ─▶ DropSummary (counted by reason; the lines it would log)
//   Session outputs: link ─▶ send; tls-* ─▶ FakeTlsServer (fake-tls.ts); auth ─▶ a stub that takes an address from
//   the IpPool and a peer-id from the endpoint; established / closed ─▶ endpoint, router, pool.
// No sockets and no timers: `now` is the scheduler's virtual time. Every session's next deadline goes into one
// DeadlineQueue (the driver's heap), and the server is one party of the scheduler; what node:tls and the Authorizer
// answer asynchronously comes on a later event at the same virtual instant (Scheduler.after(0)).
import type { RouterClient, Router } from '../../../src/core/router/router.js';
import { IpPool } from '../../../src/core/router/ip-pool.js';
import { DeadlineQueue, type Deadlined } from '../../../src/core/deadline-queue.js';
import { type ControlWrap, plainWrap, tlsAuthWrap, tlsCryptWrap, type WrapOptions } from '../../../src/core/session/control-wrap.js';
import type { AuthRequest, AuthResult, CloseKind, Output, SessionParams } from '../../../src/core/session/session.js';
import { Session } from '../../../src/core/session/session.js';
import { type DropReport, DropSummary } from '../../../src/core/transport/drop-summary.js';
import { halfOpenCapFor } from '../../../src/core/transport/half-open.js';
import { type Incoming, type PeerAddr, UdpEndpoint } from '../../../src/core/transport/udp-endpoint.js';
import { ipToString } from '../../../src/core/wire/ipv4.js';
import { sessionParams, STATIC_KEY, type WrapKind } from '../../unit/fixtures/session-harness.js';
import { FakeTlsServer } from './fake-tls.js';
import type { Party, Scheduler } from './scheduler.js';
import { NETMASK, NETWORK } from './uplink.js';

export interface SimServerOptions {
  wrap: WrapKind;
  /** hand-window, seconds. */
  handWindow: number;
  /** tls-timeout, seconds: the control channel's first retransmit. */
  tlsTimeout: number;
  keepalive: { interval: number; timeout: number };
  maxClients: number;
  /** Cookie resets per second (the endpoint's default when undefined). */
  resetRepliesPerSec?: number;
  push: string[];
}

export const SIM_SERVER_DEFAULTS: SimServerOptions = {
  wrap: 'tls-crypt', handWindow: 60, tlsTimeout: 2, keepalive: { interval: 10, timeout: 60 }, maxClients: 16,
  push: ['route 192.168.77.0 255.255.255.0'],
};

/** The server's control-channel wrap for `kind` (tls-auth: key-direction 0). */
export function serverWrap(kind: WrapKind, o: WrapOptions): ControlWrap {
  if (kind === 'tls-crypt') return tlsCryptWrap(STATIC_KEY, 'server', o);
  if (kind === 'tls-auth') return tlsAuthWrap(STATIC_KEY, 0, 'SHA1', 'server', o);
  return plainWrap();
}

/** A client's wrap for `kind` (tls-auth: key-direction 1). */
export function clientWrap(kind: WrapKind, o: WrapOptions): ControlWrap {
  if (kind === 'tls-crypt') return tlsCryptWrap(STATIC_KEY, 'client', o);
  if (kind === 'tls-auth') return tlsAuthWrap(STATIC_KEY, 1, 'SHA1', 'client', o);
  return plainWrap();
}

export interface SimServerStats {
  datagrams: number;
  /** Cookie resets sent. */
  replies: number;
  sessionsCreated: number;
  established: number;
  floated: number;
  closed: Partial<Record<CloseKind, number>>;
}

/** One session and what it asks for: conn.ts without the sockets. */
export class SimConn implements RouterClient, Deadlined {
  readonly session: Session;
  ip = 0;
  peerId?: number;
  queuedAt = Infinity;
  private readonly tls = new Map<number, FakeTlsServer>();
  private draining = false;
  private again = false;

  constructor(private readonly srv: SimServer, public addr: PeerAddr, params: SessionParams, clientSid: Buffer, now: number,
    cookie?: Buffer) {
    this.session = new Session(params, clientSid, now, cookie);
  }

  onControl(wire: Buffer, now: number): void { this.session.handleControl(wire, now); this.drain(); }
  onPlainControl(plain: Buffer, now: number): void { this.session.handlePlainControl(plain, now); this.drain(); }

  /** conn.ts onData: float only once the packet authenticated, and before what it carries is answered. */
  onData(packet: Buffer, now: number, movedFrom?: PeerAddr): void {
    const r = this.session.openData(packet, now);
    const ip = Buffer.isBuffer(r) ? r : undefined;
    const authenticated = Buffer.isBuffer(r) || r.kind !== 'drop';
    if (movedFrom && authenticated && !this.srv.floated(this, movedFrom)) return;
    if (ip && this.ip) this.srv.router.fromClient(this, ip);
    if (this.session.closed) this.drain();
  }

  /** RouterClient: an IP packet towards this client. */
  deliver(packet: Buffer): void {
    const parts = this.session.sealDataParts(packet, this.srv.now);
    if (parts) this.srv.send(this.addr, parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  forceClose(reason: string, kind: CloseKind): void { this.session.linkClosed(reason, kind); this.drain(); }

  drain(): void {
    if (this.draining) { this.again = true; return; }
    this.draining = true;
    try {
      do {
        this.again = false;
        for (let o = this.session.poll(); o; o = this.session.poll()) this.perform(o);
      } while (this.again);
    } finally {
      this.draining = false;
    }
    this.srv.arm(this, this.session.closed ? undefined : this.session.nextDeadline());
  }

  fire(now: number): void { this.session.tick(now); this.drain(); }

  private perform(o: Output): void {
    switch (o.t) {
      case 'link': this.srv.send(this.addr, o.bytes); break;
      case 'tls-open': {
        const h = o.handle;
        this.tls.set(h, new FakeTlsServer((ev) => { this.session.handleTls(h, ev, this.srv.now); this.drain(); }, this.srv.defer));
        break;
      }
      case 'tls-feed': this.tls.get(o.handle)?.feed(o.bytes); break;
      case 'tls-write': this.tls.get(o.handle)?.write(o.bytes); break;
      case 'tls-close': this.tls.get(o.handle)?.destroy(); this.tls.delete(o.handle); break;
      case 'auth': {
        const h = o.handle;
        const req = o.request;
        this.srv.defer(() => { this.session.handleAuth(h, this.srv.authorize(this, req), this.srv.now); this.drain(); });
        break;
      }
      case 'established': this.srv.established(this); break;
      case 'rekeyed': break;
      case 'closed':
        for (const e of this.tls.values()) e.destroy();
        this.tls.clear();
        this.srv.closed(this, o.kind);
        break;
    }
  }
}

export class SimServer implements Party {
  readonly endpoint: UdpEndpoint<SimConn>;
  readonly pool = new IpPool(NETWORK, NETMASK);
  readonly conns = new Set<SimConn>();
  /** Unauthenticated UDP drops, by reason, as server.ts counts them. */
  readonly drops = new DropSummary<PeerAddr>();
  /** The drop lines server.ts would log: the first of a quiet reason at once, then one summary per interval. */
  readonly dropLog: DropReport<PeerAddr>[] = [];
  readonly stats: SimServerStats = { datagrams: 0, replies: 0, sessionsCreated: 0, established: 0, floated: 0, closed: {} };
  readonly o: SimServerOptions;
  readonly defer = (fn: () => void): void => this.sim.after(0, fn);
  private readonly queue = new DeadlineQueue<SimConn>();
  /** server.ts: the responder's replay epoch is the start time; sessions start theirs after it. */
  private readonly epoch: number;

  constructor(
    private readonly sim: Scheduler,
    readonly router: Router,
    readonly send: (to: PeerAddr, bytes: Buffer) => void,
    o: Partial<SimServerOptions> = {},
    cookieKey = Buffer.alloc(32, 0xc0),
  ) {
    this.o = { ...SIM_SERVER_DEFAULTS, ...o };
    this.epoch = Math.floor(sim.now / 1000);
    this.endpoint = new UdpEndpoint<SimConn>({
      responder: serverWrap(this.o.wrap, { replayTime: this.epoch }),
      newWrap: () => serverWrap(this.o.wrap, { replayTime: Math.max(this.epoch + 1, Math.floor(this.sim.now / 1000)) }),
      handWindowSec: this.o.handWindow, halfOpenCap: halfOpenCapFor(this.o.maxClients),
      resetRepliesPerSec: this.o.resetRepliesPerSec, cookieKey,
    });
  }

  get now(): number { return this.sim.now; }

  /** server.ts onUdp: one datagram from `from`. */
  receive(from: PeerAddr, msg: Buffer): void {
    this.stats.datagrams++;
    const t = this.sim.now;
    const ev = this.endpoint.handle(from, msg, t);
    switch (ev.t) {
      case 'data': ev.session.onData(ev.packet, t, ev.moved ? from : undefined); return;
      case 'control': ev.session.onControl(ev.packet, t); return;
      case 'reply': this.stats.replies++; this.send(from, ev.bytes); return;
      case 'new-session': this.accept(ev.incoming, t); return;
      case 'drop': this.drop(ev.reason, from); return;
    }
  }

  /** server.ts acceptUdp. */
  private accept(inc: Incoming, t: number): void {
    const params = sessionParams({
      proto: 'udp', wrap: inc.wrap, tlsAuth: this.o.wrap === 'tls-auth', keepalive: this.o.keepalive, renegSec: 0,
      handWindow: this.o.handWindow, tlsTimeout: this.o.tlsTimeout, push: this.o.push,
    });
    const conn = new SimConn(this, inc.from, params, inc.clientSid, t, inc.cookie);
    this.conns.add(conn);
    this.stats.sessionsCreated++;
    const { superseded, evicted } = this.endpoint.accept(inc, conn, t);
    superseded?.forceClose('client restarted again (newer session)', 'replaced');
    if (evicted) {
      this.drop('half-open cap reached: evicted the oldest session of the busiest address', this.endpoint.addressOf(evicted) ?? inc.from);
      evicted.forceClose('half-open cap reached', 'evicted');
    }
    conn.onPlainControl(inc.first, t);
  }

  /** The Authorizer's first-login path, reduced to what the tunnel needs: an address and a peer-id. */
  authorize(conn: SimConn, req: AuthRequest): AuthResult {
    if (!req.first) return { ok: true };
    if (conn.session.closed) return { ok: false, reason: 'session ended during authentication' };
    if (!req.certAuthorized) return { ok: false, reason: 'client certificate not accepted' };
    const ip = this.pool.allocate();
    if (ip === undefined) return { ok: false, reason: 'address pool exhausted' };
    conn.ip = ip;
    conn.peerId = this.endpoint.allocatePeerId(conn);
    return {
      ok: true,
      assign: {
        ip: ipToString(ip), netmask: ipToString(NETMASK), gateway: ipToString(this.pool.serverIp), peerId: conn.peerId, push: this.o.push,
      },
    };
  }

  /** server.ts floated: may a session whose data packet authenticated from `from` move there? */
  floated(conn: SimConn, from: PeerAddr): boolean {
    const r = this.endpoint.authenticated(conn, from);
    if (r.t === 'stay') return true;
    if (r.t === 'refused') { this.drop(r.reason, from); return false; }
    for (const other of r.closes) other.forceClose('address taken over by the same client', 'replaced');
    conn.addr = { address: from.address, port: from.port };
    this.stats.floated++;
    return true;
  }

  established(conn: SimConn): void {
    this.stats.established++;
    this.router.add(conn);
    this.endpoint.established(conn, conn.session.certHash)?.forceClose('client restarted (new session)', 'replaced');
  }

  closed(conn: SimConn, kind: CloseKind): void {
    this.conns.delete(conn);
    this.endpoint.closed(conn);
    if (conn.ip) { this.router.remove(conn); this.pool.release(conn.ip); }
    this.stats.closed[kind] = (this.stats.closed[kind] ?? 0) + 1;
  }

  /** The driver's wakeAt for a session. */
  arm(conn: SimConn, at: number | undefined): void {
    if (at === undefined) this.queue.disarm(conn); else this.queue.arm(conn, at);
  }

  /** The conn at an address (the live session there). */
  sessionAt(a: PeerAddr): SimConn | undefined { return this.endpoint.sessionAt(a); }

  // ---- Party: the driver's one timer -------------------------------------------------------------------------

  nextDeadline(): number | undefined {
    const a = this.queue.next(), b = this.drops.nextDeadline();
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  timeout(now: number): void {
    // Collected first, as the driver does: a session that asks again for a time already past runs on the next turn.
    const due: SimConn[] = [];
    for (let c = this.queue.popDue(now); c; c = this.queue.popDue(now)) due.push(c);
    for (const c of due) c.fire(now);
    const d = this.drops.nextDeadline();
    if (d !== undefined && d <= now) this.dropLog.push(...this.drops.poll(now));
  }

  private drop(reason: string, from: PeerAddr): void {
    const r = this.drops.note(reason, from, this.sim.now);
    if (r) this.dropLog.push(r);
  }
}
