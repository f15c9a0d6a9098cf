// Decides whether a client that finished TLS and key-method-2 may in, and with which address:
// certificate policy, CRL, username/password, client-config-dir, duplicate-cn, max-clients, pool (+ persistence).
import { readFileSync, statSync } from 'node:fs';
import type { AuthRequest, AuthResult } from '../core/session/session.js';
import { ipToString } from '../core/wire/ipv4.js';
import type { IpPool } from '../core/router/ip-pool.js';
import { topologyPush } from '../core/router/topology-push.js';
import { overlaps, type Subnet } from '../core/router/router.js';
import { maskPrefix } from '../config/ipv4-text.js';
import type { ServerConfig } from '../config/types.js';
import { log } from '../log.js';
import { CapathCrls } from './capath-crls.js';
import type { Conn } from './conn.js';
import { type ExternalAuth, withExternalConfig } from './external-auth.js';
import type { AuthScripts } from './scripts.js';
import type { Ipv6Pool } from '../core/router/ipv6-pool.js';
import type { Ipv6Net } from '../core/wire/ipv6.js';
import { ipv6Problem, leaseIpv6, type Ipv6Ccd } from './ipv6-assign.js';

export interface AuthHost {
  readonly cfg: ServerConfig;
  readonly pool: IpPool;
  readonly conns: Set<Conn>;
  allocatePeerId(conn: Conn): number;
  /** The client whose iroute overlaps `net` (two clients may not claim the same addresses). */
  irouteOwner?(net: Subnet): { cn?: string } | undefined;
  /** The IPv6 side (server-ipv6 / ifconfig-ipv6) and the client whose iroute-ipv6 overlaps `net`. */
  readonly pool6?: Ipv6Pool;
  irouteOwner6?(net: Ipv6Net): { cn?: string } | undefined;
  reloadSecureContext(): void;
}

export interface ClientConfigResult extends Ipv6Ccd {
  ip?: number; second?: number; push: string[]; pushReset: boolean; disable: boolean;
  iroutes?: { network: number; netmask: number; file: string; line: number }[];
}

/** Optional features plug in here (users file, client-config-dir, pool persistence). */
export interface AuthPlugins {
  verifyPassword?: (username: string, password: string) => Promise<boolean>;
  /** `second`: ifconfig-push's second address (netmask in topology subnet, peer in net30 and p2p). */
  clientConfig?: (cn: string) => Promise<ClientConfigResult | undefined>;
  preferredIp?: (cn: string) => number | undefined;
  /** The common name an address is remembered for, if any: other clients get it only when nothing else is free. */
  rememberedFor?: (ip: number) => string | undefined;
  remember?: (cn: string, ip: number) => void;
  /** management-client-auth: a decision from outside, after the checks above. */
  external?: ExternalAuth;
  /** The config's script hooks (scripts.ts): tls-verify, auth-user-pass-verify, client-connect, ... */
  scripts?: AuthScripts;
}

const CRL_CHECK_MS = 5000;

export class Authorizer {
  plugins: AuthPlugins = {};
  private crl?: string;
  private crlMtime = 0;
  private crlTimer?: NodeJS.Timeout;
  private readonly capathCrls?: CapathCrls;

  constructor(private readonly host: AuthHost) {
    const c = host.cfg;
    if (c.crlPem) this.crl = c.crlPem;
    if (c.crlVerify) {
      this.loadCrl(true);
      this.crlTimer = setInterval(() => this.loadCrl(false), CRL_CHECK_MS);
      this.crlTimer.unref();
    }
    if (c.capath) this.capathCrls = new CapathCrls(c.capath, () => this.host.reloadSecureContext());
  }

  crlPem(): string | undefined {
    const capath = this.capathCrls?.pem();
    return this.crl && capath ? `${this.crl.trimEnd()}\n${capath}` : this.crl ?? capath;
  }

  close(): void { if (this.crlTimer) clearInterval(this.crlTimer); this.capathCrls?.close(); }

  /** Re-reads the CRL file when its mtime changed; a broken CRL file keeps the previous one. */
  private loadCrl(initial: boolean): void {
    const path = this.host.cfg.crlVerify!;
    try {
      const st = statSync(path);
      if (!initial && st.mtimeMs === this.crlMtime) return;
      const text = readFileSync(path, 'utf8');
      if (!text.includes('-----BEGIN X509 CRL-----')) throw new Error('not a PEM CRL');
      this.crl = text;
      this.crlMtime = st.mtimeMs;
      if (!initial) { this.host.reloadSecureContext(); log('info', 'CRL reloaded', { file: path }); }
    } catch (e) {
      if (initial) throw new Error(`crl-verify ${path}: ${(e as Error).message}`, { cause: e });
      log('warn', 'CRL reload failed, keeping the previous one', { file: path, error: (e as Error).message });
    }
  }

