// Data channel AEAD (section 6.1) for one key state (key_id), and the DataChannel interface it shares with the CBC
// channel (cbc-hmac-channel.ts).
// seal: next pid -> nonce = pid || implicit IV -> AAD = header || pid (V2) or pid (V1) -> encrypt -> header, pid,
//       tag, ciphertext written into one exact-size Buffer; or (sealV2Parts, the hot path) returned as the 24-byte
//       head and the ciphertext node:crypto produced, for a gather write without a copy.
// open: opcode + length -> replay pre-check -> decrypt + verify tag -> record pid in the replay window.
// The nonce and AAD buffers are per instance and reused: the AEAD engine consumes them synchronously.
import { AEAD_TAG_LEN, CIPHER_KEY_LEN, IMPLICIT_IV_LEN, NODE_CIPHER, type AeadCipherName } from './ciphers.js';
import { aeadEngine, type AeadEngine, type AeadOpener, type AeadSealer } from './aead.js';
import { ReplayWindow } from '../session/replay-window.js';
import { SendPacketId } from './send-packet-id.js';

/** Keys for one direction pair; the implicit IVs are 8 bytes (the nonce's tail). */
export interface DataKeys { cipher: AeadCipherName; encKey: Buffer; encIv: Buffer; decKey: Buffer; decIv: Buffer }

export type OpenResult =
  | { ok: true; plain: Buffer; packetId: number }
  | { ok: false; reason: 'short' | 'auth' | 'replay' | 'opcode' };

/** Seals and opens the data packets of one key state; the AEAD and the CBC+HMAC channels both are one. */
export interface DataChannel {
  /** Next packet id to send (starts at 1). Past 0xFFFFFFFF sealing throws: rekey well before. */
  readonly sendPacketId: number;
  /** True once the caller should start a renegotiation (OpenVPN: send counter at 0xFF000000). */
  readonly needsRekey: boolean;
  /** A P_DATA_V2 packet in one Buffer. */
  sealV2(keyId: number, peerId: number, plain: Buffer): Buffer;
  /** sealV2 as two pieces that together are the packet, for a gather write. */
  sealV2Parts(keyId: number, peerId: number, plain: Buffer): [Buffer, Buffer];
  /** A P_DATA_V1 packet. */
  sealV1(keyId: number, plain: Buffer): Buffer;
  /** Authenticate + decrypt + replay check of a P_DATA_V1/V2 packet (the pid is recorded only once it verifies). */
  open(packet: Buffer, nowMs: number): OpenResult;
}

export interface DataChannelOptions {
  replayWindow?: number;
  replaySeconds?: number;
  /** First packet id to send (default 1); for test fixtures. */
  initialSendPacketId?: number;
  /** The AEAD engine (default: the one chosen with useAeadEngine, node:crypto unless changed). */
  aead?: AeadEngine;
}

export const P_DATA_V1 = 6;
export const P_DATA_V2 = 9;
const V1_HEADER = 1;
const V2_HEADER = 4;
/** Bytes added to a payload: V2 header(4) + pid(4) + tag(16); V1 has a 1-byte header. */
export const DATA_V2_OVERHEAD = V2_HEADER + 4 + AEAD_TAG_LEN;
export const DATA_V1_OVERHEAD = V1_HEADER + 4 + AEAD_TAG_LEN;
export { PID_REKEY_THRESHOLD } from './send-packet-id.js';

// K layout (section 5.1): [0..64) c->s cipher, [64..128) c->s hmac/IV, [128..192) s->c cipher, [192..256) s->c hmac/IV.
function keysFrom(k: Buffer, cipher: AeadCipherName, encBase: number, decBase: number): DataKeys {
  if (k.length < 256) throw new RangeError(`key block is ${k.length} bytes, need 256`);
  const len = CIPHER_KEY_LEN[cipher];
  const part = (off: number, n: number) => Buffer.from(k.subarray(off, off + n));
  return {
    cipher,
    encKey: part(encBase, len), encIv: part(encBase + 64, IMPLICIT_IV_LEN),
    decKey: part(decBase, len), decIv: part(decBase + 64, IMPLICIT_IV_LEN),
  };
}

/** Server encrypts with K[128..), decrypts with K[0..). */
export function serverDataKeys(keyBlock: Buffer, cipher: AeadCipherName): DataKeys { return keysFrom(keyBlock, cipher, 128, 0); }
/** Client encrypts with K[0..), decrypts with K[128..). */
export function clientDataKeys(keyBlock: Buffer, cipher: AeadCipherName): DataKeys { return keysFrom(keyBlock, cipher, 0, 128); }

export class AeadDataChannel implements DataChannel {
  private readonly sealer: AeadSealer;
  private readonly opener: AeadOpener;
  private readonly encNonce = Buffer.alloc(12);
  private readonly decNonce = Buffer.alloc(12);
  private readonly encAadV2 = Buffer.alloc(8);
  private readonly encAadV1 = Buffer.alloc(4);
  private readonly decAadV2 = Buffer.alloc(8);
  private readonly decAadV1 = Buffer.alloc(4);
  private readonly replay: ReplayWindow;
  private readonly pids: SendPacketId;

