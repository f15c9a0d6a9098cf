// One client connection: a sans-IO Session plus the I/O it asks for (link writes, TLS engines, wake-ups from the driver).
import type * as net from 'node:net';
import type { RouterClient, Subnet } from '../core/router/router.js';
import { type AuthRequest, type AuthResult, type CloseKind, describeDrop, Session, type SessionParams } from '../core/session/session.js';
import type { PeerAddr } from '../core/transport/udp-endpoint.js';
import { ipToString } from '../core/wire/ipv4.js';
import type { Ipv6Net } from '../core/wire/ipv6.js';
import { openTlsEngine, type TlsEngine, type TlsOptions } from '../io/tls-adapter.js';
import type { Driver, Timed } from '../io/driver.js';
import { log } from '../log.js';
import type { PeerCertInfo } from '../core/session/session.js';

export interface ConnHost {
  readonly tlsOptions: TlsOptions;
  readonly router: { fromClient(c: RouterClient, p: Buffer): void };
  readonly driver: Driver;
  authorize(conn: Conn, req: AuthRequest): Promise<AuthResult>;
  established(conn: Conn): void;
  closed(conn: Conn, established: boolean, reason: string): void;
  /** A data packet of a UDP session authenticated from another address: false means drop it. */
  floated(conn: Conn, from: PeerAddr): boolean;
}

export class Conn implements RouterClient, Timed {
  readonly session: Session;
  ip = 0;
  /** Subnets behind this client (iroute in its client-config-dir file). */
  iroutes?: Subnet[];
  /** Its IPv6 address (pushed ifconfig-ipv6) and the IPv6 subnets behind it (iroute-ipv6). */
  ip6?: Buffer;
  iroutes6?: Ipv6Net[];
  peerId?: number;
  /** Set when the client logged in with a username and password. */
  username?: string;
  /** What the client told about itself (IV_ variables) and its certificate, from its latest authentication. */
  peerInfo?: ReadonlyMap<string, string>;
  peerCert?: PeerCertInfo;
  tcpSocket?: net.Socket;
  /** For scripts, during authorize()'s first turn: the client's certificate chain (DER, depth 0 first). */
  peerChain?: () => Buffer[];
  /** For tls-crypt-v2-verify: the metadata of the client's tls-crypt-v2 key (type byte first). */
  tlsCryptV2Metadata?: Buffer;
  connectedAt?: number;
  readonly startedAt = Date.now();
  private readonly tls = new Map<number, TlsEngine>();
  /** The driver's: the deadline this session is queued for. */
  queuedAt = Infinity;
  private connectedLog?: { timer: NodeJS.Immediate; write: () => void };
  private draining = false;
  private quiet = false;
  private again = false;

  constructor(
    private readonly host: ConnHost,
    readonly proto: 'udp' | 'tcp',
    public remote: string,
    private send: (bytes: Buffer | readonly Buffer[]) => void,
    params: SessionParams,
    clientSid: Buffer,
    t: number,
    cookieSid?: Buffer,
  ) {
    this.session = new Session(params, clientSid, t, cookieSid);
  }

  get cn(): string | undefined { return this.session.cn; }
  setSend(fn: (bytes: Buffer | readonly Buffer[]) => void): void { this.send = fn; }

  onControl(wire: Buffer, t: number): void { this.session.handleControl(wire, t); this.noteDrops(); this.drain(); }
  onPlainControl(plain: Buffer, t: number): void { this.session.handlePlainControl(plain, t); this.noteDrops(); this.drain(); }

  private seenDrops = 0;
  private dropLogAt = 0;
  /** One log line per client per 10 s for dropped packets (bad HMAC, replay, garbage), with a count. */
  private noteDrops(): void {
    const d = this.session.stats.drops;
    if (d === this.seenDrops) return;
    const t = Date.now();
    if (t < this.dropLogAt) return;
    const why = this.session.lastDropReason;
    log('warn', 'packet dropped', { cn: this.cn, remote: this.remote, reason: why && describeDrop(why), count: d - this.seenDrops });
    this.seenDrops = d;
    this.dropLogAt = t + 10_000;
  }

  /** A data packet; `movedFrom` when it came from another address than this session's (UDP). */
  onData(packet: Buffer, t: number, movedFrom?: PeerAddr): void {
    const r = this.session.openData(packet, t);
    const ip = Buffer.isBuffer(r) ? r : undefined;
    const authenticated = Buffer.isBuffer(r) || r.kind !== 'drop';
    // Float only after the packet authenticated, and before anything it carries is answered, so the answer goes to
    // the new address.
    if (movedFrom && authenticated && !this.host.floated(this, movedFrom)) return;
    if (ip && this.ip) this.host.router.fromClient(this, ip);
    else if (!authenticated) this.noteDrops();
    if (this.session.closed) this.drain();
  }

