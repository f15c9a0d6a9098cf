// A fake TLS for the simulated handshake (vpn.ts), both halves. The session treats TLS as a byte pump (the io
// layer's node:tls adapter): it feeds the client's CONTROL_V1 payloads in, and gets ciphertext, plaintext, 'secure'
// and 'error' events back. The fake speaks a stand-in protocol over the same reliable byte stream, so the control
// channel carries what a real handshake would make it carry (a flight of several packets each way, then records):
//   client ─ CLIENT_HELLO (the session harness's) ───────────────────────────────▶ server
//   client ◀──────────────────────────── SERVER_FLIGHT (3000 bytes, 3 packets) ─ server
//   client ─ FINISHED record (cn, a secret) + application records (key-method 2) ▶ server: 'secure', 'plaintext'
//   client ◀─────────────────── application records (key-method 2, PUSH_REPLY) ─ server ('tls-write')
// Records are type(1) 03 03 length(2) body, like TLS's. Both sides derive the keying material the session would
// export (EKM) from the secret in FINISHED, so each handshake has its own data keys. The server half answers on the
// next event of the virtual clock (`defer`), as node:tls answers on a later tick, never inside feed().
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { TlsEvent } from '../../../src/core/session/session.js';
import { CLIENT_HELLO, seq } from '../../unit/fixtures/session-harness.js';

export const SERVER_FLIGHT = seq(0x16, 3000);
const FINISHED = 0x14;
const APP = 0x17;
const HEADER = 5;
const MAX_RECORD = 16384;

function record(type: number, body: Buffer): Buffer {
  const h = Buffer.from([type, 3, 3, 0, 0]);
  h.writeUInt16BE(body.length, 3);
  return Buffer.concat([h, body]);
}

/** Complete records at the front of `buf`, and what is left; undefined when the stream is not records. */
function records(buf: Buffer): { recs: { type: number; body: Buffer }[]; rest: Buffer } | undefined {
  const recs: { type: number; body: Buffer }[] = [];
  let off = 0;
  while (buf.length - off >= HEADER) {
    if (buf[off + 1] !== 3 || buf[off + 2] !== 3) return undefined;
    const len = buf.readUInt16BE(off + 3);
    if (buf.length - off < HEADER + len) break;
    recs.push({ type: buf[off]!, body: buf.subarray(off + HEADER, off + HEADER + len) });
    off += HEADER + len;
  }
  return { recs, rest: buf.subarray(off) };
}

/** The 256 bytes both sides "export" (EXPORTER-OpenVPN-datakeys) for a handshake with `secret`. */
export function fakeEkm(secret: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 8; i++) parts.push(createHash('sha256').update(secret).update(Buffer.from([i])).digest());
  return Buffer.concat(parts);
}

/** What the server's certificate check would report for a client: its cn and the certificate's fingerprint. */
export const fakeCertHash = (cn: string): string => createHash('sha256').update(`cert:${cn}`).digest('hex');

/** The server half: one per 'tls-open'. Events go to `emit` through `defer`. */
export class FakeTlsServer {
  private phase: 'hello' | 'finished' | 'app' | 'closed' = 'hello';
  private buf: Buffer = Buffer.alloc(0);
  private destroyed = false;

  constructor(private readonly emit: (ev: TlsEvent) => void, private readonly defer: (fn: () => void) => void) {}

  feed(bytes: Buffer): void {
    if (this.phase === 'closed') return;
    this.buf = Buffer.concat([this.buf, bytes]);
    if (this.phase === 'hello') {
      const n = Math.min(this.buf.length, CLIENT_HELLO.length);
      if (!this.buf.subarray(0, n).equals(CLIENT_HELLO.subarray(0, n))) { this.fail('not a ClientHello'); return; }
      if (this.buf.length < CLIENT_HELLO.length) return;
      this.buf = this.buf.subarray(CLIENT_HELLO.length);
      this.phase = 'finished';
      this.later({ kind: 'ciphertext', bytes: SERVER_FLIGHT });
    }
    const r = records(this.buf);
    if (!r) { this.fail('not a TLS record'); return; }
    this.buf = r.rest;
    for (const { type, body } of r.recs) {
      if (this.phase === 'finished' && type === FINISHED) {
        const nul = body.indexOf(0);
        if (nul < 0) { this.fail('bad Finished'); return; }
        const cn = body.subarray(0, nul).toString();
        const secret = Buffer.from(body.subarray(nul + 1));
        this.phase = 'app';
        this.later({ kind: 'secure', info: { cn, authorized: true, ekm: fakeEkm(secret), certHash: fakeCertHash(cn) } });
      } else if (this.phase === 'app' && type === APP) {
        this.later({ kind: 'plaintext', bytes: Buffer.from(body) });
      } else {
        this.fail(`unexpected record ${type} in ${this.phase}`);
        return;
      }
    }
  }

  write(bytes: Buffer): void {
    if (this.phase !== 'app') return;
    for (let off = 0; off < bytes.length; off += MAX_RECORD) {
      this.later({ kind: 'ciphertext', bytes: record(APP, bytes.subarray(off, off + MAX_RECORD)) });
    }
  }

  destroy(): void { this.destroyed = true; this.phase = 'closed'; }

  private fail(message: string): void {
    this.later({ kind: 'error', message });
    this.phase = 'closed';
  }

  private later(ev: TlsEvent): void {
    this.defer(() => { if (!this.destroyed) this.emit(ev); });
  }
}

/** The client half, driven by the scripted client: what to send, and the plaintext records that came. */
export class FakeTlsClient {
  readonly ekm: Buffer;
  private phase: 'flight' | 'app' = 'flight';
  private buf: Buffer = Buffer.alloc(0);
  private readonly finished: Buffer;

  constructor(cn: string, secret: Buffer) {
    assert.ok(!cn.includes('\0'));
    this.finished = record(FINISHED, Buffer.concat([Buffer.from(cn), Buffer.from([0]), secret]));
    this.ekm = fakeEkm(secret);
  }

  get secure(): boolean { return this.phase === 'app'; }

  hello(): Buffer { return CLIENT_HELLO; }

  /** Server ciphertext in order. `send`: what the client answers (FINISHED and `firstWrite`, once the server's flight
   *  is complete); `plain`: application records that arrived. */
  receive(bytes: Buffer, firstWrite: Buffer): { send?: Buffer; plain: Buffer[] } {
    this.buf = Buffer.concat([this.buf, bytes]);
    let send: Buffer | undefined;
    if (this.phase === 'flight') {
      const n = Math.min(this.buf.length, SERVER_FLIGHT.length);
      assert.ok(this.buf.subarray(0, n).equals(SERVER_FLIGHT.subarray(0, n)), 'the server flight arrived changed');
      if (this.buf.length < SERVER_FLIGHT.length) return { plain: [] };
      this.buf = this.buf.subarray(SERVER_FLIGHT.length);
      this.phase = 'app';
      send = Buffer.concat([this.finished, this.write(firstWrite)]);
    }
    const r = records(this.buf);
    assert.ok(r, 'the server sent something that is not a record');
    this.buf = r.rest;
    for (const x of r.recs) assert.equal(x.type, APP, 'a server record that is not application data');
    return { send, plain: r.recs.map((x) => Buffer.from(x.body)) };
  }

  /** Application data as records. */
  write(bytes: Buffer): Buffer {
    const out: Buffer[] = [];
    for (let off = 0; off < bytes.length; off += MAX_RECORD) out.push(record(APP, bytes.subarray(off, off + MAX_RECORD)));
    return Buffer.concat(out);
  }
}
