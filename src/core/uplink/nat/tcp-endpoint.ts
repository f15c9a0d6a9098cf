// The NAT's side of one client TCP connection, sans IO. The client's SYN creates it (passive open); the io layer
// connects an outbound socket and calls accept() or refuse(). Segments from the client go in through process(),
// segments to the client come out of dispatch(), and pollAt() says when dispatch() must run again on its own.
// Application side (the outbound socket): send()/shutdown()/abort()/consumed() in, poll() events out.
//
//   client SYN ─▶ synPending ─accept()─▶ synReceived ─ACK─▶ established ─┬─ client FIN ─▶ closeWait ─FIN─▶ lastAck
//                   │ refuse()/timeout → RST                              └─ shutdown() ─▶ finWait1 ─▶ finWait2/closing
//                                                                                              └──────▶ timeWait ─▶ closed
//
// Sequence numbers are compared only through seq.ts. One timer slot holds the connect timeout, the retransmit
// (RFC 6298) or zero-window-probe timer, or TIME-WAIT; the delayed ACK and RACK's reordering timer have their own.
// Loss recovery with SACK (offered only when the client's SYN permits it): the segments in flight (sent-segments.ts)
// carry their send times, RACK (rack.ts, RFC 8985) marks the overtaken ones lost once a reordering window has
// passed, they are resent first and PRR (prr.ts, RFC 6937) paces the flight down to ssthresh; a tail loss probe
// (RFC 8985 §7) makes the loss of a window's tail show up in SACK blocks after 2 SRTT instead of a timeout.
// Without SACK it is NewReno (RFC 6582) on three duplicate ACKs. A recovery that D-SACKs or timestamps show
// spurious is undone (recovery-undo.ts). Congestion control (congestion.ts: NewReno, cubic.ts: CUBIC, either with
// HyStart++ in hystart.ts), the RTT (rtt-estimator.ts) and the RFC 7323 timestamps (timestamps.ts, when the client
// offers them) live in their own files. ECN (RFC 3168) runs when the client's SYN asks for it: our new data goes out
// ECT(0), a CE mark from the client is echoed in ECE until its CWR, and an ECE reduces the window once per window of
// data, as a loss would but with nothing resent (BBR, like Linux's, does not take ECE as a signal).
import { ECN, EMPTY, type TcpControl, type TcpRepr } from '../../wire/tcp.js';
import { ByteQueue } from './byte-queue.js';
import { NewReno, type CongestionAlgorithm, type CongestionControl } from './congestion.js';
import { Cubic } from './cubic.js';
import { HyStart } from './hystart.js';
import { Pacer } from './pacer.js';
import { Bbr, type BbrModel } from './bbr.js';
import { DeliveryRate } from './delivery-rate.js';
import { Prr } from './prr.js';
import { Rack } from './rack.js';
import { OutOfOrderQueue } from './out-of-order.js';
import { ReceiveBuffer } from './receive-buffer.js';
import { RecoveryUndo } from './recovery-undo.js';
import { RttEstimator } from './rtt-estimator.js';
import { RETRANSMITTED, SentSegments, type OnDelivered } from './sent-segments.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, type Seq } from './seq.js';
import { Timestamps } from './timestamps.js';

export type TcpState =
  | 'synSent' | 'synPending' | 'synReceived' | 'established' | 'finWait1' | 'finWait2' | 'closing' | 'timeWait'
  | 'closeWait' | 'lastAck' | 'closed';

type Timer =
  | { kind: 'idle' }
  | { kind: 'connect'; at: number }
  | { kind: 'retransmit'; at: number; delay: number }
  | { kind: 'probe'; at: number }
  | { kind: 'zeroWindowProbe'; at: number; delay: number }
  | { kind: 'timeWait'; at: number };

/** Why the connection ended: the client reset it, we gave up (timeout), the app aborted, or an orderly close. */
export type CloseReason = 'reset' | 'timeout' | 'aborted' | 'done';

export type TcpEvent =
  | { t: 'data'; bytes: Buffer }  // in-order bytes from the client: write them to the outbound socket
  | { t: 'fin' }                  // the client finished sending: end() the outbound socket
  | { t: 'closed'; reason: CloseReason };

export interface TcpConfig {
  /** Largest segment we send or accept (the MSS clamp); the client's MSS option can lower it. */
  mss: number;
  /** Receive buffer: the most client bytes held un-consumed by the outbound socket, at first. */
  rcvBuf: number;
  /** What the receive buffer may grow to when the outbound socket drains fast (receive-buffer.ts); the window
   *  scale offered in the SYN-ACK is sized for it. */
  rcvBufMax: number;
  connectTimeout: number;
  timeWait: number;
  initialRto: number;
  minRto: number;
  maxRto: number;
  /** Retransmissions of one segment before the connection is reset. */
  maxRetries: number;
  /** Longest delay of an ACK for in-order data (RFC 1122 4.2.3.2 allows up to 500 ms). */
  ackDelay: number;
  /** Full-sized segments after which in-order data is ACKed at once. Between 2 (RFC 5681 §4.2) and this many, the
   *  ACK waits for the end of the client's burst (burstEnded()), as a receiver with GRO ACKs once per burst; the
   *  ackDelay deadline still bounds the wait. 2 = an ACK for every second segment. */
  stretchAck: number;
  /** After the connection opens and after out-of-order, repeated or gap-filling data, this many in-order segments
   *  are ACKed every second one whatever stretchAck says: the sender's ACK clock in slow start and in recovery. */
  quickAcks: number;
  /** Our initial sequence number (random, from the io layer). */
  iss: Seq;
  /** Use RFC 7323 timestamps when the client's SYN offers them. */
  timestamps: boolean;
  congestion: CongestionAlgorithm;
  /** The initial slow start runs under HyStart++ (RFC 9406). */
  hystart: boolean;
  /** New data leaves paced at gain × cwnd / srtt (pacer.ts) rather than in bursts. */
  pacing: boolean;
  /** Answer a client SYN that asks for ECN (RFC 3168 §6.1.1) with an ECN-setup SYN-ACK. */
  ecn: boolean;
  onDrop?: (reason: string) => void;
  /** Bytes given to send() that the endpoint holds no longer: ACKed, or dropped with the connection. */
  onTxReleased?: (bytes: Buffer) => void;
  /** A segment sent again: after a retransmission timeout, or in fast recovery (dup ACKs, partial ACKs, RACK). */
  onRetransmit?: (kind: 'timeout' | 'fast' | 'probe') => void;
  /** A recovery undone: D-SACKs or timestamps showed its retransmissions needless. */
  onSpurious?: (by: 'dsack' | 'timestamp') => void;
  /** ECN on this connection: negotiated in the handshake, a CE-marked segment from the client, an ECE taken as a
   *  congestion signal (the window reduced, except under BBR). */
  onEcn?: (event: 'negotiated' | 'ce' | 'ece') => void;
}

export const TCP_DEFAULTS: Omit<TcpConfig, 'iss'> = {
  mss: 1460, rcvBuf: 256 * 1024, rcvBufMax: 8 << 20, connectTimeout: 20_000, timeWait: 5_000,
  initialRto: 1000, minRto: 200, maxRto: 60_000, maxRetries: 8, ackDelay: 40, stretchAck: 2, quickAcks: 32, timestamps: true,
  congestion: 'bbr', hystart: true, pacing: false, ecn: true,
};

