// Composition root: transports (UDP socket, TCP listener) → sessions → router → uplink.
// This file owns the sockets and timers; the protocol objects it drives are sans-IO.
import { randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import { freemem, totalmem } from 'node:os';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type * as tls from 'node:tls';
import type { ServerConfig } from '../config/types.js';
import { maxPayloadWithin } from '../core/crypto/data-channel-for.js';
import { Router, type Subnet } from '../core/router/router.js';
import { IpPool } from '../core/router/ip-pool.js';
import { Ipv6Pool } from '../core/router/ipv6-pool.js';
import type { Ipv6Net } from '../core/wire/ipv6.js';
import { type ControlWrap, plainWrap, tlsAuthWrap, tlsCryptWrap, type WrapOptions } from '../core/session/control-wrap.js';
import type { AuthRequest, AuthResult, CloseKind, SessionParams } from '../core/session/session.js';
import { type DropReport, DropSummary } from '../core/transport/drop-summary.js';
import { type TlsCryptV2Keys, vetFirstPacket } from '../core/transport/first-packet.js';
import { WkcOpener } from '../core/crypto/tls-crypt-v2.js';
import { clientKeyWrap } from '../core/session/tls-crypt-v2-wrap.js';
import { halfOpenCapFor, HalfOpenTracker } from '../core/transport/half-open.js';
import { TcpDeframer } from '../core/transport/tcp-framing.js';
import { FramedTcpWriter } from '../io/framed-tcp-writer.js';
import { type Incoming, type PeerAddr, UdpEndpoint } from '../core/transport/udp-endpoint.js';
import type { Uplink } from '../core/uplink/uplink.js';
import type { NatStats } from '../core/uplink/nat/counters.js';
import { Op, opcodeOf } from '../core/wire/openvpn-packet.js';
import { ipToString } from '../core/wire/ipv4.js';
import { prepareTlsEngine, serverSecureContext } from '../io/tls-adapter.js';
import { Driver, Wakeup } from '../io/driver.js';
import { addressPort, plainAddress } from '../io/peer-address.js';
import type { UdpPort } from '../io/udp-port.js';
import { log } from '../log.js';
import { Conn, type ConnHost } from './conn.js';
import { YoungGenerationGuard } from './young-generation.js';
import { Authorizer } from './authorizer.js';
import { ClientEvents } from './client-events.js';
import type { ForwardStats } from './port-forward.js';
import { openSockets, type OpenSockets } from './listen-sockets.js';

/** A UDP peer with the socket its packet came in on (a float moves the session to it). */
type ViaAddr = PeerAddr & { readonly via: UdpPort };

/** OpenVPN 2.6's source of block-ipv6 errors when no remote IPv6 address is set. */
const BLOCK_IPV6_SOURCE = Buffer.from('fe800000000000000000000000000007', 'hex');

export interface ServerStats { handshakesOk: number; handshakesFailed: Record<string, number>; renegotiations: number }

export class VpnServer implements ConnHost {
  readonly pool: IpPool;
  /** The IPv6 side, when the config has server-ipv6 or ifconfig-ipv6. */
  readonly pool6: Ipv6Pool | undefined;
  readonly router: Router;
  readonly conns = new Set<Conn>();
  readonly stats: ServerStats = { handshakesOk: 0, handshakesFailed: {}, renegotiations: 0 };
  readonly authorizer: Authorizer;
  /** Tunnels up and ended, for the management interface. */
  readonly clientEvents = new ClientEvents();
  /** TCP MSS clamp applied to SYNs crossing the tunnel (0 = off). */
  readonly mss: number;
  private secureContext: tls.SecureContext;
  private sockets?: OpenSockets;
  /** Every open TCP connection, with its session once its first packet made one. */
  private readonly tcpConns = new Map<net.Socket, Conn | undefined>();
  /** Tunnel data packets dropped at full tcp-queue-limit queues. */
  private tcpDropped = 0;
  /** TCP connections not yet past their handshake: the absolute hand-window from accept, and their own cap. */
  private readonly halfOpen: HalfOpenTracker<net.Socket>;
  /** TCP connections refused before a session could speak for them: counted by reason, summarized like udpDrops. */
  private readonly tcpRefusals = new DropSummary<string>();
  /** The UDP transport's decisions (demux, cookie, reset budget, half-open cap, float) and the peer-ids. */
  private readonly endpoint: UdpEndpoint<Conn>;
  /** The stateless responder's wrap, shared by every unauthenticated packet (UDP and TCP): peek() vets first
   *  packets (no replay state), wrap() seals the cookie replies. A session gets its own wrap only once it exists.
   *  Undefined when the server has tls-crypt-v2 and neither tls-auth nor tls-crypt: every client must use v2. */
  private readonly responderWrap: ControlWrap | undefined;
  /** tls-crypt-v2: the server key's WKc opener and the wraps made from a client's key. */
  private readonly tlsCryptV2: TlsCryptV2Keys | undefined;
  /** Unauthenticated UDP drops: counted by reason, logged as one summary per reason per interval. */
  private readonly udpDrops = new DropSummary<PeerAddr>({ retain: (a) => ({ address: a.address, port: a.port }) });
  /** Holds V8's young generation at its size while unauthenticated packets arrive at a flood's rate. */
  private readonly youngGen = new YoungGenerationGuard();
  private readonly youngGenWakeup = new Wakeup((now) => this.driver.wakeAt(this.youngGenWakeup, this.youngGen.check(now)));
  private readonly epoch = Math.floor(Date.now() / 1000);
  private uplink?: Uplink;
  /** forward-port counters per rule (start.ts sets it when there are rules). */
  forwardStats?: () => ForwardStats[];
  private stopping = false;
  private readonly stopHooks: Array<() => void | Promise<void>> = [];

  /** The one clock and timer every machine of this server (sessions, NAT, hand-window, drop summaries) runs on. */
  readonly driver: Driver;

  constructor(readonly cfg: ServerConfig, opts: { uplink?: Uplink; driver?: Driver } = {}) {
    this.driver = opts.driver ?? new Driver();
    const v6 = cfg.ipv6;
    this.pool6 = v6 && new Ipv6Pool(v6.local, v6.network, v6.pool);
    this.pool = new IpPool(cfg.server.network, cfg.server.netmask, {
      topology: cfg.topology, range: cfg.ifconfigPool, maxSlots: this.pool6?.hasPool ? this.pool6.size : undefined,
    });
    this.mss = mssFor(cfg);
    this.router = new Router({
      serverIp: this.pool.serverIp, network: this.pool.network, netmask: cfg.server.netmask,
      clientToClient: cfg.clientToClient, mss: this.mss, routes: cfg.routes, localToUplink: !!cfg.forwards?.length,
      blockIpv6From: cfg.blockIpv6 ? v6?.remote ?? BLOCK_IPV6_SOURCE : undefined,
      ipv6: v6 && { serverIp6: v6.local, network6: v6.network, mss6: this.mss > 0 ? this.mss - 20 : 0, routes6: cfg.routesIpv6 },
    }, opts.uplink);
    this.uplink = opts.uplink;
    this.authorizer = new Authorizer(this);   // first: it loads the CRL that the TLS context needs
    this.secureContext = this.makeSecureContext();
    this.halfOpen = new HalfOpenTracker({ windowMs: cfg.handWindow * 1000, cap: halfOpenCapFor(cfg.maxClients) });
    const v2only = cfg.tlsCryptV2 && !cfg.tlsAuth && !cfg.tlsCrypt;
    this.responderWrap = v2only ? undefined : this.makeWrap({ replayTime: this.epoch });
    this.tlsCryptV2 = cfg.tlsCryptV2 && {
      opener: new WkcOpener(cfg.tlsCryptV2.serverKey),
      // The cookie reset has the responder's epoch and pid 1, as the responder's replies do; sessions start later.
      wrapFor: (kc, use) => clientKeyWrap(kc, use === 'reply' ? { replayTime: this.epoch } : this.sessionWrapOptions()),
      maxAgeDays: cfg.tlsCryptV2.maxAgeDays,
    };
    this.endpoint = new UdpEndpoint<Conn>({
      responder: this.responderWrap, newWrap: () => this.makeWrap(), handWindowSec: cfg.handWindow,
      halfOpenCap: halfOpenCapFor(cfg.maxClients), tlsCryptV2: this.tlsCryptV2, unixOffsetMs: Date.now() - this.driver.now(),
    });
  }

  setUplink(u: Uplink): void { this.uplink = u; this.router.setUplink(u); }

  /** Packets through the UDP socket, for ioState(). */
  private udpRx = 0;
  private udpTx = 0;

  /**
   * Socket-level state right now, for diagnosing a stalled server (management `io-state`, NANOVPN_STATE_LOG): what
   * the UDP socket has taken and sent, what libuv still holds unsent, the TCP transports' unsent bytes, the NAT's
   * paused and corked flows, memory. Counters and sizes only: no addresses of clients, no keys.
   */
  ioState(): Record<string, unknown> {
    const udp = this.sockets?.udp ?? [];
    let tcpWritable = 0;
    for (const s of this.tcpConns.keys()) tcpWritable += s.writableLength;
    const m = memory();
    const nat = (this.uplink as { ioState?: () => unknown } | undefined)?.ioState?.();
    return {
      clients: this.conns.size,
      udp: udp.length > 0 ? { socket: udp[0]!.kind, sockets: udp.length, rx: this.udpRx, tx: this.udpTx, ...udpStats(udp) } : undefined,
      tcp: { sockets: this.tcpConns.size, writable: tcpWritable, queueFullDrops: this.tcpDropped },
      nat,
      memMiB: m,
    };
  }

  /** NAT counters, when the uplink is the NAT (the tun uplink has none). */
  uplinkStats(): NatStats | undefined { return (this.uplink as { stats?: () => NatStats } | undefined)?.stats?.(); }

  /** Runs `fn` at the end of stop(), after the clients are gone (status file, management, metrics). */
  onStop(fn: () => void | Promise<void>): void { this.stopHooks.push(fn); }

  makeSecureContext(): tls.SecureContext {
    const c = this.cfg;
    return serverSecureContext({ ca: c.ca, cert: c.cert, key: c.key, minVersion: c.tlsVersionMin ?? 'TLSv1.2', crl: this.crlPem() });
  }

  /** Rebuilds the TLS context (new CRL); sessions started from now on use it. */
  reloadSecureContext(): void { this.secureContext = this.makeSecureContext(); }

  protected crlPem(): string | undefined { return this.authorizer?.crlPem(); }

  get tlsOptions() {
    const v = this.cfg.verifyClientCert;
    return { secureContext: this.secureContext, requestCert: v !== 'none', rejectUnauthorized: v === 'require' };
  }

  /** `tlsCryptV2`: the session's client came with its own key, so no tls-auth either (the OCC string says so). */
  sessionParams(proto: 'udp' | 'tcp', wrap: ControlWrap, tlsCryptV2 = false): SessionParams {
    const c = this.cfg;
    return {
      proto, wrap, tlsAuth: !!c.tlsAuth && !tlsCryptV2,
      dataCiphers: c.dataCiphers, dataCiphersFallback: c.dataCiphersFallback, auth: c.auth,
      keepalive: c.keepalive,
      compression: c.compression, compressionPushed: c.compressionPushed, inactive: c.inactive,
      renegSec: c.renegSec, handWindow: c.handWindow, tlsTimeout: c.tlsTimeout, tranWindow: c.tranWindow,
      tunMtu: c.tunMtu, push: c.push, renegRandom: randomBytes(4).readUInt32BE(0),
    };
  }

  /** Sessions start their replay epoch after the stateless responder's, so the client never sees an id twice. */
  private sessionWrapOptions(): WrapOptions {
    return { replayTime: Math.max(this.epoch + 1, Math.floor(Date.now() / 1000)) };
  }

  makeWrap(opts: WrapOptions = {}): ControlWrap {
    const c = this.cfg;
    const o: WrapOptions = { ...this.sessionWrapOptions(), ...opts };
    if (c.tlsCrypt) return tlsCryptWrap(c.tlsCrypt.bytes, 'server', o);
    if (c.tlsAuth) return tlsAuthWrap(c.tlsAuth.key.bytes, c.tlsAuth.direction, c.auth, 'server', o);
    return plainWrap();
  }

  async start(): Promise<void> {
    const c = this.cfg;
    this.sockets = await openSockets(c.listeners, {
      ipv6Only: c.bindIpv6Only,
      udp: {
        bufBytes: 4 << 20, maxDatagram: maxDatagramFor(c), mode: c.udpSocket, now: this.driver.now,
        onDatagram: (msg, from, t, via) => this.onUdp(msg, from, t, via),
      },
      // A backstop for file descriptors only: half-open connections never pass their own cap (they are evicted,
      // see HalfOpenTracker), so the rest of the room is for sessions and for connections being closed.
      tcp: { maxConnections: c.maxClients * 2 + halfOpenCapFor(c.maxClients), onConnection: (s) => this.onTcpConnection(s) },
    });
    prepareTlsEngine(this.tlsOptions);
    log('notice', 'Initialization Sequence Completed', { pool: `${ipToString(this.pool.network)}/${ipToString(this.cfg.server.netmask)}` });
  }

  /** Tells every client (RESTART), waits briefly for them, then closes everything; one failing step never
   *  keeps the others (and the process) alive. */
  /** Why the server stopped, as OpenVPN's EXITING/RECONNECTING state names it (a signal name, or "exit"). */
  stopReason = 'exit';

  async stop(reason?: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (reason) this.stopReason = reason;
    const step = async (name: string, fn: () => unknown): Promise<void> => {
      try { await fn(); } catch (e) { log('warn', 'shutdown step failed', { step: name, error: (e as Error).message }); }
    };
    const t = this.driver.now();
    for (const c of [...this.conns]) await step('notify client', () => c.shutdown(t));
    const deadline = Date.now() + 1500;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of [...this.conns]) await step('close client', () => c.forceClose('server shutdown', 'server-shutdown'));
    await step('close UDP socket', () => Promise.all((this.sockets?.udp ?? []).map((u) => u.close())));
    await step('flush drop summary', () => this.flushDropSummaries());
    await step('close TCP connections', () => { for (const s of this.tcpConns.keys()) s.destroy(); });
    await step('close TCP listener', () => Promise.all((this.sockets?.tcp ?? []).map((l) => new Promise<void>((res) => { l.close(() => res()); }))));
    await step('close uplink', () => this.uplink?.close());
    await step('stop CRL checks', () => this.authorizer.close());
    for (const fn of this.stopHooks) await step('shutdown hook', fn);
    await step('stop the driver', () => this.driver.stop());
  }

  // ---- ConnHost ---------------------------------------------------------------------------------------------

  authorize(conn: Conn, req: AuthRequest): Promise<AuthResult> { return this.authorizer.authorize(conn, req); }

  allocatePeerId(conn: Conn): number { return this.endpoint.allocatePeerId(conn); }

  irouteOwner(net: Subnet): Conn | undefined { return this.router.irouteOwner(net) as Conn | undefined; }

  irouteOwner6(net: Ipv6Net): Conn | undefined { return this.router.v6?.irouteOwner(net) as Conn | undefined; }

  established(conn: Conn): void {
    this.stats.handshakesOk++;
    this.router.add(conn);
    if (conn.tcpSocket) this.halfOpen.delete(conn.tcpSocket);   // past its handshake: max-clients governs it now
    else this.endpoint.established(conn, conn.session.certHash)?.forceClose('client restarted (new session)', 'replaced');
    this.clientEvents.emit({ t: 'established', conn });
    this.authorizer.plugins.scripts?.established(conn);
  }

  closed(conn: Conn, established: boolean, reason: string): void {
    this.conns.delete(conn);
    this.stats.renegotiations += conn.session.stats.renegotiations;
    this.endpoint.closed(conn);
    if (conn.ip) { this.router.remove(conn); this.authorizer.released(conn); }
    this.authorizer.plugins.scripts?.closed(conn, established);
    if (!established) {
      // A bounded label whatever the config says (hand-window, max-clients): the session's close kind.
      const why = conn.session.closeKind ?? 'link-closed';
      this.stats.handshakesFailed[why] = (this.stats.handshakesFailed[why] ?? 0) + 1;
    }
    this.clientEvents.emit({ t: 'closed', conn, established, reason });
  }

  // ---- UDP --------------------------------------------------------------------------------------------------

  /** Moves bytes: the endpoint decides what a datagram is and where it goes. `msg` lives only during this call
   *  (a view into the socket's receive ring): a data packet is decrypted into a new buffer, control packets are
   *  copied before a session keeps them. */
  private onUdp(msg: Buffer, from: PeerAddr, t: number, via: UdpPort): void {
    if (this.stopping) return;
    this.udpRx++;
    const ev = this.endpoint.handle(from, msg, t);
    switch (ev.t) {
      case 'data': {
        const moved: ViaAddr | undefined = ev.moved ? { address: from.address, port: from.port, via } : undefined;
        ev.session.onData(ev.packet, t, moved);
        return;
      }
      case 'control': ev.session.onControl(Buffer.from(ev.packet), t); return;
      case 'reply': this.udpSend(ev.bytes, from, via); return;
      case 'new-session': this.acceptUdp(ev.incoming, t, via); return;
      case 'drop': this.dropUdp(ev.reason, from, t); return;
    }
  }

  private acceptUdp(inc: Incoming, t: number, via: UdpPort): void {
    const { address, port } = inc.from;
    const to = inc.from;
    const conn = new Conn(this, 'udp', addressPort(address, port), (bytes) => this.udpSend(bytes, to, via),
      this.sessionParams('udp', inc.wrap, inc.tlsCryptV2), inc.clientSid, t, inc.cookie);
    conn.tlsCryptV2Metadata = inc.tlsCryptV2Metadata;
    this.conns.add(conn);
    const { superseded, evicted } = this.endpoint.accept(inc, conn, t);
    superseded?.forceClose('client restarted again (newer session)', 'replaced');
    if (evicted) {
      // Summarized like a drop: a flood of half-open sessions would otherwise log one line per session.
      const why = 'half-open cap reached: evicted the oldest session of the busiest address';
      this.dropUdp(why, this.endpoint.addressOf(evicted) ?? inc.from, t);
      evicted.forceClose(why, 'evicted', { quiet: true });
    }
    conn.onPlainControl(Buffer.from(inc.first), t);
  }

  /** Called by a Conn when a data packet from another address than its own authenticated: the float rule.
   *  False: drop the packet (that address belongs to another client). */
  floated(conn: Conn, from: PeerAddr): boolean {
    const r = this.endpoint.authenticated(conn, from);
    if (r.t === 'stay') return true;
    if (r.t === 'refused') { this.dropUdp(r.reason, from, this.driver.now()); return false; }
    for (const other of r.closes) other.forceClose('address taken over by the same client', 'replaced');
    const to: PeerAddr = { address: from.address, port: from.port };
    const via = (from as ViaAddr).via;
    conn.remote = addressPort(to.address, to.port);
    conn.setSend((bytes) => this.udpSend(bytes, to, via));
    log('info', 'client address changed', { cn: conn.session.cn, remote: conn.remote });
    return true;
  }

  private udpSend(bytes: Buffer | readonly Buffer[], to: PeerAddr, via: UdpPort): void {
    this.udpTx++;
    via.send(bytes, to);
  }

  /** Unauthenticated UDP drops cost a count: the first of a quiet reason is logged at once, the rest as one
   *  summary line per reason per interval (DropSummary), however many source addresses a flood uses. */
  private dropUdp(reason: string, rinfo: PeerAddr, t: number): void {
    const check = this.youngGen.drop(t);
    if (check !== undefined) this.driver.wakeAt(this.youngGenWakeup, check);
    if (!this.udpDrops.note(reason, rinfo, t)) return;
    log('warn', 'packet dropped', { remote: addressPort(rinfo.address, rinfo.port), reason });
    this.armDropTimer();
  }

  /** A TCP connection refused before (or without) its session: one line for the first of a quiet reason, then a
   *  summary per reason per interval, so a slowloris or garbage flood costs counts, not log lines. */
  private refuseTcp(reason: string, remote: string): void {
    if (!this.tcpRefusals.note(reason, remote, this.driver.now())) return;
    log('warn', 'client refused', { remote, reason });
    this.armDropTimer();
  }

  /** Drops of unauthenticated UDP packets since start, by reason. */
  udpDropCounts(): Record<string, number> { return this.udpDrops.countsByReason(); }

  private armDropTimer(): void {
    if (this.stopping) return;
    const a = this.udpDrops.nextDeadline(), b = this.tcpRefusals.nextDeadline();
    this.driver.wakeAt(this.dropSummaryWakeup, a === undefined ? b : b === undefined ? a : Math.min(a, b));
  }

  private readonly dropSummaryWakeup = new Wakeup((t) => {
    logDropSummaries(this.udpDrops.poll(t));
    logRefusalSummaries(this.tcpRefusals.poll(t));
    this.armDropTimer();
  });

  private flushDropSummaries(): void {
    this.driver.wakeAt(this.dropSummaryWakeup, undefined);
    const t = this.driver.now();
    logDropSummaries(this.udpDrops.flush(t));
    logRefusalSummaries(this.tcpRefusals.flush(t));
  }

  // ---- TCP --------------------------------------------------------------------------------------------------

  private onTcpConnection(sock: net.Socket): void {
    if (this.stopping) { sock.destroy(); return; }
    const address = plainAddress(sock.remoteAddress ?? '');
    const remote = addressPort(address, sock.remotePort ?? 0);
    const t0 = this.driver.now();
    this.tcpConns.set(sock, undefined);
    // Half-open from accept until the session is established; at the cap the heaviest address's oldest leaves.
    const evicted = this.halfOpen.admit(sock, address, t0);
    if (evicted) this.closeHalfOpen(evicted, 'evicted', 'half-open cap reached: evicted the oldest connection of the busiest address');
    this.armHalfOpenTimer();
    const deframer = new TcpDeframer();
    let conn: Conn | undefined;
    const fail = (reason: string) => { this.refuseTcp(reason, remote); sock.destroy(); };
    const writer = new FramedTcpWriter(sock, this.cfg.tcpQueueLimit, () => { this.tcpDropped++; });
    sock.on('data', (chunk: Buffer) => writer.duringRead(() => {
      const packets = deframer.push(chunk);
      if (!Array.isArray(packets)) { if (conn) conn.forceClose(packets.error, 'link-closed'); else fail(packets.error); sock.destroy(); return; }
      const t = this.driver.now();
      for (const p of packets) {
        if (sock.destroyed) return;
        if (conn) {
          const op = opcodeOf(p[0]);
          if (op === Op.DATA_V2 || op === Op.DATA_V1) conn.onData(p, t);
          else conn.onControl(p, t);
          continue;
        }
        // Vetted like a UDP first packet, with the shared wrap: garbage and forgeries build no wrap.
        const v = vetFirstPacket(p, this.responderWrap, 'reset', this.tlsCryptV2, Math.floor(Date.now() / 1000));
        if ('drop' in v) { fail(v.drop); return; }
        if (v.kind !== 'reset') { fail('unexpected first packet'); return; }
        const kc = v.tlsCryptV2?.clientKey.kc;
        const wrap = kc && this.tlsCryptV2 ? this.tlsCryptV2.wrapFor(kc, 'session') : this.makeWrap();
        if (!wrap.unwrap(p, t)) { fail('first packet failed the replay check'); return; }   // records its replay id
        conn = new Conn(this, 'tcp', remote, (bytes) => { writer.write(bytes, isDataPacket(bytes)); }, this.sessionParams('tcp', wrap, !!kc), v.clientSid, t);
        conn.tcpSocket = sock;
        conn.tlsCryptV2Metadata = v.tlsCryptV2?.clientKey.metadata;
        this.tcpConns.set(sock, conn);
        this.conns.add(conn);
        conn.drain();
      }
    }));
    sock.on('error', () => {});
    sock.on('close', () => {
      this.tcpConns.delete(sock);
      this.halfOpen.delete(sock);
      conn?.linkClosed('connection closed by peer');
    });
  }

  /** Closes a TCP connection that is still half-open: at its hand-window deadline, or evicted at the cap. Counted
   *  in the refusal summary, also when a session exists (its own 'client refused' line would be one per
   *  connection of a flood). */
  private closeHalfOpen(sock: net.Socket, kind: CloseKind, reason: string): void {
    const conn = this.tcpConns.get(sock);
    if (conn?.session.closed) { sock.destroy(); return; }   // refused already (and logged), waiting for the peer's FIN
    this.refuseTcp(reason, addressPort(plainAddress(sock.remoteAddress ?? ''), sock.remotePort ?? 0));
    conn?.forceClose(reason, kind, { quiet: true });
    sock.destroy();
  }

  private armHalfOpenTimer(): void {
    if (this.stopping) return;
    this.driver.wakeAt(this.handWindowWakeup, this.halfOpen.nextDeadline());
  }

  private readonly handWindowWakeup = new Wakeup((t) => {
    const reason = `TLS handshake did not finish within ${this.cfg.handWindow} s`;   // counted from accept
    for (const sock of this.halfOpen.expire(t)) this.closeHalfOpen(sock, 'hand-window', reason);
    this.armHalfOpenTimer();
  });
}

