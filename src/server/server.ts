// Composition root: transports (UDP socket, TCP listener) → sessions → router → uplink.
// This file owns the sockets and timers; the protocol objects it drives are sans-IO.
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as net from 'node:net';
import { freemem, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type * as tls from 'node:tls';
import type { ServerConfig } from '../config/types.js';
import { Router } from '../core/router/router.js';
import { IpPool } from '../core/router/ip-pool.js';
import { type ControlWrap, plainWrap, tlsAuthWrap, tlsCryptWrap, type WrapOptions } from '../core/session/control-wrap.js';
import type { AuthRequest, AuthResult, SessionParams } from '../core/session/session.js';
import { CookieJar } from '../core/transport/udp-cookie.js';
import { type DropReport, DropSummary } from '../core/transport/drop-summary.js';
import { lengthPrefix, TcpDeframer } from '../core/transport/tcp-framing.js';
import type { Uplink } from '../core/uplink/uplink.js';
import type { NatStats } from '../core/uplink/nat/counters.js';
import { emitControl, isParseError, keyIdOf, Op, opcodeOf, parseControl } from '../core/wire/openvpn-packet.js';
import { ipToString } from '../core/wire/ipv4.js';
import { listen } from '../io/listen.js';
import { prepareTlsEngine, serverSecureContext } from '../io/tls-adapter.js';
import { log } from '../log.js';
import { Conn, type ConnHost } from './conn.js';
import { Authorizer } from './authorizer.js';

const now = (): number => performance.now();
const RESET_REPLIES_PER_SEC = 200;

export interface ServerStats { handshakesOk: number; handshakesFailed: Record<string, number>; renegotiations: number }

export class VpnServer implements ConnHost {
  readonly pool: IpPool;
  readonly router: Router;
  readonly conns = new Set<Conn>();
  readonly stats: ServerStats = { handshakesOk: 0, handshakesFailed: {}, renegotiations: 0 };
  readonly authorizer: Authorizer;
  /** TCP MSS clamp applied to SYNs crossing the tunnel (0 = off). */
  readonly mss: number;
  private secureContext: tls.SecureContext;
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly tcpSockets = new Set<net.Socket>();
  private readonly udpByAddr = new Map<string, Conn>();
  private readonly byPeerId = new Map<number, Conn>();
  private nextPeerId = 0;
  private readonly cookies: CookieJar;
  /** The stateless responder's wrap, shared by every unauthenticated packet: peek() vets first packets (no replay
   *  state), wrap() seals the cookie replies. A session gets its own wrap only once it exists. */
  private readonly responderWrap: ControlWrap;
  /** Unauthenticated UDP drops: counted by reason, logged as one summary per reason per interval. */
  private readonly udpDrops = new DropSummary<dgram.RemoteInfo>();
  private udpDropTimer?: NodeJS.Timeout;
  private readonly epoch = Math.floor(Date.now() / 1000);
  private resetBudget = { tokens: RESET_REPLIES_PER_SEC, at: 0 };
  private uplink?: Uplink;
  private stopping = false;
  private readonly stopHooks: Array<() => void | Promise<void>> = [];

  constructor(readonly cfg: ServerConfig, opts: { uplink?: Uplink } = {}) {
    this.pool = new IpPool(cfg.server.network, cfg.server.netmask);
    this.mss = mssFor(cfg);
    this.router = new Router({
      serverIp: this.pool.serverIp, network: this.pool.network, netmask: cfg.server.netmask,
      clientToClient: cfg.clientToClient, mss: this.mss,
    }, opts.uplink);
    this.uplink = opts.uplink;
    this.authorizer = new Authorizer(this);   // first: it loads the CRL that the TLS context needs
    this.secureContext = this.makeSecureContext();
    this.cookies = new CookieJar(cfg.handWindow);
    this.responderWrap = this.makeWrap({ replayTime: this.epoch });
  }

  setUplink(u: Uplink): void { this.uplink = u; this.router.setUplink(u); }

  /** Packets through the UDP socket, for ioState(). */
  private udpRx = 0;
  private udpTx = 0;

  /**
   * Socket-level state right now, for diagnosing a stalled server (management `state`, NANOVPN_STATE_LOG): what
   * the UDP socket has taken and sent, what libuv still holds unsent, the TCP transports' unsent bytes, the NAT's
   * paused and corked flows, memory. Counters and sizes only: no addresses of clients, no keys.
   */
  ioState(): Record<string, unknown> {
    const udp = this.udp;
    let tcpWritable = 0;
    for (const s of this.tcpSockets) tcpWritable += s.writableLength;
    const m = memory();
    const nat = (this.uplink as { ioState?: () => unknown } | undefined)?.ioState?.();
    return {
      clients: this.conns.size,
      udp: udp && { rx: this.udpRx, tx: this.udpTx, sendQueueCount: udp.getSendQueueCount(), sendQueueSize: udp.getSendQueueSize() },
      tcp: { sockets: this.tcpSockets.size, writable: tcpWritable },
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

  sessionParams(proto: 'udp' | 'tcp', wrap: ControlWrap): SessionParams {
    const c = this.cfg;
    return {
      proto, wrap, tlsAuth: !!c.tlsAuth, dataCiphers: c.dataCiphers, keepalive: c.keepalive,
      renegSec: c.renegSec, handWindow: c.handWindow, tlsTimeout: c.tlsTimeout, tranWindow: c.tranWindow,
      tunMtu: c.tunMtu, push: c.push, renegRandom: randomBytes(4).readUInt32BE(0),
    };
  }

  makeWrap(opts: WrapOptions = {}): ControlWrap {
    const c = this.cfg;
    // Sessions start their replay epoch after the stateless responder's, so the client never sees an id twice.
    const o: WrapOptions = { replayTime: Math.max(this.epoch + 1, Math.floor(Date.now() / 1000)), ...opts };
    if (c.tlsCrypt) return tlsCryptWrap(c.tlsCrypt.bytes, 'server', o);
    if (c.tlsAuth) return tlsAuthWrap(c.tlsAuth.key.bytes, c.tlsAuth.direction, c.auth, 'server', o);
    return plainWrap();
  }

  async start(): Promise<void> {
    const c = this.cfg;
    const host = c.local ?? '0.0.0.0';
    if (c.protos.includes('udp')) {
      const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20, lookup: literalLookup });
      sock.on('message', (msg, rinfo) => this.onUdp(msg, rinfo));
      sock.on('error', (e) => log('error', 'UDP socket error', { error: e.message }));
      await new Promise<void>((res, rej) => { sock.once('error', rej); sock.bind(c.port, host, () => { sock.off('error', rej); res(); }); });
      this.udp = sock;
      log('info', 'listening', { proto: 'udp', address: host, port: c.port });
    }
    if (c.protos.includes('tcp')) {
      const srv = net.createServer({ noDelay: true }, (s) => this.onTcpConnection(s));
      srv.maxConnections = Math.max(c.maxClients * 2, 64);
      await listen(srv, c.port, host);
      srv.on('error', (e) => log('error', 'TCP listener error', { error: e.message }));
      this.tcp = srv;
      log('info', 'listening', { proto: 'tcp', address: host, port: c.port });
    }
    prepareTlsEngine(this.tlsOptions);
    log('info', 'Initialization Sequence Completed', { pool: `${ipToString(this.pool.network)}/${ipToString(this.cfg.server.netmask)}` });
  }

  /** Tells every client (RESTART), waits briefly for them, then closes everything; one failing step never
   *  keeps the others (and the process) alive. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const step = async (name: string, fn: () => unknown): Promise<void> => {
      try { await fn(); } catch (e) { log('warn', 'shutdown step failed', { step: name, error: (e as Error).message }); }
    };
    const t = now();
    for (const c of [...this.conns]) await step('notify client', () => c.shutdown(t));
    const deadline = Date.now() + 1500;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of [...this.conns]) await step('close client', () => c.forceClose('server shutdown'));
    await step('close UDP socket', () => this.udp?.close());
    await step('flush drop summary', () => this.flushUdpDrops());
    await step('close TCP connections', () => { for (const s of this.tcpSockets) s.destroy(); });
    await step('close TCP listener', () => new Promise<void>((res) => (this.tcp ? this.tcp.close(() => res()) : res())));
    await step('close uplink', () => this.uplink?.close());
    await step('stop CRL checks', () => this.authorizer.close());
    for (const fn of this.stopHooks) await step('shutdown hook', fn);
  }

  // ---- ConnHost ---------------------------------------------------------------------------------------------

  authorize(conn: Conn, req: AuthRequest): Promise<AuthResult> { return this.authorizer.authorize(conn, req); }

  allocatePeerId(conn: Conn): number {
    for (let i = 0; i < 0xffffff; i++) {
      const id = (this.nextPeerId + i) % 0xffffff;
      if (!this.byPeerId.has(id)) { this.nextPeerId = id + 1; this.byPeerId.set(id, conn); return id; }
    }
    throw new Error('out of peer ids');
  }

  established(conn: Conn): void {
    this.stats.handshakesOk++;
    this.router.add(conn);
  }

  closed(conn: Conn, established: boolean, reason: string): void {
    this.conns.delete(conn);
    this.stats.renegotiations += conn.session.stats.renegotiations;
    if (conn.peerId !== undefined && this.byPeerId.get(conn.peerId) === conn) this.byPeerId.delete(conn.peerId);
    if (conn.udpKey && this.udpByAddr.get(conn.udpKey) === conn) this.udpByAddr.delete(conn.udpKey);
    if (conn.ip) { this.router.remove(conn); this.authorizer.released(conn); }
    if (!established) {
      const why = reason.replace(/:.*/, '').replace(/\s+/g, '-').toLowerCase();
      this.stats.handshakesFailed[why] = (this.stats.handshakesFailed[why] ?? 0) + 1;
    }
  }

  // ---- UDP --------------------------------------------------------------------------------------------------

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.stopping) return;
    this.udpRx++;
    if (msg.length < 1) { this.dropUdp('empty packet', rinfo); return; }
    const t = now();
    const op = opcodeOf(msg[0]);
    if (op === Op.DATA_V2) {
      if (msg.length < 4) { this.dropUdp('truncated data packet', rinfo); return; }
      const conn = this.byPeerId.get(msg.readUIntBE(1, 3));
      if (!conn || conn.proto !== 'udp') { this.dropUdp('data packet for an unknown peer id', rinfo); return; }
      conn.onData(msg, t, rinfo);
      return;
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    const conn = this.udpByAddr.get(key);
    if (op === Op.DATA_V1) {
      if (conn) conn.onData(msg, t, rinfo);
      else this.dropUdp('data packet from an unknown address', rinfo);
      return;
    }
    // A reset with a new session id from a client's address is vetted like any first packet before it may replace
    // that client's session: a forged one must not tear the session down.
    if (conn && !(op === Op.HARD_RESET_CLIENT_V2 && !this.sameClientSid(conn, msg))) { conn.onControl(msg, t); return; }
    this.udpHandshake(msg, rinfo, key, t, conn);
  }

  private sameClientSid(conn: Conn, msg: Buffer): boolean {
    return msg.length >= 9 && msg.subarray(1, 9).equals(conn.session.clientSid);
  }

  /** No session for this packet yet: stateless cookie reset, or create the session when the cookie comes back.
   *  Until then the packet is vetted with the shared responder wrap (peek: no replay state), so nothing allocated
   *  here outlives the call unless a session is created. `previous` is the session a client restart replaces. */
  private udpHandshake(msg: Buffer, rinfo: dgram.RemoteInfo, key: string, t: number, previous?: Conn): void {
    const op = opcodeOf(msg[0]);
    if (keyIdOf(msg[0]) !== 0) { this.dropUdp('first packet with a nonzero key id', rinfo); return; }
    if (op === Op.HARD_RESET_CLIENT_V3) { this.dropUdp('tls-crypt-v2 is not supported', rinfo); return; }
    if (op !== Op.HARD_RESET_CLIENT_V2 && op !== Op.ACK_V1 && op !== Op.CONTROL_V1 && op !== Op.CONTROL_WKC_V1) {
      this.dropUdp('unexpected first packet', rinfo);
      return;
    }
    const plain = this.responderWrap.peek(msg);
    if (!plain) { this.dropUdp('packet failed tls-auth/tls-crypt verification', rinfo); return; }
    const pkt = parseControl(plain);
    if (isParseError(pkt)) { this.dropUdp('malformed first packet', rinfo); return; }
    if (op === Op.HARD_RESET_CLIENT_V2) {
      if (pkt.packetId !== 0) { this.dropUdp('client reset with a nonzero packet id', rinfo); return; }
      previous?.forceClose('client restarted (new session)');
      if (!this.takeResetToken()) { this.dropUdp('reset replies over budget', rinfo); return; }
      const cookie = this.cookies.make(key, pkt.sessionId, Date.now());
      const reply = emitControl({
        opcode: Op.HARD_RESET_SERVER_V2, keyId: 0, sessionId: cookie, acks: [0], peerSessionId: pkt.sessionId,
        packetId: 0, payload: Buffer.alloc(0),
      });
      this.udpSend(this.responderWrap.wrap(reply, t), rinfo.port, rinfo.address);
      return;
    }
    if (!pkt.peerSessionId || !this.cookies.check(pkt.peerSessionId, key, pkt.sessionId, Date.now())) {
      this.dropUdp('missing or stale cookie', rinfo);
      return;
    }
    if (this.conns.size >= this.cfg.maxClients * 2) { this.dropUdp('too many sessions in progress', rinfo); return; }
    // The session exists from here: it gets its own wrap, and the first packet goes through it so that its replay
    // window holds this packet's id.
    const wrap = this.makeWrap();
    const first = wrap.unwrap(msg, t);
    if (!first) { this.dropUdp('first packet failed the replay check', rinfo); return; }
    const conn = new Conn(this, 'udp', key, (bytes) => this.udpSend(bytes, rinfo.port, rinfo.address),
      this.sessionParams('udp', wrap), pkt.sessionId, t, pkt.peerSessionId);
    conn.udpKey = key;
    this.udpByAddr.set(key, conn);
    this.conns.add(conn);
    conn.onPlainControl(first, t);
  }

  /** Called by a Conn whose UDP peer floated to a new address. */
  floated(conn: Conn, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    if (conn.udpKey) this.udpByAddr.delete(conn.udpKey);
    const other = this.udpByAddr.get(key);
    if (other && other !== conn) other.forceClose('address taken over by another session');
    conn.udpKey = key;
    conn.remote = key;
    conn.setSend((bytes) => this.udpSend(bytes, rinfo.port, rinfo.address));
    this.udpByAddr.set(key, conn);
    log('info', 'client address changed', { cn: conn.session.cn, remote: key });
  }

  // UDP sends queued during one event-loop turn leave back to back on the next tick: one tick per turn rather than
  // dgram's per-packet lookup tick (literalLookup answers at once), and the seals of a burst are not interleaved
  // with sendmsg calls. Measured cheaper than either the stock lookup or sending synchronously (bench/datapath-micro.ts udp).
  private readonly udpQueue: (Buffer | readonly Buffer[])[] = [];
  private readonly udpQueuePort: number[] = [];
  private readonly udpQueueAddr: string[] = [];

  private udpSend(bytes: Buffer | readonly Buffer[], port: number, address: string): void {
    if (this.udpQueue.push(bytes) === 1) process.nextTick(this.flushUdp);
    this.udpQueuePort.push(port);
    this.udpQueueAddr.push(address);
  }

  private readonly flushUdp = (): void => {
    const q = this.udpQueue, ports = this.udpQueuePort, addrs = this.udpQueueAddr;
    try {
      this.udpTx += q.length;
      for (let i = 0; i < q.length; i++) this.udp?.send(q[i], ports[i], addrs[i]);
    } catch (e) {
      log('debug', 'UDP send failed', { error: (e as Error).message });   // the socket closed during shutdown
    } finally {
      q.length = 0;
      ports.length = 0;
      addrs.length = 0;
    }
  };

  private takeResetToken(): boolean {
    const t = Date.now();
    const b = this.resetBudget;
    b.tokens = Math.min(RESET_REPLIES_PER_SEC, b.tokens + ((t - b.at) / 1000) * RESET_REPLIES_PER_SEC);
    b.at = t;
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Unauthenticated UDP drops cost a count: the first of a quiet reason is logged at once, the rest as one
   *  summary line per reason per interval (DropSummary), however many source addresses a flood uses. */
  private dropUdp(reason: string, rinfo: dgram.RemoteInfo): void {
    if (!this.udpDrops.note(reason, rinfo, now())) return;
    log('warn', 'packet dropped', { remote: `${rinfo.address}:${rinfo.port}`, reason });
    this.armUdpDropTimer();
  }

  /** Drops of unauthenticated UDP packets since start, by reason. */
  udpDropCounts(): Record<string, number> { return this.udpDrops.countsByReason(); }

  private armUdpDropTimer(): void {
    if (this.udpDropTimer || this.stopping) return;
    const at = this.udpDrops.nextDeadline();
    if (at === undefined) return;
    this.udpDropTimer = setTimeout(this.expiredUdpDropSummary, Math.max(0, at - now()));
    this.udpDropTimer.unref();
  }

  private readonly expiredUdpDropSummary = (): void => {
    this.udpDropTimer = undefined;
    logDropSummaries(this.udpDrops.poll(now()));
    this.armUdpDropTimer();
  };

  private flushUdpDrops(): void {
    clearTimeout(this.udpDropTimer);
    this.udpDropTimer = undefined;
    logDropSummaries(this.udpDrops.flush(now()));
  }

  // ---- TCP --------------------------------------------------------------------------------------------------

  private onTcpConnection(sock: net.Socket): void {
    if (this.stopping) { sock.destroy(); return; }
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    this.tcpSockets.add(sock);
    const deframer = new TcpDeframer();
    let conn: Conn | undefined;
    const wrap = this.makeWrap();
    sock.setTimeout(this.cfg.handWindow * 1000, () => {
      if (!conn?.session.established) { log('warn', 'client refused', { remote, reason: 'no handshake in time' }); sock.destroy(); }
    });
    const fail = (reason: string) => { log('warn', 'client refused', { remote, reason }); sock.destroy(); };
    sock.on('data', (chunk: Buffer) => {
      const packets = deframer.push(chunk);
      if (!Array.isArray(packets)) { if (conn) conn.forceClose(packets.error); else fail(packets.error); sock.destroy(); return; }
      const t = now();
      for (const p of packets) {
        if (sock.destroyed) return;
        if (conn) {
          const op = opcodeOf(p[0]);
          if (op === Op.DATA_V2 || op === Op.DATA_V1) conn.onData(p, t);
          else conn.onControl(p, t);
          continue;
        }
        if (opcodeOf(p[0]) !== Op.HARD_RESET_CLIENT_V2 || keyIdOf(p[0]) !== 0) { fail('first packet is not a client reset'); return; }
        const plain = wrap.unwrap(p, t);
        if (!plain) { fail('packet failed tls-auth/tls-crypt verification'); return; }
        const pkt = parseControl(plain);
        if (isParseError(pkt) || pkt.packetId !== 0) { fail('malformed client reset'); return; }
        conn = new Conn(this, 'tcp', remote, (bytes) => writeFramed(sock, bytes), this.sessionParams('tcp', wrap), pkt.sessionId, t);
        conn.tcpSocket = sock;
        this.conns.add(conn);
        conn.drain();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.tcpSockets.delete(sock);
      conn?.linkClosed('connection closed by peer');
    });
  }
}

function logDropSummaries(reports: readonly DropReport<dgram.RemoteInfo>[]): void {
  for (const r of reports) {
    log('warn', 'packet dropped', {
      reason: r.reason, count: r.count, seconds: Math.round((r.intervalMs ?? 0) / 1000), sample: `${r.sample.address}:${r.sample.port}`,
    });
  }
}

const mib = (n: number): number => Math.round(n / 1048576 * 10) / 10;

/** Memory in MiB. Nanos has no /proc, where process.memoryUsage() reads the RSS (it throws ENOENT there): the
 *  heap figures then come from V8 and the machine's use from os (total minus free, which is what the guest uses). */
function memory(): Record<string, number> {
  const sys = { sysUsed: mib(totalmem() - freemem()), sysTotal: mib(totalmem()) };
  try {
    const m = process.memoryUsage();
    return { rss: mib(m.rss), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers), ...sys };
  } catch {
    const h = getHeapStatistics();
    return { heapUsed: mib(h.used_heap_size), heapTotal: mib(h.total_heap_size), external: mib(h.external_memory), ...sys };
  }
}

/** dgram's address lookup: the server only sends to the IP literals it received from, answered synchronously. */
const literalLookup = ((address: string, family: number, cb: (e: Error | null, a: string, f: number) => void): void => {
  if (net.isIPv4(address)) cb(null, address, 4);
  else dns.lookup(address, family, cb);
}) as unknown as typeof dns.lookup;

function writeFramed(sock: net.Socket, bytes: Buffer | readonly Buffer[]): void {
  if (sock.destroyed) return;
  let len = 0;
  if (Buffer.isBuffer(bytes)) len = bytes.length;
  else for (const b of bytes) len += b.length;
  sock.cork();
  sock.write(lengthPrefix(len));
  if (Buffer.isBuffer(bytes)) sock.write(bytes);
  else for (const b of bytes) sock.write(b);
  process.nextTick(() => sock.uncork());
}

/** TCP MSS that keeps a tunnelled packet within `mssfix` on the outer link (openvpn-protocol.md §10). */
function mssFor(c: ServerConfig): number {
  if (!c.mssfix) return 0;
  return Math.min(c.tunMtu - 40, c.mssfix - 20 - 8 - 24 - 40);
}
