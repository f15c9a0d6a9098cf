// A client's TCP link: packets leave with their u16 length prefix, several per writev.
import type * as net from 'node:net';
import { lengthPrefix } from '../core/transport/tcp-framing.js';

/** Packets written while the link's received data is handled (duringRead) leave in one writev when that handling
 *  ends, so a reply is not held for a tick; packets written at other times leave together at the next tick. */
export class FramedTcpWriter {
  private corked = false;
  private reading = false;

  constructor(private readonly sock: net.Socket) {}

  write(bytes: Buffer | readonly Buffer[]): void {
    const sock = this.sock;
    if (sock.destroyed) return;
    let len = 0;
    if (Buffer.isBuffer(bytes)) len = bytes.length;
    else for (const b of bytes) len += b.length;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      if (!this.reading) process.nextTick(this.flush);
    }
    sock.write(lengthPrefix(len));
    if (Buffer.isBuffer(bytes)) sock.write(bytes);
    else for (const b of bytes) sock.write(b);
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
    this.sock.uncork();
  };
}
