// Runs the config's script hooks (script-options.ts) as OpenVPN 2.6 does: each a program started directly with its
// argv (no shell) and only OpenVPN's variables as its environment (script-env.ts); exit status 0 is yes. Unlike
// 2.6, which waits for a script as long as it takes with the whole server stopped, a script here runs beside the
// event loop, for at most SCRIPT_TIMEOUT_MS; one that hangs is killed and its client refused. Temporary files
// (the via-file password, the client-connect config, the tls-crypt-v2 metadata) are mode 0600 and always removed.
import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { open, readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClientConfig } from '../config/client-config-dir.js';
import { ConfigError } from '../config/errors.js';
import { SCRIPT_SECURITY_WARNING, type ScriptCommand, type ScriptConfig, type ScriptHook } from '../config/script-options.js';
import type { ServerConfig } from '../config/types.js';
import type { AuthRequest } from '../core/session/session.js';
import { ipToString } from '../core/wire/ipv4.js';
import { maskPrefix } from '../config/ipv4-text.js';
import { log } from '../log.js';
import type { ClientConfigResult } from './authorizer.js';
import type { Conn } from './conn.js';
import {
  addressEnv, certEnv, childEnv, ctimeString, peerInfoEnv, poolEnv, type ScriptEnv, startEnv, subjectLine, tunEnv,
} from './script-env.js';

/** How long any script may run before it is killed and counted as a failure. */
export const SCRIPT_TIMEOUT_MS = 30_000;

export type ScriptResult = { ok: true } | { ok: false; code?: number; why: string };

/**
 * Runs argv with exactly `env`; resolves (never rejects) when it exited, failed to start or timed out. A timed-out
 * script and everything it started in its process group are killed with SIGKILL.
 */
export function runScript(argv: readonly string[], env: ScriptEnv, timeoutMs = SCRIPT_TIMEOUT_MS): Promise<ScriptResult> {
  return new Promise((resolveRun) => {
    let settled = false;
    const done = (r: ScriptResult): void => { if (!settled) { settled = true; clearTimeout(timer); resolveRun(r); } };
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
      done({ ok: false, why: `external program did not exit within ${timeoutMs / 1000} s and was killed` });
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, why: `could not execute external program (${e.code ?? e.message})` }));
    child.on('exit', (code, signal) => {
      if (code === 0) done({ ok: true });
      else if (code !== null) done({ ok: false, code, why: `external program exited with error status: ${code}` });
      else done({ ok: false, why: `external program did not exit normally (${signal})` });
    });
  });
}

/** A new file of `text` in `dir`, mode 0600, created exclusively (2.6's platform_create_temp_file). */
async function tempFile(dir: string, prefix: string, text: string | Buffer): Promise<string> {
  const path = join(dir, `openvpn_${prefix}_${randomBytes(16).toString('hex')}.tmp`);
  const fh = await open(path, 'wx', 0o600);
  try { await fh.writeFile(text); } finally { await fh.close(); }
  return path;
}

async function removeFile(path: string | undefined): Promise<void> {
  if (path === undefined) return;
  try { await unlink(path); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log('warn', 'script: cannot remove a temporary file', { path, error: (e as Error).message });
  }
}

/** What the client-connect script decided: refused, or the settings of its config file (like a ccd file's). */
export type ClientConnectResult = { ok: true; config?: ClientConfigResult } | { ok: false; reason: string };

/** The hooks the authorizer and the server call. */
export interface AuthScripts {
  /** tls-crypt-v2-verify (first key only) and tls-verify for each certificate; the reason when refused. */
  verifyTls(conn: Conn, req: AuthRequest): Promise<string | undefined>;
  /** Whether the auth-user-pass-verify script is configured, and running it: the reason when refused. */
  readonly checksPasswords: boolean;
  verifyPassword(conn: Conn, req: AuthRequest): Promise<{ reason: string; clientMessage?: string } | undefined>;
  /** client-connect, once the client has its address. */
  clientConnect(conn: Conn, cn: string | undefined, ip: number, second: number): Promise<ClientConnectResult>;
  established(conn: Conn): void;
  closed(conn: Conn, established: boolean): void;
}

