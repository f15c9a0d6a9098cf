// The NAT's side of a TCP connection it opens towards a client (port forwarding: forward-port), sans IO. It sends
// our SYN, resends it with a doubling delay until connectTimeout, and on the client's SYN-ACK hands over to a
// TcpEndpoint (TcpEndpoint.opened) that runs the connection from then on; every call is passed through to it.
// Until then the bytes of the outer connection wait here (txQueued counts them, so the Nat's backpressure holds).
//
//   synSent ─SYN-ACK─▶ (TcpEndpoint: established …)
//      │ RST with an acceptable ACK → closed (reset: the port is closed); connectTimeout → closed (timeout)
//
// RFC 9293 §3.10.7.3 (SYN-SENT). A SYN without ACK (simultaneous open) is not taken up: the client never opens a
// connection towards our forwarded-flow ports on its own.
import { EMPTY, type TcpRepr } from '../../wire/tcp.js';
import { seqAdd } from './seq.js';
import {
  TcpEndpoint, timestampOffset, windowShift, type CloseReason, type Emit, type SendState, type TcpConfig, type TcpEvent,
  type TcpState,
} from './tcp-endpoint.js';

/** What the Nat asks of the endpoint of a flow, passive (TcpEndpoint) or active (ActiveOpenEndpoint). */
export type NatTcpEndpoint = TcpEndpoint | ActiveOpenEndpoint;

export class ActiveOpenEndpoint {
  private inner: TcpEndpoint | undefined;
  private closedBy: CloseReason | undefined;
  private readonly iss: number;
  private readonly started: number;
  private readonly deadline: number;
  private resendAt: number | undefined;
  private delay: number;
  private resent = false;
  private synDue = true;
  private pendingRst: TcpRepr | undefined;
  private events: TcpEvent[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private finQueued = false;

  constructor(
    readonly localPort: number,   // our port (an ephemeral one on the server's tunnel address)
    readonly remotePort: number,  // the client's forwarded port
    private readonly cfg: TcpConfig,
    now: number,
  ) {
    this.iss = cfg.iss >>> 0;
    this.started = now;
    this.deadline = now + cfg.connectTimeout;
    this.delay = cfg.initialRto;
  }

  get state(): TcpState {
    if (this.inner) return this.inner.state;
    return this.closedBy ? 'closed' : 'synSent';
  }

  txQueued(): number { return this.inner ? this.inner.txQueued() : this.pendingBytes; }
  isClosed(): boolean { return this.state === 'closed'; }
  sendBufferWanted(): number { return this.inner?.sendBufferWanted() ?? 0; }
  txInFlight(): number { return this.inner?.txInFlight() ?? 0; }

  sendState(): SendState {
    if (this.inner) return this.inner.sendState();
    return { inFlight: 1, sndWnd: 0, cwnd: 0, ssthresh: 0, srtt: undefined, rto: this.delay, timer: this.closedBy ? 'idle' : 'syn' };
  }

  // ---- application commands ----

  /** The outer connection was accepted before we began: nothing to wait for. */
  accept(): void { this.inner?.accept(); }
  refuse(): void { this.abort(); }

  send(data: Buffer): void {
    if (this.inner) { this.inner.send(data); return; }
    if (this.closedBy || this.finQueued) return;
    this.pending.push(data);
    this.pendingBytes += data.length;
  }

  shutdown(): void {
    if (this.inner) this.inner.shutdown(); else this.finQueued = true;
  }

  /** RFC 9293 §3.10.4 ABORT in SYN-SENT: the connection just goes (a late SYN-ACK finds no flow and is reset). */
  abort(): void {
    if (this.inner) { this.inner.abort(); return; }
    this.close('aborted');
  }

  consumed(n: number): void { this.inner?.consumed(n); }

  poll(): TcpEvent | undefined { return this.events.shift() ?? this.inner?.poll(); }

  ackWaitsForBurstEnd(): boolean { return this.inner?.ackWaitsForBurstEnd() ?? false; }
  burstEnded(): void { this.inner?.burstEnded(); }

  pollAt(): number | undefined {
    if (this.inner) return this.inner.pollAt();
    if (this.closedBy) return undefined;
    return this.resendAt === undefined ? this.deadline : Math.min(this.resendAt, this.deadline);
  }

  // ---- input ----

  process(seg: TcpRepr, now: number): void {
    if (this.inner) { this.inner.process(seg, now); return; }
    if (this.closedBy) return;
    const sndNxt = seqAdd(this.iss, 1);
    const ackOk = seg.ack === sndNxt;
    if (seg.ack !== undefined && !ackOk) {
      // Not an answer to our SYN: <SEQ=SEG.ACK><CTL=RST>, unless it is a reset itself.
      if (seg.control !== 'rst') this.pendingRst = this.rst(seg.ack, undefined);
      this.drop('bad ACK in SYN-SENT');
      return;
    }
    if (seg.control === 'rst') {
      if (ackOk) this.close('reset'); else this.drop('RST without ACK in SYN-SENT');
      return;
    }
    if (seg.control !== 'syn' || !ackOk) { this.drop('segment before handshake'); return; }
    // Karn: a resent SYN makes the handshake's time no RTT sample.
    const ep = TcpEndpoint.opened(this.localPort, this.remotePort, seg, this.cfg, now, this.resent ? undefined : now - this.started);
    this.inner = ep;
    for (const b of this.pending) ep.send(b);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.finQueued) ep.shutdown();
  }

  dispatch(now: number, emit: Emit): void {
    if (this.pendingRst) {
      const r = this.pendingRst;
      this.pendingRst = undefined;
      emit(r, []);
    }
    if (this.inner) { this.inner.dispatch(now, emit); return; }
    if (this.closedBy) return;
    if (now >= this.deadline) { this.close('timeout'); return; }
    if (this.resendAt !== undefined && now >= this.resendAt) {
      this.synDue = true;
      this.resent = true;
      this.delay = Math.min(this.delay * 2, this.cfg.maxRto);
    }
    if (!this.synDue) return;
    this.synDue = false;
    this.resendAt = now + this.delay;
    emit(this.syn(now), []);
  }

  private syn(now: number): TcpRepr {
    const cfg = this.cfg;
    return {
      srcPort: this.localPort, dstPort: this.remotePort, seq: this.iss, ack: undefined, control: 'syn', psh: false,
      window: Math.min(cfg.rcvBuf, 0xffff), mss: cfg.mss, wscale: windowShift(Math.max(cfg.rcvBuf, cfg.rcvBufMax)), sackPermitted: true,
      tsVal: cfg.timestamps ? (Math.floor(now) + timestampOffset(this.iss)) >>> 0 : undefined,
      tsEcr: cfg.timestamps ? 0 : undefined, payload: EMPTY,
    };
  }

  private rst(seq: number, ack: number | undefined): TcpRepr {
    return {
      srcPort: this.localPort, dstPort: this.remotePort, seq, ack, control: 'rst', psh: false, window: 0,
      sackPermitted: false, payload: EMPTY,
    };
  }

  private close(reason: CloseReason): void {
    this.closedBy = reason;
    this.resendAt = undefined;
    this.pending = [];
    this.pendingBytes = 0;
    this.events.push({ t: 'closed', reason });
  }

  private drop(reason: string): void { this.cfg.onDrop?.(reason); }
}
