// The Node side of the userspace NAT: NatSockets (core/uplink/nat/nat-sockets.ts) over net.Socket and dgram.Socket,
// and the two things the sans-IO Nat (core/uplink/nat/nat.ts) asks of an event loop. Every decision is the Nat's.
//
//   Uplink.send / socket events → the Nat's input methods (with the driver's now()) → after():
//     batchPending()  → driver.endOfTurn runs endBatch() once per turn, so every flow touched in it dispatches once
//     nextDeadline()  → one wake-up from the driver for the whole NAT (an early timeout() does nothing)
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { DeliverToClients, Uplink } from '../core/uplink/uplink.js';
import { ipToString, ipFromString } from '../core/wire/ipv4.js';
import { formatIpv6, parseIpv6Text } from '../core/wire/ipv6.js';
import type { FlowKey } from '../core/uplink/nat/flow-key.js';
import type { FlowCounters, NatStats } from '../core/uplink/nat/counters.js';
import { Nat, type NatOptions as CoreNatOptions, type NatTcpFlow, type NatUdpFlow } from '../core/uplink/nat/nat.js';
import type { NatSockets } from '../core/uplink/nat/nat-sockets.js';
import type { NatTimeouts } from '../core/uplink/nat/udp-flow.js';
import type { TcpState } from '../core/uplink/nat/tcp-endpoint.js';
import { Driver, Wakeup } from './driver.js';
import { ReadArena } from './read-arena.js';
import { log } from '../log.js';

export type { NatStats, FlowCounters, NatTimeouts };

export interface NatOptions extends CoreNatOptions {
  /** Source address for outbound sockets (nat-source); default: the OS chooses. */
  localAddress?: string;
}

export interface NatUplink extends Uplink {
  stats(): NatStats;
  clientStats(clientIp: number): FlowCounters | undefined;
  /** Socket-level state of the NAT right now (the server's `state` dump): what a stalled transfer waits for. */
  ioState(): NatIoState;
  /** Drops the empty read chunks kept for reuse (the server went idle: idle-memory.ts). */
  releaseSpare(): void;
  /**
   * forward-port: carry an accepted outer TCP connection (allowHalfOpen) to clientIp:port from the server's tunnel
   * address (NatOptions.localIp). False when the NAT cannot make the flow: the caller refuses the connection.
   */
  forwardTcp(sock: net.Socket, clientIp: number, port: number): boolean;
  /**
   * forward-port: a UDP flow from one outer peer of `listener` to clientIp:port; the client's answers are sent to
   * the peer from `listener` (each reported to sent()). gone() runs when the flow leaves the NAT (idle, client gone,
   * shutdown).
   */
  forwardUdp(listener: dgram.Socket, peer: { address: string; port: number }, clientIp: number, port: number,
    hooks: ForwardUdpHooks): ForwardedUdp | undefined;
}

export interface ForwardUdpHooks { sent(bytes: number): void; gone(): void }

export interface ForwardedUdp {
  /** A datagram from the outer peer, for the client. */
  send(payload: Buffer): void;
  readonly dead: boolean;
}

export interface NatIoState {
  tcpFlows: number;
  udpFlows: number;
  /** Outbound sockets paused because the client side has sndBuf bytes unacknowledged. */
  paused: number;
  corked: number;
  /** Server bytes waiting for the client's ACK, summed over flows. */
  txQueued: number;
  /** Client bytes written to outbound sockets and not yet taken by the OS, summed. */
  sockWritable: number;
  /** 64 KiB chunks the outbound sockets' reads were copied into (read-arena.ts): made so far, and empty for reuse. */
  readChunks: { chunks: number; free: number };
  /** The flow with the most bytes waiting for the client: its TCP send state. */
  worst?: { dst: string; state: TcpState; txQueued: number; inFlight: number; sndWnd: number; cwnd: number; rto: number; timer: string };
}

interface UdpSock {
  sock: dgram.Socket;
  /** The flow's destination as text, made once (dgram wants a string per send). */
  host: string;
  /** A forwarded flow's outer peer: the listener is shared, so it is not closed with the flow. */
  forward?: { port: number; hooks: ForwardUdpHooks };
}