  async authorize(conn: Conn, req: AuthRequest): Promise<AuthResult> {
    const c = this.host.cfg;
    const hasCert = req.cn !== undefined;
    if (c.verifyClientCert === 'require' && !req.certAuthorized) {
      return { ok: false, reason: `client certificate not accepted (${req.certError ?? 'no certificate'})` };
    }
    if (c.verifyClientCert === 'optional' && hasCert && !req.certAuthorized) {
      return { ok: false, reason: `client certificate not accepted (${req.certError ?? 'unknown'})` };
    }
    if (c.remoteCertTls === 'client' && hasCert && !req.certClientAuth) {
      return { ok: false, reason: 'client certificate lacks extendedKeyUsage clientAuth (remote-cert-tls client)' };
    }
    const scripts = this.plugins.scripts;
    const tlsRefusal = await scripts?.verifyTls(conn, req);
    if (tlsRefusal) return { ok: false, reason: tlsRefusal };
    let cn = req.cn;
    if (c.authUserPassVerify || scripts?.checksPasswords) {
      const verify = this.plugins.verifyPassword;
      if (c.authUserPassVerify && !verify) return { ok: false, reason: 'password verification unavailable' };
      // auth-user-pass-optional: a client without a username is the script's to judge (it sees empty strings, as in
      // 2.6); without a script, its certificate must carry it.
      const anonymous = !req.username && c.authUserPassOptional === true;
      if (!req.username && !anonymous) return { ok: false, reason: 'no username/password sent' };
      if (anonymous && !scripts?.checksPasswords && !(hasCert && req.certAuthorized)) {
        return { ok: false, reason: 'no username/password sent and no accepted client certificate (auth-user-pass-optional)' };
      }
      if (verify && !anonymous && !(await verify(req.username, req.password))) return { ok: false, reason: `bad username or password (user ${req.username})` };
      const scriptRefusal = scripts?.checksPasswords ? await scripts.verifyPassword(conn, req) : undefined;
      if (scriptRefusal) return { ok: false, ...scriptRefusal };
      if (!anonymous) {
        conn.username = req.username;
        if (c.usernameAsCommonName || !cn) cn = req.username;
      }
    } else if (!hasCert || !req.certAuthorized) {
      return { ok: false, reason: 'no client certificate and no password authentication configured' };
    }
    const ext = await this.plugins.external?.(conn, req, cn);
    if (ext && !ext.ok) return ext;
    if (!req.first) {
      if (cn !== conn.session.cn && !(c.usernameAsCommonName && (c.authUserPassVerify || scripts?.checksPasswords))) {
        return { ok: false, reason: `renegotiation changed the identity (${conn.session.cn} -> ${cn})` };
      }
      return { ok: true };
    }
    conn.session.cn = cn;
    const ccd = withExternalConfig(cn ? await this.plugins.clientConfig?.(cn) : undefined, ext?.config);
    if (ccd?.disable) return { ok: false, reason: 'disabled in client-config-dir' };
    // The checks above may have waited (scrypt, file reads): a session that ended meanwhile gets no address, and
    // everything from here on runs without waiting (but for client-connect, which holds its address meanwhile), so
    // the pool and peer ids stay consistent.
    if (conn.session.closed) return { ok: false, reason: 'session ended during authentication' };
    const full = this.admit(conn, cn);
    if (full) return { ok: false, reason: full };
    for (const r of ccd?.iroutes ?? []) {
      const why = this.irouteProblem(r, conn);
      if (why) return { ok: false, reason: `${r.file}:${r.line}: ${why}` };
    }
    const pool6 = this.host.pool6;
    const why6 = ipv6Problem<{ cn?: string }>(pool6, ccd, (n) => this.host.irouteOwner6?.(n), conn, (o) => o.cn);
    if (why6) return { ok: false, reason: why6 };
    const pool = this.host.pool;
    let ip: number | undefined;
    let second: number | undefined;
    if (ccd?.ip !== undefined) {
      const why = ifconfigPushProblem(pool, ccd.ip, ccd.second);
      if (why) return { ok: false, reason: why };
      ip = pool.assign(ccd.ip);
      second = ccd.second;
    } else {
      const owner = this.plugins.rememberedFor;
      ip = pool.allocate(cn ? this.plugins.preferredIp?.(cn) : undefined, owner && ((a) => (owner(a) ?? cn) !== cn));
    }
    if (ip === undefined) {
      return { ok: false, reason: pool.size === 0 ? "no address: the server has no pool ('nopool') and no ifconfig-push for this client" : 'address pool exhausted' };
    }
    conn.ip = ip;
    let push = [...(ccd?.pushReset ? [] : c.push), ...(ccd?.push ?? [])];
    let iroutes = ccd?.iroutes ?? [];
    let staticIp = ccd?.ip !== undefined;
    if (scripts) {
      // The address is the client's while the script runs: if the session ends meanwhile, closing it frees it.
      const r = await scripts.clientConnect(conn, cn, ip, second ?? pool.ifconfigPeer(ip, c.poolNetmask));
      if (conn.session.closed) return { ok: false, reason: 'session ended during client-connect' };
      const dyn = r.ok ? r.config : undefined;
      // Others may have logged in while the script ran: replace them again, count again.
      const why = !r.ok ? r.reason : dyn?.disable ? 'disabled by the client-connect script' : this.admit(conn, cn);
      if (why) { pool.release(ip); conn.ip = 0; return { ok: false, reason: why }; }
      if (dyn) {
        for (const x of dyn.iroutes ?? []) {
          const bad = this.irouteProblem(x, conn);
          if (bad) { pool.release(ip); conn.ip = 0; return { ok: false, reason: `${x.file}:${x.line}: ${bad}` }; }
        }
        iroutes = [...iroutes, ...(dyn.iroutes ?? [])];
        push = [...(dyn.pushReset ? [] : push), ...dyn.push];
        if (dyn.ip !== undefined && dyn.ip !== ip) {
          pool.release(ip);
          conn.ip = 0;
          const bad = ifconfigPushProblem(pool, dyn.ip, dyn.second);
          if (bad) return { ok: false, reason: `client-connect: ${bad}` };
          ip = conn.ip = pool.assign(dyn.ip);
          second = dyn.second;
          staticIp = true;
        }
      }
    }
    conn.iroutes = ccd || iroutes.length ? iroutes.map((r) => ({ network: r.network, netmask: r.netmask })) : undefined;
    const v6 = leaseIpv6(pool6, pool, ccd, staticIp ? undefined : ip, conn);
    conn.ip6 = v6?.ip;
    conn.iroutes6 = pool6 ? ccd?.iroutes6?.map((r) => r.net) : undefined;
    if (cn) this.plugins.remember?.(cn, ip);
    conn.peerId = this.host.allocatePeerId(conn);
    return {
      ok: true,
      assign: {
        ip: ipToString(ip), netmask: ipToString(second ?? pool.ifconfigPeer(ip, c.poolNetmask)), gateway: ipToString(pool.serverIp),
        peerId: conn.peerId, push, topologyPush: topologyPush(pool, c.clientToClient),
        ...(v6 && { ifconfigIpv6: v6.pushed }),
      },
    };
  }