/** RFC 9293 §3.7.1: the MSS assumed when the SYN carries none. */
const DEFAULT_MSS = 536;
/**
 * Out-of-order segments kept for reassembly; more are dropped (the client resends them). Enough for a whole window of
 * the largest receive buffer behind one hole (8 MiB of 1024-byte segments): a window that outgrows the queue turns
 * every loss into the loss of the rest of the window.
 */
const MAX_OOO_SEGMENTS = 8192;
/** SACK blocks per segment: 4 fit in the 40 option bytes, 3 beside timestamps (RFC 2018 §3). */
const MAX_SACK_BLOCKS = 4;
/** The timestamps option with its two NOPs. */
const TS_OPTION_LEN = 12;
const DUP_ACK_THRESHOLD = 3;   // RFC 5681 §3.2
/** Linux's net.ipv4.tcp_invalid_ratelimit (ms). */
const OOW_ACK_INTERVAL = 500;
/** Floor of the tail loss probe timeout (RFC 8985 §7.2 suggests 10 ms). */
const TLP_MIN_MS = 10;
const INITIAL_CWND_SEGMENTS = 10;  // RFC 6928

export type Emit = (repr: TcpRepr, data: readonly Buffer[]) => void;

/** The window scale that lets a window of rcvBuf bytes be advertised. */
export function windowShift(rcvBuf: number): number {
  let shift = 0;
  while (shift < 14 && (0xffff << shift) < rcvBuf) shift++;
  return shift;
}

/** Our TSval is the clock plus this per-connection offset. */
export function timestampOffset(iss: Seq): number { return (iss ^ 0x9e3779b9) >>> 0; }

/** What a stalled or slow flow's sender waits for (sendState()). */
export interface SendState {
  inFlight: number; sndWnd: number; cwnd: number; ssthresh: number; srtt: number | undefined; rto: number; timer: string;
  bbr?: BbrModel;
}

export class TcpEndpoint {
  state: TcpState = 'synPending';
  private timer: Timer;
  private ackDeadline: number | undefined;
  private ackNow = false;
  /** An ACK is due at the end of the client's current burst. */
  private ackAtBurstEnd = false;
  private pendingRst: TcpRepr | undefined;
  private events: TcpEvent[] = [];

  // Send side (towards the client).
  private readonly iss: Seq;
  private sndUna: Seq;
  private sndNxt: Seq;
  /** Highest sequence number sent so far: segments below it are retransmissions (Karn). */
  private sndMax: Seq;
  private sndWnd: number;
  /** Largest window the client ever offered (for silly window avoidance). */
  private maxSndWnd: number;
  private sndWl1: Seq;
  private sndWl2: Seq;
  private readonly sndShift: number;
  /** When the last ACK went out in answer to a pure ACK that was out of the window or failed PAWS. */
  private oowAckAt = -Infinity;
  /** Payload bytes per full segment: the MSS less the timestamps option when it is on. */
  readonly sndMss: number;
  private readonly tx: ByteQueue;
  private finQueued = false;
  private readonly cc: CongestionControl;
  private dupAcks = 0;
  /** In fast recovery until SND.UNA passes this (RFC 6582 "recover": SND.MAX when recovery began). */
  private recover: Seq | undefined;
  /** SND.MAX at the last retransmission timeout, until an ACK covers it. */
  private timedOutAt: Seq | undefined;
  /** The client's SYN carried SACK-permitted, and so did our SYN-ACK. */
  private readonly sackOk: boolean;
  /** Sequence number of the latest out-of-order segment received (its block leads our SACK option). */
  private lastOooSeq: Seq | undefined;
  /** A duplicate the client sent, reported once as the first SACK block of our next segment (D-SACK, RFC 2883 §4). */
  private dsack: [Seq, Seq] | undefined;
  /** The segments in flight, kept only with SACK (RACK needs their send times). */
  private readonly segs = new SentSegments();
  private readonly rack = new Rack();
  private readonly prr = new Prr();
  private readonly undo = new RecoveryUndo();
  private readonly ts: Timestamps | undefined;
  private readonly pacer: Pacer | undefined;
  /** With congestion 'bbr' and SACK: the model and the delivery rates it is built from. */
  private readonly bbr: Bbr | undefined;
  private readonly rate: DeliveryRate | undefined;
  /** Sees each segment an ACK delivers: RACK, and the delivery rate with BBR. */
  private readonly onDelivered: OnDelivered;
  /** The pipe (RFC 6675) the last detectLoss() measured in a recovery, for BBR's window on the same ACK. */
  private lossPipe: number | undefined;
  /** New data waits for the pacer until then. */
  private pacedAt: number | undefined;
  /** The `now` of the current process() or dispatch(), for the TSval of segments built in it. */
  private clock: number;
  /** A tail loss probe is due in the next dispatch. */
  private probeDue = false;
  /** End of the last probe segment, until an ACK or SACK answers for it. */
  private probeEnd: Seq | undefined;
  private fastRetransmit = false;
  private retries = 0;
  /** The client's SYN carried ECE and CWR (RFC 3168 §6.1.1) and cfg.ecn let our SYN-ACK carry ECE. */
  private readonly ecnOk: boolean;
  /** A CE mark arrived: every segment carries ECE until the client's CWR (RFC 3168 §6.1.3). */
  private ceEcho = false;
  /** The window was reduced for an ECE: the next new data segment carries CWR. */
  private cwrDue = false;
  /** SND.MAX at the last reduction for ECE; an ECE counts again only on an ACK beyond it (§6.1.2: once per window). */
  private ecnRecover: Seq | undefined;

  private readonly rtt: RttEstimator;
  /** Karn-timed RTT measurement, without timestamps. */
  private rttSample: { seq: Seq; at: number } | undefined;

  // Receive side (from the client).
  private readonly irs: Seq;
  private rcvNxt: Seq;
  private readonly rcvShift: number;
  private readonly wsOk: boolean;
  /** Right edge of the window we last advertised; never moved left (RFC 9293 §3.8.6). */
  private rcvAdvEdge: Seq;
  /** Bytes handed to the app (events) and not yet consumed() by the outbound socket. */
  private rxPending = 0;
  private readonly rcvBuf: ReceiveBuffer;
  private readonly ooo = new OutOfOrderQueue(MAX_OOO_SEGMENTS);
  private unackedBytes = 0;
  /** In-order segments still ACKed every second one (TcpConfig.quickAcks). */
  private quickAckSegments: number;