/** The flow's destination address as text for the socket (and the log). */
const dstHost = (k: FlowKey): string => (k.v6 ? formatIpv6(k.v6.dst) : ipToString(k.dstIp));
const dstText = (k: FlowKey): string => (k.v6 ? `[${formatIpv6(k.v6.dst)}]:${k.dstPort}` : `${ipToString(k.dstIp)}:${k.dstPort}`);

export function createNatUplink(opts: NatOptions, deliver: DeliverToClients, driver = new Driver()): NatUplink {
  if (opts.localAddress !== undefined) ipFromString(opts.localAddress);  // fail early on a bad nat-source
  const now = driver.now;
  /** Sockets not yet closed, for close() to wait on. */
  const tcpSockets = new Set<net.Socket>();
  const udpSockets = new Set<dgram.Socket>();
  const arena = new ReadArena();

  const sockets: NatSockets<net.Socket, UdpSock> = {
    tcpConnect(flow: NatTcpFlow<net.Socket>): net.Socket {
      const { key } = flow;
      // onread is read by the constructor only (@types/node lists it with the connect options).
      const onread: net.OnReadOpts = {
        buffer: arena.readBuffer,
        callback(n) { nat.tcpData(flow, arena.copy(n), now()); after(); return true; },
      };
      const sock = new net.Socket({ allowHalfOpen: true, onread } as net.SocketConstructorOpts);
      sock.on('connect', () => { sock.setNoDelay(true); nat.tcpConnected(flow, now()); after(); });
      wireTcp(sock, flow, `${dstText(key)}`, false);
      // nat-source is an IPv4 address: IPv6 flows leave from the address the OS picks.
      if (key.v6) sock.connect({ host: dstHost(key), port: key.dstPort, family: 6 });
      else sock.connect({ host: dstHost(key), port: key.dstPort, localAddress: opts.localAddress, family: 4 });
      return sock;
    },
    tcpWrite(sock, bytes, flow) {
      const n = bytes.length;
      sock.write(bytes, () => { nat.tcpWritten(flow, n, now()); after(); });
    },
    tcpCork: (sock) => sock.cork(),
    tcpUncork: (sock) => sock.uncork(),
    tcpEnd: (sock) => { sock.end(); },
    tcpPause: (sock) => { sock.pause(); },
    tcpResume: (sock) => { sock.resume(); },
    tcpReleased: (bytes) => arena.release(bytes),
    tcpClose(sock, reset) {
      // libuv cannot reset a socket that was shut down (end() called): the reset fails with EINVAL, Node reports it
      // as an 'error' and never closes the handle. Such a socket is closed plainly.
      if (reset && !sock.destroyed && !sock.writableEnded) sock.resetAndDestroy();
      else sock.destroy();
    },
    udpOpen(flow: NatUdpFlow<UdpSock>): UdpSock {
      const { key } = flow;
      const u: UdpSock = { sock: dgram.createSocket({ type: key.v6 ? 'udp6' : 'udp4' }), host: dstHost(key) };
      udpSockets.add(u.sock);
      u.sock.on('close', () => udpSockets.delete(u.sock));
      u.sock.on('message', (msg, rinfo) => {
        // The Nat filters on the source; the text compare only spares parsing the usual (matching) address.
        if (key.v6) {
          const src6 = rinfo.address === u.host ? key.v6.dst : parseIpv6Text(rinfo.address);
          if (src6) nat.udpReceived6(flow, msg, src6, rinfo.port, now());
        } else {
          const src = rinfo.address === u.host ? key.dstIp : ipFromString(rinfo.address);
          nat.udpReceived(flow, msg, src, rinfo.port, now());
        }
        after();
      });
      u.sock.on('error', (err: NodeJS.ErrnoException) => {
        log('debug', 'nat: udp socket error', { dst: `${u.host}:${key.dstPort}`, code: err.code });
        nat.udpFailed(flow);
        after();
      });
      if (opts.localAddress !== undefined && !key.v6) u.sock.bind({ address: opts.localAddress, port: 0 });
      return u;
    },
    udpSend(u, payload, flow) {
      u.forward?.hooks.sent(payload.length);
      u.sock.send(payload, u.forward?.port ?? flow.key.dstPort, u.host, (err) => {
        if (!err) return;
        nat.udpSendFailed(flow, (err as NodeJS.ErrnoException).code, payload);
        after();
      });
    },
    udpClose(u) {
      if (u.forward) { u.forward.hooks.gone(); return; }
      try { u.sock.close(); } catch { /* already closed */ }
    },
  };

  /** The events of a flow's socket (outbound, or the outer connection of a forwarded flow) into the Nat. */
  function wireTcp(sock: net.Socket, flow: NatTcpFlow<net.Socket>, peer: string, dataEvents: boolean): void {
    tcpSockets.add(sock);
    if (dataEvents) sock.on('data', (chunk: Buffer) => { nat.tcpData(flow, chunk, now()); after(); });
    sock.on('end', () => { nat.tcpEnded(flow, now()); after(); });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (flow.dead) return;
      log('debug', 'nat: tcp socket error', { peer, code: err.code });
      nat.tcpFailed(flow, now(), err.code);
      after();
    });
    sock.on('close', () => {
      tcpSockets.delete(sock);
      nat.tcpClosed(flow, sock.readableEnded && sock.writableFinished, now());
      after();
    });
  }

  const nat = new Nat<net.Socket, UdpSock>(opts, { sockets, deliver, random: () => randomInt(0, 0x100000000) });

  const wakeup = new Wakeup((t) => { nat.timeout(t); after(); });

  /** After every input: queue the batch for the end of this turn, and ask the driver for the next deadline. */
  function after(): void {
    if (nat.batchPending()) driver.endOfTurn(runBatch);
    driver.wakeAt(wakeup, nat.nextDeadline());
  }

  function runBatch(): void {
    nat.endBatch(now());
    after();
  }

  return {
    send(clientIp: number, packet: Buffer): void {
      nat.fromClient(clientIp, packet, now());
      after();
    },
    clientGone(clientIp: number): void {
      const c = nat.clientStats(clientIp);
      if (!c) return;
      log('info', 'nat: client flows flushed', {
        client: ipToString(clientIp), flows: c.flowsOpen, created: c.flowsCreated, bytesOut: c.bytesOut, bytesIn: c.bytesIn,
      });
      nat.clientGone(clientIp);
      after();
    },
    async close(): Promise<void> {
      // A socket leaves these sets on 'close': destroyed ones still in them have not closed yet.
      const closed = [...tcpSockets].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
      for (const s of udpSockets) closed.push(new Promise<void>((resolve) => s.once('close', () => resolve())));
      nat.shutdown();
      driver.wakeAt(wakeup, undefined);
      await Promise.all(closed);
    },
    forwardTcp(sock, clientIp, port): boolean {
      const flow = nat.tcpOpenToClient(clientIp, port, sock, now());
      if (!flow) return false;
      sock.setNoDelay(true);
      wireTcp(sock, flow, `${sock.remoteAddress}:${sock.remotePort}`, true);
      after();
      return true;
    },
    forwardUdp(listener, peer, clientIp, port, hooks): ForwardedUdp | undefined {
      const u: UdpSock = { sock: listener, host: peer.address, forward: { port: peer.port, hooks } };
      const flow = nat.udpOpenToClient(clientIp, port, u, now());
      if (!flow) return undefined;
      after();
      return {
        send(payload) { nat.udpForwardIn(flow, payload, now()); after(); },
        get dead() { return flow.dead; },
      };
    },
    stats: () => nat.stats(),
    releaseSpare: () => arena.releaseSpare(),
    clientStats: (clientIp) => nat.clientStats(clientIp),
    ioState(): NatIoState {
      const s = nat.stats();
      const st: NatIoState = { tcpFlows: s.tcpFlows, udpFlows: s.udpFlows, paused: 0, corked: 0, txQueued: 0, sockWritable: 0,
        readChunks: arena.stats() };
      let worst: NatTcpFlow<net.Socket> | undefined;
      for (const f of nat.tcpFlows()) {
        if (f.paused) st.paused++;
        if (f.corked) st.corked++;
        const q = f.ep.txQueued();
        st.txQueued += q;
        st.sockWritable += f.sock.writableLength;
        if (!worst || q > worst.ep.txQueued()) worst = f;
      }
      if (worst) {
        st.worst = { dst: dstText(worst.key), state: worst.ep.state,
          txQueued: worst.ep.txQueued(), ...worst.ep.sendState() };
      }
      return st;
    },
  };
}
