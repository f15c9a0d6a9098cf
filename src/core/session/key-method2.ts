// Key-method-2 messages exchanged inside TLS (openvpn-protocol.md §4.3), and the NUL-terminated text
// messages that follow them (§7.3).
import { randomBytes } from 'node:crypto';

export interface ClientKm2 {
  preMaster: Buffer;   // 48
  random1: Buffer;     // 32
  random2: Buffer;     // 32
  options: string;
  username: string;
  password: string;
  peerInfo: Map<string, string>;
}

export interface ServerKm2 { random1: Buffer; random2: Buffer; options: string }

const MAX_OPTIONS = 512;
const MAX_USERPASS = 4096;
const MAX_PEER_INFO = 16384;

type Parsed = { msg: ClientKm2; consumed: number } | 'incomplete' | { error: string };

/**
 * Parses a client's key-method-2 message from the front of `buf`. The message is self-delimiting; the
 * username/password/peer-info strings may be missing altogether (older clients end after the options).
 * `final` says no more bytes will come in the same TLS read, so a message ending after options is complete.
 */
export function parseClientKm2(buf: Buffer, final: boolean): Parsed {
  if (buf.length < 5 + 48 + 64 + 2) return 'incomplete';
  if (buf.readUInt32BE(0) !== 0) return { error: 'key-method-2 message does not start with 4 zero bytes' };
  if ((buf[4] & 0x0f) !== 2) return { error: `key method ${buf[4] & 0x0f} not supported (only 2)` };
  let off = 5;
  const preMaster = buf.subarray(off, off + 48); off += 48;
  const random1 = buf.subarray(off, off + 32); off += 32;
  const random2 = buf.subarray(off, off + 32); off += 32;
  const strs: string[] = [];
  const limits = [MAX_OPTIONS, MAX_USERPASS, MAX_USERPASS, MAX_PEER_INFO];
  for (let i = 0; i < 4; i++) {
    if (off === buf.length && i >= 1 && final) break;
    if (off + 2 > buf.length) return 'incomplete';
    const len = buf.readUInt16BE(off);
    if (len > limits[i]) return { error: `key-method-2 string ${i} too long (${len} bytes)` };
    if (off + 2 + len > buf.length) return 'incomplete';
    let s = buf.subarray(off + 2, off + 2 + len);
    if (s.length > 0 && s[s.length - 1] === 0) s = s.subarray(0, s.length - 1);
    strs.push(s.toString('utf8'));
    off += 2 + len;
  }
  const peerInfo = new Map<string, string>();
  for (const line of (strs[3] ?? '').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) peerInfo.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return {
    msg: {
      preMaster: Buffer.from(preMaster), random1: Buffer.from(random1), random2: Buffer.from(random2),
      options: strs[0] ?? '', username: strs[1] ?? '', password: strs[2] ?? '', peerInfo,
    },
    consumed: off,
  };
}

function putString(parts: Buffer[], s: string): void {
  const len = Buffer.allocUnsafe(2);
  if (s === '') { len.writeUInt16BE(0); parts.push(len); return; }
  const body = Buffer.from(s + '\0', 'utf8');
  len.writeUInt16BE(body.length);
  parts.push(len, body);
}

export function newServerKm2(options: string): ServerKm2 {
  return { random1: randomBytes(32), random2: randomBytes(32), options };
}

export function emitServerKm2(m: ServerKm2): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0, 0, 0, 2]), m.random1, m.random2];
  putString(parts, m.options);
  putString(parts, '');
  putString(parts, '');
  putString(parts, '');
  return Buffer.concat(parts);
}

/** Client-side encoder, used by tests and the bench client. */
export function emitClientKm2(m: ClientKm2): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0, 0, 0, 2]), m.preMaster, m.random1, m.random2];
  putString(parts, m.options);
  putString(parts, m.username);
  putString(parts, m.password);
  putString(parts, [...m.peerInfo].map(([k, v]) => `${k}=${v}\n`).join(''));
  return Buffer.concat(parts);
}

/** Splits NUL-terminated control-channel text messages; returns the messages and the unterminated rest. */
export function splitTextMessages(buf: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let start = 0;
  for (let i = buf.indexOf(0, start); i >= 0; i = buf.indexOf(0, start)) {
    const text = buf.subarray(start, i).toString('utf8').replace(/[\r\n]+$/, '');
    if (text.length > 0) messages.push(text);
    start = i + 1;
  }
  return { messages, rest: buf.subarray(start) };
}

export function textMessage(s: string): Buffer { return Buffer.from(s + '\0', 'utf8'); }

// IV_PROTO bits (ssl.h)
export const IV_PROTO = {
  DATA_V2: 2,
  REQUEST_PUSH: 4,
  TLS_KEY_EXPORT: 8,
  AUTH_PENDING_KW: 16,
  NCP_P2P: 32,
  DNS_OPTION: 64,
  CC_EXIT_NOTIFY: 128,
  AUTH_FAIL_TEMP: 256,
  DYN_TLS_CRYPT: 512,
} as const;

export function ivProto(peerInfo: Map<string, string>): number {
  const v = Number.parseInt(peerInfo.get('IV_PROTO') ?? '0', 10);
  return Number.isFinite(v) ? v : 0;
}
