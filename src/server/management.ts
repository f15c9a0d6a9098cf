// `management HOST PORT` / `management PATH unix`: OpenVPN 2.6's management interface for a server (line protocol,
// replies and notifications end in CRLF).
//
//   socket bytes → lines (bounded) → runCommand(server, line, ctx) → reply lines → socket
//   hub (log, state, echo, hold) and ManagementClients (>CLIENT:, client-auth, bytecount) → notifications → socket
//
// runCommand works on the server snapshot and the caller's session; the commands are listed in HELP. There is no
// password, so only a loopback address is accepted unless the caller allows others.
import { listen } from '../io/listen.js';
import { addressPort, plainAddress } from '../io/peer-address.js';
import * as net from 'node:net';
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { log, setVerb } from '../log.js';
import { type ManagedServer, ManagementClients } from './management-clients.js';
import { ManagementHub, type MgmtSession, newSession } from './management-hub.js';
import { clientIdOf, liveConns, type ObservedConn, type ObservedServer, realAddress, snapshot, TITLE } from './observe.js';
import { formatStatusV1, formatStatusV2 } from './status-file.js';

export const GREETING = ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info";
export const MAX_LINE = 1024;
const MAX_CLIENTS = 16;
/** A client that stops reading is dropped once this much output is queued for it. */
const MAX_QUEUED = 1 << 20;

const HELP = [
  `Management Interface for ${TITLE}`,
  'Commands:',
  'bytecount n            : Show bytes in/out of each client (>BYTECOUNT_CLI), update every n secs (0=off).',
  'client-auth CID KID    : Authenticate client-id/key-id CID/KID (MULTILINE: config lines, then END).',
  'client-auth-nt CID KID : Authenticate client-id/key-id CID/KID.',
  'client-deny CID KID R [CR] : Deny auth client-id/key-id CID/KID with log reason text R',
  '                         and optional client reason text CR.',
  'client-pending-auth CID KID MSG timeout : Instruct OpenVPN to send AUTH_PENDING and INFO_PRE msg',
  '                         to the client and wait for a final client-auth/client-deny.',
  'client-kill CID [M]    : Kill client instance CID with message M (def=RESTART).',
  'echo [on|off] [N|all]  : Like log, but only show messages in echo buffer.',
  'env-filter [level]     : Set env-var filter level.',
  'exit|quit              : Close management session.',
  'help                   : Print this message.',
  'hold [on|off|release]  : Set/show hold flag to on/off state, or',
  '                         release current hold and start tunnel.',
  'io-state               : Show socket-level state (UDP/TCP queues, NAT flows, memory) as one JSON line.',
  'kill cn                : Kill the client instance(s) having common name cn.',
  'kill IP:port           : Kill the client instance connecting from IP:port ([IPv6]:port).',
  'load-stats             : Show global server load stats.',
  'log [on|off] [N|all]   : Turn on/off realtime log display',
  '                         + show last N lines or \'all\' for entire history.',
  'mute [n]               : Show the mute level (nanovpn does not mute repeated messages).',
  'pid                    : Show process ID of the current nanovpn process.',
  'signal s               : Send signal s to daemon,',
  '                         s = SIGHUP|SIGTERM|SIGUSR1|SIGUSR2.',
  'state [on|off] [N|all] : Like log, but show state history.',
  'status [n]             : Show current daemon status info using format #n (1, 2 or 3).',
  'verb [n]               : Set log verbosity level to n, or show if n is absent.',
  'version                : Show the version of the daemon.',
  'END',
];

export interface CommandResult { lines: string[]; quit?: boolean }

/** The calling management client and what the commands beyond the request/reply ones act on. */
export interface CommandContext {
  session: MgmtSession;
  hub: ManagementHub;
  clients?: ManagementClients;
  /** The current log verbosity (verb). */
  verb: { value: number };
}

