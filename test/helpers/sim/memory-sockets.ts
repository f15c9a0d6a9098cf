// An in-memory NatSockets: every call is recorded on the socket it concerns (and in one call log), and nothing
// happens on its own. A test answers for the network by calling the Nat's event methods (nat.tcpConnected(…),
// nat.tcpWritten(…), nat.udpReceived(…)); the simulated Internet (internet.ts) does it through `hooks`.
import type { NatSockets } from '../../../src/core/uplink/nat/nat-sockets.js';
import type { NatTcpFlow, NatUdpFlow } from '../../../src/core/uplink/nat/nat.js';

export interface MemTcpSock {
  readonly id: number;
  readonly flow: NatTcpFlow<MemTcpSock>;
  corked: boolean;
  paused: boolean;
  /** tcpEnd was called. */
  ended: boolean;
  /** How tcpClose closed it. */
  closed: 'reset' | 'close' | undefined;
  /** Bytes written, in order. */
  written: Buffer[];
  writtenBytes: number;
  /** Lengths of writes the test has not yet reported done (nat.tcpWritten). */
  unconfirmed: number[];
}

export interface MemUdpSock {
  readonly id: number;
  readonly flow: NatUdpFlow<MemUdpSock>;
  sent: Buffer[];
  closed: boolean;
}

/** What the simulated network does when the NAT acts (each called after the call is recorded). */
export interface MemHooks {
  tcpConnect?(s: MemTcpSock): void;
  tcpWrite?(s: MemTcpSock, bytes: Buffer): void;
  tcpUncork?(s: MemTcpSock): void;
  tcpEnd?(s: MemTcpSock): void;
  tcpPause?(s: MemTcpSock): void;
  tcpResume?(s: MemTcpSock): void;
  tcpClose?(s: MemTcpSock, reset: boolean): void;
  udpSend?(s: MemUdpSock, payload: Buffer): void;
  udpClose?(s: MemUdpSock): void;
}

export class MemorySockets implements NatSockets<MemTcpSock, MemUdpSock> {
  readonly tcp: MemTcpSock[] = [];
  readonly udp: MemUdpSock[] = [];
  /** Every call, as "name id[ detail]". */
  readonly calls: string[] = [];
  hooks: MemHooks = {};
  private ids = 0;

  /** Sockets not closed yet. */
  openTcp(): MemTcpSock[] { return this.tcp.filter((s) => !s.closed); }
  openUdp(): MemUdpSock[] { return this.udp.filter((s) => !s.closed); }

  tcpConnect(flow: NatTcpFlow<MemTcpSock>): MemTcpSock {
    const s: MemTcpSock = {
      id: ++this.ids, flow, corked: false, paused: false, ended: false, closed: undefined, written: [], writtenBytes: 0,
      unconfirmed: [],
    };
    this.tcp.push(s);
    this.calls.push(`tcpConnect ${s.id}`);
    this.hooks.tcpConnect?.(s);
    return s;
  }

  tcpWrite(s: MemTcpSock, bytes: Buffer): void {
    this.calls.push(`tcpWrite ${s.id} ${bytes.length}`);
    // The NAT hands out views of client packets: keep a copy, as a socket's buffer would.
    const b = Buffer.from(bytes);
    s.written.push(b);
    s.writtenBytes += b.length;
    s.unconfirmed.push(b.length);
    this.hooks.tcpWrite?.(s, b);
  }

  tcpCork(s: MemTcpSock): void { this.calls.push(`tcpCork ${s.id}`); s.corked = true; }
  tcpUncork(s: MemTcpSock): void { this.calls.push(`tcpUncork ${s.id}`); s.corked = false; this.hooks.tcpUncork?.(s); }
  tcpEnd(s: MemTcpSock): void { this.calls.push(`tcpEnd ${s.id}`); s.ended = true; this.hooks.tcpEnd?.(s); }
  tcpPause(s: MemTcpSock): void { this.calls.push(`tcpPause ${s.id}`); s.paused = true; this.hooks.tcpPause?.(s); }
  tcpResume(s: MemTcpSock): void { this.calls.push(`tcpResume ${s.id}`); s.paused = false; this.hooks.tcpResume?.(s); }

  tcpClose(s: MemTcpSock, reset: boolean): void {
    this.calls.push(`tcpClose ${s.id} ${reset ? 'reset' : 'close'}`);
    if (s.closed) throw new Error(`tcp socket ${s.id} closed twice`);
    s.closed = reset ? 'reset' : 'close';
    this.hooks.tcpClose?.(s, reset);
  }

  udpOpen(flow: NatUdpFlow<MemUdpSock>): MemUdpSock {
    const s: MemUdpSock = { id: ++this.ids, flow, sent: [], closed: false };
    this.udp.push(s);
    this.calls.push(`udpOpen ${s.id}`);
    return s;
  }

  udpSend(s: MemUdpSock, payload: Buffer): void {
    this.calls.push(`udpSend ${s.id} ${payload.length}`);
    if (s.closed) throw new Error(`udp socket ${s.id} used after close`);
    const b = Buffer.from(payload);
    s.sent.push(b);
    this.hooks.udpSend?.(s, b);
  }

  udpClose(s: MemUdpSock): void {
    this.calls.push(`udpClose ${s.id}`);
    if (s.closed) throw new Error(`udp socket ${s.id} closed twice`);
    s.closed = true;
    this.hooks.udpClose?.(s);
  }
}