interface ClientState {
  env: ScriptEnv;
  /** Addresses learn-address was told about ("add"), for the "delete" at the end. */
  learned: string[];
}

export class ScriptHooks implements AuthScripts {
  private readonly s: ScriptConfig;
  private readonly base: ScriptEnv;
  private readonly tmp: string;
  private readonly clients = new WeakMap<Conn, ClientState>();
  private warned = false;
  /** Scripts still running, for settled(). */
  private readonly running = new Set<Promise<ScriptResult>>();
  /** learn-address calls run one at a time, in order, so an address's add and delete are never reordered. */
  private learnQueue: Promise<void> = Promise.resolve();

  constructor(private readonly cfg: ServerConfig, private readonly o: {
    /** The client's addresses leave the router (a learn-address "add" that failed). */
    unroute(conn: Conn): void;
    startedAtSec?: number;
  }) {
    this.s = cfg.scripts!;
    this.tmp = this.s.tmpDir ?? tmpdir();
    this.base = startEnv({
      config: cfg.source, verb: cfg.verb, proto: cfg.protos[0] ?? 'udp', local: cfg.local, port: cfg.port,
      startedAtSec: o.startedAtSec ?? Math.floor(Date.now() / 1000), pid: process.pid, setenv: this.s.setenv,
    });
    const serverIp = (cfg.server.network + 1) >>> 0;
    Object.assign(this.base, tunEnv({
      mtu: cfg.tunMtu, local: serverIp, topology: cfg.topology,
      second: cfg.topology === 'subnet' ? cfg.server.netmask : (serverIp + 1) >>> 0,
    }));
  }

  get checksPasswords(): boolean { return this.s.hooks['auth-user-pass-verify'] !== undefined; }

  /** Runs `hook` with `args` after its own; false (and a warning, as 2.6 words it) when it fails or may not run. */
  private async run(hook: ScriptHook, env: ScriptEnv, args: string[] = []): Promise<ScriptResult> {
    const cmd: ScriptCommand | undefined = this.s.hooks[hook];
    if (!cmd) return { ok: true };
    let r: ScriptResult;
    if (this.s.security < 2) {
      if (!this.warned) { this.warned = true; log('warn', SCRIPT_SECURITY_WARNING); }
      r = { ok: false, why: 'disallowed by script-security setting' };
    } else {
      const p = runScript([...cmd.argv, ...args], childEnv(env, this.s.security));
      this.running.add(p);
      try { r = await p; } finally { this.running.delete(p); }
    }
    if (!r.ok) log('warn', `WARNING: Failed running command (--${hook}): ${r.why}`, { file: cmd.file, line: cmd.line });
    return r;
  }

  private state(conn: Conn): ClientState {
    let st = this.clients.get(conn);
    if (!st) { st = { env: { ...this.base }, learned: [] }; this.clients.set(conn, st); }
    return st;
  }

  async verifyTls(conn: Conn, req: AuthRequest): Promise<string | undefined> {
    const st = this.state(conn);
    const env = st.env;
    Object.assign(env, addressEnv('untrusted', conn.remote), peerInfoEnv(req.peerInfo));
    const chain = (conn.peerChain?.() ?? []).map((der) => new X509Certificate(der));
    chain.forEach((c, depth) => Object.assign(env, certEnv(c, depth)));
    if (req.cn !== undefined) env.common_name = req.cn;
    const md = conn.tlsCryptV2Metadata;
    if (req.first && md && this.s.hooks['tls-crypt-v2-verify']) {
      let file: string | undefined;
      try {
        file = await tempFile(this.tmp, 'tls_crypt_v2_metadata', md.subarray(1));
        const r = await this.run('tls-crypt-v2-verify', { ...env, script_type: 'tls-crypt-v2-verify', metadata_type: String(md[0]), metadata_file: file });
        if (!r.ok) return 'tls-crypt-v2-verify script refused the client key';
      } finally {
        await removeFile(file);
      }
    }
    if (this.s.hooks['tls-verify'] && req.certAuthorized) {
      // As OpenSSL's verify callback calls it: from the top of the chain down to the client's own certificate.
      for (let depth = chain.length - 1; depth >= 0; depth--) {
        const subject = subjectLine(chain[depth]!);
        const r = await this.run('tls-verify', { ...env, script_type: 'tls-verify' }, [String(depth), subject]);
        if (!r.ok) return `tls-verify script refused the certificate at depth ${depth} (${subject})`;
      }
    }
    return undefined;
  }

