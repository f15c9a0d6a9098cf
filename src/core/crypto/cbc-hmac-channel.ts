// Data channel CBC + HMAC (section 6.2; OpenVPN crypto.c openvpn_encrypt_v1 / openvpn_decrypt_v1) for one key state.
// seal: next pid -> random IV -> CBC(pid || payload, PKCS#7) -> HMAC(IV || ciphertext) -> header, HMAC, IV,
//       ciphertext in one exact-size Buffer. The header (opcode, peer-id) is not authenticated, as in OpenVPN.
// open: opcode + length -> HMAC verify (constant time) -> decrypt + padding -> replay check of the inner pid -> record.
// pid || payload is assembled in a per-instance scratch buffer the engine consumes synchronously.
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import { CBC_BLOCK_LEN, CIPHER_KEY_LEN, NODE_CBC_CIPHER, type CbcCipherName } from './ciphers.js';
import { DIGESTS, type DigestName } from './digests.js';
import { symmetricEngine, type Mac, type SymmetricCipher, type SymmetricEngine } from './symmetric.js';
import { P_DATA_V1, P_DATA_V2, PID_REKEY_THRESHOLD, type DataChannel, type OpenResult } from './data-channel.js';
import { ReplayWindow } from '../session/replay-window.js';

/** Keys for one direction pair: cipher keys of the cipher's length, HMAC keys of the digest's output size. */
export interface CbcKeys {
  cipher: CbcCipherName; auth: DigestName;
  encKey: Buffer; encMacKey: Buffer; decKey: Buffer; decMacKey: Buffer;
}

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
const PID_MAX = 0xffffffff;
const EMPTY = Buffer.alloc(0);
const IV_POOL_LEN = CBC_BLOCK_LEN * 64;

/**
 * The largest payload whose P_DATA_V2 packet is at most `packetLen` bytes: what is left after header, HMAC and IV,
 * rounded down to whole blocks, less the pid and the one padding byte there always is (OpenVPN mss.c
 * adjust_payload_max_cbc).
 */
export function cbcMaxPayload(auth: DigestName, packetLen: number): number {
  const blocks = Math.floor((packetLen - V2_HEADER - DIGESTS[auth].size - CBC_BLOCK_LEN) / CBC_BLOCK_LEN);
  return blocks * CBC_BLOCK_LEN - PID_LEN - 1;
}

/** The CBC ciphertext length of `n` payload bytes: pid + payload, padded up to the next full block. */
function cipherLen(n: number): number {
  return (PID_LEN + n + CBC_BLOCK_LEN) & ~(CBC_BLOCK_LEN - 1);
}

// K layout (section 5.1): [0..64) c->s cipher, [64..128) c->s hmac, [128..192) s->c cipher, [192..256) s->c hmac.
function keysFrom(k: Buffer, cipher: CbcCipherName, auth: DigestName, encBase: number, decBase: number): CbcKeys {
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
  return keysFrom(keyBlock, cipher, auth, 128, 0);
}
/** Client encrypts with K[0..), decrypts with K[128..). */
export function clientCbcKeys(keyBlock: Buffer, cipher: CbcCipherName, auth: DigestName): CbcKeys {
  return keysFrom(keyBlock, cipher, auth, 0, 128);
}

export class CbcHmacChannel implements DataChannel {
  private readonly encrypt: SymmetricCipher;
  private readonly decrypt: SymmetricCipher;
  private readonly sendMac: Mac;
  private readonly recvMac: Mac;
  private readonly macLen: number;
  private readonly expected: Buffer;
  private readonly decIv = Buffer.alloc(CBC_BLOCK_LEN);
  private readonly fillIv: (iv: Buffer) => void;
  private readonly ivPool = Buffer.alloc(IV_POOL_LEN);
  private ivUsed = IV_POOL_LEN;
  private scratch = Buffer.alloc(2048);
  private readonly replay: ReplayWindow;
  private nextPid: number;

