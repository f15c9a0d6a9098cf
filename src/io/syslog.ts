// The system log, as OpenVPN 2.6 writes it (`syslog [NAME]`, and `daemon [NAME]` without a log file): each line one
// datagram to /dev/log in the local format of glibc's syslog(3) after openlog(NAME, LOG_PID, LOG_DAEMON):
// "<PRI>Mmm dd hh:mm:ss NAME[PID]: MESSAGE", local time, no host name. Node has no unix datagram sockets; the udp
// addon sends the datagram (as for systemd's notify socket).
import { existsSync } from 'node:fs';
import type { Level } from '../log.js';
import { loadUdpAddon } from './udp-port.js';

export const SYSLOG_SOCKET = '/dev/log';
const LOG_DAEMON = 3;
const SEVERITY: Record<Level, number> = { error: 3, warn: 4, notice: 5, info: 6, debug: 7 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** The addon sends at most 1023 bytes; a longer line is cut (syslog daemons cut at 1024 or more anyway). */
const MAX_DATAGRAM = 1000;

const two = (n: number): string => String(n).padStart(2, '0');

/** One syslog(3) datagram for `text` at `level`. */
export function syslogDatagram(level: Level, text: string, ident: string, pid: number, now: Date): string {
  const stamp = `${MONTHS[now.getMonth()]} ${String(now.getDate()).padStart(2, ' ')} ` +
    `${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
  const line = `<${LOG_DAEMON * 8 + SEVERITY[level]}>${stamp} ${ident}[${pid}]: ${text}`;
  return Buffer.byteLength(line) <= MAX_DATAGRAM ? line : Buffer.from(line).subarray(0, MAX_DATAGRAM).toString();
}

/** A log line as log.ts formats it ("[ISO time ]LEVEL text"): its level and text. */
export function parseLogLine(line: string): { level: Level; text: string } {
  const m = /^(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )?(ERROR|WARN|NOTICE|INFO|DEBUG) (.*)$/s.exec(line);
  return m ? { level: m[1]!.toLowerCase() as Level, text: m[2]! } : { level: 'notice', text: line };
}

/**
 * A log sink that writes to the system log under `ident`, or why there is none (no /dev/log, as in a unikernel or
 * a container without it; no addon). A datagram the logger refuses is dropped: logging never stops the server.
 */
export function syslogSink(ident: string, socket = SYSLOG_SOCKET): ((line: string) => void) | { error: string } {
  if (!existsSync(socket)) return { error: `${socket} does not exist (no system logger here)` };
  const a = loadUdpAddon();
  if ('error' in a) return { error: a.error };
  const send = a.mod.notify?.bind(a.mod);
  if (!send) return { error: 'the udp addon predates unix datagrams; rebuild it with ./build.sh addon' };
  return (line) => {
    const { level, text } = parseLogLine(line);
    try { send(socket, syslogDatagram(level, text, ident, process.pid, new Date())); } catch { /* the logger is gone */ }
  };
}