  constructor(
    readonly localPort: number,   // the server's port, as the client addressed it
    readonly remotePort: number,  // the client's port
    syn: TcpRepr,
    private readonly cfg: TcpConfig,
    now: number,
  ) {
    this.tx = new ByteQueue(cfg.onTxReleased);
    this.iss = cfg.iss >>> 0;
    this.sndUna = this.sndNxt = this.sndMax = this.iss;
    this.sackOk = syn.sackPermitted;
    this.ecnOk = cfg.ecn && syn.ack === undefined && syn.ece === true && syn.cwr === true;
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.rcvAdvEdge = this.rcvNxt;
    this.clock = now;
    this.quickAckSegments = cfg.quickAcks;
    if (cfg.timestamps && syn.tsVal !== undefined) {
      this.ts = new Timestamps(syn.tsVal, timestampOffset(cfg.iss), this.rcvNxt, now);
    }
    this.sndMss = Math.max(64, Math.min(syn.mss ?? DEFAULT_MSS, cfg.mss)) - (this.ts ? TS_OPTION_LEN : 0);
    // RFC 7323 §2.2: scaling is used only when both SYNs carry the option; the SYN's own window is unscaled.
    this.wsOk = syn.wscale !== undefined;
    this.sndShift = this.wsOk ? syn.wscale! : 0;
    this.rcvShift = this.wsOk ? windowShift(Math.max(cfg.rcvBuf, cfg.rcvBufMax)) : 0;
    this.rcvBuf = new ReceiveBuffer(cfg.rcvBuf, Math.max(cfg.rcvBuf, cfg.rcvBufMax), this.sndMss);
    this.sndWnd = syn.window;
    this.maxSndWnd = syn.window;
    this.sndWl1 = syn.seq;
    this.sndWl2 = this.iss;
    const hystart = cfg.hystart ? new HyStart(this.sndMss) : undefined;
    if (cfg.congestion === 'bbr' && this.sackOk) {
      this.cc = this.bbr = new Bbr(this.sndMss, INITIAL_CWND_SEGMENTS);
      const rate = this.rate = new DeliveryRate();
      const rack = this.rack;
      this.onDelivered = (xmitAt, end, flags, at) => { rack.delivered(xmitAt, end, flags); rate.onDelivered(xmitAt, at); };
    } else {
      this.cc = cfg.congestion === 'newreno' ? new NewReno(this.sndMss, INITIAL_CWND_SEGMENTS, hystart)
        : new Cubic(this.sndMss, INITIAL_CWND_SEGMENTS, hystart);
      this.onDelivered = this.rack.delivered;
    }
    this.rtt = new RttEstimator(cfg.initialRto, cfg.minRto, cfg.maxRto);
    if (cfg.pacing || this.bbr) this.pacer = new Pacer(this.sndMss, now);
    this.timer = { kind: 'connect', at: now + cfg.connectTimeout };
  }

  /**
   * A connection we opened (port forwarding, tcp-active-open.ts), established by the client's SYN-ACK to our SYN
   * (ISN cfg.iss, carrying the window shift of cfg.rcvBufMax, SACK-permitted, and timestamps when cfg.timestamps): the
   * SYN-ACK's options are the negotiated ones, as a SYN's are for a passive open. The ACK of it is due at once.
   */
  static opened(localPort: number, remotePort: number, synAck: TcpRepr, cfg: TcpConfig, now: number, rtt?: number): TcpEndpoint {
    const ep = new TcpEndpoint(localPort, remotePort, synAck, cfg, now);
    ep.sndUna = ep.sndNxt = ep.sndMax = seqAdd(ep.iss, 1);
    ep.sndWl2 = ep.sndUna;
    ep.state = 'established';
    ep.timer = { kind: 'idle' };
    ep.ackNow = true;
    if (rtt !== undefined) ep.rtt.sample(rtt);
    return ep;
  }

  // ---- getters ----

  /** Bytes from the outbound socket not yet acknowledged by the client (sent or not). */
  txQueued(): number { return this.tx.length; }
  isClosed(): boolean { return this.state === 'closed'; }
  /** Bytes sent and not yet cumulatively ACKed: SACKed data stays held until the holes before it are filled. */
  txInFlight(): number { return Math.min(this.tx.length, Math.max(0, seqDiff(this.sndNxt, this.sndUna))); }
  /** The server data worth holding for this flow: what is in flight and one more congestion window. */
  sendBufferWanted(): number { return this.txInFlight() + this.cc.cwnd; }
  /** Current receive window in bytes. */
  rcvWindow(): number { return Math.max(0, this.rcvBuf.size - this.rxPending - this.ooo.bytes); }
  /** Send-side state for diagnostics (the server's `state` dump): what a stalled flow waits for. */
  sendState(): SendState {
    return {
      inFlight: (this.sndNxt - this.sndUna) >>> 0, sndWnd: this.sndWnd, cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh, srtt: this.rtt.srtt, rto: this.rtt.rto, timer: this.timer.kind, bbr: this.bbr?.model(),
    };
  }

  // ---- application commands ----

  /** The outbound socket connected: answer the client's SYN. */
  accept(): void {
    if (this.state !== 'synPending') return;
    this.state = 'synReceived';
    this.timer = { kind: 'idle' };
  }

  /** The outbound connection failed: reset the client (RFC 9293 §3.10.7.1 form <SEQ=0><ACK=SEG.SEQ+SEG.LEN>). */
  refuse(): void {
    if (this.state !== 'synPending') return;
    this.pendingRst = this.rst(0, this.rcvNxt);
    this.close('aborted');
  }

  /** Bytes read from the outbound socket, to be sent to the client. */
  send(data: Buffer): void {
    if (this.finQueued || this.state === 'closed') { this.cfg.onTxReleased?.(data); return; }
    this.tx.push(data);
  }

  /** The outbound socket ended: send FIN after the queued data. */
  shutdown(): void {
    if (this.state === 'closed') return;
    this.finQueued = true;
  }

  /** The outbound socket failed or was reset: reset the client. */
  abort(): void {
    if (this.state === 'closed') return;
    if (this.state === 'synPending') { this.refuse(); return; }
    if (this.state !== 'timeWait') this.pendingRst = this.rst(this.sndNxt, this.rcvNxt);
    this.close('aborted');
  }

  /** The outbound socket accepted n of the bytes delivered in 'data' events; the window may reopen. */
  consumed(n: number): void {
    this.rxPending = Math.max(0, this.rxPending - n);
    this.rcvBuf.consumed(n, this.clock, this.rtt.srtt);
    if (this.state !== 'established' && this.state !== 'finWait1' && this.state !== 'finWait2') return;
    const advertised = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    // Receiver-side silly window avoidance (RFC 1122 4.2.3.3): update only when the window opens by a useful amount
    // and at least doubles (as Linux does), so a sink that keeps up causes no window-update ACKs of its own.
    const wnd = this.rcvWindow();
    if (wnd - advertised >= Math.min(this.rcvBuf.size / 2, 2 * this.sndMss) && wnd >= 2 * advertised) this.ackNow = true;
  }

  /** Next event for the app, or undefined. */
  poll(): TcpEvent | undefined { return this.events.shift(); }

  /** True while an ACK waits for the end of the client's burst (see TcpConfig.stretchAck). */
  ackWaitsForBurstEnd(): boolean { return this.ackAtBurstEnd && !this.ackNow; }

  /** The io layer saw the client's burst end (a turn without segments for this connection): ACK what it held. */
  burstEnded(): void { if (this.ackAtBurstEnd) this.ackNow = true; }

  /** Earliest time dispatch() must run even without input; undefined when only input can make progress. */
  pollAt(): number | undefined {
    let at: number | undefined;
    if (this.timer.kind !== 'idle') at = this.timer.at;
    if (this.ackDeadline !== undefined && (at === undefined || this.ackDeadline < at)) at = this.ackDeadline;
    const r = this.rack.timerAt;
    if (r !== undefined && (at === undefined || r < at)) at = r;
    const p = this.pacedAt;
    if (p !== undefined && (at === undefined || p < at)) at = p;
    return at;
  }

  // ---- input ----

  process(seg: TcpRepr, now: number): void {
    this.clock = now;
    switch (this.state) {
      case 'closed':
        return;
      case 'synPending':
        // Waiting for the outbound connect: a retransmitted SYN needs no answer yet; a RST at the right
        // sequence number (RFC 5961 §3.2) means the client gave up.
        if (seg.control === 'rst' && seg.seq === this.rcvNxt) this.close('reset');
        else if (!(seg.control === 'syn' && seg.seq === this.irs)) this.drop('segment before handshake');
        return;
      default:
        this.processSynchronized(seg, now);
    }
  }

