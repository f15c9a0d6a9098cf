// Control-packet wrapping (section 2.2 tls-auth, 2.3 tls-crypt) around the plain layout of section 2.1:
//   plain = op(1) || own_sid(8) || rest (n_acks, acks, [peer sid], [msg pid], payload)
// tls-auth:  op || sid || HMAC(h) || pid || time || rest     HMAC over pid || time || op || sid || rest
// tls-crypt: op || sid || pid || time || tag(32) || CTR(rest) tag = HMAC-SHA256 over op || sid || pid || time || rest
// Every wrapped packet carries a fresh replay id (pid from 1, time = sender epoch); receivers keep a (time, pid)
// replay window. A ControlWrap belongs to one session: it owns the send counter and the receive window.
// `peek` is the stateless half of `unwrap` (verify and decrypt, no replay window), so one shared wrap can vet
// unauthenticated first packets: a forged packet then costs one HMAC and leaves nothing behind.
import { createHash, getHashes, timingSafeEqual } from 'node:crypto';
import { symmetricEngine, type SymmetricEngine } from '../crypto/symmetric.js';
import { ReplayWindow } from './replay-window.js';

export interface ControlWrap {
  /** Bytes added on the wire. */
  readonly overhead: number;
  /** Adds the replay id and the HMAC/encryption. */
  wrap(plain: Buffer, nowMs: number): Buffer;
  /** Verifies (constant time) and checks (time, pid) for replay; undefined on any failure. Never throws. */
  unwrap(wire: Buffer, nowMs: number): Buffer | undefined;
  /** Verifies (constant time) and decrypts like unwrap, but neither checks nor records the replay id: for
   *  vetting unauthenticated first packets with one shared wrap. Changes no state; undefined on any failure. */
  peek(wire: Buffer): Buffer | undefined;
}

export interface WrapOptions {
  /** Epoch sent as replay_time (Unix seconds). Default: floor(nowMs / 1000) at the first wrap(); the io layer
   *  should pass real Unix time here, as OpenVPN does. */
  replayTime?: number;
  /** First replay pid to send (default 1). */
  initialPid?: number;
  replayWindow?: number;
  replaySeconds?: number;
  /** The HMAC and cipher engine (default: symmetricEngine() at creation). */
  engine?: SymmetricEngine;
}

const EMPTY = Buffer.alloc(0);

const SID_END = 9;            // op(1) + own session id(8)
const REPLAY_ID_LEN = 8;      // pid(4) + time(4)
/** The smallest plain control packet: op, sid, n_acks. */
const MIN_PLAIN = SID_END + 1;
const PID_MAX = 0xffffffff;
const CRYPT_TAG_LEN = 32;

export const TLS_CRYPT_OVERHEAD = REPLAY_ID_LEN + CRYPT_TAG_LEN;

/** Send side of the (time, pid) replay id. */
class ReplayIdSender {
  private time: number | undefined;
  private next: number;

  constructor(opts: WrapOptions) {
    this.time = opts.replayTime;
    this.next = opts.initialPid ?? 1;
    if (!Number.isInteger(this.next) || this.next < 1 || this.next > PID_MAX) throw new RangeError(`initial replay pid ${this.next}`);
    if (this.time !== undefined && !(Number.isInteger(this.time) && this.time >= 0 && this.time <= PID_MAX)) {
      throw new RangeError(`replay time ${this.time}`);
    }
  }

  /** Writes pid || time at out[off..off+8). */
  writeNext(out: Buffer, off: number, nowMs: number): void {
    if (this.time === undefined) this.time = Math.floor(nowMs / 1000) >>> 0;
    if (this.next > PID_MAX) {
      // Long-form ids may roll over by moving the epoch forward (packet_id_send_update).
      this.time = (this.time + 1) >>> 0;
      this.next = 1;
    }
    out.writeUInt32BE(this.next++, off);
    out.writeUInt32BE(this.time, off + 4);
  }
}

function checkPlain(plain: Buffer): void {
  if (plain.length < MIN_PLAIN) throw new RangeError(`control packet of ${plain.length} bytes`);
}

export function plainWrap(): ControlWrap {
  return {
    overhead: 0,
    wrap(plain) { checkPlain(plain); return plain; },
    unwrap(wire) { return wire.length >= MIN_PLAIN ? wire : undefined; },
    peek(wire) { return wire.length >= MIN_PLAIN ? wire : undefined; },
  };
}

const digestCache = new Map<string, { alg: string; len: number }>();

/** OpenVPN digest name ('SHA1', 'SHA256', 'SHA512-256', …) to a node:crypto hash and its output size. */
export function hmacDigest(name: string): { alg: string; len: number } {
  const cached = digestCache.get(name);
  if (cached) return { ...cached };
  const hashes = getHashes();
  const lower = name.toLowerCase();
  for (const alg of [lower, lower.replace(/-/g, '')]) {
    if (hashes.includes(alg)) {
      try {
        const found = { alg, len: createHash(alg).digest().length };
        digestCache.set(name, found);
        return { ...found };
      } catch { /* XOF or unusable in this build */ }
    }
  }
  throw new Error(`unsupported tls-auth digest ${name}`);
}