/** OpenVPN-style argument splitting: blanks separate, double quotes group, backslash escapes inside quotes. */
export function splitArgs(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let inQuote = false;
  let have = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (inQuote) {
      if (ch === '\\' && i + 1 < line.length) { cur += line[++i]; continue; }
      if (ch === '"') { inQuote = false; continue; }
      cur += ch;
    } else if (ch === '"') {
      inQuote = true; have = true;
    } else if (ch === ' ' || ch === '\t') {
      if (have) { out.push(cur); cur = ''; have = false; }
    } else {
      cur += ch; have = true;
    }
  }
  if (inQuote) return undefined;
  if (have) out.push(cur);
  return out;
}

function need(cmd: string, args: string[], n: number, atLeast = false): string | undefined {
  const got = args.length - 1;
  if (atLeast ? got >= n : got === n) return undefined;
  return `ERROR: the '${cmd}' command requires ${atLeast ? 'at least ' : ''}${n} parameter${n === 1 ? '' : 's'}`;
}

function lines(text: string): string[] {
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
}

function killed(conns: ObservedConn[], message: string, why: string): void {
  for (const c of conns) {
    log('info', 'management: killing client', { cn: c.cn, remote: c.remote, reason: why });
    c.kill(message);
  }
}

function kill(server: ObservedServer, victim: string): string {
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(victim);
  if (v6) {
    // An IPv6 client as the status shows it: [ADDRESS]:PORT.
    const addr = addressPort(plainAddress(v6[1]!), Number(v6[2]));
    const hits = liveConns(server).filter((c) => realAddress(c) === addr);
    if (hits.length === 0) return `ERROR: client at address ${addr} not found`;
    killed(hits, 'RESTART', `kill ${addr}`);
    return `SUCCESS: ${hits.length} client(s) at address ${addr} killed`;
  }
  const [p1 = '', p2 = ''] = victim.split(':');
  if (p1 && p2) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(p1) || p1.split('.').some((o) => Number(o) > 255)) return `ERROR: error parsing IP address: ${p1}`;
    const port = /^\d+$/.test(p2) ? Number(p2) : 0;
    if (!(port > 0 && port < 65536)) return `ERROR: port number is out of range: ${p2}`;
    const addr = `${p1}:${port}`;
    const hits = liveConns(server).filter((c) => realAddress(c) === addr);
    if (hits.length === 0) return `ERROR: client at address ${addr} not found`;
    killed(hits, 'RESTART', `kill ${addr}`);
    return `SUCCESS: ${hits.length} client(s) at address ${addr} killed`;
  }
  if (p1) {
    const hits = liveConns(server).filter((c) => c.cn === p1);
    if (hits.length === 0) return `ERROR: common name '${p1}' not found`;
    killed(hits, 'RESTART', `kill ${p1}`);
    return `SUCCESS: common name '${p1}' found, ${hits.length} client(s) killed`;
  }
  return 'ERROR: kill parse';
}

const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGUSR1', 'SIGUSR2', 'SIGTERM'];

/**
 * `signal NAME` as 2.6: the process gets the signal as if sent by kill (cli/signal-queue.ts acts on it), after this
 * reply is written, since SIGTERM closes the management interface.
 */
function raise(name: string): string {
  if (!SIGNALS.includes(name)) return `ERROR: signal '${name}' is not a known signal type`;
  setImmediate(() => process.emit(name as NodeJS.Signals));
  return `SUCCESS: signal ${name} thrown`;
}

/** `log`, `state`, `echo`: on, off, N (the last N records) or all, then END. */
function history(ctx: CommandContext, kind: 'log' | 'state' | 'echo', parm: string): string[] {
  const s = ctx.session;
  const flag = kind === 'log' ? 'logOn' : kind === 'state' ? 'stateOn' : 'echoOn';
  if (parm === 'on' || parm === 'off') {
    s[flag] = parm === 'on';
    return [`SUCCESS: real-time ${kind} notification set to ${parm === 'on' ? 'ON' : 'OFF'}`];
  }
  const n = Number.parseInt(parm, 10);
  if (parm === 'all' || n > 0) return [...ctx.hub.history(kind, parm === 'all' ? undefined : n), 'END'];
  return [`ERROR: ${kind} parameter must be 'on' or 'off' or some number n or 'all'`];
}

