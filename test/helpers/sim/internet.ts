// The simulated Internet behind the NAT: hosts with TCP servers and UDP responders, reached through the in-memory
// NatSockets (memory-sockets.ts). It plays the part of the OS and the remote host: connects (refused when nothing
// listens), reads (in chunks, honouring tcpPause), writes (held while corked, confirmed with nat.tcpWritten), half
// closes, and the socket 'close' once both directions ended. Every answer arrives `latency` ms later on the
// scheduler, never from inside a NatSockets call.
import type { Nat } from '../../../src/core/uplink/nat/nat.js';
import { MemorySockets, type MemTcpSock, type MemUdpSock } from './memory-sockets.js';
import type { Scheduler } from './scheduler.js';

/** A server's side of one accepted connection. */
export class HostConn {
  /** Bytes from the client, as the server application reads them. */
  onData: (b: Buffer) => void = () => {};
  /** The client half-closed. */
  onEnd: () => void = () => {};
  /** The NAT closed the socket (reset: it sent a RST). */
  onClose: (reset: boolean) => void = () => {};
  received = 0;
  clientEnded = false;
  closed = false;
  /** Written by the server, not yet read by the NAT (held while the NAT paused reading). */
  private outQ: Buffer[] = [];
  private endQueued = false;
  private endSent = false;
  private pumping = false;
  /** NAT → server bytes held while corked. */
  private inQ: Buffer[] = [];

  constructor(private readonly net: Internet, readonly sock: MemTcpSock) {}

  /** Server → client bytes. */
  write(b: Buffer): void {
    if (this.closed || this.endQueued) return;
    for (let off = 0; off < b.length; off += this.net.readChunk) this.outQ.push(b.subarray(off, off + this.net.readChunk));
    this.pump();
  }

  /** The server finished sending. */
  end(): void {
    if (this.closed || this.endQueued) return;
    this.endQueued = true;
    this.pump();
  }

  /** The server resets the connection (the NAT sees a socket error). */
  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.net.sim.after(this.net.latency, () => this.net.nat.tcpFailed(this.sock.flow, this.net.sim.now));
  }

  /** Deliver what the NAT may read now, in one read burst (stops when the NAT pauses). */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.net.sim.after(this.net.latency, () => {
      this.pumping = false;
      if (this.closed) return;
      const nat = this.net.nat;
      while (this.outQ.length > 0 && !this.sock.paused && !this.sock.closed) {
        nat.tcpData(this.sock.flow, this.outQ.shift()!, this.net.sim.now);
      }
      if (this.outQ.length === 0 && this.endQueued && !this.endSent && !this.sock.closed) {
        this.endSent = true;
        nat.tcpEnded(this.sock.flow, this.net.sim.now);
        this.maybeClosed();
      }
    });
  }

  // ---- from the NAT (hooks) ----

  natWrote(b: Buffer): void {
    this.inQ.push(b);
    if (!this.sock.corked) this.flushIn();
  }

  flushIn(): void {
    if (this.inQ.length === 0) return;
    const batch = this.inQ;
    this.inQ = [];
    this.net.sim.after(this.net.latency, () => {
      for (const b of batch) {
        if (this.closed) return;
        this.received += b.length;
        this.onData(b);
        this.sock.unconfirmed.shift();
        this.net.nat.tcpWritten(this.sock.flow, b.length, this.net.sim.now);
      }
    });
  }

  natEnded(): void {
    this.flushIn();  // end() flushes corked writes, as Writable.end does
    this.net.sim.after(this.net.latency, () => {
      if (this.closed) return;
      this.clientEnded = true;
      this.onEnd();
      this.maybeClosed();
    });
  }

  natClosed(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.net.sim.after(this.net.latency, () => this.onClose(reset));
  }

  /** Both directions ended: the socket's 'close' (a clean one). */
  private maybeClosed(): void {
    if (!this.endSent || !this.clientEnded || this.closed) return;
    this.closed = true;
    this.net.sim.after(0, () => this.net.nat.tcpClosed(this.sock.flow, true, this.net.sim.now));
  }
}

export type UdpResponder = (payload: Buffer, reply: (b: Buffer) => void) => void;

const hostKey = (ip: number, port: number): string => `${ip}:${port}`;

export class Internet {
  readonly sockets = new MemorySockets();
  /** Set before traffic flows (the Nat is built with `sockets`). */
  nat!: Nat<MemTcpSock, MemUdpSock>;
  readonly conns: HostConn[] = [];
  /** Bytes per 'data' event from an outbound socket (Node reads 64 KiB). */
  readChunk = 64 * 1024;
  private readonly tcp = new Map<string, (c: HostConn) => void>();
  private readonly udp = new Map<string, UdpResponder>();
  private readonly bySock = new Map<MemTcpSock, HostConn>();
  readonly counters = { connects: 0, refused: 0, datagrams: 0 };

  constructor(readonly sim: Scheduler, readonly latency = 1) {
    const h = this.sockets.hooks;
    h.tcpConnect = (s) => this.connect(s);
    h.tcpWrite = (s, b) => this.bySock.get(s)?.natWrote(b);
    h.tcpUncork = (s) => this.bySock.get(s)?.flushIn();
    h.tcpEnd = (s) => this.bySock.get(s)?.natEnded();
    h.tcpResume = (s) => this.bySock.get(s)?.pump();
    h.tcpClose = (s, reset) => this.bySock.get(s)?.natClosed(reset);
    h.udpSend = (s, b) => this.datagram(s, b);
  }

  listen(ip: number, port: number, accept: (c: HostConn) => void): void { this.tcp.set(hostKey(ip, port), accept); }
  udpRespond(ip: number, port: number, fn: UdpResponder): void { this.udp.set(hostKey(ip, port), fn); }

  private connect(s: MemTcpSock): void {
    const { dstIp, dstPort } = s.flow.key;
    const accept = this.tcp.get(hostKey(dstIp, dstPort));
    this.counters.connects++;
    this.sim.after(this.latency, () => {
      if (s.closed) return;
      if (!accept) { this.counters.refused++; this.nat.tcpFailed(s.flow, this.sim.now); return; }
      const c = new HostConn(this, s);
      this.bySock.set(s, c);
      this.conns.push(c);
      this.nat.tcpConnected(s.flow, this.sim.now);
      accept(c);
    });
  }

  private datagram(s: MemUdpSock, b: Buffer): void {
    this.counters.datagrams++;
    const { dstIp, dstPort } = s.flow.key;
    const fn = this.udp.get(hostKey(dstIp, dstPort));
    if (!fn) return;
    this.sim.after(this.latency, () => fn(b, (reply) => {
      this.sim.after(this.latency, () => { if (!s.closed) this.nat.udpReceived(s.flow, reply, dstIp, dstPort, this.sim.now); });
    }));
  }
}