  private processSynchronized(seg: TcpRepr, now: number): void {
    const payloadLen = seg.payload.length;
    const len = payloadLen + (seg.control === 'syn' || seg.control === 'fin' ? 1 : 0);

    // A SYN in SYN-RECEIVED with the original ISN is the client resending: resend our SYN-ACK.
    if (seg.control === 'syn') {
      if (this.state === 'synReceived' && seg.seq === this.irs) {
        if (this.sndNxt !== this.sndUna) this.sndNxt = this.sndUna;
        return;
      }
      // RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK.
      this.drop('SYN in synchronized state');
      this.ackNow = true;
      return;
    }

    // RFC 7323 §5.3 R1: PAWS, before the sequence check.
    const ts = this.ts;
    if (ts && seg.tsVal !== undefined && seg.control !== 'rst' && ts.paws(seg.tsVal, now)) {
      this.answerUnacceptable(seg, now);
      this.drop('PAWS: old timestamp');
      return;
    }

    // RFC 9293 §3.10.7.4 first check: is the segment's sequence range acceptable?
    const wnd = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    const seqOk = this.acceptable(seg.seq, len, wnd);
    if (!seqOk) {
      if (seg.control !== 'rst') {
        this.answerUnacceptable(seg, now);
        // Data wholly below RCV.NXT arrived twice: D-SACK it on this ACK (RFC 2883 §4.1.1).
        const end = seqAdd(seg.seq, payloadLen);
        if (this.sackOk && payloadLen > 0 && seqLe(end, this.rcvNxt)) this.dsack = [seg.seq, end];
        // A retransmitted FIN in TIME-WAIT restarts the 2MSL wait (RFC 9293 §3.10.7.4, TIME-WAIT).
        if (this.state === 'timeWait' && seg.control === 'fin') this.timer = { kind: 'timeWait', at: now + this.cfg.timeWait };
      }
      this.drop('sequence number outside the window');
      return;
    }

    if (ts && seg.tsVal !== undefined) ts.update(seg.tsVal, seg.seq, now);

    // RST: RFC 5961 §3.2, only an exact match resets; one elsewhere in the window gets a challenge ACK.
    if (seg.control === 'rst') {
      if (seg.seq === this.rcvNxt) this.close('reset');
      else { this.ackNow = true; this.drop('RST not at RCV.NXT'); }
      return;
    }

    if (seg.ack === undefined) { this.drop('no ACK'); return; }

    if (this.state === 'synReceived') {
      if (seg.ack !== this.sndNxt || this.sndNxt === this.iss) {
        // RFC 9293 §3.10.7.4 SYN-RECEIVED: an unacceptable ACK is answered with <SEQ=SEG.ACK><CTL=RST>.
        this.pendingRst = this.rst(seg.ack, undefined);
        this.drop('bad ACK in SYN-RECEIVED');
        return;
      }
      this.state = 'established';
      this.sndWl1 = seqAdd(seg.seq, -1);  // so the window update below applies
      this.sndWl2 = seg.ack;
      if (this.ecnOk) this.cfg.onEcn?.('negotiated');
    }

    if (this.ecnOk) {
      // RFC 3168 §6.1.3: the client's CWR ends the echo; a CE mark (on this very segment too) starts it again.
      if (seg.cwr) this.ceEcho = false;
      if (seg.ecn === ECN.CE) {
        if (!this.ceEcho) this.ackNow = true;  // the sender learns of it within one segment, not after a delayed ACK
        this.ceEcho = true;
        this.cfg.onEcn?.('ce');
      }
    }

    if (seqGt(seg.ack, this.sndNxt)) {
      // ACK for something not yet sent (we may have gone back after a timeout: then it is an ACK of what we sent).
      if (seqLe(seg.ack, this.sndMax)) this.sndNxt = seg.ack;
      else { this.ackNow = true; this.drop('ACK of unsent data'); return; }
    }
    this.processAck(seg, payloadLen, now);
    if (this.isClosed()) return;

    if (payloadLen > 0) this.processData(seg, now);

    if (seg.control === 'fin' && seqAdd(seg.seq, payloadLen) === this.rcvNxt) this.processFin(now);
  }

  private acceptable(seq: Seq, len: number, wnd: number): boolean {
    const inWnd = (s: Seq) => seqGe(s, this.rcvNxt) && seqLt(s, seqAdd(this.rcvNxt, wnd));
    if (len === 0) return wnd === 0 ? seq === this.rcvNxt : inWnd(seq);
    // A zero window still lets the ACK of a segment at RCV.NXT through (RFC 9293 §3.10.7.4); its data is trimmed later.
    if (wnd === 0) return seq === this.rcvNxt;
    return inWnd(seq) || inWnd(seqAdd(seq, len - 1));
  }

