// Builds a VpnServer from a config: checks the server's own credentials, plugs in the optional features
// (users file, client-config-dir, pool persistence), picks the uplink, starts listening.
import { readClientConfig } from '../config/client-config-dir.js';
import { readPoolPersist, writePoolPersist } from '../config/pool-persist.js';
import { maskPrefix } from '../config/ipv4-text.js';
import { totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isStaticKeyConfig, type AnyServerConfig, type ServerConfig, type StaticKeyServerConfig } from '../config/types.js';
import { verifyUser } from '../config/users-file.js';
import { nodeCryptoAead, useAeadEngine, type AeadEngine } from '../core/crypto/aead.js';
import { nodeCryptoSymmetric, useSymmetricEngine } from '../core/crypto/symmetric.js';
import { startIdleTrim } from '../io/idle-memory.js';
import { createNatUplink, type NatUplink } from '../io/nat-uplink.js';
import { loadNativeAead, loadNativeSymmetric } from '../io/native-aead.js';
import type { IpPool } from '../core/router/ip-pool.js';
import type { Ipv6Pool } from '../core/router/ipv6-pool.js';
import { formatIpv6, formatIpv6Net } from '../core/wire/ipv6.js';
import { ipToString } from '../core/wire/ipv4.js';
import { log } from '../log.js';
import { checkKeyMatchesCert, checkSignedBy } from '../pki/check.js';
import type { AuthPlugins } from './authorizer.js';
import { VpnServer } from './server.js';
import { StaticKeyServer } from './static-key-server.js';
import { type Management, startManagement } from './management.js';
import { startMetrics } from './metrics.js';
import { startPortForwards } from './port-forward.js';
import { startStatusFile } from './status-file.js';
import { ScriptHooks } from './scripts.js';

/** A stop signal arrived before the server was up (during management-hold): it was taken down again, cleanly. */
export class StartupStopped extends Error {}

export interface StartOptions {
  /** Aborted (with the signal's name as reason) to give up waiting for `hold release`. */
  stop?: AbortSignal;
}

export async function startServer(cfg: ServerConfig, o?: StartOptions): Promise<VpnServer>;
export async function startServer(cfg: StaticKeyServerConfig, o?: StartOptions): Promise<StaticKeyServer>;
export async function startServer(cfg: AnyServerConfig, o?: StartOptions): Promise<VpnServer | StaticKeyServer>;
export async function startServer(cfg: AnyServerConfig, o: StartOptions = {}): Promise<VpnServer | StaticKeyServer> {
  if (isStaticKeyConfig(cfg)) return startStaticKeyServer(cfg);
  chooseDataCrypto(cfg.dataCrypto);
  checkCredentials(cfg);
  const server = new VpnServer(cfg);
  server.authorizer.plugins = await plugins(cfg, server.pool, server.pool6);
  const scripts = cfg.scripts && new ScriptHooks(cfg, { unroute: (conn) => server.router.remove(conn) });
  server.authorizer.plugins.scripts = scripts;
  if (scripts) server.onStop(() => scripts.settled());
  if (cfg.uplink === 'tun') {
    const { createTunUplink } = await import('../io/tun-uplink.js');
    const net = cfg.server;
    const tun = await createTunUplink({
      address: ipToString(server.pool.serverIp), netmask: ipToString(net.netmask), mtu: cfg.tunMtu, name: cfg.devName,
      node: cfg.devNode,
      routes: cfg.routes.map((r) => ({ network: ipToString(r.network), prefix: maskPrefix(r.netmask)! })),
      ipv6: cfg.ipv6 !== undefined,
    }, server.router.toClient);
    server.setUplink(tun);
    if (cfg.ipv6) {
      log('warn', 'tun uplink: nanovpn sets no IPv6 address or route on the tun device: route the clients\' IPv6 network ' +
        '(and route-ipv6 subnets) to it yourself (ip -6 route add NET/BITS dev DEV) and enable net.ipv6.conf.all.forwarding',
      { network: formatIpv6Net(cfg.ipv6.network) });
    }
    if (scripts) {
      try {
        await scripts.up(tun.dev);
      } catch (e) {
        await tun.close();
        throw e;
      }
      server.onStop(() => scripts.down(server.stopReason === 'exit' ? 'sigterm' : server.stopReason.toLowerCase()));
    }
  }
  let nat: NatUplink | undefined;
  if (cfg.uplink !== 'tun') {
    warnDevNodeUnused(cfg);
    server.setUplink(nat = createNatUplink({
      localAddress: cfg.natSource, mss: server.mss || undefined, timeouts: cfg.natTimeouts,
      perClientFlows: cfg.natFlows?.perClient, maxFlows: cfg.natFlows?.total ?? flowCapForMemory(),
      tcpCongestion: cfg.natTcpCongestion, tcpPacing: cfg.natTcpPacing, tcpEcn: cfg.natTcpEcn,
      localIp: cfg.forwards?.length ? server.pool.serverIp : undefined,
      // A host behind a client (iroute) is that client's: the router's own anti-spoof rule.
      sourceAllowed: (clientIp, src) => {
        const c = server.router.lookup(clientIp);
        return c !== undefined && server.router.lookup(src) === c;
      },
      icmp6Source: server.pool6?.server,
      sourceAllowed6: (clientIp, src) => {
        const c = server.router.lookup(clientIp);
        return c !== undefined && server.router.v6?.lookup(src) === c;
      },
    }, server.router.toClient, server.driver));
  }
  const management = await startManagementFor(server, cfg, o.stop);
  await server.start();
  if (nat && cfg.forwards?.length) {
    try {
      const pf = await startPortForwards(cfg.forwards, nat, () => server.conns, server.driver);
      server.forwardStats = () => pf.stats();
      server.onStop(() => pf.close());
    } catch (e) {
      await server.stop();
      throw new Error(`forward-port: cannot listen: ${(e as Error).message}`, { cause: e });
    }
  }
  management?.setState('CONNECTED', 'SUCCESS', ipToString(server.pool.serverIp));
  await startObservability(server, cfg);
  startStateLog(server);
  const idle = startIdleTrim(() => nat?.releaseSpare());
  server.onStop(() => idle.stop());
  return server;
}