  /** RouterClient: encrypt an IP packet towards this client. */
  deliver(packet: Buffer): void {
    const parts = this.session.sealDataParts(packet, this.host.driver.now());
    if (parts) this.send(parts);
  }

  shutdown(t: number): void { this.session.shutdown(t); this.drain(); }
  linkClosed(reason: string): void { this.session.linkClosed(reason); this.drain(); }
  /** `quiet`: the caller logs this close itself (say, in a summary of a flood), so no 'client refused' line here. */
  forceClose(reason: string, kind: CloseKind, opts: { quiet?: boolean } = {}): void {
    if (opts.quiet) this.quiet = true;
    this.session.linkClosed(reason, kind);
    this.drain();
  }
  /** Deferred authentication of key `keyId` (management client-pending-auth); false when it is not waiting. */
  authPending(keyId: number, extra: string, timeoutSec: number): boolean {
    const ok = this.session.authPending(keyId, extra, timeoutSec, this.host.driver.now());
    this.drain();
    return ok;
  }
  /** Tells the client `message` (RESTART, HALT) and closes. */
  kill(message: string, reason = 'killed by management', kind: CloseKind = 'killed'): void {
    this.session.shutdown(this.host.driver.now(), message, reason, kind);
    this.drain();
  }

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
    this.arm();
  }

  private perform(o: NonNullable<ReturnType<Session['poll']>>): void {
    switch (o.t) {
      case 'link': this.send(o.bytes); break;
      case 'tls-open': {
        const h = o.handle;
        this.tls.set(h, openTlsEngine(this.host.tlsOptions, (ev) => {
          this.session.handleTls(h, ev, this.host.driver.now());
          this.drain();
        }));
        break;
      }
      case 'tls-feed': this.tls.get(o.handle)?.feed(o.bytes); break;
      case 'tls-write': this.tls.get(o.handle)?.write(o.bytes); break;
      case 'tls-close': this.tls.get(o.handle)?.destroy(); this.tls.delete(o.handle); break;
      case 'auth': {
        const h = o.handle;
        this.peerInfo = o.request.peerInfo;
        this.peerCert = o.request.cert;
        const engine = this.tls.get(h);
        this.peerChain = () => engine?.peerChain() ?? [];
        this.host.authorize(this, o.request).then(
          (r) => { this.session.handleAuth(h, r, this.host.driver.now()); this.drain(); },
          (e: Error) => { this.session.handleAuth(h, { ok: false, reason: `auth error: ${e.message}` }, this.host.driver.now()); this.drain(); },
        ).finally(() => { this.peerChain = undefined; });
        break;
      }
      case 'established': {
        this.connectedAt = Date.now();
        this.host.established(this);
        const fields = {
          cn: o.cn, remote: this.remote, proto: this.proto, vip: ipToString(this.ip), cipher: o.cipher,
          'key-derivation': o.ekm ? 'tls-ekm' : 'prf', 'peer-id': this.peerId,
        };
        // Written after this turn's packets (key-method 2, PUSH_REPLY) are out: a log write is a syscall that
        // can cost the waiting client half a millisecond.
        const write = (): void => { this.connectedLog = undefined; log('info', 'client connected', fields); };
        this.connectedLog = { timer: setImmediate(write), write };
        break;
      }
      case 'rekeyed':
        log('info', 'data channel key renegotiated', { cn: this.cn, remote: this.remote, 'key-id': o.keyId });
        break;
      case 'closed': {
        if (this.connectedLog) { clearImmediate(this.connectedLog.timer); this.connectedLog.write(); }   // keep the order of the two lines
        for (const e of this.tls.values()) e.destroy();
        this.tls.clear();
        this.disarm();
        const est = this.session.established;
        if (est) {
          const s = this.session.stats;
          log('info', 'client disconnected', {
            cn: this.cn, remote: this.remote, vip: ipToString(this.ip), reason: o.reason,
            'bytes-in': s.bytesIn, 'bytes-out': s.bytesOut,
          });
        } else if (!this.quiet) {
          log('warn', 'client refused', { cn: this.cn, remote: this.remote, reason: o.reason });
        }
        this.host.closed(this, est, o.reason);
        if (this.tcpSocket && !this.tcpSocket.destroyed) this.tcpSocket.end();
        break;
      }
    }
  }

  /** The session's next deadline goes to the driver, which calls fire() then. */
  private arm(): void {
    this.host.driver.wakeAt(this, this.session.closed ? undefined : this.session.nextDeadline());
  }

  fire(t: number): void {
    this.session.tick(t);
    this.drain();
  }

  private disarm(): void { this.host.driver.wakeAt(this, undefined); }
}