/** src[start..end) to the start of `to`, with no view of src. */
function copyRange(src: Uint8Array, start: number, end: number, to: Uint8Array): void {
  for (let i = start; i < end; i++) to[i - start] = src[i]!;
}

/** Control packets up to this size are vetted in scratch buffers first: a forged one allocates nothing. */
const SCRATCH_LEN = 2048;

function checkStaticKey(key: Buffer): void {
  if (key.length !== 256) throw new RangeError(`static key is ${key.length} bytes, need 256`);
}

/**
 * tls-auth. Slots of the 256-byte key (2.5): key-direction 0 sends with [64..64+h) and verifies with
 * [192..192+h); direction 1 the reverse; no direction = [64..64+h) both ways. `role` does not select slots
 * (OpenVPN ties them to key-direction only).
 */
export function tlsAuthWrap(
  key: Buffer, direction: 0 | 1 | undefined, digest: string, role: 'server' | 'client', opts: WrapOptions = {},
): ControlWrap {
  void role;
  checkStaticKey(key);
  const { alg, len: h } = hmacDigest(digest);
  if (h > 64) throw new RangeError(`digest ${digest} is longer than a key slot`);
  const engine = opts.engine ?? symmetricEngine();
  const slot1 = key.subarray(64, 64 + h);
  const slot3 = key.subarray(192, 192 + h);
  const sendMac = engine.mac(alg, direction === 1 ? slot3 : slot1);
  const recvMac = engine.mac(alg, direction === 0 ? slot3 : slot1);
  const sender = new ReplayIdSender(opts);
  const window = new ReplayWindow(opts.replayWindow, opts.replaySeconds);
  const idOff = SID_END + h;
  const restOff = idOff + REPLAY_ID_LEN;
  const expected = Buffer.alloc(h);
  const open = (wire: Buffer): Buffer | undefined => {
    if (wire.length < restOff + 1) return undefined;
    recvMac.digest(wire.subarray(idOff, restOff), wire.subarray(0, SID_END), wire.subarray(restOff), expected, 0);
    if (!timingSafeEqual(expected, wire.subarray(SID_END, idOff))) return undefined;
    const plain = Buffer.allocUnsafe(wire.length - h - REPLAY_ID_LEN);
    wire.copy(plain, 0, 0, SID_END);
    wire.copy(plain, SID_END, restOff);
    return plain;
  };
  // peek copies the packet's parts into buffers of its own, as tls-crypt's does: a forged packet allocates nothing.
  const peekId = Buffer.alloc(REPLAY_ID_LEN), peekHead = Buffer.alloc(SID_END), peekTag = Buffer.alloc(h);
  const peekRest = Buffer.alloc(SCRATCH_LEN);
  const restViews: Buffer[] = [];
  const peek = (wire: Buffer): Buffer | undefined => {
    const restLen = wire.length - restOff;
    if (restLen < 1 || restLen > SCRATCH_LEN) return open(wire);
    copyRange(wire, idOff, restOff, peekId);
    copyRange(wire, 0, SID_END, peekHead);
    copyRange(wire, SID_END, idOff, peekTag);
    copyRange(wire, restOff, wire.length, peekRest);
    const rest = restViews[restLen] ??= peekRest.subarray(0, restLen);
    recvMac.digest(peekId, peekHead, rest, expected, 0);
    if (!timingSafeEqual(expected, peekTag)) return undefined;
    const plain = Buffer.allocUnsafe(SID_END + restLen);
    peekHead.copy(plain, 0);
    rest.copy(plain, SID_END);
    return plain;
  };

  return {
    overhead: h + REPLAY_ID_LEN,
    wrap(plain, nowMs) {
      checkPlain(plain);
      const out = Buffer.allocUnsafe(plain.length + h + REPLAY_ID_LEN);
      plain.copy(out, 0, 0, SID_END);
      sender.writeNext(out, idOff, nowMs);
      plain.copy(out, restOff, SID_END);
      sendMac.digest(out.subarray(idOff, restOff), plain, EMPTY, out, SID_END);
      return out;
    },
    unwrap(wire, nowMs) {
      if (wire.length < restOff + 1) return undefined;
      const pid = wire.readUInt32BE(idOff);
      const time = wire.readUInt32BE(idOff + 4);
      if (!window.check(pid, nowMs, time)) return undefined;
      const plain = open(wire);
      if (plain) window.mark(pid, nowMs, time);
      return plain;
    },
    peek,
  };
}

interface CryptKeys { txKe: Buffer; txKa: Buffer; rxKe: Buffer; rxKa: Buffer }

/** tls-crypt key slots (2.3): the server sends with [0..32)/[64..96) and receives with [128..160)/[192..224). */
function tlsCryptKeys(key: Buffer, role: 'server' | 'client'): CryptKeys {
  checkStaticKey(key);
  const a = { ke: key.subarray(0, 32), ka: key.subarray(64, 96) };
  const b = { ke: key.subarray(128, 160), ka: key.subarray(192, 224) };
  const [tx, rx] = role === 'server' ? [a, b] : [b, a];
  return { txKe: tx.ke, txKa: tx.ka, rxKe: rx.ke, rxKa: rx.ka };
}