function isDataPacket(bytes: Buffer | readonly Buffer[]): boolean {
  const first = Buffer.isBuffer(bytes) ? bytes : bytes[0];
  if (!first || first.length === 0) return false;
  const op = opcodeOf(first[0]!);
  return op === Op.DATA_V2 || op === Op.DATA_V1;
}

function logRefusalSummaries(reports: readonly DropReport<string>[]): void {
  for (const r of reports) {
    log('warn', 'client refused', { reason: r.reason, count: r.count, seconds: Math.round((r.intervalMs ?? 0) / 1000), sample: r.sample });
  }
}

function logDropSummaries(reports: readonly DropReport<PeerAddr>[]): void {
  for (const r of reports) {
    log('warn', 'packet dropped', {
      reason: r.reason, count: r.count, seconds: Math.round((r.intervalMs ?? 0) / 1000),
      sample: addressPort(r.sample.address, r.sample.port),
    });
  }
}

function udpStats(ports: readonly UdpPort[]): Record<string, number> {
  const sum = { sendQueue: 0, sendDropped: 0, truncated: 0 };
  for (const p of ports) {
    const s = p.stats();
    sum.sendQueue += s.sendQueue;
    sum.sendDropped += s.sendDropped;
    sum.truncated += s.truncated;
  }
  return sum;
}

