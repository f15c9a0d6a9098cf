// tls-crypt-v2 (section 2.4): the client's wrapped key WKc, sealed with the server key, rides (unencrypted)
// at the end of P_CONTROL_HARD_RESET_CLIENT_V3 / P_CONTROL_WKC_V1. The server unwraps it to recover the
// client's tls-crypt key Kc, then unwraps the packet itself with tlsCryptWrap(Kc, 'server').
//   WKc = T(32) || AES-256-CTR(Ke, IV = T[0..16), Kc || metadata) || len(u16, = |WKc|)
//   T   = HMAC-SHA256(Ka, len || Kc || metadata);  server key: Ke = [0..32), Ka = [64..96)
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { type Mac, type SymmetricCipher, symmetricEngine, type SymmetricEngine } from './symmetric.js';

export const TLS_CRYPT_V2_SERVER_KEY_LEN = 128;
export const TLS_CRYPT_V2_CLIENT_KEY_LEN = 256;
const TAG_LEN = 32;
const LEN_LEN = 2;
/** OpenVPN's TLS_CRYPT_V2_MAX_WKC_LEN. */
export const WKC_MAX_LEN = 1024;
const WKC_MIN_LEN = TAG_LEN + TLS_CRYPT_V2_CLIENT_KEY_LEN + 1 + LEN_LEN;   // metadata has at least its type byte
/** tls-crypt header (op, sid, pid, time, tag) + n_acks: the smallest wrapped packet in front of a WKc. */
const MIN_WRAPPED_PACKET = 1 + 8 + 8 + 32 + 1;

export const METADATA_TYPE_USER = 0x00;
export const METADATA_TYPE_TIMESTAMP = 0x01;

export interface ClientKey {
  /** The client's 256-byte tls-crypt key. */
  kc: Buffer;
  /** Type byte + data (e.g. 01 || u64 Unix time). */
  metadata: Buffer;
}

function serverKeys(serverKey: Buffer): { ke: Buffer; ka: Buffer } {
  if (serverKey.length !== TLS_CRYPT_V2_SERVER_KEY_LEN) {
    throw new RangeError(`tls-crypt-v2 server key is ${serverKey.length} bytes, need ${TLS_CRYPT_V2_SERVER_KEY_LEN}`);
  }
  return { ke: serverKey.subarray(0, 32), ka: serverKey.subarray(64, 96) };
}

/** Recover Kc and the metadata from WKc; undefined if it is malformed or its tag does not verify. */
export function unwrapClientKey(serverKey: Buffer, wkc: Buffer): ClientKey | undefined {
  const { ke, ka } = serverKeys(serverKey);
  if (wkc.length < WKC_MIN_LEN || wkc.length > WKC_MAX_LEN) return undefined;
  const lenField = wkc.subarray(wkc.length - LEN_LEN);
  if (lenField.readUInt16BE(0) !== wkc.length) return undefined;
  const tag = wkc.subarray(0, TAG_LEN);
  const d = createDecipheriv('aes-256-ctr', ke, tag.subarray(0, 16));
  const plain = Buffer.concat([d.update(wkc.subarray(TAG_LEN, wkc.length - LEN_LEN)), d.final()]);
  const mac = createHmac('sha256', ka).update(lenField).update(plain).digest();
  if (!timingSafeEqual(mac, tag)) return undefined;
  return {
    kc: plain.subarray(0, TLS_CRYPT_V2_CLIENT_KEY_LEN),
    metadata: plain.subarray(TLS_CRYPT_V2_CLIENT_KEY_LEN),
  };
}

/** Build WKc (what `openvpn --genkey tls-crypt-v2-client` appends to a client key); for tests and test clients. */
export function wrapClientKey(serverKey: Buffer, kc: Buffer, metadata: Buffer): Buffer {
  const { ke, ka } = serverKeys(serverKey);
  if (kc.length !== TLS_CRYPT_V2_CLIENT_KEY_LEN) throw new RangeError(`Kc is ${kc.length} bytes`);
  const total = TAG_LEN + kc.length + metadata.length + LEN_LEN;
  if (metadata.length < 1 || total > WKC_MAX_LEN) throw new RangeError(`metadata of ${metadata.length} bytes`);
  const lenField = Buffer.alloc(LEN_LEN);
  lenField.writeUInt16BE(total);
  const tag = createHmac('sha256', ka).update(lenField).update(kc).update(metadata).digest();
  const c = createCipheriv('aes-256-ctr', ke, tag.subarray(0, 16));
  return Buffer.concat([tag, c.update(kc), c.update(metadata), c.final(), lenField]);
}

const EMPTY = Buffer.alloc(0);

/**
 * unwrapClientKey for every unauthenticated V3 reset / WKC_V1 of a server: built once per server key, it works in
 * buffers of its own, so a WKc that fails (a flood's) allocates nothing; only a WKc that verifies yields new
 * buffers (Kc and the metadata).
 */