/** tls-crypt with a 256-byte key (also the per-client key Kc of tls-crypt-v2). AES-256-CTR + HMAC-SHA256. */
export function tlsCryptWrap(key: Buffer, role: 'server' | 'client', opts: WrapOptions = {}): ControlWrap {
  const { txKe, txKa, rxKe, rxKa } = tlsCryptKeys(key, role);
  const engine = opts.engine ?? symmetricEngine();
  // CTR mode: encrypting and decrypting are the same operation.
  const txCtr = engine.cipher('aes-256-ctr', txKe, true);
  const rxCtr = engine.cipher('aes-256-ctr', rxKe, false);
  const txMac = engine.mac('sha256', txKa);
  const rxMac = engine.mac('sha256', rxKa);
  const sender = new ReplayIdSender(opts);
  const window = new ReplayWindow(opts.replayWindow, opts.replaySeconds);
  const tagOff = SID_END + REPLAY_ID_LEN;
  const bodyOff = tagOff + CRYPT_TAG_LEN;
  const expected = Buffer.alloc(CRYPT_TAG_LEN);
  const scratch = Buffer.alloc(SCRATCH_LEN);
  const open = (wire: Buffer): Buffer | undefined => {
    if (wire.length < bodyOff + 1) return undefined;
    const tag = wire.subarray(tagOff, bodyOff);
    const bodyLen = wire.length - bodyOff;
    const into = bodyLen <= SCRATCH_LEN ? scratch : Buffer.allocUnsafe(bodyLen);
    if (rxCtr.run(tag.subarray(0, 16), wire.subarray(bodyOff), into, 0) !== bodyLen) return undefined;
    const body = into.subarray(0, bodyLen);
    rxMac.digest(wire.subarray(0, tagOff), body, EMPTY, expected, 0);
    if (!timingSafeEqual(expected, tag)) return undefined;
    const plain = Buffer.allocUnsafe(SID_END + bodyLen);
    wire.copy(plain, 0, 0, SID_END);
    body.copy(plain, SID_END);
    return plain;
  };
  // peek vets every unauthenticated packet, a flood's too: it copies the packet's parts into buffers of its own and
  // takes a view of each body length once, so a packet that fails allocates nothing at all (not even views, which
  // at 80k packets/s are what makes V8 grow its young generation; Buffer#copy of part of a buffer makes one).
  const head = Buffer.alloc(tagOff);
  const peekTag = Buffer.alloc(CRYPT_TAG_LEN);
  const peekIv = peekTag.subarray(0, 16);
  const peekIn = Buffer.alloc(SCRATCH_LEN), peekOut = Buffer.alloc(SCRATCH_LEN);
  const inViews: Buffer[] = [], outViews: Buffer[] = [];
  const peek = (wire: Buffer): Buffer | undefined => {
    const bodyLen = wire.length - bodyOff;
    if (bodyLen < 1 || bodyLen > SCRATCH_LEN) return open(wire);
    copyRange(wire, 0, tagOff, head);
    copyRange(wire, tagOff, bodyOff, peekTag);
    copyRange(wire, bodyOff, wire.length, peekIn);
    const src = inViews[bodyLen] ??= peekIn.subarray(0, bodyLen);
    const body = outViews[bodyLen] ??= peekOut.subarray(0, bodyLen);
    if (rxCtr.run(peekIv, src, body, 0) !== bodyLen) return undefined;
    rxMac.digest(head, body, EMPTY, expected, 0);
    if (!timingSafeEqual(expected, peekTag)) return undefined;
    const plain = Buffer.allocUnsafe(SID_END + bodyLen);
    head.copy(plain, 0, 0, SID_END);
    body.copy(plain, SID_END);
    return plain;
  };

  return {
    overhead: TLS_CRYPT_OVERHEAD,
    wrap(plain, nowMs) {
      checkPlain(plain);
      const out = Buffer.allocUnsafe(plain.length + TLS_CRYPT_OVERHEAD);
      plain.copy(out, 0, 0, SID_END);
      sender.writeNext(out, SID_END, nowMs);
      const rest = plain.subarray(SID_END);
      txMac.digest(out.subarray(0, tagOff), rest, EMPTY, out, tagOff);
      txCtr.run(out.subarray(tagOff, tagOff + 16), rest, out, bodyOff);
      return out;
    },
    unwrap(wire, nowMs) {
      if (wire.length < bodyOff + 1) return undefined;
      const pid = wire.readUInt32BE(SID_END);
      const time = wire.readUInt32BE(SID_END + 4);
      if (!window.check(pid, nowMs, time)) return undefined;
      const plain = open(wire);
      if (plain) window.mark(pid, nowMs, time);
      return plain;
    },
    peek,
  };
}