/** OpenVPN's parse_cid / parse_uint: a leading decimal number. */
function parseId(text: string, what: string): number | string {
  const m = /^\s*(\d+)/.exec(text);
  return m ? Number(m[1]) : `ERROR: cannot parse ${what}`;
}

const NOT_IN_THIS_MODE = (cmd: string): string => `ERROR: The '${cmd}' command is not supported by the current daemon mode`;

/** The commands that need a session (real-time notifications, client authentication); undefined: not one of them. */
function runSessionCommand(cmd: string, args: string[], ctx: CommandContext | undefined): string[] | undefined {
  switch (cmd) {
    case 'log': case 'state': case 'echo': {
      if (!ctx) return [NOT_IN_THIS_MODE(cmd)];
      if (cmd === 'state' && args.length === 1) return history(ctx, 'state', '1');
      const err = need(cmd, args, 1, true);
      if (err) return [err];
      return args.slice(1, 3).flatMap((p) => history(ctx, cmd, p));
    }
    case 'bytecount': {
      const err = need(cmd, args, 1);
      if (err) return [err];
      if (!ctx?.clients) return [NOT_IN_THIS_MODE(cmd)];
      ctx.clients.bytecount(ctx.session, Math.max(0, Number.parseInt(args[1]!, 10) || 0));
      return ['SUCCESS: bytecount interval changed'];
    }
    case 'hold': {
      if (!ctx) return [NOT_IN_THIS_MODE(cmd)];
      const p = args[1];
      if (p === undefined) return [`SUCCESS: hold=${ctx.hub.hold ? 1 : 0}`];
      if (p === 'on' || p === 'off') { ctx.hub.hold = p === 'on'; return [`SUCCESS: hold flag set to ${p === 'on' ? 'ON' : 'OFF'}`]; }
      if (p === 'release') { ctx.hub.release(); return ['SUCCESS: hold release succeeded']; }
      return ['ERROR: bad hold command parameter'];
    }
    case 'verb': {
      if (!ctx) return [NOT_IN_THIS_MODE(cmd)];
      if (args[1] === undefined) return [`SUCCESS: verb=${ctx.verb.value}`];
      const v = Number.parseInt(args[1], 10) || 0;
      if (v < 0 || v > 15) return ['ERROR: verb level is out of range'];
      ctx.verb.value = v;
      setVerb(v);
      return ['SUCCESS: verb level changed'];
    }
    case 'mute':
      if (args[1] === undefined) return ['SUCCESS: mute=0'];
      return ['ERROR: nanovpn does not mute repeated messages (mute stays 0)'];
    case 'env-filter': {
      if (!ctx) return [NOT_IN_THIS_MODE(cmd)];
      // As 2.6: atoi of the argument, 0 without one.
      ctx.session.envFilter = args[1] === undefined ? 0 : Number.parseInt(args[1], 10) || 0;
      return [`SUCCESS: env_filter_level=${ctx.session.envFilter}`];
    }
    case 'username': case 'password': {
      const err = need(cmd, args, 2);
      if (err) return [err];
      // A server asks for no credentials: its key is a plain PEM file (an encrypted key is refused at startup).
      return [`ERROR: no ${cmd} is currently needed at this time`];
    }
    case 'client-auth': case 'client-auth-nt': case 'client-deny': case 'client-pending-auth': {
      const err = cmd === 'client-deny' ? need(cmd, args, 3, true) : need(cmd, args, cmd === 'client-pending-auth' ? 4 : 2);
      if (err) return [err];
      const cid = parseId(args[1]!, 'CID');
      if (typeof cid === 'string') return [cid];
      const kid = parseId(args[2]!, 'KID');
      if (typeof kid === 'string') return [kid];
      if (!ctx?.clients?.clientAuth) {
        // OpenVPN 2.6 accepts the command text of client-auth and only then finds nothing to authorize.
        if (cmd === 'client-auth' && ctx) { ctx.session.extra = { cid, kid, lines: [] }; return []; }
        return [`ERROR: ${cmd} command failed${cmd === 'client-pending-auth' ? '. Extra parameter might be too long' : ''}`];
      }
      if (cmd === 'client-auth') { ctx.session.extra = { cid, kid, lines: [] }; return []; }
      if (cmd === 'client-auth-nt') {
        return [ctx.clients.authorize(cid, kid, undefined).ok ? 'SUCCESS: client-auth command succeeded' : 'ERROR: client-auth command failed'];
      }
      if (cmd === 'client-deny') {
        return [ctx.clients.deny(cid, kid, args[3]!, args[4]) ? 'SUCCESS: client-deny command succeeded' : 'ERROR: client-deny command failed'];
      }
      const timeout = parseId(args[4]!, 'TIMEOUT');
      if (typeof timeout === 'string') return [timeout];
      return [ctx.clients.pendingAuth(cid, kid, args[3]!, timeout)
        ? 'SUCCESS: client-pending-auth command succeeded'
        : 'ERROR: client-pending-auth command failed. Extra parameter might be too long'];
    }
    default:
      return undefined;
  }
}