const mib = (n: number): number => Math.round(n / 1048576 * 10) / 10;

/** V8's young generation: a transfer grows it to its cap, idle-memory.ts shrinks it again. */
const newSpace = (): number => mib(getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0);

/** Memory in MiB. Nanos has no /proc, where process.memoryUsage() reads the RSS (it throws ENOENT there): the
 *  heap figures then come from V8 and the machine's use from os (total minus free, which is what the guest uses). */
function memory(): Record<string, number> {
  const sys = { sysUsed: mib(totalmem() - freemem()), sysTotal: mib(totalmem()) };
  try {
    const m = process.memoryUsage();
    return {
      rss: mib(m.rss), heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal), newSpace: newSpace(),
      external: mib(m.external), arrayBuffers: mib(m.arrayBuffers), ...sys,
    };
  } catch {
    const h = getHeapStatistics();
    return {
      heapUsed: mib(h.used_heap_size), heapTotal: mib(h.total_heap_size), newSpace: newSpace(), external: mib(h.external_memory), ...sys,
    };
  }
}

/**
 * TCP MSS that keeps a tunnelled packet within `mssfix` on the outer link (openvpn-protocol.md §10): outer IPv4 +
 * UDP (28) and the data-channel overhead, less the inner IPv4 + TCP headers (40). The clamp is one for all
 * clients, so it is the one of the configured cipher with the largest overhead (CBC + HMAC when there is one).
 */
function mssFor(c: ServerConfig): number {
  if (!c.mssfix) return 0;
  const ciphers = c.dataCiphersFallback ? [...c.dataCiphers, c.dataCiphersFallback] : c.dataCiphers;
  const payload = Math.min(...ciphers.map((cipher) => maxPayloadWithin(c.mssfix - 20 - 8, cipher, c.auth)));
  return Math.min(c.tunMtu - 40, payload - 40);
}

/** The largest datagram the UDP socket takes in: a full tun-mtu packet with OpenVPN's framing and some room
 *  (OpenVPN sizes its buffers from tun-mtu the same way); anything longer cannot be a packet of ours. */
function maxDatagramFor(c: ServerConfig): number {
  return Math.max(c.tunMtu, 1500) + 512;
}