export class WkcOpener {
  private readonly ctr: SymmetricCipher;
  private readonly mac: Mac;
  private readonly tag = Buffer.alloc(TAG_LEN);
  private readonly iv = this.tag.subarray(0, 16);
  private readonly lenField = Buffer.alloc(LEN_LEN);
  private readonly expected = Buffer.alloc(TAG_LEN);
  private readonly input = Buffer.alloc(WKC_MAX_LEN);
  private readonly plain = Buffer.alloc(WKC_MAX_LEN);
  private readonly inViews: Buffer[] = [];
  private readonly plainViews: Buffer[] = [];

  constructor(serverKey: Buffer, engine: SymmetricEngine = symmetricEngine()) {
    const { ke, ka } = serverKeys(serverKey);
    this.ctr = engine.cipher('aes-256-ctr', Buffer.from(ke), false);
    this.mac = engine.mac('sha256', Buffer.from(ka));
  }

  /** Opens the WKc that ends `wire` (wkcStart() says where it starts); undefined if it does not verify. */
  open(wire: Buffer, start: number): ClientKey | undefined {
    const len = wire.length - start;
    if (len < WKC_MIN_LEN || len > WKC_MAX_LEN || wire.readUInt16BE(wire.length - LEN_LEN) !== len) return undefined;
    const bodyLen = len - TAG_LEN - LEN_LEN;
    copyRange(wire, start, start + TAG_LEN, this.tag);
    copyRange(wire, start + TAG_LEN, wire.length - LEN_LEN, this.input);
    copyRange(wire, wire.length - LEN_LEN, wire.length, this.lenField);
    const src = this.inViews[bodyLen] ??= this.input.subarray(0, bodyLen);
    const plain = this.plainViews[bodyLen] ??= this.plain.subarray(0, bodyLen);
    if (this.ctr.run(this.iv, src, plain, 0) !== bodyLen) return undefined;
    this.mac.digest(this.lenField, plain, EMPTY, this.expected, 0);
    if (!timingSafeEqual(this.expected, this.tag)) return undefined;
    return {
      kc: Buffer.from(plain.subarray(0, TLS_CRYPT_V2_CLIENT_KEY_LEN)),
      metadata: Buffer.from(plain.subarray(TLS_CRYPT_V2_CLIENT_KEY_LEN)),
    };
  }
}

/** src[start..end) to the start of `to`, with no view of src. */
function copyRange(src: Uint8Array, start: number, end: number, to: Uint8Array): void {
  for (let i = start; i < end; i++) to[i - start] = src[i]!;
}

/** Where the WKc trailing a V3 reset / WKC_V1 packet starts (by its length field), or undefined. Allocates nothing. */
export function wkcStart(wire: Buffer): number | undefined {
  if (wire.length < MIN_WRAPPED_PACKET + WKC_MIN_LEN) return undefined;
  const len = wire.readUInt16BE(wire.length - LEN_LEN);
  if (len < WKC_MIN_LEN || len > WKC_MAX_LEN || len > wire.length - MIN_WRAPPED_PACKET) return undefined;
  return wire.length - len;
}

/** The Unix time (seconds) of a key's creation, when its metadata is the timestamp type. */
export function metadataTimestamp(metadata: Buffer): number | undefined {
  if (metadata.length < 9 || metadata[0] !== METADATA_TYPE_TIMESTAMP) return undefined;
  return Number(metadata.readBigUInt64BE(1));
}

/** Metadata as `openvpn --genkey tls-crypt-v2-client` writes it by default: the timestamp type and the time. */
export function timestampMetadata(unixSec: number): Buffer {
  const m = Buffer.alloc(9);
  m[0] = METADATA_TYPE_TIMESTAMP;
  m.writeBigUInt64BE(BigInt(Math.floor(unixSec)), 1);
  return m;
}

/** Split a V3 reset / WKC_V1 packet into the tls-crypt packet and the trailing WKc (by its length field). */
export function splitWkc(wire: Buffer): { packet: Buffer; wkc: Buffer } | undefined {
  const start = wkcStart(wire);
  if (start === undefined) return undefined;
  return { packet: wire.subarray(0, start), wkc: wire.subarray(start) };
}

/** A tls-crypt-v2 client key file's bytes = Kc (256) || WKc. */
export function splitClientKeyFile(bytes: Buffer): { kc: Buffer; wkc: Buffer } | undefined {
  if (bytes.length < TLS_CRYPT_V2_CLIENT_KEY_LEN + WKC_MIN_LEN) return undefined;
  return { kc: bytes.subarray(0, TLS_CRYPT_V2_CLIENT_KEY_LEN), wkc: bytes.subarray(TLS_CRYPT_V2_CLIENT_KEY_LEN) };
}