  private processAck(seg: TcpRepr, payloadLen: number, now: number): void {
    const ack = seg.ack!;
    if (seqLt(ack, this.sndUna)) return;  // an old duplicate: nothing to learn from its ACK or window
    const acked = seqDiff(ack, this.sndUna);
    const oldWnd = this.sndWnd;
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = seg.window << this.sndShift;
      if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
    }
    const sackOk = this.sackOk;
    if (sackOk) this.rack.beginAck(now, this.rtt.minRtt);
    let delivered = 0;
    if (acked > 0) {
      let dataAcked = acked;
      if (this.sndUna === this.iss) dataAcked--;  // our SYN
      let finAcked = false;
      if (dataAcked > this.tx.length) { finAcked = true; dataAcked = this.tx.length; }
      this.tx.consume(dataAcked);
      const flight = seqDiff(this.sndNxt, this.sndUna);
      this.sndUna = ack;
      delivered = acked;
      if (sackOk) delivered -= this.segs.ack(ack, this.onDelivered);
      this.sampleRtt(seg, ack, flight, now);
      this.retries = 0;
      if (this.undo.timestampShowsSpurious(ack, seg.tsEcr)) this.undoRecovery('timestamp');
      if (this.timedOutAt !== undefined && seqGe(ack, this.timedOutAt)) {
        this.timedOutAt = undefined;
        this.undo.take();  // everything sent before the timeout is acknowledged: the episode is over
        this.bbr?.onTimeoutRecovered();
      }
      if (this.recover !== undefined) {
        if (seqGe(ack, this.recover)) {
          this.recover = undefined;  // full ACK: leave fast recovery
          this.cc.onRecoveryEnd();
          this.rack.recoveryEnded();
        } else if (!sackOk) {
          // RFC 6582 §3.2 step 5, partial ACK: the segment at the new SND.UNA was lost too; resend it now instead of
          // waiting for a timeout, deflate the window by what was acknowledged, and stay in recovery.
          this.cc.setCwnd(Math.max(this.cc.cwnd - acked, this.sndMss) + (acked >= this.sndMss ? this.sndMss : 0));
          this.fastRetransmit = true;
          this.cfg.onRetransmit?.('fast');
        }
      } else this.cc.onAck(acked, now, this.rtt.srtt, this.sndUna, this.sndNxt);
      // BBR's model goes on through recovery (Linux runs it on every ACK): its round trips and its window.
      if (this.bbr && this.recover !== undefined) this.bbr.onAck(acked, now, this.rtt.srtt, this.sndUna, this.sndNxt);
      this.dupAcks = 0;
      if (this.probeEnd !== undefined && seqGe(ack, this.probeEnd)) this.probeEnd = undefined;
      this.timer = { kind: 'idle' };
      if (this.sndNxt !== this.sndUna) this.armLossTimer(now);
      if (finAcked) this.ourFinAcked(now);
    } else if (payloadLen === 0 && seg.control === 'none' && this.sndWnd === oldWnd && this.sndNxt !== this.sndUna) {
      // RFC 5681 §2 duplicate ACK; without SACK the third starts fast retransmit and fast recovery.
      this.dupAcks++;
      if (!sackOk) {
        if (this.recover !== undefined) this.cc.setCwnd(this.cc.cwnd + this.sndMss);  // one more segment has left the network
        else if (this.dupAcks === DUP_ACK_THRESHOLD) this.enterRecovery();
      }
    }
    if (sackOk) {
      if (seg.sack) delivered += this.noteSack(seg.sack, ack);
      this.rack.endAck();
      const r = this.rate?.sample(delivered, now, this.rtt.minRtt);
      if (r) this.bbr!.onRate(r.rate, r.appLimited, now, seqDiff(this.sndNxt, this.sndUna));
      // Without timestamps RACK's send times give the congestion algorithm (HyStart++) a sample per ACK, where
      // Karn's rule gives the RTT estimator one per round trip.
      const tsSampled = this.ts !== undefined && seg.tsEcr !== undefined;
      if (!tsSampled && this.rack.ackRtt !== undefined) this.cc.onRttSample(this.rack.ackRtt);
      const lost = this.detectLoss(delivered, now);
      this.bbrAccount(delivered, lost, now);
    }
    // After loss detection: a loss in the same ACK starts a recovery, which reduces the window by itself.
    if (seg.ece && this.ecnOk) this.ecnEcho(ack, acked, now);
    if (this.sndWnd > 0 && this.timer.kind === 'zeroWindowProbe') this.timer = { kind: 'idle' };
  }

  /** What an ACK or RACK's timer delivered and marked lost (segments), for BBR's rounds and its recovery window. */
  private bbrAccount(delivered: number, lost: number, now: number): void {
    if (!this.bbr) return;
    if (this.recover === undefined) this.bbr.account(delivered, lost * this.sndMss, now);
    else this.bbr.account(delivered, lost * this.sndMss, now, this.lossPipe ?? this.segs.pipe());
  }

  /** RTT from the echoed timestamp of any ACK of new data (RFC 7323 §4.1), else from the one Karn-timed segment. */
  private sampleRtt(seg: TcpRepr, ack: Seq, flight: number, now: number): void {
    if (this.ts && seg.tsEcr !== undefined) {
      const r = this.ts.rttOf(seg.tsEcr, now);
      // RFC 7323 Appendix G: about one sample per two segments of the flight arrives each RTT.
      if (r !== undefined) {
        this.rtt.sample(r, Math.max(1, Math.ceil(flight / (2 * this.sndMss))));
        this.cc.onRttSample(r);
      }
      this.rttSample = undefined;
    } else if (this.rttSample && seqGe(ack, this.rttSample.seq)) {
      this.rtt.sample(now - this.rttSample.at);
      if (!this.sackOk) this.cc.onRttSample(now - this.rttSample.at);
      this.rttSample = undefined;
    }
  }

  /**
   * Merge SACK blocks into the segments in flight; returns the bytes newly SACKed. A first block below the
   * cumulative ACK or inside the second block is a D-SACK (RFC 2883 §4): a duplicate arrived at the client.
   */
  private noteSack(blocks: [Seq, Seq][], ack: Seq): number {
    let bytes = 0;
    for (let i = 0; i < blocks.length; i++) {
      const [left, right] = blocks[i]!;
      if (!seqLt(left, right)) continue;
      if (i === 0) {
        const next = blocks[1];
        if (seqLt(left, ack) || (next && seqGe(left, next[0]) && seqLe(right, next[1]))) {
          this.rack.dsack(this.sndUna, this.sndNxt);
          if (this.undo.dsack(left)) this.undoRecovery('dsack');
          continue;
        }
      }
      if (seqGt(right, this.sndMax) || seqLe(right, ack)) continue;
      bytes += this.segs.sack(left, right, this.onDelivered);
    }
    return bytes;
  }

  /**
   * RACK (RFC 8985 §6.2) after an ACK or at its reordering timer: mark what is overdue lost, start recovery on the
   * first loss, and let PRR size the window for what this ACK delivered. Not while going back after a timeout.
   * Returns the segments newly marked lost.
   */
  private detectLoss(delivered: number, now: number): number {
    this.lossPipe = undefined;
    const inRecovery = this.recover !== undefined;
    if (this.sndNxt !== this.sndMax) return 0;
    if (this.segs.sackedCount === 0 && !inRecovery && this.rack.timerAt === undefined) return 0;
    const reoWnd = this.rack.reoWnd(inRecovery, this.segs.sackedCount, this.rtt.srtt ?? 0);
    const lost = this.rack.detectLoss(this.segs, now, reoWnd);
    if (lost > 0 && !inRecovery) this.enterRecovery();
    if (this.recover === undefined) return lost;
    const pipe = this.lossPipe = this.segs.pipe();
    let sndcnt = this.prr.sndcnt(delivered, pipe, this.cc.ssthresh, this.sndMss);
    if (!inRecovery) sndcnt = Math.max(sndcnt, this.sndMss);  // the fast retransmit itself
    this.cc.setCwnd(pipe + sndcnt);
    return lost;
  }

  /**
   * An ACK with ECE (RFC 3168 §6.1.2): the window is reduced as for a loss, nothing is resent, and CWR goes on the
   * next new data. Not again within the window sent before it (the client echoes until our CWR reaches it), nor in
   * a loss recovery, which has reduced the window already.
   */
  private ecnEcho(ack: Seq, acked: number, now: number): void {
    if (this.recover !== undefined || this.timedOutAt !== undefined) return;
    if (this.ecnRecover !== undefined && !seqGt(ack, this.ecnRecover)) return;
    const flight = seqDiff(this.sndNxt, this.sndUna) + acked;
    // BBR v1 keeps its window on ECE, as Linux's does: its onLoss starts a loss recovery's window, not a reduction.
    if (!this.bbr) this.cc.onLoss(Math.min(flight, this.cc.cwnd), now);
    this.ecnRecover = this.sndMax;
    this.cwrDue = true;
    this.cfg.onEcn?.('ece');
  }

  /** Start of fast recovery: NewReno's (RFC 6582 §3.2) without SACK, else PRR's over RACK's losses. */
  private enterRecovery(): void {
    // What Limited Transmit sent beyond cwnd does not count (RFC 3042 §2).
    const flight = seqDiff(this.sndNxt, this.sndUna);
    this.undo.begin(this.cc.snapshot());
    this.cc.onLoss(Math.min(flight, this.cc.cwnd), this.clock);
    this.recover = this.sndMax;
    this.rttSample = undefined;
    this.probeEnd = undefined;
    if (this.sackOk) {
      this.prr.begin(flight);
    } else {
      this.cc.setCwnd(this.cc.ssthresh + DUP_ACK_THRESHOLD * this.sndMss);
      this.fastRetransmit = true;
      this.cfg.onRetransmit?.('fast');
    }
  }

  /** The recovery's retransmissions were needless: restore the window and forget the loss marks (RFC 3522). */
  private undoRecovery(by: 'dsack' | 'timestamp'): void {
    const prior = this.undo.take();
    if (!prior) return;
    this.cc.undo(prior);
    this.timedOutAt = undefined;
    this.bbr?.forgetLosses();
    this.rack.spurious(this.sndUna, this.sndNxt);
    if (this.recover !== undefined) {
      this.recover = undefined;
      this.segs.clearLost();
    }
    this.cfg.onSpurious?.(by);
  }

  private ourFinAcked(now: number): void {
    switch (this.state) {
      case 'finWait1': this.state = 'finWait2'; break;
      case 'closing': this.enterTimeWait(now); break;
      case 'lastAck': this.close('done'); break;
      default: break;
    }
  }

  private processData(seg: TcpRepr, now: number): void {
    if (this.state !== 'established' && this.state !== 'finWait1' && this.state !== 'finWait2') {
      this.drop('data after FIN');
      this.ackNow = true;
      return;
    }
    let seq = seg.seq;
    let data = seg.payload;
    if (seqLt(seq, this.rcvNxt)) {
      const cut = seqDiff(this.rcvNxt, seq);
      // Part of it arrived before: D-SACK that part at once (RFC 2883 §4.1.1).
      this.quickAckSegments = this.cfg.quickAcks;
      if (this.sackOk) { this.dsack = [seq, cut >= data.length ? seqAdd(seq, data.length) : this.rcvNxt]; this.ackNow = true; }
      if (cut >= data.length) { this.ackNow = true; return; }  // entirely old: re-ACK
      data = data.subarray(cut);
      seq = this.rcvNxt;
    }
    const room = seqDiff(this.rcvAdvEdge, seq);
    if (room <= 0) { this.ackNow = true; this.drop('data beyond the window'); return; }
    if (data.length > room) data = data.subarray(0, room);

    if (seq !== this.rcvNxt) {
      this.storeOutOfOrder(seq, data);
      this.ackNow = true;  // RFC 5681 §4.2: out-of-order data is ACKed at once (a duplicate ACK)
      return;
    }
    this.deliver(data);
    const filledGap = !this.ooo.isEmpty();
    this.drainOutOfOrder();
    // RFC 5681 §4.2: ACK at least every second full-sized segment, and at once when a gap is filled.
    this.unackedBytes += data.length;
    if (filledGap) this.quickAckSegments = this.cfg.quickAcks;
    const stretch = this.quickAckSegments > 0 ? 2 : Math.max(2, this.cfg.stretchAck);
    if (this.quickAckSegments > 0) this.quickAckSegments--;
    if (filledGap || this.unackedBytes >= stretch * this.sndMss) {
      this.ackNow = true;
    } else {
      if (this.unackedBytes >= 2 * this.sndMss) this.ackAtBurstEnd = true;
      if (this.ackDeadline === undefined) this.ackDeadline = now + this.cfg.ackDelay;
    }
  }

  private deliver(data: Buffer): void {
    this.events.push({ t: 'data', bytes: data });
    this.rxPending += data.length;
    this.rcvNxt = seqAdd(this.rcvNxt, data.length);
  }

  private storeOutOfOrder(seq: Seq, data: Buffer): void {
    this.lastOooSeq = seq;
    this.quickAckSegments = this.cfg.quickAcks;
    const r = this.ooo.store(seq, data);
    if (r === 'duplicate' && this.sackOk) this.dsack = [seq, seqAdd(seq, data.length)];
    else if (r === 'full') this.drop('out-of-order queue full');
  }

  private drainOutOfOrder(): void {
    this.ooo.drain(this.rcvNxt, this.deliverBound);
  }

  private readonly deliverBound = (data: Buffer): void => this.deliver(data);

  private processFin(now: number): void {
    this.ackNow = true;
    switch (this.state) {
      case 'established':
        this.rcvNxt = seqAdd(this.rcvNxt, 1);
        this.events.push({ t: 'fin' });
        this.state = 'closeWait';
        break;
      case 'finWait1':
        // Simultaneous close: both FINs crossed (RFC 9293 Figure 13).
        this.rcvNxt = seqAdd(this.rcvNxt, 1);
        this.events.push({ t: 'fin' });
        this.state = 'closing';
        break;
      case 'finWait2':
        this.rcvNxt = seqAdd(this.rcvNxt, 1);
        this.events.push({ t: 'fin' });
        this.enterTimeWait(now);
        break;
      default:
        break;  // a FIN we already have: the ACK above repeats ours
    }
  }

  private enterTimeWait(now: number): void {
    this.state = 'timeWait';
    this.tx.clear();
    this.timer = { kind: 'timeWait', at: now + this.cfg.timeWait };
  }

  // ---- output ----

  /** Emit every segment due at `now` (timers that expired, data the windows allow, pending ACKs). */
  dispatch(now: number, emit: Emit): void {
    if (this.pendingRst) {
      const r = this.pendingRst;
      this.pendingRst = undefined;
      emit(r, []);
    }
    if (this.state === 'closed') return;
    this.clock = now;
    if (this.ackDeadline !== undefined && now >= this.ackDeadline) this.ackNow = true;
    if (this.rack.timerAt !== undefined && now >= this.rack.timerAt) {
      this.rack.beginAck(now, this.rtt.minRtt);
      this.bbrAccount(0, this.detectLoss(0, now), now);
    }

    const t = this.timer;
    if (t.kind !== 'idle' && now >= t.at) {
      switch (t.kind) {
        case 'connect':
          if (this.state === 'synPending') {
            emit(this.rst(0, this.rcvNxt), []);
            this.close('timeout');
            return;
          }
          this.timer = { kind: 'idle' };
          break;
        case 'timeWait':
          this.close('done');
          return;
        case 'retransmit':
          if (this.sndNxt === this.sndUna) { this.timer = { kind: 'idle' }; break; }
          if (++this.retries > this.cfg.maxRetries) {
            emit(this.rst(this.sndNxt, this.rcvNxt), []);
            this.close('timeout');
            return;
          }
          // RFC 6298 §5.4-5.6: go back to SND.UNA, double the timer; RFC 5681 §3.1: collapse the window.
          if (this.timedOutAt === undefined) this.undo.begin(this.cc.snapshot());
          else this.undo.timeoutAgain();
          this.timedOutAt = this.sndMax;
          this.cc.onTimeout(seqDiff(this.sndNxt, this.sndUna), now);
          this.sndNxt = this.sndUna;
          this.rttSample = undefined;
          this.dupAcks = 0;
          this.recover = undefined;
          // RFC 6675 §5.1: after a timeout the scoreboard is not trusted (the client may have dropped what it SACKed).
          this.segs.clear();
          this.rack.reset();
          this.probeEnd = undefined;
          this.probeDue = false;
          this.timer = { kind: 'retransmit', at: now + Math.min(t.delay * 2, this.cfg.maxRto), delay: Math.min(t.delay * 2, this.cfg.maxRto) };
          this.cfg.onRetransmit?.('timeout');
          break;
        case 'probe':
          this.timer = { kind: 'retransmit', at: now + this.rtt.rto, delay: this.rtt.rto };
          if (this.sndNxt !== this.sndUna) this.probeDue = true;
          break;
        case 'zeroWindowProbe': {
          // An ACK one below SND.UNA makes the client answer with its current window (as Linux probes).
          emit(this.segment('none', seqAdd(this.sndUna, -1)), []);
          const delay = Math.min(t.delay * 2, this.cfg.maxRto);
          this.timer = { kind: 'zeroWindowProbe', at: now + delay, delay };
          break;
        }
      }
    }

    let sent = false;
    if (this.state === 'synReceived') {
      if (this.sndNxt === this.iss) {
        const synAck = this.segment('syn', this.iss);
        synAck.mss = this.cfg.mss;
        if (this.wsOk) synAck.wscale = this.rcvShift;
        synAck.sackPermitted = this.sackOk;
        synAck.ece = this.ecnOk;  // an ECN-setup SYN-ACK: ECE without CWR, itself not ECN-capable (RFC 3168 §6.1.1)
        if (this.ts) { synAck.tsVal = this.ts.val(now); synAck.tsEcr = this.ts.recent; }
        synAck.window = Math.min(this.rcvWindow(), 0xffff);  // RFC 7323 §2.2: a SYN's window is never scaled
        this.sndNxt = seqAdd(this.iss, 1);
        if (seqGt(this.sndNxt, this.sndMax)) { this.sndMax = this.sndNxt; this.rttSample = { seq: this.sndNxt, at: now }; }
        this.armRetransmit(now);
        this.sent(synAck);
        emit(synAck, []);
        sent = true;
      }
    } else {
      sent = this.sendData(now, emit);
    }

    if (!sent && this.canSendData() && this.sndWnd === 0 && this.tx.length > 0 && this.sndNxt === this.sndUna
        && this.timer.kind === 'idle') {
      this.timer = { kind: 'zeroWindowProbe', at: now + this.rtt.rto, delay: this.rtt.rto };
    }
    if (!sent && this.ackNow && this.state !== 'synReceived') {
      const a = this.segment('none', this.sndNxt);
      this.sent(a);
      emit(a, []);
    }
  }

  private canSendData(): boolean {
    return this.state === 'established' || this.state === 'closeWait'
      || this.state === 'finWait1' || this.state === 'closing' || this.state === 'lastAck';
  }

  private sendData(now: number, emit: Emit): boolean {
    if (!this.canSendData()) return false;
    let sent = false;
    const sackRecovery = this.sackOk && this.recover !== undefined;
    let pipe = sackRecovery ? this.segs.pipe() : 0;
    if (this.fastRetransmit) {
      this.fastRetransmit = false;
      const len = Math.min(this.sndMss, this.tx.length);
      if (len > 0) {
        const s = this.segment('none', this.sndUna);
        this.sent(s);
        emit(s, this.tx.slices(0, len));
        this.undo.resent(this.sndUna, s.tsVal);
        this.timer = { kind: 'retransmit', at: now + this.rtt.rto, delay: this.rtt.rto };
        sent = true;
      }
    }
    // RFC 8985 §6.3: the segments RACK marked lost first, in order, as the PRR window allows.
    if (this.segs.lostCount > 0 && this.sndNxt === this.sndMax) {
      while (this.cc.cwnd - pipe > 0) {
        const i = this.segs.firstLost();
        if (i < 0) break;
        const seq = this.segs.seqOf(i);
        const off = seqDiff(seq, this.sndUna);
        const size = seqDiff(this.segs.endOf(i), seq);
        const len = Math.min(size, this.tx.length - off);
        const s = this.segment(len < size ? 'fin' : 'none', seq);
        this.sent(s);
        emit(s, len > 0 ? this.tx.slices(off, len) : []);
        this.rate?.onSend(now, pipe);
        this.segs.resent(i, now, this.rate);
        this.undo.resent(seq, s.tsVal);
        this.prr.sent(size);
        pipe += size;
        sent = true;
        this.cfg.onRetransmit?.('fast');
        if (this.timer.kind !== 'retransmit') this.timer = { kind: 'retransmit', at: now + this.rtt.rto, delay: this.rtt.rto };
      }
    }
    if (this.probeDue) {
      this.probeDue = false;
      if (this.probe(now, emit)) sent = true;
    }
    let newData = false;
    const cwnd = this.cc.cwnd;
    this.pacedAt = undefined;
    this.pacer?.update(now, cwnd, this.rtt.srtt, cwnd < this.cc.ssthresh, this.bbr?.pacingRate());
    for (;;) {
      const off = seqDiff(this.sndNxt, this.sndUna);
      const unsent = this.tx.length - off;  // -1 once our FIN is out
      if (unsent < 0) break;
      // RFC 3042 Limited Transmit: each of the first two duplicate ACKs lets one new segment out beyond cwnd, so a
      // window that lost most of its segments still draws the dup ACKs and SACK blocks that start fast recovery.
      const limited = this.recover === undefined ? Math.min(this.dupAcks, DUP_ACK_THRESHOLD - 1) * this.sndMss : 0;
      const room = sackRecovery ? Math.min(this.sndWnd - off, cwnd - pipe)
        : Math.min(this.sndWnd, cwnd + limited) - off;
      let len = Math.max(0, Math.min(unsent, room, this.sndMss));
      // Sender-side silly window avoidance (RFC 9293 §3.8.6.2.1): a runt segment goes only if it carries all
      // queued data, fills half the largest window ever offered, or nothing is in flight.
      if (len > 0 && len < this.sndMss && len < unsent && off > 0 && len < this.maxSndWnd / 2) len = 0;
      // The FIN rides on the segment that carries the last queued byte, or goes alone (even into a zero window).
      const fin = this.finQueued && len === unsent;
      if (len === 0 && !fin) {
        if (unsent === 0 && room > 0) this.rate?.markAppLimited(off);
        break;
      }
      if (len > 0 && this.pacer && !this.pacer.allows(len)) { this.pacedAt = this.pacer.readyAt(len); break; }
      const seq = this.sndNxt;
      const s = this.segment(fin ? 'fin' : 'none', seq);
      s.psh = len > 0 && len === unsent;
      const data = len > 0 ? this.tx.slices(off, len) : [];
      this.sndNxt = seqAdd(seq, len + (fin ? 1 : 0));
      const resend = seqLt(seq, this.sndMax);
      if (len > 0 && !resend && this.ecnOk) this.markEct(s);
      if (this.sackOk) {
        this.rate?.onSend(now, off);
        this.segs.push(seq, this.sndNxt, now, resend ? RETRANSMITTED : 0, this.rate);
      }
      if (resend) this.undo.resent(seq, s.tsVal);
      if (seqGt(this.sndNxt, this.sndMax)) {
        if (!this.rttSample && !this.ts) this.rttSample = { seq: this.sndNxt, at: now };
        this.sndMax = this.sndNxt;
      }
      if (fin) {
        if (this.state === 'established') this.state = 'finWait1';
        else if (this.state === 'closeWait') this.state = 'lastAck';
      }
      newData = true;
      this.sent(s);
      emit(s, data);
      sent = true;
      pipe += len;
      this.pacer?.spent(len);
      if (sackRecovery) this.prr.sent(len);
      if (fin) break;
    }
    if (newData) this.armAfterNewData(now);
    return sent;
  }

  private armRetransmit(now: number): void {
    if (this.timer.kind !== 'retransmit') this.timer = { kind: 'retransmit', at: now + this.rtt.rto, delay: this.rtt.rto };
  }

  /**
   * After new data: a stopped timer starts; a pending probe moves to 2 SRTT from now (RFC 8985 §7.2); a running
   * RTO that has not backed off becomes a probe once the flight is big enough for one. A backed-off RTO stays.
   */
  private armAfterNewData(now: number): void {
    const t = this.timer;
    if (t.kind === 'retransmit') {
      if (this.retries > 0) return;
      this.armLossTimer(now);
      if (this.timer.kind === 'retransmit') this.timer = t;  // RFC 6298 §5.1: a running RTO is not restarted
    } else if (t.kind === 'idle' || t.kind === 'probe') {
      this.armLossTimer(now);
    } else {
      this.timer = { kind: 'retransmit', at: now + this.rtt.rto, delay: this.rtt.rto };
    }
  }

  /**
   * With data in flight: the tail loss probe timer (RFC 8985 §7.2, PTO = 2 SRTT, at least TLP_MIN_MS) when a probe
   * can help (SACK on, an RTT sample, no recovery or go-back under way, more than one segment out), else the RTO.
   */
  private armLossTimer(now: number): void {
    const flight = seqDiff(this.sndNxt, this.sndUna);
    const srtt = this.rtt.srtt, rto = this.rtt.rto;
    if (this.sackOk && srtt !== undefined && this.recover === undefined && this.probeEnd === undefined
        && this.sndNxt === this.sndMax && flight > this.sndMss && this.canSendData()) {
      const pto = Math.max(2 * srtt, TLP_MIN_MS);
      if (pto < rto) { this.timer = { kind: 'probe', at: now + pto }; return; }
    }
    this.timer = { kind: 'retransmit', at: now + rto, delay: rto };
  }

  /** The probe itself (RFC 8985 §7.3): one new segment if the window has room for it, else the last one again. */
  private probe(now: number, emit: Emit): boolean {
    if (this.recover !== undefined || this.sndNxt !== this.sndMax) return false;
    const off = seqDiff(this.sndNxt, this.sndUna);
    const unsent = this.tx.length - off;
    if (unsent < 0) return false;  // our FIN is out: the RTO handles it
    let start: number;
    let len: number;
    let newData = false;
    if (unsent > 0 && this.sndWnd - off > 0) {
      start = off;
      len = Math.min(unsent, this.sndMss, this.sndWnd - off);
      this.sndNxt = this.sndMax = seqAdd(this.sndNxt, len);
      if (this.sackOk) this.segs.push(seqAdd(this.sndUna, start), this.sndNxt, now, 0, this.rate);
      newData = true;
      if (!this.rttSample && !this.ts) this.rttSample = { seq: this.sndNxt, at: now };
    } else {
      const last = this.segs.length - 1;
      if (this.sackOk && last >= 0) {
        start = seqDiff(this.segs.seqOf(last), this.sndUna);
        len = off - start;
        this.segs.resent(last, now, this.rate);
      } else {
        len = Math.min(this.sndMss, off);
        start = off - len;
      }
      if (len <= 0) return false;
      this.cfg.onRetransmit?.('probe');
    }
    const s = this.segment('none', seqAdd(this.sndUna, start));
    s.psh = true;
    if (newData && this.ecnOk) this.markEct(s);
    this.sent(s);
    emit(s, this.tx.slices(start, len));
    this.probeEnd = seqAdd(this.sndUna, start + len);
    this.timer = { kind: 'retransmit', at: now + this.rtt.rto, delay: this.rtt.rto };
    return true;
  }

  /** New data goes out ECN-capable; retransmissions and segments without data never do (RFC 3168 §6.1.4-5). */
  private markEct(s: TcpRepr): void {
    s.ecn = ECN.ECT0;
    if (this.cwrDue) { s.cwr = true; this.cwrDue = false; }
  }

  /** Bookkeeping for any segment that carries our ACK and window. */
  private sent(s: TcpRepr): void {
    this.ackNow = false;
    this.ackAtBurstEnd = false;
    this.ackDeadline = undefined;
    this.unackedBytes = 0;
    this.dsack = undefined;
    if (this.ts) this.ts.lastAckSent = this.rcvNxt;
    if (s.control !== 'syn') {
      const edge = seqAdd(this.rcvNxt, s.window << this.rcvShift);
      if (seqGt(edge, this.rcvAdvEdge)) this.rcvAdvEdge = edge;
    } else {
      this.rcvAdvEdge = seqAdd(this.rcvNxt, s.window);
    }
  }

  private advertisableWindow(): number {
    return Math.max(this.rcvWindow(), seqDiff(this.rcvAdvEdge, this.rcvNxt));
  }

  private segment(control: TcpControl, seq: Seq): TcpRepr {
    const win = this.advertisableWindow();
    const scaled = Math.min(0xffff, Math.ceil(win / (1 << this.rcvShift)));
    const ts = this.ts;
    // Every field in the literal, so all our segments share one shape (the codec's property reads stay monomorphic).
    return {
      srcPort: this.localPort, dstPort: this.remotePort, seq, ack: this.rcvNxt, control, psh: false,
      window: scaled, sackPermitted: false,
      sack: this.sackOk && (!this.ooo.isEmpty() || this.dsack) && control !== 'syn' ? this.sackBlocks() : undefined,
      tsVal: ts ? ts.val(this.clock) : undefined, tsEcr: ts ? ts.recent : undefined,
      ece: this.ceEcho, cwr: false, ecn: ECN.NOT_ECT, payload: EMPTY,
    };
  }

  /**
   * The out-of-order data we hold, as SACK blocks (RFC 2018 §4): the block with the most recently received segment
   * first, then the others from the highest down, at most MAX_SACK_BLOCKS; a pending D-SACK block goes before them.
   */
  private sackBlocks(): [Seq, Seq][] {
    const islands = this.ooo.islands;
    const recent = this.lastOooSeq;
    let first = -1;
    if (recent !== undefined) {
      for (let i = islands.length - 1; i >= 0; i--) {
        if (seqGe(recent, islands[i]!.seq) && seqLt(recent, islands[i]!.end)) { first = i; break; }
      }
    }
    const blocks: [Seq, Seq][] = this.dsack ? [this.dsack] : [];
    if (first >= 0) blocks.push([islands[first]!.seq, islands[first]!.end]);
    for (let i = islands.length - 1; i >= 0 && blocks.length < MAX_SACK_BLOCKS; i--) {
      if (i !== first) blocks.push([islands[i]!.seq, islands[i]!.end]);
    }
    return blocks;
  }

  private rst(seq: Seq, ack: Seq | undefined): TcpRepr {
    return {
      srcPort: this.localPort, dstPort: this.remotePort, seq, ack, control: 'rst', psh: false, window: 0,
      sackPermitted: false, ece: false, cwr: false, ecn: ECN.NOT_ECT, payload: EMPTY,
    };
  }

  private close(reason: CloseReason): void {
    this.state = 'closed';
    this.timer = { kind: 'idle' };
    this.ackDeadline = undefined;
    this.tx.clear();
    this.ooo.clear();
    this.events.push({ t: 'closed', reason });
  }

  /** An unacceptable segment is answered with an ACK (RFC 9293 §3.10.7.4); one that is a pure ACK at most every
   *  OOW_ACK_INTERVAL, as Linux does: two ends that disagree must not ACK each other's ACKs in a loop, and a
   *  reordering path makes many such ACKs. */
  private answerUnacceptable(seg: TcpRepr, now: number): void {
    if (seg.payload.length > 0 || seg.control !== 'none') { this.ackNow = true; return; }
    if (now - this.oowAckAt < OOW_ACK_INTERVAL) return;
    this.oowAckAt = now;
    this.ackNow = true;
  }

  private drop(reason: string): void {
    this.cfg.onDrop?.(reason);
  }
}