/**
 * The management interface opens before the VPN, as OpenVPN's does: management-hold waits here for `hold release`,
 * and management-client-auth hooks into the authorizer (without a listening interface nobody could decide, so
 * every client is refused).
 */
async function startManagementFor(server: VpnServer, cfg: ServerConfig, stop?: AbortSignal): Promise<Management | undefined> {
  if (!cfg.management) return undefined;
  const features = {
    clientAuth: cfg.managementClientAuth, hold: cfg.managementHold, logCache: cfg.managementLogCache, verb: cfg.verb, echo: cfg.echo,
    socketOwner: cfg.managementClientUser !== undefined || cfg.managementClientGroup !== undefined
      ? { uid: cfg.managementClientUser, gid: cfg.managementClientGroup } : undefined,
  };
  const m = await startManagement(server, 'path' in cfg.management
    ? { path: cfg.management.path, ...features }
    : { ...cfg.management, allowRemote: cfg.managementAllowRemote, ...features });
  if (cfg.managementClientAuth) {
    server.authorizer.plugins.external = m?.clients?.external
      ?? (() => Promise.resolve({ ok: false, reason: 'management-client-auth: the management interface is not listening, so nobody can decide' }));
  }
  if (!m) return undefined;
  server.onStop(async () => { m.setState(RESTARTS.has(server.stopReason) ? 'RECONNECTING' : 'EXITING', server.stopReason); await m.close(); });
  if (cfg.managementHold) {
    log('notice', 'management-hold: waiting for hold release on the management interface');
    const released = await untilReleased(m, stop);
    if (!released) {
      const sig = String(stop?.reason ?? 'exit');
      await server.stop(sig);
      throw new StartupStopped(`${sig} while waiting for hold release`);
    }
  }
  return m;
}

/** The signals that restart the server rather than end it. */
export const RESTARTS = new Set(['SIGHUP', 'SIGUSR1']);

/** true once `hold release` comes, false if `stop` aborts first. */
function untilReleased(m: Management, stop: AbortSignal | undefined): Promise<boolean> {
  if (stop?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    stop?.addEventListener('abort', onAbort, { once: true });
    void m.hub.waitForRelease().then(() => { stop?.removeEventListener('abort', onAbort); resolve(true); });
  });
}

/** dev-node picks the tun uplink's device; the NAT has none. */
function warnDevNodeUnused(cfg: AnyServerConfig): void {
  if (cfg.devNode) {
    log('warn', "config: 'dev-node' has no effect with the NAT uplink, which opens no tun device (with 'uplink tun' it names the device to open)",
      { 'dev-node': cfg.devNode });
  }
}

/** Static-key mode: one peer, the NAT as its uplink. */
async function startStaticKeyServer(cfg: StaticKeyServerConfig): Promise<StaticKeyServer> {
  chooseDataCrypto(cfg.dataCrypto);
  const server = new StaticKeyServer(cfg);
  warnDevNodeUnused(cfg);
  const nat = createNatUplink({
    localAddress: cfg.natSource, mss: server.mss || undefined, timeouts: cfg.natTimeouts,
    perClientFlows: cfg.natFlows?.perClient, maxFlows: cfg.natFlows?.total ?? flowCapForMemory(),
    tcpCongestion: cfg.natTcpCongestion, tcpPacing: cfg.natTcpPacing, tcpEcn: cfg.natTcpEcn,
  }, server.router.toClient, server.driver);
  server.setUplink(nat);
  await server.start();
  const idle = startIdleTrim(() => nat.releaseSpare());
  server.onStop(() => idle.stop());
  return server;
}

/**
 * NANOVPN_STATE_LOG=SECONDS logs server.ioState() every SECONDS on the console, with how late the timer fired
 * (event-loop lag): inside a unikernel the console is the one channel that still works when networking stalls.
 * SIGUSR2 logs it once.
 */