  constructor(keys: CbcKeys, opts: CbcHmacChannelOptions = {}) {
    const alg = Object.hasOwn(NODE_CBC_CIPHER, keys.cipher) ? NODE_CBC_CIPHER[keys.cipher] : undefined;
    if (!alg) throw new RangeError(`not a CBC cipher: ${String(keys.cipher)}`);
    const digest = Object.hasOwn(DIGESTS, keys.auth) ? DIGESTS[keys.auth] : undefined;
    if (!digest) throw new RangeError(`unknown digest ${String(keys.auth)}`);
    const len = CIPHER_KEY_LEN[keys.cipher];
    if (keys.encKey.length !== len || keys.decKey.length !== len) throw new RangeError(`${keys.cipher} needs ${len}-byte keys`);
    if (keys.encMacKey.length !== digest.size || keys.decMacKey.length !== digest.size) {
      throw new RangeError(`HMAC-${keys.auth} needs ${digest.size}-byte keys`);
    }
    const engine = opts.symmetric ?? symmetricEngine();
    this.encrypt = engine.cipher(alg, keys.encKey, true);
    this.decrypt = engine.cipher(alg, keys.decKey, false);
    this.sendMac = engine.mac(digest.node, keys.encMacKey);
    this.recvMac = engine.mac(digest.node, keys.decMacKey);
    if (this.sendMac.size !== digest.size) throw new Error(`HMAC-${keys.auth} of ${engine.name} gives ${this.sendMac.size} bytes`);
    this.macLen = digest.size;
    this.expected = Buffer.alloc(digest.size);
    this.fillIv = opts.randomIv ?? ((iv) => this.poolIv(iv));
    this.replay = new ReplayWindow(opts.replayWindow, opts.replaySeconds);
    const first = opts.initialSendPacketId ?? 1;
    if (!Number.isInteger(first) || first < 1 || first > PID_MAX) throw new RangeError(`initial packet id ${first}`);
    this.nextPid = first;
  }

  get sendPacketId(): number { return this.nextPid; }
  get needsRekey(): boolean { return this.nextPid >= PID_REKEY_THRESHOLD; }

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
    const pid = this.nextPid;
    if (pid > PID_MAX) throw new Error('data channel packet id space exhausted; renegotiate');
    this.nextPid = pid + 1;
    const inner = this.scratchFor(PID_LEN + plain.length);
    inner.writeUInt32BE(pid, 0);
    plain.copy(inner, PID_LEN);
    const ctLen = cipherLen(plain.length);
    const ivOff = hdr + this.macLen, ctOff = ivOff + CBC_BLOCK_LEN;
    // One block of slack: the native engine wants room for a padding block beyond the input.
    const buf = Buffer.allocUnsafe(ctOff + ctLen + CBC_BLOCK_LEN);
    const iv = buf.subarray(ivOff, ctOff);
    this.fillIv(iv);
    const n = this.encrypt.run(iv, inner, buf, ctOff);
    if (n !== ctLen) throw new Error(`CBC encryption wrote ${n} bytes, expected ${ctLen}`);
    const out = buf.subarray(0, ctOff + ctLen);
    this.sendMac.digest(out.subarray(ivOff), EMPTY, EMPTY, out, hdr);
    return out;
  }

  open(packet: Buffer, nowMs: number): OpenResult {
    if (packet.length < 1) return { ok: false, reason: 'short' };
    const op = packet[0] >> 3;
    let hdr: number;
    if (op === P_DATA_V2) hdr = V2_HEADER;
    else if (op === P_DATA_V1) hdr = V1_HEADER;
    else return { ok: false, reason: 'opcode' };
    const ivOff = hdr + this.macLen, ctOff = ivOff + CBC_BLOCK_LEN;
    if (packet.length < ctOff + CBC_BLOCK_LEN) return { ok: false, reason: 'short' };
    this.recvMac.digest(packet.subarray(ivOff), EMPTY, EMPTY, this.expected, 0);
    if (!timingSafeEqual(this.expected, packet.subarray(hdr, ivOff))) return { ok: false, reason: 'auth' };
    const ct = packet.subarray(ctOff);
    if (ct.length % CBC_BLOCK_LEN !== 0) return { ok: false, reason: 'auth' };
    packet.copy(this.decIv, 0, ivOff, ctOff);
    const out = Buffer.allocUnsafe(ct.length + CBC_BLOCK_LEN);
    const n = this.decrypt.run(this.decIv, ct, out, 0);
    if (n < PID_LEN) return { ok: false, reason: 'auth' };
    const pid = out.readUInt32BE(0);
    if (!this.replay.check(pid, nowMs)) return { ok: false, reason: 'replay' };
    this.replay.mark(pid, nowMs);
    return { ok: true, plain: out.subarray(PID_LEN, n), packetId: pid };
  }

  private scratchFor(n: number): Buffer {
    if (this.scratch.length < n) this.scratch = Buffer.alloc(Math.max(n, this.scratch.length * 2));
    return this.scratch.subarray(0, n);
  }

  private poolIv(iv: Buffer): void {
    if (this.ivUsed === IV_POOL_LEN) { randomFillSync(this.ivPool); this.ivUsed = 0; }
    this.ivPool.copy(iv, 0, this.ivUsed, this.ivUsed + CBC_BLOCK_LEN);
    this.ivPool.fill(0, this.ivUsed, this.ivUsed + CBC_BLOCK_LEN);
    this.ivUsed += CBC_BLOCK_LEN;
  }
}