  constructor(keys: DataKeys, opts: DataChannelOptions = {}) {
    const len = CIPHER_KEY_LEN[keys.cipher];
    if (len === undefined || !Object.hasOwn(NODE_CIPHER, keys.cipher)) throw new RangeError(`not an AEAD cipher: ${String(keys.cipher)}`);
    if (keys.encKey.length !== len || keys.decKey.length !== len) throw new RangeError(`${keys.cipher} needs ${len}-byte keys`);
    if (keys.encIv.length !== IMPLICIT_IV_LEN || keys.decIv.length !== IMPLICIT_IV_LEN) throw new RangeError('implicit IV must be 8 bytes');
    const alg = NODE_CIPHER[keys.cipher];
    const engine = opts.aead ?? aeadEngine();
    this.sealer = engine.sealer(alg, keys.encKey);
    this.opener = engine.opener(alg, keys.decKey);
    keys.encIv.copy(this.encNonce, 4);
    keys.decIv.copy(this.decNonce, 4);
    this.replay = new ReplayWindow(opts.replayWindow, opts.replaySeconds);
    this.pids = new SendPacketId(opts.initialSendPacketId);
  }

  /** Next packet id to send (starts at 1). Past 0xFFFFFFFF sealing throws: rekey well before. */
  get sendPacketId(): number { return this.pids.peek; }
  /** True once the caller should start a renegotiation (OpenVPN: send counter at 0xFF000000). */
  get needsRekey(): boolean { return this.pids.needsRekey; }

  /** P_DATA_V2: (9<<3|kid) || peer_id(3) || pid(4) || tag(16) || ciphertext. */
  sealV2(keyId: number, peerId: number, plain: Buffer): Buffer {
    const pid = this.pids.take();
    const out = Buffer.allocUnsafe(DATA_V2_OVERHEAD + plain.length);
    out.writeUInt32BE(((P_DATA_V2 << 27) | ((keyId & 7) << 24) | (peerId & 0xffffff)) >>> 0, 0);
    out.writeUInt32BE(pid, V2_HEADER);
    const aad = this.encAadV2;
    aad.writeUInt32BE(out.readUInt32BE(0), 0);
    aad.writeUInt32BE(pid, 4);
    this.seal(out, V2_HEADER, pid, aad, plain);
    return out;
  }

  /** sealV2 as two pieces, head (header, pid, tag) and ciphertext: together the same bytes, without the copy. */
  sealV2Parts(keyId: number, peerId: number, plain: Buffer): [Buffer, Buffer] {
    const pid = this.pids.take();
    const head = Buffer.allocUnsafe(DATA_V2_OVERHEAD);
    const word0 = ((P_DATA_V2 << 27) | ((keyId & 7) << 24) | (peerId & 0xffffff)) >>> 0;
    head.writeUInt32BE(word0, 0);
    head.writeUInt32BE(pid, V2_HEADER);
    const aad = this.encAadV2;
    aad.writeUInt32BE(word0, 0);
    aad.writeUInt32BE(pid, 4);
    this.encNonce.writeUInt32BE(pid, 0);
    return [head, this.sealer.seal(this.encNonce, aad, plain, head, V2_HEADER + 4)];
  }

  /** P_DATA_V1: (6<<3|kid) || pid(4) || tag(16) || ciphertext; the opcode byte is not authenticated. */
  sealV1(keyId: number, plain: Buffer): Buffer {
    const pid = this.pids.take();
    const out = Buffer.allocUnsafe(DATA_V1_OVERHEAD + plain.length);
    out[0] = (P_DATA_V1 << 3) | (keyId & 7);
    out.writeUInt32BE(pid, V1_HEADER);
    this.encAadV1.writeUInt32BE(pid, 0);
    this.seal(out, V1_HEADER, pid, this.encAadV1, plain);
    return out;
  }

  private seal(out: Buffer, hdr: number, pid: number, aad: Buffer, plain: Buffer): void {
    this.encNonce.writeUInt32BE(pid, 0);
    this.sealer.seal(this.encNonce, aad, plain, out, hdr + 4).copy(out, hdr + 4 + AEAD_TAG_LEN);
  }

  /** Decrypt + verify + replay check (the pid is recorded only after the tag verifies). Accepts V1 and V2. */
  open(packet: Buffer, nowMs: number): OpenResult {
    if (packet.length < 1) return { ok: false, reason: 'short' };
    const op = packet[0] >> 3;
    let hdr: number;
    let aad: Buffer;
    if (op === P_DATA_V2) {
      hdr = V2_HEADER;
      if (packet.length < hdr + 4 + AEAD_TAG_LEN) return { ok: false, reason: 'short' };
      aad = this.decAadV2;
      aad.writeUInt32BE(packet.readUInt32BE(0), 0);
      aad.writeUInt32BE(packet.readUInt32BE(hdr), 4);
    } else if (op === P_DATA_V1) {
      hdr = V1_HEADER;
      if (packet.length < hdr + 4 + AEAD_TAG_LEN) return { ok: false, reason: 'short' };
      aad = this.decAadV1;
      aad.writeUInt32BE(packet.readUInt32BE(hdr), 0);
    } else {
      return { ok: false, reason: 'opcode' };
    }
    const pid = packet.readUInt32BE(hdr);
    if (!this.replay.check(pid, nowMs)) return { ok: false, reason: 'replay' };
    this.decNonce.writeUInt32BE(pid, 0);
    const body = packet.subarray(hdr + 4 + AEAD_TAG_LEN);
    const plain = this.opener.open(this.decNonce, aad, body, packet.subarray(hdr + 4, hdr + 4 + AEAD_TAG_LEN));
    if (!plain) return { ok: false, reason: 'auth' };
    this.replay.mark(pid, nowMs);
    return { ok: true, plain, packetId: pid };
  }
}