/** A line while `client-auth` collects its config lines: END ends the block and decides. */
function extraLine(ctx: CommandContext, line: string): string[] {
  const x = ctx.session.extra!;
  if (line.trim() !== 'END') {
    x.lines.push(line);
    return [];
  }
  ctx.session.extra = undefined;
  const r = ctx.clients?.clientAuth ? ctx.clients.authorize(x.cid, x.kid, x.lines) : { ok: false };
  if (r.ok) return ['SUCCESS: client-auth command succeeded'];
  return [`ERROR: client-auth command failed${'error' in r && r.error ? ` (${r.error})` : ''}`];
}

/** Runs one command line (without its line ending) and returns the reply lines. */
export function runCommand(
  server: ObservedServer, line: string, now = { wall: Date.now(), mono: performance.now() }, ctx?: CommandContext,
): CommandResult {
  if (ctx?.session.extra) return { lines: extraLine(ctx, line) };
  const args = splitArgs(line);
  if (args === undefined) return { lines: ['ERROR: unterminated quote'] };
  if (args.length === 0) return { lines: [] };
  const cmd = args[0]!;
  switch (cmd) {
    case 'help':
      return { lines: HELP };
    case 'quit':
    case 'exit':
      return { lines: [], quit: true };
    case 'version':
      return { lines: [`OpenVPN Version: ${TITLE}`, 'Management Version: 5', 'END'] };
    case 'pid':
      return { lines: [`SUCCESS: pid=${process.pid}`] };
    case 'status': {
      // As 2.6: atoi of the argument, and 0 (none, or not a number) is the status-version setting.
      const v = (args[1] === undefined ? 0 : Number.parseInt(args[1], 10) || 0) || (server.cfg?.statusVersion ?? 1);
      const snap = snapshot(server, now.wall, now.mono);
      if (v === 1) return { lines: lines(formatStatusV1(snap)) };
      if (v === 2 || v === 3) return { lines: lines(formatStatusV2(snap, v === 3 ? '\t' : ',')) };
      return { lines: ['ERROR: bad status format version number'] };
    }
    case 'io-state':
      return { lines: [`SUCCESS: ${JSON.stringify(server.ioState?.() ?? {})}`] };
    case 'signal': {
      const err = need(cmd, args, 1);
      return { lines: [err ?? raise(args[1]!)] };
    }
    case 'load-stats': {
      const live = liveConns(server);
      let bytesIn = 0;
      let bytesOut = 0;
      for (const c of live) { bytesIn += c.session.stats.bytesIn; bytesOut += c.session.stats.bytesOut; }
      return { lines: [`SUCCESS: nclients=${live.length},bytesin=${bytesIn},bytesout=${bytesOut}`] };
    }
    case 'kill': {
      const err = need(cmd, args, 1);
      return { lines: [err ?? kill(server, args[1]!)] };
    }
    case 'client-kill': {
      const err = need(cmd, args, 1, true);
      if (err) return { lines: [err] };
      const cid = /^\d+$/.test(args[1]!) ? Number(args[1]) : -1;
      const hit = liveConns(server).find((c) => clientIdOf(c) === cid);
      if (!hit) return { lines: ['ERROR: client-kill command failed'] };
      killed([hit], args[2] ?? 'RESTART', `client-kill ${cid}`);
      return { lines: ['SUCCESS: client-kill command succeeded'] };
    }
    default: {
      const r = runSessionCommand(cmd, args, ctx);
      return { lines: r ?? ["ERROR: unknown command, enter 'help' for more options"] };
    }
  }
}

