// The management interface's side of the VPN clients, with OpenVPN 2.6's rules:
//   - management-client-auth: each authentication (after the certificate and password checks) waits for
//     client-auth / client-auth-nt / client-deny, announced by >CLIENT:CONNECT (first key) or >CLIENT:REAUTH;
//     client-pending-auth sends the client AUTH_PENDING and extends its wait. Nobody deciding: the session's own
//     deadline (hand-window, or the pending-auth timeout) ends it with AUTH_FAILED.
//   - >CLIENT:ESTABLISHED for every client; >CLIENT:ADDRESS and >CLIENT:DISCONNECT only for clients that were
//     announced by CONNECT (OpenVPN's DAF_INITIAL_AUTH), so only with management-client-auth.
//   - bytecount N: >BYTECOUNT_CLI for each established client every N seconds.
import { parseClientConfig } from '../config/client-config-dir.js';
import { ConfigError } from '../config/errors.js';
import type { AuthRequest } from '../core/session/session.js';
import { ipToString } from '../core/wire/ipv4.js';
import { maskPrefix } from '../config/ipv4-text.js';
import { log } from '../log.js';
import type { ClientEvent } from './client-events.js';
import type { Conn } from './conn.js';
import type { ExternalDecision } from './external-auth.js';
import {
  addressNotification, bytecountClientLine, clientEnv, type ClientFacts, clientNotification, type ClientStage,
} from './management-env.js';
import type { ManagementHub, MgmtSession } from './management-hub.js';
import { clientIdOf, liveConns, realAddress } from './observe.js';
import type { VpnServer } from './server.js';

interface Pending {
  conn: Conn;
  kid: number;
  keyId: number;
  resolve: (d: ExternalDecision) => void;
}

interface Announced { nextKid: number; initialAuth: boolean; closed: boolean }

export type ManagedServer = Pick<VpnServer, 'conns' | 'pool' | 'cfg' | 'clientEvents' | 'stats' | 'uplinkStats'>;

export class ManagementClients {
  private readonly pending = new Map<number, Pending>();
  private readonly announced = new WeakMap<Conn, Announced>();
  private readonly stopEvents: () => void;
  private readonly bytecountTimers = new Map<MgmtSession, NodeJS.Timeout>();

  constructor(private readonly server: ManagedServer, private readonly hub: ManagementHub, readonly clientAuth: boolean) {
    this.stopEvents = server.clientEvents.on((ev) => this.onClientEvent(ev));
  }

  close(): void {
    this.stopEvents();
    for (const t of this.bytecountTimers.values()) clearInterval(t);
    this.bytecountTimers.clear();
    for (const p of this.pending.values()) p.resolve({ ok: false, reason: 'management interface closed' });
    this.pending.clear();
  }

  private state(conn: Conn): Announced {
    let a = this.announced.get(conn);
    if (!a) { a = { nextKid: 0, initialAuth: false, closed: false }; this.announced.set(conn, a); }
    return a;
  }

  private facts(conn: Conn, cn = conn.cn): ClientFacts {
    const pool = this.server.pool;
    const s = conn.session.stats;
    return {
      cn, username: conn.username, remote: realAddress(conn), peerInfo: conn.peerInfo, cert: conn.peerCert,
      vip: conn.ip ? ipToString(conn.ip) : undefined,
      vipSecond: conn.ip ? ipToString(pool.ifconfigPeer(conn.ip, this.server.cfg.poolNetmask)) : undefined,
      topology: pool.topology, createdSec: Math.floor(conn.startedAt / 1000),
      bytesReceived: s.bytesIn, bytesSent: s.bytesOut,
    };
  }

  private nClients(): number { return liveConns(this.server).length; }

  private env(conn: Conn, stage: ClientStage, cn?: string): string[] {
    return clientEnv(this.facts(conn, cn), stage, Math.floor(Date.now() / 1000));
  }

  /** AuthPlugins.external with management-client-auth: announce, then wait for the decision. */
  external = (conn: Conn, req: AuthRequest, cn: string | undefined): Promise<ExternalDecision> => {
    if (!req.username || !req.password) {
      // OpenVPN 2.6 with management-client-auth: "Auth Username/Password was not provided by peer".
      return Promise.resolve({ ok: false, reason: 'no username/password sent (management-client-auth needs them, as in OpenVPN 2.6)' });
    }
    conn.username = req.username;
    const a = this.state(conn);
    const cid = clientIdOf(conn);
    const kid = a.nextKid++;
    const kind = req.first ? 'CONNECT' : 'REAUTH';
    const env = this.env(conn, 'connect', cn);
    a.initialAuth = true;
    this.pending.get(cid)?.resolve({ ok: false, reason: 'superseded by a newer authentication' });
    return new Promise<ExternalDecision>((resolve) => {
      this.pending.set(cid, { conn, kid, keyId: req.keyId, resolve });
      if (this.hub.sessions.size === 0) log('warn', 'management-client-auth: no management client is connected; the client waits until its hand-window ends', { cid, cn });
      this.hub.broadcastClient(clientNotification(kind, cid, kid, env, this.nClients()));
    });
  };

