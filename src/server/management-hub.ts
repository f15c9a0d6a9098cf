// What every management client shares: the real-time notifications each one asked for (log, state, echo,
// bytecount), the log/state/echo histories the `log all`/`state all`/`echo all` commands print, and the hold flag.
//
//   log.ts records, server states, echo ──▶ history (bounded) ──▶ >LOG: / >STATE: / >ECHO: to the clients that
//   switched them on; >CLIENT:, >BYTECOUNT_CLI:, >HOLD: to every client.
//
// Sending never blocks: each client's send() drops the client once too much output is queued for it.
import { type LogEvent, onLog } from '../log.js';
import { filterNotification, logLine, type LogRecord, stateLine, type StateRecord } from './management-env.js';

/** One connected management client's settings. */
export interface MgmtSession {
  logOn: boolean;
  stateOn: boolean;
  echoOn: boolean;
  /** `bytecount N`: seconds between >BYTECOUNT_CLI reports, 0 = off. */
  bytecountSec: number;
  /** `env-filter N`: 0 writes every ENV variable (management-env.ts, envFilterKeeps). */
  envFilter: number;
  /** `client-auth CID KID` waiting for its config lines, up to END. */
  extra?: { cid: number; kid: number; lines: string[] };
  send(lines: string[]): void;
}

export function newSession(send: (lines: string[]) => void): MgmtSession {
  return { logOn: false, stateOn: false, echoOn: false, bytecountSec: 0, envFilter: 0, send };
}

const STATE_HISTORY = 100;
const ECHO_HISTORY = 100;

const LOG_FLAGS: Record<LogEvent['level'], string> = { error: 'N', warn: 'W', notice: 'I', info: 'I', debug: 'D' };

/** Management output is one line per record: no CR, LF or other control characters inside. */
export const oneLine = (s: string): string => s.replace(/[\x00-\x1f\x7f]/g, ' ');

export class ManagementHub {
  readonly sessions = new Set<MgmtSession>();
  private readonly logs: LogRecord[] = [];
  private readonly states: StateRecord[] = [];
  private readonly echoes: { time: number; text: string }[] = [];
  private holdFlag: boolean;
  private holdWaiters: (() => void)[] = [];
  /** The >HOLD: line while the server waits for `hold release` (also sent to clients that connect meanwhile). */
  holdMessage?: string;
  private readonly stopLog: () => void;

  constructor(private readonly opts: { logCache: number; hold: boolean }) {
    this.holdFlag = opts.hold;
    this.stopLog = onLog((e) => this.log({ time: Math.floor(e.time / 1000), flags: LOG_FLAGS[e.level], text: oneLine(e.text) }));
  }

  close(): void {
    this.stopLog();
    this.release();
  }

  broadcast(lines: string[], to: (s: MgmtSession) => boolean = () => true): void {
    for (const s of this.sessions) if (to(s)) s.send(lines);
  }

  /** A >CLIENT: notification, its ENV block filtered by each client's `env-filter` level. */
  broadcastClient(lines: string[]): void {
    for (const s of this.sessions) s.send(filterNotification(lines, s.envFilter));
  }

  log(r: LogRecord): void {
    if (this.opts.logCache > 0) {
      this.logs.push(r);
      if (this.logs.length > this.opts.logCache) this.logs.shift();
    }
    this.broadcast([`>LOG:${logLine(r)}`], (s) => s.logOn);
  }

  state(r: StateRecord): void {
    this.states.push(r);
    if (this.states.length > STATE_HISTORY) this.states.shift();
    this.broadcast([`>STATE:${stateLine(r)}`], (s) => s.stateOn);
  }

  echo(text: string, time: number): void {
    const r = { time, text: oneLine(text) };
    this.echoes.push(r);
    if (this.echoes.length > ECHO_HISTORY) this.echoes.shift();
    this.broadcast([`>ECHO:${r.time},${r.text}`], (s) => s.echoOn);
  }

  currentState(): StateRecord | undefined { return this.states[this.states.length - 1]; }

  /** The last `n` records (all for undefined), oldest first, as the log/state/echo commands print them. */
  history(kind: 'log' | 'state' | 'echo', n?: number): string[] {
    const pick = <T>(a: T[]): T[] => (n === undefined ? a : a.slice(Math.max(0, a.length - n)));
    if (kind === 'log') return pick(this.logs).map(logLine);
    if (kind === 'state') return pick(this.states).map(stateLine);
    return pick(this.echoes).map((e) => `${e.time},${e.text}`);
  }

  get hold(): boolean { return this.holdFlag; }
  set hold(on: boolean) { this.holdFlag = on; }

  /** Resolves at once when the hold flag is off; otherwise after `hold release` (OpenVPN's >HOLD at startup). */
  waitForRelease(): Promise<void> {
    if (!this.holdFlag) return Promise.resolve();
    this.holdMessage = '>HOLD:Waiting for hold release:0';
    this.broadcast([this.holdMessage]);
    return new Promise((res) => this.holdWaiters.push(res));
  }

  /** `hold release`: true (OpenVPN answers SUCCESS whether or not it was holding). */
  release(): boolean {
    this.holdMessage = undefined;
    const w = this.holdWaiters;
    this.holdWaiters = [];
    for (const fn of w) fn();
    return true;
  }
}