  async verifyPassword(conn: Conn, req: AuthRequest): Promise<{ reason: string; clientMessage?: string } | undefined> {
    const env = this.state(conn).env;
    env.username = req.username.replace(/[\x00-\x1f\x7f]/g, '_');
    const password = req.password.replace(/[\x00-\x1f\x7f]/g, '_');
    const files: string[] = [];
    const temp = async (prefix: string, text: string): Promise<string> => {
      const f = await tempFile(this.tmp, prefix, text);
      files.push(f);
      return f;
    };
    try {
      // 2.6's files for deferred authentication: only auth_failed_reason_file is read here (deferral is not supported).
      const control = {
        auth_control_file: await temp('acf', ''), auth_pending_file: await temp('apf', ''), auth_failed_reason_file: await temp('afr', ''),
      };
      const run = { ...env, ...control, script_type: 'user-pass-verify' };
      const r = this.s.authVia === 'file'
        ? await this.run('auth-user-pass-verify', run, [await temp('up', `${env.username}\n${password}\n`)])
        : await this.run('auth-user-pass-verify', { ...run, password });
      if (r.ok) return undefined;
      const told = (await readFile(control.auth_failed_reason_file, 'utf8')).split('\n')[0]!.replace(/[\x00-\x1f\x7f]/g, '_').slice(0, 256);
      if (r.code === 2) return { reason: 'auth-user-pass-verify script deferred the decision (exit status 2), which nanovpn does not support' };
      return { reason: `auth-user-pass-verify script refused user ${env.username}`, ...(told ? { clientMessage: told } : {}) };
    } finally {
      for (const f of files) await removeFile(f);
    }
  }

  async clientConnect(conn: Conn, cn: string | undefined, ip: number, second: number): Promise<ClientConnectResult> {
    const env = this.state(conn).env;
    delete env.ifconfig_pool_netmask;
    delete env.ifconfig_pool_local_ip;
    const now = new Date();
    Object.assign(env, addressEnv('trusted', conn.remote), poolEnv(this.cfg.topology, ip, second),
      { time_ascii: ctimeString(now), time_unix: String(Math.floor(now.getTime() / 1000)) });
    if (cn !== undefined) env.common_name = cn;
    if (!this.s.hooks['client-connect']) return { ok: true };
    let configFile: string | undefined, deferredFile: string | undefined;
    try {
      configFile = await tempFile(this.tmp, 'cc', '');
      deferredFile = await tempFile(this.tmp, 'ccr', '');
      const r = await this.run('client-connect', {
        ...env, script_type: 'client-connect', client_connect_config_file: configFile, client_connect_deferred_file: deferredFile,
      }, [configFile]);
      if (!r.ok) return { ok: false, reason: `client-connect script refused the client (${r.why})` };
      const status = (await readFile(deferredFile, 'utf8')).slice(0, 1);
      if (status === '0') return { ok: false, reason: 'client-connect script refused the client (0 in client_connect_deferred_file)' };
      if (status === '2') return { ok: false, reason: 'client-connect script deferred its answer (2 in client_connect_deferred_file), which nanovpn does not support' };
      const text = await readFile(configFile, 'utf8');
      if (text.trim() === '') return { ok: true };
      const c = parseClientConfig(text, `client-connect config of ${cn ?? conn.remote}`);
      return {
        ok: true,
        config: {
          ip: c.ifconfigPush?.ip, second: c.ifconfigPush?.second, iroutes: c.iroutes,
          push: c.push, pushReset: c.pushReset, disable: c.disable,
        },
      };
    } catch (e) {
      if (e instanceof ConfigError) return { ok: false, reason: `client-connect script wrote a bad config file: ${e.message}` };
      return { ok: false, reason: `client-connect: ${(e as Error).message}` };
    } finally {
      await removeFile(configFile);
      await removeFile(deferredFile);
    }
  }