  private take(cid: number, kid: number): Pending | undefined {
    const p = this.pending.get(cid);
    if (!p || p.kid !== kid) return undefined;
    this.pending.delete(cid);
    return p;
  }

  /** client-auth / client-auth-nt: `lines` are client-config-dir lines; an error in them is returned, the client keeps waiting. */
  authorize(cid: number, kid: number, lines: string[] | undefined): { ok: boolean; error?: string } {
    const p = this.pending.get(cid);
    if (!p || p.kid !== kid) return { ok: false };
    let config;
    if (lines && lines.length) {
      try {
        const c = parseClientConfig(lines.join('\n') + '\n', `client-auth ${cid} ${kid}`);
        config = {
          ip: c.ifconfigPush?.ip, second: c.ifconfigPush?.second, iroutes: c.iroutes,
          push: c.push, pushReset: c.pushReset, disable: c.disable,
        };
      } catch (e) {
        if (e instanceof ConfigError) return { ok: false, error: e.message };
        throw e;
      }
    }
    const p2 = this.take(cid, kid)!;
    log('info', 'management: client authorized', { cid, kid, cn: p2.conn.cn, 'config-lines': lines?.length ?? 0 });
    p2.resolve({ ok: true, config });
    return { ok: true };
  }

  deny(cid: number, kid: number, reason: string, clientReason?: string): boolean {
    const p = this.take(cid, kid);
    if (!p) return false;
    // Logged here: over TCP the told client may hang up before the session's own 'client refused' line has the reason.
    log('info', 'management: client denied', { cid, kid, cn: p.conn.cn, reason, 'client-reason': clientReason });
    p.resolve({ ok: false, reason: `client-deny: ${reason}`, clientMessage: clientReason });
    return true;
  }

  pendingAuth(cid: number, kid: number, extra: string, timeoutSec: number): boolean {
    const p = this.pending.get(cid);
    if (!p || p.kid !== kid) return false;
    return p.conn.authPending(p.keyId, extra, timeoutSec);
  }

  private onClientEvent(ev: ClientEvent): void {
    const conn = ev.conn;
    const cid = clientIdOf(conn);
    const a = this.announced.get(conn);
    if (ev.t === 'established') {
      if (a?.initialAuth && conn.ip) {
        const lines = [addressNotification(cid, ipToString(conn.ip), true)];
        for (const r of conn.iroutes ?? []) lines.push(addressNotification(cid, `${ipToString(r.network)}/${maskPrefix(r.netmask)}`, false));
        this.hub.broadcast(lines);
      }
      this.hub.broadcastClient(clientNotification('ESTABLISHED', cid, undefined, this.env(conn, 'established'), this.nClients()));
      return;
    }
    const p = this.pending.get(cid);
    if (p?.conn === conn) { this.pending.delete(cid); p.resolve({ ok: false, reason: `session ended: ${ev.reason}` }); }
    if (a?.initialAuth && !a.closed) {
      a.closed = true;
      this.hub.broadcastClient(clientNotification('DISCONNECT', cid, undefined, this.env(conn, 'disconnect')));
    }
  }

  /** `bytecount N` for one management client (0 stops it). */
  bytecount(s: MgmtSession, seconds: number): void {
    s.bytecountSec = seconds;
    const old = this.bytecountTimers.get(s);
    if (old) { clearInterval(old); this.bytecountTimers.delete(s); }
    if (seconds <= 0) return;
    const t = setInterval(() => {
      const lines = liveConns(this.server).map((c) => {
        const st = c.session.stats;
        return bytecountClientLine(clientIdOf(c), st.bytesIn, st.bytesOut);
      });
      if (lines.length) s.send(lines);
    }, seconds * 1000);
    t.unref();
    this.bytecountTimers.set(s, t);
  }

  /** A management client left: its timers go. */
  detach(s: MgmtSession): void { this.bytecount(s, 0); }
}
