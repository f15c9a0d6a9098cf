// A client's TCP link: packets leave with their u16 length prefix, several per writev.
import type * as net from 'node:net';
import { lengthPrefix } from '../core/transport/tcp-framing.js';

/** One full-size data packet on the link, the unit tcp-queue-limit counts in. */
export const QUEUED_PACKET_BYTES = 1600;

/** Packets written while the link's received data is handled (duringRead) leave in one writev when that handling
 *  ends, so a reply is not held for a tick; packets written at other times leave together at the next tick.
 *  A droppable packet (tunnel data) is dropped while the bytes the OS has not taken yet, not counting this turn's,
 *  reach queueLimit full-size packets (OpenVPN's tcp-queue-limit): the tunnelled TCP then sees a loss, not a queue
 *  that grows without bound. */
export class FramedTcpWriter {
  private corked = false;
  private reading = false;
  /** Bytes written since the cork: the OS has not been offered them yet. */
  private corkedBytes = 0;
  private readonly limitBytes: number;

  constructor(private readonly sock: net.Socket, queueLimit = 64, private readonly onDrop: () => void = () => {}) {
    this.limitBytes = queueLimit * QUEUED_PACKET_BYTES;
  }

  /** False when the packet was dropped (the socket is gone, or it was droppable and the queue full). */
  write(bytes: Buffer | readonly Buffer[], droppable = false): boolean {
    const sock = this.sock;
    if (sock.destroyed) return false;
    if (droppable && sock.writableLength - this.corkedBytes >= this.limitBytes) { this.onDrop(); return false; }
    let len = 0;
    if (Buffer.isBuffer(bytes)) len = bytes.length;
    else for (const b of bytes) len += b.length;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      if (!this.reading) process.nextTick(this.flush);
    }
    this.corkedBytes += len + 2;
    sock.write(lengthPrefix(len));
    if (Buffer.isBuffer(bytes)) sock.write(bytes);
    else for (const b of bytes) sock.write(b);
    return true;
  }

  /** Runs `handle` (the link's data callback); what it writes is flushed when it returns or throws. */
  duringRead(handle: () => void): void {
    this.reading = true;
    try { handle(); } finally {
      this.reading = false;
      this.flush();
    }
  }

  private readonly flush = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.corkedBytes = 0;
    this.sock.uncork();
  };
}
