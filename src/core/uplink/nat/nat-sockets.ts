// The NAT's only way out: the outbound sockets, behind a narrow interface. src/io/nat-uplink.ts implements it with
// net.Socket and dgram.Socket; test/helpers/sim/ has an in-memory double. T and U are the implementation's own
// socket handles: the Nat keeps the one each open call returns and hands it back to every later call.
//
// Contract: calls are plain method calls on the data path (no command objects). What a socket reports (connected,
// data, end, error, close, write done, datagram) goes back into the Nat's event methods (Nat.tcpConnected, …) later,
// never from inside one of these calls: the Nat is not re-entrant.
import type { NatTcpFlow, NatUdpFlow } from './nat.js';

export interface NatSockets<T, U> {
  /** Start an outbound TCP connection to the flow's destination. Report Nat.tcpConnected or Nat.tcpFailed. */
  tcpConnect(flow: NatTcpFlow<T>): T;
  /** Queue bytes for the server; report Nat.tcpWritten(flow, bytes.length) once the socket has taken them. */
  tcpWrite(sock: T, bytes: Buffer, flow: NatTcpFlow<T>): void;
  /** Hold writes until tcpUncork (one writev for a client's burst). */
  tcpCork(sock: T): void;
  tcpUncork(sock: T): void;
  /** Half-close towards the server (after the queued writes). */
  tcpEnd(sock: T): void;
  /** Stop / restart reading from the server (the client's side is full / drained). */
  tcpPause(sock: T): void;
  tcpResume(sock: T): void;
  /** Drop the socket: with `reset`, send the server a RST; otherwise close it as it stands. No events follow. */
  tcpClose(sock: T, reset: boolean): void;
  /** Bytes once passed to Nat.tcpData that the Nat holds no longer (the client ACKed them, or the flow is gone). */
  tcpReleased?(bytes: Buffer): void;

  /** A UDP socket for the flow; datagrams it receives go to Nat.udpReceived. */
  udpOpen(flow: NatUdpFlow<U>): U;
  /** Send one datagram to the flow's destination; report Nat.udpSendFailed on failure. */
  udpSend(sock: U, payload: Buffer, flow: NatUdpFlow<U>): void;
  /** No events follow. */
  udpClose(sock: U): void;
}
