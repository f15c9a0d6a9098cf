// The data packets of static-key mode (`secret`; OpenVPN crypto.c openvpn_encrypt_v1 with CO_PACKET_ID_LONG_FORM,
// init.c do_init_crypto_static): no opcode byte at all, and the packet id in its long form, inside the ciphertext:
//   HMAC(IV || ciphertext) || IV(16) || CBC(pid(4) || time(4) || payload, PKCS#7)
// `time` is the sender's Unix time when its counter started; the receiver's replay window keeps one epoch per time
// (a newer time is a restarted peer: its counter starts again at 1).
// Keys (crypto.c key_direction_state_init): the 256-byte file is two halves of cipher[64] || hmac[64]. Direction
// 0 encrypts with the first half and decrypts with the second, 1 the other way round; no direction uses the first
// half both ways.
import { CBC_BLOCK_LEN, type CbcCipherName } from './ciphers.js';
import { DIGESTS, type DigestName } from './digests.js';
import { CbcHmacCodec, type CbcHmacCodecOptions, type CbcKeys } from './cbc-hmac-codec.js';
import { cbcKeysAt } from './cbc-hmac-channel.js';
import { ReplayWindow } from '../session/replay-window.js';

export type KeyDirection = 0 | 1 | undefined;

const PID_LEN = 4;
const LONG_PID_LEN = 8;
const PID_MAX = 0xffffffff;

export interface StaticKeyChannelOptions extends CbcHmacCodecOptions {
  replayWindow?: number;
  replaySeconds?: number;
  /** The time field of the long packet id (Unix seconds), fixed for this channel's life. */
  sendTime: number;
  /** First packet id to send (default 1); for test fixtures. */
  initialSendPacketId?: number;
}

export type StaticOpenResult =
  | { ok: true; plain: Buffer; packetId: number; time: number }
  | { ok: false; reason: 'short' | 'auth' | 'replay' };

/** The cipher and HMAC keys of `secret FILE [direction]`. */
export function staticKeyKeys(key: Buffer, direction: KeyDirection, cipher: CbcCipherName, auth: DigestName): CbcKeys {
  if (key.length !== 256) throw new RangeError(`static key is ${key.length} bytes, need 256`);
  if (direction === undefined) return cbcKeysAt(key, cipher, auth, 0, 0);
  return direction === 0 ? cbcKeysAt(key, cipher, auth, 0, 128) : cbcKeysAt(key, cipher, auth, 128, 0);
}

/** The largest payload whose packet is at most `packetLen` bytes (HMAC, IV, whole blocks, long pid, one pad byte). */
export function staticKeyMaxPayload(auth: DigestName, packetLen: number): number {
  const blocks = Math.floor((packetLen - DIGESTS[auth].size - CBC_BLOCK_LEN) / CBC_BLOCK_LEN);
  return blocks * CBC_BLOCK_LEN - LONG_PID_LEN - 1;
}

export class StaticKeyChannel {
  private readonly codec: CbcHmacCodec;
  private readonly replay: ReplayWindow;
  private readonly sendTime: number;
  private nextPid: number;
  private scratch = Buffer.alloc(2048);

  constructor(keys: CbcKeys, opts: StaticKeyChannelOptions) {
    this.codec = new CbcHmacCodec(keys, opts);
    this.replay = new ReplayWindow(opts.replayWindow, opts.replaySeconds);
    if (!Number.isInteger(opts.sendTime) || opts.sendTime < 1 || opts.sendTime > PID_MAX) throw new RangeError(`send time ${opts.sendTime}`);
    this.sendTime = opts.sendTime;
    const first = opts.initialSendPacketId ?? 1;
    if (!Number.isInteger(first) || first < 1 || first > PID_MAX) throw new RangeError(`initial packet id ${first}`);
    this.nextPid = first;
  }

  get sendPacketId(): number { return this.nextPid; }

  /** The packet of `payload`, or undefined once the 32-bit counter is used up (a new channel, with a later
   *  sendTime, continues: OpenVPN rolls the long form over only when its time has moved on). */
  seal(payload: Buffer): Buffer | undefined {
    const pid = this.nextPid;
    if (pid > PID_MAX) return undefined;
    this.nextPid = pid + 1;
    if (this.scratch.length < LONG_PID_LEN + payload.length) this.scratch = Buffer.alloc(LONG_PID_LEN + payload.length);
    const inner = this.scratch.subarray(0, LONG_PID_LEN + payload.length);
    inner.writeUInt32BE(pid, 0);
    inner.writeUInt32BE(this.sendTime, PID_LEN);
    payload.copy(inner, LONG_PID_LEN);
    return this.codec.seal(0, inner);
  }

  /** Authenticate + decrypt + replay check; the pid is recorded only once the packet verified. */
  open(packet: Buffer, nowMs: number): StaticOpenResult {
    const inner = this.codec.open(packet, 0);
    if (typeof inner === 'string') return { ok: false, reason: inner };
    if (inner.length < LONG_PID_LEN) return { ok: false, reason: 'short' };
    const pid = inner.readUInt32BE(0), time = inner.readUInt32BE(PID_LEN);
    if (!this.replay.check(pid, nowMs, time)) return { ok: false, reason: 'replay' };
    this.replay.mark(pid, nowMs, time);
    return { ok: true, plain: inner.subarray(LONG_PID_LEN), packetId: pid, time };
  }
}