  /** Replaces the other logins of `cn` (without duplicate-cn); why `conn` cannot come in (max-clients), if it cannot. */
  private admit(conn: Conn, cn: string | undefined): string | undefined {
    const c = this.host.cfg;
    const established = [...this.host.conns].filter((x) => x.session.established && !x.session.closed);
    let staying = established.filter((x) => x !== conn);
    if (!c.duplicateCn && cn) {
      for (const other of staying) {
        if (other.cn !== cn) continue;
        const why = `replaced by a new login of ${cn}`;
        // The same UDP address is the same client restarting: its new session is this one, so the old one closes
        // without a word (a RESTART there would reach the new session's client). Elsewhere the client is told.
        if (other.proto === 'udp' && other.proto === conn.proto && other.remote === conn.remote) other.forceClose(why, 'replaced');
        else other.kill('RESTART', why, 'replaced');
      }
      staying = staying.filter((x) => x.cn !== cn);   // replaced: they do not count against max-clients
    }
    return staying.length >= c.maxClients ? `max-clients (${c.maxClients}) reached` : undefined;
  }

  private irouteProblem(r: Subnet, conn: Conn): string | undefined {
    const text = `iroute ${ipToString(r.network)}/${maskPrefix(r.netmask)}`;
    const net = this.host.cfg.server;
    if (overlaps(r, net)) return `${text} overlaps the server's network ${ipToString(net.network)}/${maskPrefix(net.netmask)}`;
    const owner = this.host.irouteOwner?.(r);
    if (owner && owner !== conn) return `${text} is already routed to another client${owner.cn ? ` (${owner.cn})` : ''}`;
    return undefined;
  }

  released(conn: Conn): void {
    this.host.pool.release(conn.ip);
    if (conn.ip6) this.host.pool6?.release(conn.ip6, conn);
  }
}

/** Why a client-config-dir's `ifconfig-push IP SECOND` cannot be given, if it cannot. */
function ifconfigPushProblem(pool: IpPool, ip: number, second: number | undefined): string | undefined {
  if (!pool.isAssignable(ip)) {
    return `ifconfig-push address ${ipToString(ip)} is taken or not a client address of ${ipToString(pool.network)}/${maskPrefix(pool.netmask)}` +
      ` in topology ${pool.topology}${pool.topology === 'net30' ? ' (one of the two host addresses of a /30 above the first)' : ''}`;
  }
  if (pool.topology === 'subnet' && (second === undefined || maskPrefix(second) === undefined)) {
    return `ifconfig-push: '${second === undefined ? '' : ipToString(second)}' is not a netmask (topology subnet: ifconfig-push IP NETMASK)`;
  }
  return undefined;
}
