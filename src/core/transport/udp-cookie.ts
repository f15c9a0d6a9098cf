// Stateless HMAC-cookie handshake for UDP (openvpn-protocol.md §4.5): the server answers a client's
// HARD_RESET with a session id that is a MAC over the client's address and session id, and creates state only
// when the client echoes that id back in an ACK. A spoofed first packet therefore costs no memory.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export class CookieJar {
  private readonly key: Buffer;

  /** `nowMs` below may be any clock that never goes backwards (the key lives only as long as the process).
   *  `key` is for tests; by default a random key per jar. */
  constructor(private readonly handWindowSec: number, key?: Buffer) {
    this.key = key ? Buffer.from(key) : randomBytes(32);
  }

  private slot(nowMs: number): number {
    return Math.floor(nowMs / 1000 / ((this.handWindowSec + 1) / 2));
  }

  make(addr: string, clientSid: Buffer, nowMs: number, slotOffset = 0): Buffer {
    const slot = Buffer.allocUnsafe(4);
    slot.writeUInt32BE((this.slot(nowMs) + slotOffset) >>> 0);
    return createHmac('sha256', this.key).update(slot).update(addr).update(clientSid).digest().subarray(0, 8);
  }

  /** Accepts cookies from the last two time slots up to the next one. */
  check(cookie: Buffer, addr: string, clientSid: Buffer, nowMs: number): boolean {
    if (cookie.length !== 8) return false;
    for (const off of [0, -1, -2, 1]) {
      if (timingSafeEqual(cookie, this.make(addr, clientSid, nowMs, off))) return true;
    }
    return false;
  }
}
