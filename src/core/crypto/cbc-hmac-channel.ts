// Data channel CBC + HMAC (section 6.2) for one key state, on the codec of cbc-hmac-codec.ts.
// seal: next pid -> codec.seal(pid || payload) -> header (opcode, peer-id) written in front; the header is not
//       authenticated, as in OpenVPN.
// open: opcode + length -> codec.open (HMAC verify, decrypt) -> replay check of the inner pid -> record.
// pid || payload is assembled in a per-instance scratch buffer the engine consumes synchronously.
import { CBC_BLOCK_LEN, CIPHER_KEY_LEN, type CbcCipherName } from './ciphers.js';
import { DIGESTS, type DigestName } from './digests.js';
import type { SymmetricEngine } from './symmetric.js';
import { CbcHmacCodec, type CbcKeys } from './cbc-hmac-codec.js';
import { P_DATA_V1, P_DATA_V2, type DataChannel, type OpenResult } from './data-channel.js';
import { SendPacketId } from './send-packet-id.js';
import { ReplayWindow } from '../session/replay-window.js';

export type { CbcKeys };

export interface CbcHmacChannelOptions {
  replayWindow?: number;
  replaySeconds?: number;
  /** First packet id to send (default 1); for test fixtures. */
  initialSendPacketId?: number;
  /** The cipher and HMAC engine (default: the one chosen with useSymmetricEngine). */
  symmetric?: SymmetricEngine;
  /** Fills an IV (default: node:crypto's CSPRNG); for known-answer tests. */
  randomIv?: (iv: Buffer) => void;
}

const V1_HEADER = 1;
const V2_HEADER = 4;
const PID_LEN = 4;

/**
 * The largest payload whose P_DATA_V2 packet is at most `packetLen` bytes: what is left after header, HMAC and IV,
 * rounded down to whole blocks, less the pid and the one padding byte there always is (OpenVPN mss.c
 * adjust_payload_max_cbc).
 */
export function cbcMaxPayload(auth: DigestName, packetLen: number): number {
  const blocks = Math.floor((packetLen - V2_HEADER - DIGESTS[auth].size - CBC_BLOCK_LEN) / CBC_BLOCK_LEN);
  return blocks * CBC_BLOCK_LEN - PID_LEN - 1;
}

/** The keys of a 256-byte block of two `cipher[64] || hmac[64]` halves: encrypt with the half at `encBase`,
 *  decrypt with the one at `decBase` (the same one for both in static-key mode without a direction).
 *  TLS mode's K (section 5.1): [0..64) c->s cipher, [64..128) c->s hmac, [128..192) s->c cipher, [192..256) s->c hmac. */
export function cbcKeysAt(k: Buffer, cipher: CbcCipherName, auth: DigestName, encBase: number, decBase: number): CbcKeys {
  if (k.length < 256) throw new RangeError(`key block is ${k.length} bytes, need 256`);
  const len = CIPHER_KEY_LEN[cipher], h = DIGESTS[auth].size;
  const part = (off: number, n: number) => Buffer.from(k.subarray(off, off + n));
  return {
    cipher, auth,
    encKey: part(encBase, len), encMacKey: part(encBase + 64, h),
    decKey: part(decBase, len), decMacKey: part(decBase + 64, h),
  };
}

/** Server encrypts with K[128..), decrypts with K[0..). */
export function serverCbcKeys(keyBlock: Buffer, cipher: CbcCipherName, auth: DigestName): CbcKeys {
  return cbcKeysAt(keyBlock, cipher, auth, 128, 0);
}
/** Client encrypts with K[0..), decrypts with K[128..). */
export function clientCbcKeys(keyBlock: Buffer, cipher: CbcCipherName, auth: DigestName): CbcKeys {
  return cbcKeysAt(keyBlock, cipher, auth, 0, 128);
}

export class CbcHmacChannel implements DataChannel {
  private readonly codec: CbcHmacCodec;
  private scratch = Buffer.alloc(2048);
  private readonly replay: ReplayWindow;
  private readonly pids: SendPacketId;

  constructor(keys: CbcKeys, opts: CbcHmacChannelOptions = {}) {
    this.codec = new CbcHmacCodec(keys, opts);
    this.replay = new ReplayWindow(opts.replayWindow, opts.replaySeconds);
    this.pids = new SendPacketId(opts.initialSendPacketId);
  }

  get sendPacketId(): number { return this.pids.peek; }
  get needsRekey(): boolean { return this.pids.needsRekey; }

  /** P_DATA_V2: (9<<3|kid) || peer_id(3) || HMAC || IV(16) || CBC(pid || payload). */
  sealV2(keyId: number, peerId: number, plain: Buffer): Buffer {
    const out = this.seal(V2_HEADER, plain);
    out.writeUInt32BE(((P_DATA_V2 << 27) | ((keyId & 7) << 24) | (peerId & 0xffffff)) >>> 0, 0);
    return out;
  }

  /** sealV2 split after the header (CBC has no copy to save; the pieces only keep the interface). */
  sealV2Parts(keyId: number, peerId: number, plain: Buffer): [Buffer, Buffer] {
    const out = this.sealV2(keyId, peerId, plain);
    return [out.subarray(0, V2_HEADER), out.subarray(V2_HEADER)];
  }

  /** P_DATA_V1: (6<<3|kid) || HMAC || IV(16) || CBC(pid || payload). */
  sealV1(keyId: number, plain: Buffer): Buffer {
    const out = this.seal(V1_HEADER, plain);
    out[0] = (P_DATA_V1 << 3) | (keyId & 7);
    return out;
  }

  private seal(hdr: number, plain: Buffer): Buffer {
    const pid = this.pids.take();
    const inner = this.scratchFor(PID_LEN + plain.length);
    inner.writeUInt32BE(pid, 0);
    plain.copy(inner, PID_LEN);
    return this.codec.seal(hdr, inner);
  }

  open(packet: Buffer, nowMs: number): OpenResult {
    if (packet.length < 1) return { ok: false, reason: 'short' };
    const op = packet[0] >> 3;
    let hdr: number;
    if (op === P_DATA_V2) hdr = V2_HEADER;
    else if (op === P_DATA_V1) hdr = V1_HEADER;
    else return { ok: false, reason: 'opcode' };
    const inner = this.codec.open(packet, hdr);
    if (typeof inner === 'string') return { ok: false, reason: inner };
    if (inner.length < PID_LEN) return { ok: false, reason: 'auth' };
    const pid = inner.readUInt32BE(0);
    if (!this.replay.check(pid, nowMs)) return { ok: false, reason: 'replay' };
    this.replay.mark(pid, nowMs);
    return { ok: true, plain: inner.subarray(PID_LEN), packetId: pid };
  }

  private scratchFor(n: number): Buffer {
    if (this.scratch.length < n) this.scratch = Buffer.alloc(Math.max(n, this.scratch.length * 2));
    return this.scratch.subarray(0, n);
  }
}