/** Splits a byte stream into lines no longer than MAX_LINE; an overlong line is reported once and discarded. */
export class LineReader {
  private buf = '';
  private overlong = false;

  /** Returns complete lines (CR stripped, UTF-8 decoded); `null` marks a line that was too long (in bytes). */
  push(chunk: Buffer): Array<string | null> {
    const out: Array<string | null> = [];
    let text = chunk.toString('latin1');
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      const piece = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.overlong || this.buf.length + piece.length > MAX_LINE) out.push(null);
      else out.push(Buffer.from((this.buf + piece).replace(/\r$/, ''), 'latin1').toString('utf8'));
      this.buf = '';
      this.overlong = false;
    }
    if (this.overlong) return out;
    if (this.buf.length + text.length > MAX_LINE) { this.buf = ''; this.overlong = true; }
    else this.buf += text;
    return out;
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface Management {
  readonly port: number;
  readonly hub: ManagementHub;
  /** The notifications about VPN clients and management-client-auth (absent for a server without client events). */
  readonly clients?: ManagementClients;
  /** Records a server state (>STATE:). */
  setState(name: string, detail?: string, tunIp?: string): void;
  close(): Promise<void>;
}

interface Features {
  allowRemote?: boolean;
  /** management-client-auth */
  clientAuth?: boolean;
  /** management-hold: the caller waits for hub.waitForRelease() before it starts the VPN. */
  hold?: boolean;
  /** management-log-cache (OpenVPN's default 250). */
  logCache?: number;
  /** The log verbosity now, for `verb`. */
  verb?: number;
  /** The config's echo/parameter texts, for `echo all` and >ECHO: (OpenVPN logs only those starting with "msg"). */
  echo?: string[];
  /** management-client-user / -group for a unix socket: who may connect (by the socket file's owner and mode). */
  socketOwner?: { uid?: number; gid?: number };
}

/** A TCP address, or (`management PATH unix`) a unix socket path. */
export type ManagementOptions =
  | ({ host: string; port: number; path?: undefined } & Features)
  | ({ path: string } & Features);

/**
 * Listens for management clients. Resolves undefined (after a warning) when the address is refused or cannot be
 * bound: the VPN keeps running without it.
 */