function startStateLog(server: VpnServer): void {
  const line = (lagMs?: number): void => log('info', 'state', { ...(lagMs === undefined ? {} : { lagMs }), state: JSON.stringify(server.ioState()) });
  const onUsr2 = (): void => line();
  process.on('SIGUSR2', onUsr2);
  server.onStop(() => { process.off('SIGUSR2', onUsr2); });
  const secs = Number(process.env.NANOVPN_STATE_LOG);
  if (!(secs > 0)) return;
  const ms = secs * 1000;
  let due = performance.now() + ms;
  const timer = setInterval(() => {
    const t = performance.now();
    line(Math.round(t - due));
    due = t + ms;
  }, ms);
  timer.unref();
  server.onStop(() => clearInterval(timer));
}

/** Picks the data-channel AEAD engine and the control-channel wraps' cipher and HMAC engine (one addon has
 *  both); 'native' without a working addon stops startup. */
export function chooseDataCrypto(mode: ServerConfig['dataCrypto']): AeadEngine {
  let engine = nodeCryptoAead;
  let symmetric = nodeCryptoSymmetric;
  if (mode !== 'node') {
    const native = loadNativeAead();
    const nativeSym = loadNativeSymmetric();
    const error = native.error ?? nativeSym.error;
    if (native.engine && nativeSym.engine) { engine = native.engine; symmetric = nativeSym.engine; }
    else if (mode === 'native') throw new Error(`data-crypto native: ${error}`);
    else log('info', 'data-crypto: the native addon is not available, using node:crypto', { reason: error });
  }
  useAeadEngine(engine);
  useSymmetricEngine(symmetric);
  log('info', 'data-crypto', { engine: engine.name });
  return engine;
}

/** status file, /metrics: each optional, each closed by server.stop(). */
async function startObservability(server: VpnServer, cfg: ServerConfig): Promise<void> {
  if (cfg.status) {
    const st = startStatusFile(server, { ...cfg.status, version: cfg.statusVersion });
    server.onStop(() => st.close());
  }
  if (cfg.metrics) {
    const m = await startMetrics(server, cfg.metrics);
    if (m) server.onStop(() => m.close());
  }
}

/** The server's own cert must match its key and chain to `ca`: say so at startup, not at the first client. */
function checkCredentials(cfg: ServerConfig): void {
  checkKeyMatchesCert(cfg.cert, cfg.key, 'server certificate');
  checkSignedBy(cfg.cert, cfg.ca, 'server certificate');
}

async function plugins(cfg: ServerConfig, pool: IpPool, pool6: Ipv6Pool | undefined): Promise<AuthPlugins> {
  const p: AuthPlugins = {};
  if (cfg.authUserPassVerify) {
    const file = cfg.authUserPassVerify;
    p.verifyPassword = (user, pass) => verifyUser(file, user, pass);
  }
  if (cfg.clientConfigDir) {
    const dir = cfg.clientConfigDir;
    p.clientConfig = async (cn) => {
      const c = await readClientConfig(dir, cn);
      return c && {
        ip: c.ifconfigPush?.ip, second: c.ifconfigPush?.second, iroutes: c.iroutes,
        ifconfigIpv6Push: c.ifconfigIpv6Push, iroutes6: c.iroutes6,
        push: c.push, pushReset: c.pushReset, disable: c.disable,
      };
    };
  }
  if (cfg.ifconfigPoolPersist) {
    const path = cfg.ifconfigPoolPersist.path;
    const known = new Map<string, number>();
    try {
      // OpenVPN 2.6 stores a net30 client's /30 base, so the file stays interchangeable with it.
      for (const [cn, addr] of await readPoolPersist(path)) known.set(cn, pool.fromPersisted(addr));
    } catch (e) {
      log('warn', 'ifconfig-pool-persist: cannot read, starting empty', { file: path, error: (e as Error).message });
    }
    const owners = new Map<number, string>();
    for (const [cn, ip] of known) owners.set(ip, cn);
    let writing: Promise<void> = Promise.resolve();
    p.preferredIp = (cn) => known.get(cn);
    p.rememberedFor = (ip) => owners.get(ip);
    p.remember = (cn, ip) => {
      if (known.get(cn) === ip) return;
      const old = known.get(cn), prevOwner = owners.get(ip);
      if (old !== undefined) owners.delete(old);
      if (prevOwner !== undefined) known.delete(prevOwner);   // the pool ran out and gave it away
      known.set(cn, ip);
      owners.set(ip, cn);
      // 2.6 writes "CN,IPv4,IPv6": the IPv6 address of the same pool slot (empty without an IPv6 pool).
      const stored = [...known].map(([name, a]): [string, number, string] => {
        const a6 = pool.isClientAddress(a) ? pool6?.addressAt(pool.indexOf(a)) : undefined;
        return [name, pool.persistedAddress(a), a6 ? formatIpv6(a6) : ''];
      });
      writing = writing.then(() => writePoolPersist(path, stored)).catch((e: Error) =>
        log('warn', 'ifconfig-pool-persist: write failed', { file: path, error: e.message }));
    };
  }
  return p;
}

/** A TCP flow may buffer up to ~512 KiB (both directions); keep the worst case within a quarter of memory. */
function flowCapForMemory(): number {
  return Math.max(1024, Math.min(65536, Math.floor(totalmem() / 4 / (512 * 1024))));
}
