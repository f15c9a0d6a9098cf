// CBC + HMAC of one key pair (OpenVPN crypto.c openvpn_encrypt_v1 / openvpn_decrypt_v1), under whatever header the
// packet has: the data channel of TLS mode puts an opcode (and peer-id) in front, static-key mode puts nothing.
// seal: random IV -> CBC(inner, PKCS#7) -> HMAC(IV || ciphertext) -> header room, HMAC, IV, ciphertext in one
//       exact-size Buffer; the caller writes the header. `inner` starts with the packet id, in the form the mode uses.
// open: length -> HMAC verify (constant time) -> decrypt + padding -> the inner plaintext, packet id first.
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import { CBC_BLOCK_LEN, CIPHER_KEY_LEN, NODE_CBC_CIPHER, type CbcCipherName } from './ciphers.js';
import { DIGESTS, type DigestName } from './digests.js';
import { symmetricEngine, type Mac, type SymmetricCipher, type SymmetricEngine } from './symmetric.js';

/** Keys for one direction pair: cipher keys of the cipher's length, HMAC keys of the digest's output size. */
export interface CbcKeys {
  cipher: CbcCipherName; auth: DigestName;
  encKey: Buffer; encMacKey: Buffer; decKey: Buffer; decMacKey: Buffer;
}

export interface CbcHmacCodecOptions {
  /** The cipher and HMAC engine (default: the one chosen with useSymmetricEngine). */
  symmetric?: SymmetricEngine;
  /** Fills an IV (default: node:crypto's CSPRNG); for known-answer tests. */
  randomIv?: (iv: Buffer) => void;
}

const EMPTY = Buffer.alloc(0);
const IV_POOL_LEN = CBC_BLOCK_LEN * 64;

/** The CBC ciphertext length of `n` plaintext bytes: padded up to the next full block (always at least one byte). */
export function cbcCipherLen(n: number): number {
  return (n + CBC_BLOCK_LEN) & ~(CBC_BLOCK_LEN - 1);
}

export class CbcHmacCodec {
  private readonly encrypt: SymmetricCipher;
  private readonly decrypt: SymmetricCipher;
  private readonly sendMac: Mac;
  private readonly recvMac: Mac;
  readonly macLen: number;
  private readonly expected: Buffer;
  private readonly decIv = Buffer.alloc(CBC_BLOCK_LEN);
  private readonly fillIv: (iv: Buffer) => void;
  private readonly ivPool = Buffer.alloc(IV_POOL_LEN);
  private ivUsed = IV_POOL_LEN;

  constructor(keys: CbcKeys, opts: CbcHmacCodecOptions = {}) {
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
  }

  /** hdr free bytes || HMAC || IV || CBC(inner). */
  seal(hdr: number, inner: Buffer): Buffer {
    const ctLen = cbcCipherLen(inner.length);
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

  /** The inner plaintext of packet[hdr..], or why not: too short for HMAC, IV and a block, or not authentic. */
  open(packet: Buffer, hdr: number): Buffer | 'short' | 'auth' {
    const ivOff = hdr + this.macLen, ctOff = ivOff + CBC_BLOCK_LEN;
    if (packet.length < ctOff + CBC_BLOCK_LEN) return 'short';
    this.recvMac.digest(packet.subarray(ivOff), EMPTY, EMPTY, this.expected, 0);
    if (!timingSafeEqual(this.expected, packet.subarray(hdr, ivOff))) return 'auth';
    const ct = packet.subarray(ctOff);
    if (ct.length % CBC_BLOCK_LEN !== 0) return 'auth';
    packet.copy(this.decIv, 0, ivOff, ctOff);
    const out = Buffer.allocUnsafe(ct.length + CBC_BLOCK_LEN);
    const n = this.decrypt.run(this.decIv, ct, out, 0);
    if (n < 0) return 'auth';
    return out.subarray(0, n);
  }

  private poolIv(iv: Buffer): void {
    if (this.ivUsed === IV_POOL_LEN) { randomFillSync(this.ivPool); this.ivUsed = 0; }
    this.ivPool.copy(iv, 0, this.ivUsed, this.ivUsed + CBC_BLOCK_LEN);
    this.ivPool.fill(0, this.ivUsed, this.ivUsed + CBC_BLOCK_LEN);
    this.ivUsed += CBC_BLOCK_LEN;
  }
}