export async function startManagement(server: ObservedServer | ManagedServer, o: ManagementOptions): Promise<Management | undefined> {
  if (o.path === undefined && !isLoopback(o.host) && !o.allowRemote) {
    log('warn', 'management: refusing a non-loopback address (the interface has no password)', { address: o.host, port: o.port });
    return undefined;
  }
  if (o.path === undefined && !isLoopback(o.host)) log('warn', 'management: listening on a non-loopback address without a password', { address: o.host, port: o.port });
  const hub = new ManagementHub({ logCache: o.logCache ?? 250, hold: o.hold ?? false });
  const clients = 'clientEvents' in server ? new ManagementClients(server, hub, o.clientAuth ?? false) : undefined;
  const verb = { value: o.verb ?? 1 };
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    const remote = o.path === undefined ? `${sock.remoteAddress}:${sock.remotePort}` : 'unix';
    sock.on('error', () => {});
    if (sockets.size >= MAX_CLIENTS) {
      log('warn', 'management: too many clients, connection refused', { remote });
      sock.end('ERROR: too many management clients\r\n');
      return;
    }
    sockets.add(sock);
    log('info', 'management: client connected', { remote });
    const send = (ls: string[]): void => {
      if (ls.length === 0 || sock.destroyed) return;
      sock.write(ls.join('\r\n') + '\r\n');
      if (sock.writableLength > MAX_QUEUED) { log('warn', 'management: client is not reading, dropped', { remote }); sock.destroy(); }
    };
    const session = newSession(send);
    const ctx: CommandContext = { session, hub, clients, verb };
    send([GREETING]);
    if (hub.holdMessage) send([hub.holdMessage]);
    hub.sessions.add(session);
    const reader = new LineReader();
    sock.on('data', (chunk: Buffer) => {
      for (const line of reader.push(chunk)) {
        if (sock.destroyed || !sock.writable) return;
        if (line === null) { send(['ERROR: command line too long']); continue; }
        let r: CommandResult;
        try {
          r = runCommand(server, line, undefined, ctx);
        } catch (e) {
          log('error', 'management: command failed', { remote, error: (e as Error).message });
          r = { lines: ['ERROR: internal error'] };
        }
        send(r.lines);
        if (r.quit) { sock.end(); return; }
      }
    });
    sock.on('close', () => {
      sockets.delete(sock);
      hub.sessions.delete(session);
      clients?.detach(session);
      log('info', 'management: client disconnected', { remote });
    });
  });
  const where = o.path === undefined ? { address: o.host, port: o.port } : { path: o.path };
  try {
    if (o.path === undefined) await listen(srv, o.port, o.host);
    else await listenUnix(srv, o.path, o.socketOwner);
  } catch (e) {
    hub.close();
    clients?.close();
    log('warn', 'management: cannot listen, continuing without it', { ...where, error: (e as Error).message });
    return undefined;
  }
  srv.on('error', (e) => log('error', 'management: listener error', { error: e.message }));
  const port = o.path === undefined ? (srv.address() as net.AddressInfo).port : 0;
  log('info', 'management interface listening', o.path === undefined ? { address: o.host, port } : where);
  // A server has no remote, and OpenVPN 2.6 leaves its local address out too.
  const setState = (name: string, detail?: string, tunIp?: string): void =>
    hub.state({ time: Math.floor(Date.now() / 1000), name, detail, tunIp });
  setState('CONNECTING');
  for (const text of o.echo ?? []) {
    hub.echo(text, Math.floor(Date.now() / 1000));
    if (text.startsWith('msg')) log('info', `ECHO:${text}`);
  }
  return {
    port, hub, clients, setState,
    close: () => new Promise<void>((res) => {
      clients?.close();
      hub.close();
      for (const s of sockets) s.destroy();
      srv.close(() => res());   // node removes the unix socket file it created
    }),
  };
}

/** A unix socket at `path`; a socket file left by an earlier run is replaced, anything else there is an error. */
async function listenUnix(srv: net.Server, path: string, owner?: { uid?: number; gid?: number }): Promise<void> {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await new Promise<void>((res, rej) => {
    srv.once('error', rej);
    srv.listen(path, () => { srv.off('error', rej); res(); });
  });
  if (owner && (owner.uid !== undefined || owner.gid !== undefined)) restrictSocket(path, owner);
}

/**
 * management-client-user / -group. OpenVPN 2.6 reads the connecting process's uid and gid (SO_PEERCRED); Node
 * cannot, so the socket file itself decides: owned by that user and/or group, mode 0600 (user only) or 0660 (with a
 * group), so only they (and root) may connect. With both, this admits the user OR the group's members, where
 * OpenVPN requires both.
 */
function restrictSocket(path: string, o: { uid?: number; gid?: number }): void {
  try {
    chownSync(path, o.uid ?? process.getuid?.() ?? -1, o.gid ?? -1);
    chmodSync(path, o.gid !== undefined ? 0o660 : 0o600);
  } catch (e) {
    unlinkSync(path);
    throw new Error(`cannot restrict the socket to management-client-user/-group: ${(e as Error).message}`, { cause: e });
  }
  log('warn', 'management: management-client-user/-group are enforced by the socket file\'s owner and mode, not by ' +
    'checking the connecting process (Node cannot read SO_PEERCRED); root can always connect' +
    (o.uid !== undefined && o.gid !== undefined ? ', and the user OR members of the group may (OpenVPN requires both)' : ''),
  { path, uid: o.uid, gid: o.gid, mode: o.gid !== undefined ? '0660' : '0600' });
}
