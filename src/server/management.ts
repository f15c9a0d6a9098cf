// `management HOST PORT`: a subset of OpenVPN's management interface (line protocol over TCP, replies end in CRLF).
//
//   socket bytes → lines (bounded) → runCommand(server, line) → reply lines → socket
//
// runCommand is pure over the server snapshot, apart from the kills it performs. Commands: status [1|2|3],
// kill CN | kill IP:PORT, client-kill CID [MSG], load-stats, state, pid, version, help, quit/exit. There is no password,
// so only a loopback address is accepted unless the caller allows others.
import { listen } from '../io/listen.js';
import { addressPort, plainAddress } from '../io/peer-address.js';
import * as net from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { log } from '../log.js';
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
  'client-kill CID [M]    : Kill client instance CID with message M (def=RESTART).',
  'exit|quit              : Close management session.',
  'help                   : Print this message.',
  'kill cn                : Kill the client instance(s) having common name cn.',
  'kill IP:port           : Kill the client instance connecting from IP:port ([IPv6]:port).',
  'load-stats             : Show global server load stats.',
  'pid                    : Show process ID of the current nanovpn process.',
  'state                  : Show socket-level state (UDP/TCP queues, NAT flows, memory) as one JSON line.',
  'status [n]             : Show current daemon status info using format #n (1, 2 or 3).',
  'version                : Show the version of the daemon.',
  'END',
];

export interface CommandResult { lines: string[]; quit?: boolean }

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

/** Runs one command line (without its line ending) and returns the reply lines. */
export function runCommand(server: ObservedServer, line: string, now = { wall: Date.now(), mono: performance.now() }): CommandResult {
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
      const v = args[1] === undefined ? 2 : Number.parseInt(args[1], 10) || 2;
      const snap = snapshot(server, now.wall, now.mono);
      if (v === 1) return { lines: lines(formatStatusV1(snap)) };
      if (v === 2 || v === 3) return { lines: lines(formatStatusV2(snap, v === 3 ? '\t' : ',')) };
      return { lines: ['ERROR: bad status format version number'] };
    }
    case 'state':
      return { lines: [`SUCCESS: ${JSON.stringify(server.ioState?.() ?? {})}`] };
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
    default:
      return { lines: ["ERROR: unknown command, enter 'help' for more options"] };
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
  close(): Promise<void>;
}

/** A TCP address, or (`management PATH unix`) a unix socket path. */
export type ManagementOptions =
  | { host: string; port: number; allowRemote?: boolean; path?: undefined }
  | { path: string; allowRemote?: boolean };

/**
 * Listens for management clients. Resolves undefined (after a warning) when the address is refused or cannot be
 * bound: the VPN keeps running without it.
 */
export async function startManagement(server: ObservedServer, o: ManagementOptions): Promise<Management | undefined> {
  if (o.path === undefined && !isLoopback(o.host) && !o.allowRemote) {
    log('warn', 'management: refusing a non-loopback address (the interface has no password)', { address: o.host, port: o.port });
    return undefined;
  }
  if (o.path === undefined && !isLoopback(o.host)) log('warn', 'management: listening on a non-loopback address without a password', { address: o.host, port: o.port });
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
    send([GREETING]);
    const reader = new LineReader();
    sock.on('data', (chunk: Buffer) => {
      for (const line of reader.push(chunk)) {
        if (sock.destroyed || !sock.writable) return;
        if (line === null) { send(['ERROR: command line too long']); continue; }
        let r: CommandResult;
        try {
          r = runCommand(server, line);
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
      log('info', 'management: client disconnected', { remote });
    });
  });
  const where = o.path === undefined ? { address: o.host, port: o.port } : { path: o.path };
  try {
    if (o.path === undefined) await listen(srv, o.port, o.host);
    else await listenUnix(srv, o.path);
  } catch (e) {
    log('warn', 'management: cannot listen, continuing without it', { ...where, error: (e as Error).message });
    return undefined;
  }
  srv.on('error', (e) => log('error', 'management: listener error', { error: e.message }));
  const port = o.path === undefined ? (srv.address() as net.AddressInfo).port : 0;
  log('info', 'management interface listening', o.path === undefined ? { address: o.host, port } : where);
  return {
    port,
    close: () => new Promise<void>((res) => {
      for (const s of sockets) s.destroy();
      srv.close(() => res());   // node removes the unix socket file it created
    }),
  };
}

/** A unix socket at `path`; a socket file left by an earlier run is replaced, anything else there is an error. */
async function listenUnix(srv: net.Server, path: string): Promise<void> {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await new Promise<void>((res, rej) => {
    srv.once('error', rej);
    srv.listen(path, () => { srv.off('error', rej); res(); });
  });
}