  established(conn: Conn): void {
    const st = this.state(conn);
    st.env.common_name = conn.cn ?? st.env.common_name ?? '';
    if (!this.s.hooks['learn-address']) return;
    const addrs = [ipToString(conn.ip), ...(conn.iroutes ?? []).map((r) => `${ipToString(r.network)}/${maskPrefix(r.netmask)}`)];
    st.learned = addrs;
    for (const a of addrs) {
      this.learn(st.env, ['add', a, conn.cn ?? ''], (ok) => {
        if (ok || conn.session.closed) return;
        log('warn', 'learn-address refused an address: the client stays connected, but nothing is routed to or from it', { cn: conn.cn, address: a });
        this.o.unroute(conn);
      });
    }
  }

  /** client-disconnect, then learn-address delete for each address (2.6 deletes them after the instance is gone). */
  closed(conn: Conn, established: boolean): void {
    const st = this.clients.get(conn);
    if (!st || !established) return;
    this.clients.delete(conn);
    let disconnected: Promise<unknown> = Promise.resolve();
    if (this.s.hooks['client-disconnect']) {
      const s = conn.session.stats;
      disconnected = this.run('client-disconnect', {
        ...st.env, ...addressEnv('trusted', conn.remote), script_type: 'client-disconnect',
        bytes_received: String(s.bytesIn), bytes_sent: String(s.bytesOut),
        time_duration: String(Math.max(0, Math.round((Date.now() - (conn.connectedAt ?? conn.startedAt)) / 1000))),
      });
    }
    for (const a of st.learned) this.learn({}, ['delete', a], undefined, disconnected);
  }

  /** learn-address OP ADDR [CN], after `after`; a "delete" has only the variables 2.6 gives it (none of the client's). */
  private learn(env: ScriptEnv, args: string[], then?: (ok: boolean) => void, after?: Promise<unknown>): void {
    this.learnQueue = this.learnQueue.then(() => after).then(async () => {
      const r = await this.run('learn-address', { ...env, script_type: 'learn-address' }, args);
      then?.(r.ok);
    });
  }

  /** Resolves once no script runs and no learn-address call waits (at shutdown: the last client-disconnect and
   *  learn-address delete calls finish before the down script and the exit). */
  async settled(): Promise<void> {
    for (;;) {
      const queue = this.learnQueue;
      await Promise.all([queue, ...this.running]);
      if (queue === this.learnQueue && this.running.size === 0) return;
    }
  }

  /** The up script, after the tun device opened: 2.6 stops when it fails, and so does startup here. */
  async up(dev: string): Promise<void> {
    Object.assign(this.base, { dev, dev_type: 'tun' });
    const r = await this.run('up', { ...this.base, script_type: 'up' }, this.upDownArgs(dev));
    if (!r.ok) throw new Error(`up script failed: ${r.why}`);
  }

  /** The down script, after the tun device closed. */
  async down(signal: string): Promise<void> {
    const dev = this.base.dev ?? '';
    await this.run('down', { ...this.base, script_type: 'down', signal }, this.upDownArgs(dev));
  }

  /** "DEV TUN_MTU 0 IFCONFIG_LOCAL IFCONFIG_REMOTE_OR_NETMASK init" */
  private upDownArgs(dev: string): string[] {
    const second = this.base.ifconfig_netmask ?? this.base.ifconfig_remote ?? '';
    return [dev, this.base.tun_mtu!, '0', this.base.ifconfig_local!, second, 'init'];
  }
}
