// The userspace NAT, sans IO (like slirp). Nanos has no raw sockets, so each client TCP connection ends in our own
// TCP endpoint (tcp-endpoint.ts) and is re-originated as an outbound socket; each UDP flow gets a UDP socket. The
// sockets are behind NatSockets (nat-sockets.ts); time is the caller's `now` (ms, monotonic).
//
//   fromClient(clientIp, packet) → classify (checksums) → [reassemble fragments] → anti-spoof → flow lookup/create
//     TCP: endpoint.process → events (data → tcpWrite, fin → tcpEnd, closed → remove) → flow marked for the batch
//     UDP: udpSend; udpReceived (only from the flow's destination) → fragmented to the MTU → deliver
//   endBatch(now): the io layer calls it once its current batch of input is done (a Node event-loop turn). Every
//     flow touched since the last batch dispatches once, so the ACKs of a client's burst coalesce. While the burst
//     goes on (segments in every batch) outbound writes stay corked (up to CORK_MAX) and a held ACK waits; the first
//     batch without segments for the flow releases both. batchPending() says whether a batch has work.
//   timeout(now): TCP endpoint deadlines (one heap, deadline-queue.ts) and, once a second, the idle sweep of flows
//     and fragments. nextDeadline() is when to call it next: the io layer arms one timer there.
//
// Call order: after any input, the io layer checks batchPending() (run endBatch at the end of the turn) and
// nextDeadline() (arm the timer). An early timeout() does nothing. The Nat never calls back into itself.
import { fragmentIpv4 } from '../../wire/ipv4.js';
import { fragmentIpv6 } from '../../wire/ipv6.js';
import { buildIcmpv6Unreachable, UNREACH6 } from '../../wire/icmpv6.js';
import { buildTcp6Packet, buildTcpPacket, EMPTY, type TcpRepr } from '../../wire/tcp.js';
import { buildUdp6Packet } from '../../wire/udp.js';
import type { DeliverToClients } from '../uplink.js';
import { badDestination6, classify, classify6 } from './classify.js';
import type { CongestionAlgorithm } from './congestion.js';
import { countDrop, type FlowCounters, type NatStats } from './counters.js';
import { DeadlineQueue } from '../../deadline-queue.js';
import { fold6, type FlowKey } from './flow-key.js';
import { FlowTable, type FlowEntry, type RemoveReason } from './flow-table.js';
import type { NatSockets } from './nat-sockets.js';
import { Reassembler, REASSEMBLY_DEFAULTS, type ReassemblyLimits } from './reassembly.js';
import { ActiveOpenEndpoint, type NatTcpEndpoint } from './tcp-active-open.js';
import { TcpEndpoint, TCP_DEFAULTS, type CloseReason, type TcpConfig, type TcpState } from './tcp-endpoint.js';
import { DEFAULT_TIMEOUTS, udpTimeoutMs, udpToClient, type NatTimeouts } from './udp-flow.js';

export interface NatOptions {
  /** Idle timeouts in seconds (conntrack-like). */
  timeouts?: Partial<NatTimeouts>;
  /** Flows one client may hold (default 4096). */
  perClientFlows?: number;
  /**
   * Whether a client may send from `src`, another address than its own (a host behind it: iroute). Absent: only
   * its own. The flows such a host opens count as the client's.
   */
  sourceAllowed?: (clientIp: number, src: number) => boolean;
  /** The same for an IPv6 source (16 bytes): its own address or a host behind it. Absent: no IPv6 is taken. */
  sourceAllowed6?: (clientIp: number, src: Uint8Array) => boolean;
  /** The source of the ICMPv6 errors the NAT sends clients (the server's tunnel address); default: the destination. */
  icmp6Source?: Buffer;
  /** Flows in total (default 65536). */
  maxFlows?: number;
  /** MSS clamp for our side of client TCP connections (default 1460); IPv6 connections get 20 bytes less. */
  mss?: number;
  /** Seconds to wait for an outbound TCP connect before resetting the client (default 20). */
  connectTimeout?: number;
  /** Client bytes buffered towards a server before our window closes (default 256 KiB). */
  tcpRcvBuf?: number;
  /** Server bytes buffered towards a client before the outbound socket is paused, at least (default 256 KiB). */
  tcpSndBuf?: number;
  /** What that buffer grows to as the flow's window does (its flight and one more window), and what the receive
   *  buffer grows to when the outbound socket drains fast (default 8 MiB each). */
  tcpBufMax?: number;
  /** Congestion control of the TCP towards clients (default BBR; CUBIC for a flow without SACK). */
  tcpCongestion?: CongestionAlgorithm;
  /** The initial slow start runs under HyStart++ (default true). */
  tcpHystart?: boolean;
  /** New data towards a client leaves paced over the RTT (pacer.ts; default false). */
  tcpPacing?: boolean;
  /** Client segments ACKed every second one after a connection opens and after out-of-order data, before ACKs
   *  stretch to a burst's end (TcpConfig.quickAcks; default 32). */
  tcpQuickAcks?: number;
  /** ECN (RFC 3168) on the TCP towards clients whose SYN asks for it (default true). */
  tcpEcn?: boolean;
  /** Largest packet delivered to a client (the tunnel MTU, default 1500); bigger UDP replies are fragmented. */
  mtu?: number;
  /** Fragment reassembly limits; false drops every fragment (counted). */
  reassembly?: Partial<ReassemblyLimits> | false;
  /**
   * The server's tunnel address, when ports are forwarded to clients (forward-port): the flows the NAT opens towards
   * clients come from it (tcpOpenToClient, udpOpenToClient), and nothing is originated to it on a client's behalf.
   */
  localIp?: number;
}

export interface NatDeps<T, U> {
  sockets: NatSockets<T, U>;
  /** Packets towards clients (the router finds the session by destination). */
  deliver: DeliverToClients;
  /** A uniformly random uint32 per call: initial sequence numbers and the flow table's hash seed. */
  random: () => number;
}

export interface NatTcpFlow<T> extends FlowEntry {
  readonly kind: 'tcp';
  readonly ep: NatTcpEndpoint;
  /** The socket tcpConnect returned (or, for a forwarded flow, the outer connection tcpOpenToClient was given). */
  sock: T;
  /** The outbound connection is up. */
  connected: boolean;
  /** Reading from the server is paused (the endpoint holds what sendLimit() allows for the client). */
  paused: boolean;
  /** Outbound writes are corked until the client's burst ends (or CORK_MAX bytes). */
  corked: boolean;
  /** Bytes written to the corked socket. */
  corkedBytes: number;
  /** A segment from the client arrived since the last batch. */
  segIn: boolean;
  /** Left the table; the socket is closed. Events for it are ignored. */
  dead: boolean;
  closeReason: CloseReason | undefined;
  lastState: TcpState;
  /** DeadlineQueue bookkeeping. */
  queuedAt: number;
  /** IPv6: the client's SYN until the outbound connection is up, quoted in an ICMPv6 error if it cannot be. */
  syn6: Buffer | undefined;
}

export interface NatUdpFlow<U> extends FlowEntry {
  readonly kind: 'udp';
  /** The socket udpOpen returned (or, for a forwarded flow, the handle udpOpenToClient was given). */
  sock: U;
  dead: boolean;
}

type Flow<T, U> = NatTcpFlow<T> | NatUdpFlow<U>;

const PROTO_TCP = 6;
const PROTO_UDP = 17;
const SWEEP_INTERVAL_MS = 1000;
/** Outbound bytes held corked while the client's burst goes on. */
const CORK_MAX = 64 * 1024;
/** In-order segments from a client ACKed at once; fewer are ACKed when its burst ends (TcpConfig.stretchAck). */
const STRETCH_ACK_SEGMENTS = 16;

/** Destinations a NAT must never originate to: this-network, multicast, limited broadcast. */
export function badDestination(ip: number): boolean {
  const first = ip >>> 24;
  return first === 0 || first >= 224;
}

/** The TCP states that get the long (established) idle timeout; the others get the transitory one. */
function longLived(s: TcpState): boolean {
  return s === 'established' || s === 'closeWait' || s === 'finWait2';
}

export class Nat<T, U> {
  private readonly sockets: NatSockets<T, U>;
  private readonly deliver: DeliverToClients;
  private readonly random: () => number;
  private readonly timeouts: NatTimeouts;
  private readonly sndBuf: number;
  private readonly sndBufMax: number;
  private readonly mtu: number;
  private readonly tcpBase: Omit<TcpConfig, 'iss'>;
  private readonly table: FlowTable<Flow<T, U>>;
  private readonly reassembler: Reassembler | undefined;
  private readonly deadlines = new DeadlineQueue<NatTcpFlow<T>>();
  private readonly drops: Record<string, number> = {};
  private readonly tcpRetransmits = { timeout: 0, fast: 0, probe: 0 };
  private readonly tcpSpurious = { dsack: 0, timestamp: 0 };
  private readonly tcpEcn = { negotiated: 0, ce: 0, ece: 0 };
  /** Flows touched since the last batch. */
  private dirty = new Set<NatTcpFlow<T>>();
  /** Flows holding corked writes or an ACK until the client's burst ends: flushed again in the next batch. */
  private burstWait = new Set<NatTcpFlow<T>>();
  /** The set endBatch walks (kept to swap with `dirty`: no new set per batch). */
  private batch = new Set<NatTcpFlow<T>>();
  private sweepAt: number | undefined;
  private closing = false;
  /** While a client's flows are flushed on clientGone, nothing more is sent to it. */
  private goneClient: number | undefined;
  private readonly sourceAllowed?: (clientIp: number, src: number) => boolean;
  private readonly localIp: number | undefined;
  private readonly sourceAllowed6?: (clientIp: number, src: Uint8Array) => boolean;
  private readonly icmp6Source?: Buffer;
  private tcpOpen = 0;
  private udpOpen = 0;
  private ident = 0;
  /** The latest `now` seen, for the RST of a flow the table removes (any time will do: the endpoint is closed). */
  private clock = 0;

  constructor(opts: NatOptions, deps: NatDeps<T, U>) {
    this.sourceAllowed = opts.sourceAllowed;
    this.localIp = opts.localIp;
    this.sourceAllowed6 = opts.sourceAllowed6;
    this.icmp6Source = opts.icmp6Source;
    this.sockets = deps.sockets;
    this.deliver = deps.deliver;
    this.random = deps.random;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.sndBuf = opts.tcpSndBuf ?? 256 * 1024;
    this.sndBufMax = Math.max(this.sndBuf, opts.tcpBufMax ?? TCP_DEFAULTS.rcvBufMax);
    this.mtu = opts.mtu ?? 1500;
    this.tcpBase = {
      ...TCP_DEFAULTS,
      mss: opts.mss ?? TCP_DEFAULTS.mss,
      rcvBuf: opts.tcpRcvBuf ?? TCP_DEFAULTS.rcvBuf,
      rcvBufMax: opts.tcpBufMax ?? TCP_DEFAULTS.rcvBufMax,
      connectTimeout: (opts.connectTimeout ?? 20) * 1000,
      timeWait: this.timeouts.tcpTimeWait * 1000,
      stretchAck: STRETCH_ACK_SEGMENTS,
      quickAcks: opts.tcpQuickAcks ?? TCP_DEFAULTS.quickAcks,
      hystart: opts.tcpHystart ?? TCP_DEFAULTS.hystart,
      pacing: opts.tcpPacing ?? TCP_DEFAULTS.pacing,
      congestion: opts.tcpCongestion ?? TCP_DEFAULTS.congestion,
      ecn: opts.tcpEcn ?? TCP_DEFAULTS.ecn,
      onTxReleased: deps.sockets.tcpReleased?.bind(deps.sockets),
      onDrop: (reason) => this.drop(`tcp: ${reason}`),
      onRetransmit: (kind) => { this.tcpRetransmits[kind]++; },
      onSpurious: (by) => { this.tcpSpurious[by]++; },
      onEcn: (event) => { this.tcpEcn[event]++; },
    };
    this.reassembler = opts.reassembly === false ? undefined
      : new Reassembler({ ...REASSEMBLY_DEFAULTS, ...opts.reassembly });
    this.table = new FlowTable<Flow<T, U>>({
      maxFlows: opts.maxFlows ?? 65536,
      perClientFlows: opts.perClientFlows ?? 4096,
      seed: this.random() >>> 0,
      onRemove: (flow, reason) => (flow.kind === 'tcp' ? this.tcpRemoved(flow, reason) : this.udpRemoved(flow)),
    });
  }

  // ---- getters ----

  /** Flows in the table. */
  get size(): number { return this.table.size; }

  /** The TCP flows in the table (for the io layer's state dump). */
  tcpFlows(): NatTcpFlow<T>[] { return this.table.flows().filter((f): f is NatTcpFlow<T> => f.kind === 'tcp'); }

  stats(): NatStats {
    const r = this.reassembler?.counters;
    const all: Record<string, number> = { ...this.drops };
    if (r) {
      if (r.timedOut) all['fragment-timeout'] = r.timedOut;
      if (r.overlapping) all['fragment-overlap'] = r.overlapping;
      if (r.overLimit) all['fragment-over-limit'] = r.overLimit;
      if (r.malformed) all['fragment-malformed'] = r.malformed;
    }
    return {
      ...this.table.total, tcpFlows: this.tcpOpen, udpFlows: this.udpOpen, drops: all,
      tcpRetransmits: { ...this.tcpRetransmits },
      tcpSpurious: { ...this.tcpSpurious },
      tcpEcn: { ...this.tcpEcn },
    };
  }

  clientStats(clientIp: number): FlowCounters | undefined {
    const c = this.table.clientCounters(clientIp);
    return c ? { ...c } : undefined;
  }

  /** Some flow waits for endBatch. */
  batchPending(): boolean { return this.dirty.size > 0 || this.burstWait.size > 0; }

  /** When timeout() must run next; undefined when only input can make progress. */
  nextDeadline(): number | undefined {
    const at = this.deadlines.next();
    if (at === undefined) return this.sweepAt;
    return this.sweepAt === undefined || at < this.sweepAt ? at : this.sweepAt;
  }

  // ---- client → NAT ----

  /** An IPv4 packet from the client with virtual IP `clientIp` (the router checked its source). */
  fromClient(clientIp: number, packet: Buffer, now: number): void {
    if (this.closing) return;
    this.clock = now;
    const c = this.table.countersFor(clientIp);
    c.packetsOut++;
    c.bytesOut += packet.length;
    this.table.total.packetsOut++;
    this.table.total.bytesOut += packet.length;
    if (packet.length > 0 && (packet[0] >> 4) === 6) { this.fromClient6(clientIp, packet, now); return; }
    let cl = classify(packet);
    if (cl.kind === 'fragment') {
      if (!this.reassembler) { this.drop('fragment'); return; }
      const whole = this.reassembler.add(packet, now);
      this.sweepSoon(now);
      if (!whole) return;
      cl = classify(whole);
    }
    switch (cl.kind) {
      case 'drop': this.drop(cl.reason); return;
      case 'fragment': this.drop('fragment'); return;
      case 'tcp':
        if (cl.src !== clientIp && !this.sourceAllowed?.(clientIp, cl.src)) { this.drop('spoofed'); return; }
        this.tcpInput(clientIp, cl.src, cl.dst, cl.tcp, now);
        return;
      case 'udp':
        if (cl.src !== clientIp && !this.sourceAllowed?.(clientIp, cl.src)) { this.drop('spoofed'); return; }
        this.udpInput(clientIp, cl.src, cl.dst, cl.udp.srcPort, cl.udp.dstPort, cl.udp.payload, now);
        return;
    }
  }

  /** An IPv6 packet: the same path with the addresses in the flow key's `v6` (fragments are not reassembled). */
  private fromClient6(clientIp: number, packet: Buffer, now: number): void {
    const cl = classify6(packet);
    switch (cl.kind) {
      case 'drop': this.drop(cl.reason); return;
      case 'fragment': this.drop('fragment6'); return;
      case 'tcp': case 'udp': break;
    }
    if (!this.sourceAllowed6?.(clientIp, cl.src)) { this.drop('spoofed'); return; }
    const src = Buffer.from(cl.src), dst = Buffer.from(cl.dst);
    if (cl.kind === 'tcp') {
      const seg = cl.tcp;
      const key: FlowKey = {
        proto: PROTO_TCP, clientIp: fold6(src), clientPort: seg.srcPort, dstIp: fold6(dst), dstPort: seg.dstPort, v6: { client: src, dst },
      };
      this.tcpSegment(clientIp, key, seg, now, packet);
    } else {
      const { udp } = cl;
      if (udp.srcPort === 0) { this.drop('udp-malformed'); return; }
      const key: FlowKey = {
        proto: PROTO_UDP, clientIp: fold6(src), clientPort: udp.srcPort, dstIp: fold6(dst), dstPort: udp.dstPort, v6: { client: src, dst },
      };
      this.udpFlowSend(clientIp, key, udp.payload, now);
    }
  }

  /** The client's session ended: close and forget every flow it owned, without sending it anything. */
  clientGone(clientIp: number): void {
    if (!this.table.clientCounters(clientIp)) return;
    this.goneClient = clientIp;
    try { this.table.removeClient(clientIp); } finally { this.goneClient = undefined; }
  }

  /** Server shutdown: every flow goes (clients and servers reset), and no more input is taken. */
  shutdown(): void {
    this.closing = true;
    for (const f of this.table.flows()) this.table.remove(f, 'closed');
    this.deadlines.clear();
    this.sweepAt = undefined;
  }

  // ---- port forwarding (forward-port): flows the NAT opens towards a client ----

  /**
   * Open a TCP connection from localIp (an ephemeral port) to clientIp:clientPort, carrying the bytes of `sock`, an
   * outer connection the io layer accepted: its events go to the same methods as an outbound socket's (tcpData,
   * tcpEnded, tcpFailed, tcpClosed, tcpWritten; it counts as connected). Undefined when the flow cannot be made
   * (no localIp, the client's quota, no free port): the io layer refuses the outer connection.
   */
  tcpOpenToClient(clientIp: number, clientPort: number, sock: T, now: number): NatTcpFlow<T> | undefined {
    if (this.closing) return undefined;
    this.clock = now;
    const key = this.forwardKey(PROTO_TCP, clientIp, clientPort);
    if (!key) return undefined;
    const ep = new ActiveOpenEndpoint(key.dstPort, key.clientPort, { ...this.tcpBase, iss: this.random() >>> 0 }, now);
    const flow: NatTcpFlow<T> = {
      kind: 'tcp', key, owner: clientIp, hash: 0, assured: false, ep, sock, connected: true, paused: false,
      corked: false, corkedBytes: 0, segIn: false, dead: false, closeReason: undefined, lastState: ep.state,
      queuedAt: Infinity, syn6: undefined,
    };
    const res = this.table.insert(flow, this.timeouts.tcpTransitory * 1000, now);
    if (res !== 'ok') { this.drop(res === 'quota' ? 'quota' : 'hash-collision'); return undefined; }
    this.sweepSoon(now);
    this.tcpOpen++;
    this.service(flow, now);  // our SYN leaves in the next batch
    return flow;
  }

  /**
   * A UDP flow from localIp (an ephemeral port) to clientIp:clientPort for one outer peer: udpForwardIn carries its
   * datagrams to the client, the client's answers go to NatSockets.udpSend(sock). Undefined as for tcpOpenToClient.
   */
  udpOpenToClient(clientIp: number, clientPort: number, sock: U, now: number): NatUdpFlow<U> | undefined {
    if (this.closing) return undefined;
    this.clock = now;
    const key = this.forwardKey(PROTO_UDP, clientIp, clientPort);
    if (!key) return undefined;
    const flow: NatUdpFlow<U> = { kind: 'udp', key, owner: clientIp, hash: 0, assured: false, sock, dead: false };
    const res = this.table.insert(flow, udpTimeoutMs(key, false, this.timeouts), now);
    if (res !== 'ok') { this.drop(res === 'quota' ? 'quota' : 'hash-collision'); return undefined; }
    this.sweepSoon(now);
    this.udpOpen++;
    return flow;
  }

  /** A datagram from the outer peer of a forwarded UDP flow, for the client. */
  udpForwardIn(flow: NatUdpFlow<U>, payload: Buffer, now: number): void {
    if (flow.dead) return;
    this.clock = now;
    this.table.lookup(flow.key, now);  // refresh the idle timer
    this.ident = (this.ident + 1) & 0xffff;
    for (const p of fragmentIpv4(udpToClient(flow.key, payload, this.ident), this.mtu)) this.toClient(p, flow.owner);
  }

  /** A key for a new flow from localIp towards the client: a free ephemeral port (RFC 6335 §6), picked at random. */
  private forwardKey(proto: number, clientIp: number, clientPort: number): FlowKey | undefined {
    if (this.localIp === undefined) return undefined;
    for (let i = 0; i < 16; i++) {
      const key: FlowKey = { proto, clientIp, clientPort, dstIp: this.localIp, dstPort: 49152 + (this.random() >>> 0) % 16384 };
      if (!this.table.peek(key)) return key;
    }
    this.drop('forward-no-port');
    return undefined;
  }

  // ---- socket events (TCP) ----

  /** The outbound connection is up: answer the client's SYN. */
  tcpConnected(flow: NatTcpFlow<T>, now: number): void {
    if (flow.dead) return;
    flow.connected = true;
    flow.syn6 = undefined;
    flow.ep.accept();
    this.service(flow, now);
  }

  /** How much server data a flow holds before its outbound socket pauses: its flight and the next window, within
   *  [tcpSndBuf, tcpBufMax]. The flight counts SACKed data, which a loss recovery holds until its holes are filled:
   *  a limit of twice the window paused the socket there and starved the sender at the end of every recovery. */
  private sendLimit(flow: NatTcpFlow<T>): number {
    return Math.min(this.sndBufMax, Math.max(this.sndBuf, flow.ep.sendBufferWanted()));
  }

  /** Reading resumes once the data not yet sent is below half of what the limit leaves it beside the flight. */
  private wantsServerData(flow: NatTcpFlow<T>): boolean {
    const inFlight = flow.ep.txInFlight();
    return flow.ep.txQueued() - inFlight < (this.sendLimit(flow) - inFlight) / 2;
  }

  /** Bytes from the server. */
  tcpData(flow: NatTcpFlow<T>, chunk: Buffer, now: number): void {
    if (flow.dead) { this.sockets.tcpReleased?.(chunk); return; }
    flow.ep.send(chunk);
    if (!flow.paused && flow.ep.txQueued() >= this.sendLimit(flow)) { flow.paused = true; this.sockets.tcpPause(flow.sock); }
    this.service(flow, now);
  }

  /** The server finished sending. */
  tcpEnded(flow: NatTcpFlow<T>, now: number): void {
    if (flow.dead) return;
    flow.ep.shutdown();
    this.service(flow, now);
  }

  /**
   * The socket failed: before the connection was up the client's SYN is refused, after it the client is reset.
   * An IPv6 connect that found no route (`code`: the socket's errno name) is also answered with an ICMPv6
   * unreachable, so the client learns why (a host without IPv6 lands here).
   */
  tcpFailed(flow: NatTcpFlow<T>, now: number, code?: string): void {
    if (flow.dead) return;
    const why = unreachCode(code);
    if (!flow.connected && flow.syn6 && why !== undefined) this.unreachable6(flow, flow.syn6, why);
    if (flow.connected) flow.ep.abort(); else flow.ep.refuse();
    this.service(flow, now);
  }

  /**
   * The socket closed. `clean`: both directions had ended (read to the end and every write finished); then the
   * endpoint finishes on its own. Otherwise the client is reset.
   */
  tcpClosed(flow: NatTcpFlow<T>, clean: boolean, now: number): void {
    if (flow.dead || flow.ep.isClosed()) return;
    if (!clean) { flow.ep.abort(); this.service(flow, now); }
  }

  /** The socket took `n` bytes of a tcpWrite: the endpoint's receive window may reopen. */
  tcpWritten(flow: NatTcpFlow<T>, n: number, now: number): void {
    flow.ep.consumed(n);
    if (!flow.dead) this.service(flow, now);
  }

  // ---- socket events (UDP) ----

  /** A datagram on the flow's socket from srcIp:srcPort. */
  udpReceived(flow: NatUdpFlow<U>, payload: Buffer, srcIp: number, srcPort: number, now: number): void {
    if (flow.dead) return;
    this.clock = now;
    const key = flow.key;
    // Endpoint-dependent filtering: only the destination the client talked to may answer on this flow.
    if (srcIp !== key.dstIp || srcPort !== key.dstPort || key.v6) { this.drop('udp-foreign-source'); return; }
    this.udpReply(flow, payload, now);
  }

  /** udpReceived for an IPv6 flow: a datagram from src (16 bytes):srcPort. */
  udpReceived6(flow: NatUdpFlow<U>, payload: Buffer, src: Uint8Array, srcPort: number, now: number): void {
    if (flow.dead) return;
    this.clock = now;
    const v6 = flow.key.v6;
    if (!v6 || srcPort !== flow.key.dstPort || !v6.dst.equals(src)) { this.drop('udp-foreign-source'); return; }
    this.udpReply(flow, payload, now);
  }

  private udpReply(flow: NatUdpFlow<U>, payload: Buffer, now: number): void {
    const key = flow.key;
    if (!flow.assured) {
      this.table.assure(flow);
      this.table.setTtl(flow, udpTimeoutMs(key, true, this.timeouts), now);
    } else {
      this.table.lookup(key, now);  // refresh the idle timer
    }
    this.ident = (this.ident + 1) & 0xffff;
    if (key.v6) {
      const p6 = buildUdp6Packet(key.v6.dst, key.v6.client, { srcPort: key.dstPort, dstPort: key.clientPort, payload });
      for (const p of fragmentIpv6(p6, this.mtu, this.random())) this.toClient(p, flow.owner);
      return;
    }
    for (const p of fragmentIpv4(udpToClient(key, payload, this.ident), this.mtu)) this.toClient(p, flow.owner);
  }

  /** A send failed (`code`: its errno name). An IPv6 datagram that found no route is answered with an ICMPv6
   *  unreachable quoting it (`payload`: what was sent). */
  udpSendFailed(flow: NatUdpFlow<U>, code?: string, payload?: Buffer): void {
    if (flow.dead) return;
    this.drop('udp-send-error');
    const v6 = flow.key.v6, why = unreachCode(code);
    if (!v6 || !payload || why === undefined) return;
    const k = flow.key;
    this.unreachable6(flow, buildUdp6Packet(v6.client, v6.dst, { srcPort: k.clientPort, dstPort: k.dstPort, payload }), why);
  }

  /** The UDP socket failed: the flow goes. */
  udpFailed(flow: NatUdpFlow<U>): void {
    this.table.remove(flow, 'closed');
  }

  // ---- time and batches ----

  /** Run what is due at `now`: TCP timers (their flows dispatch in the next batch) and the idle sweep. */
  timeout(now: number): void {
    this.clock = now;
    for (let f = this.deadlines.popDue(now); f; f = this.deadlines.popDue(now)) {
      if (!f.dead) this.service(f, now);
    }
    if (this.sweepAt !== undefined && now >= this.sweepAt) {
      this.table.sweep(now);
      this.reassembler?.expire(now);
      this.sweepAt = undefined;
      this.sweepSoon(now);
    }
  }

  /** The end of the io layer's batch of input: each flow touched since the last one dispatches once. */
  endBatch(now: number): void {
    this.clock = now;
    const flows = this.dirty;
    for (const f of this.burstWait) flows.add(f);
    this.burstWait.clear();
    this.dirty = this.batch;
    this.batch = flows;
    for (const f of flows) {
      // Outbound writes stay corked while the client's burst goes on (up to CORK_MAX): one writev per burst.
      if (f.corked && (!f.segIn || f.corkedBytes >= CORK_MAX)) {
        f.corked = false;
        f.corkedBytes = 0;
        this.sockets.tcpUncork(f.sock);
      }
      if (f.dead) continue;
      if (!f.segIn) f.ep.burstEnded();
      f.segIn = false;
      this.dispatch(f, now);
      this.drainEvents(f, now);
      if (f.dead) continue;
      if (f.paused && this.wantsServerData(f)) { f.paused = false; this.sockets.tcpResume(f.sock); }
      this.armTimer(f);
      if (f.corked || f.ep.ackWaitsForBurstEnd()) this.burstWait.add(f);
    }
    flows.clear();
  }

  // ---- TCP ----

  private tcpInput(owner: number, src: number, dst: number, seg: TcpRepr, now: number): void {
    const key: FlowKey = { proto: PROTO_TCP, clientIp: src, clientPort: seg.srcPort, dstIp: dst, dstPort: seg.dstPort, v6: undefined };
    this.tcpSegment(owner, key, seg, now);
  }

  /** A segment of the flow `key`; `packet6`: the whole IPv6 packet (kept with a new flow's SYN). */
  private tcpSegment(owner: number, key: FlowKey, seg: TcpRepr, now: number, packet6?: Buffer): void {
    const flow = this.table.lookup(key, now);
    if (flow && flow.kind === 'tcp' && seg.control === 'syn' && seg.ack === undefined && flow.ep.state === 'timeWait') {
      // RFC 1122 4.2.2.13 / RFC 6191: a new SYN may reopen a connection in TIME-WAIT; the old flow has no socket left.
      this.table.remove(flow, 'closed');
    } else if (flow && flow.kind === 'tcp') {
      flow.segIn = true;
      flow.ep.process(seg, now);
      this.service(flow, now);
      return;
    }
    if (seg.control !== 'syn' || seg.ack !== undefined) {
      // RFC 9293 §3.10.7.1: a segment for no connection is answered with a reset (never a reset for a reset).
      this.drop('tcp-no-flow');
      if (seg.control !== 'rst') this.toClient(closedReset(key, seg), owner);
      return;
    }
    if (key.v6 ? badDestination6(key.v6.dst) : badDestination(key.dstIp)) { this.drop('bad-destination'); return; }
    if (!key.v6 && key.dstIp === this.localIp) { this.drop('local-port-closed'); this.toClient(closedReset(key, seg), owner); return; }
    this.openTcp(owner, key, seg, now, packet6);
  }

  private openTcp(owner: number, key: FlowKey, syn: TcpRepr, now: number, packet6?: Buffer): void {
    const ep = new TcpEndpoint(key.dstPort, key.clientPort, syn, {
      ...this.tcpBase, mss: key.v6 ? this.tcpBase.mss - 20 : this.tcpBase.mss, iss: this.random() >>> 0,
    }, now);
    const flow: NatTcpFlow<T> = {
      kind: 'tcp', key, owner, hash: 0, assured: false, ep, sock: undefined as T, connected: false, paused: false,
      corked: false, corkedBytes: 0, segIn: false, dead: false, closeReason: undefined, lastState: ep.state,
      queuedAt: Infinity, syn6: packet6 && Buffer.from(packet6),
    };
    const res = this.table.insert(flow, this.timeouts.tcpTransitory * 1000, now);
    if (res !== 'ok') { this.drop(res === 'quota' ? 'quota' : 'hash-collision'); return; }
    this.sweepSoon(now);
    this.tcpOpen++;
    flow.sock = this.sockets.tcpConnect(flow);
    this.armTimer(flow);
  }

  /** Run the endpoint's events and queue the flow for the next batch. */
  private service(flow: NatTcpFlow<T>, now: number): void {
    if (flow.dead) return;
    this.clock = now;
    this.drainEvents(flow, now);
    if (flow.dead) return;
    this.dirty.add(flow);
  }

  private drainEvents(flow: NatTcpFlow<T>, now: number): void {
    const { ep } = flow;
    for (let ev = ep.poll(); ev; ev = ep.poll()) {
      switch (ev.t) {
        case 'data':
          // Segments of one client burst leave in one writev: corked here, uncorked in endBatch().
          if (!flow.corked) { flow.corked = true; this.sockets.tcpCork(flow.sock); }
          flow.corkedBytes += ev.bytes.length;
          this.sockets.tcpWrite(flow.sock, ev.bytes, flow);
          break;
        case 'fin':
          this.sockets.tcpEnd(flow.sock);
          break;
        case 'closed':
          flow.closeReason = ev.reason;
          // The last segments (a RST or the final ACK) still go out before the flow is dropped.
          this.dispatch(flow, now);
          this.table.remove(flow, 'closed');
          return;
      }
    }
    if (ep.state !== flow.lastState) {
      flow.lastState = ep.state;
      if (ep.state === 'established') this.table.assure(flow);
      const ttl = longLived(ep.state) ? this.timeouts.tcpEstablished : this.timeouts.tcpTransitory;
      this.table.setTtl(flow, ttl * 1000, now);
    }
  }

  private dispatch(flow: NatTcpFlow<T>, now: number): void {
    const { key } = flow;
    const v6 = key.v6;
    if (v6) flow.ep.dispatch(now, (repr, data) => this.toClient(buildTcp6Packet(v6.dst, v6.client, repr, data), flow.owner));
    else flow.ep.dispatch(now, (repr, data) => this.toClient(buildTcpPacket(key.dstIp, key.clientIp, repr, data), flow.owner));
  }

  private armTimer(flow: NatTcpFlow<T>): void {
    const at = flow.ep.pollAt();
    if (at === undefined) this.deadlines.disarm(flow);
    else this.deadlines.arm(flow, at);
  }

  private tcpRemoved(flow: NatTcpFlow<T>, reason: RemoveReason): void {
    if (flow.dead) return;
    if (reason !== 'closed' || !flow.ep.isClosed()) {
      // Evicted, expired or flushed: reset the client (unless it is gone) and the server.
      flow.ep.abort();
      flow.closeReason = 'aborted';
      if (flow.owner !== this.goneClient) this.dispatch(flow, this.clock);
    }
    flow.dead = true;
    this.tcpOpen--;
    this.dirty.delete(flow);
    this.burstWait.delete(flow);
    this.deadlines.disarm(flow);
    const graceful = flow.closeReason === 'done';
    this.sockets.tcpClose(flow.sock, flow.connected && !graceful);
  }

  // ---- UDP ----

  private udpInput(owner: number, src: number, dst: number, srcPort: number, dstPort: number, payload: Buffer, now: number): void {
    if (srcPort === 0) { this.drop('udp-malformed'); return; }
    this.udpFlowSend(owner, { proto: PROTO_UDP, clientIp: src, clientPort: srcPort, dstIp: dst, dstPort, v6: undefined }, payload, now);
  }

  private udpFlowSend(owner: number, key: FlowKey, payload: Buffer, now: number): void {
    let flow = this.table.lookup(key, now);
    if (!flow) {
      if (key.v6 ? badDestination6(key.v6.dst) : badDestination(key.dstIp)) { this.drop('bad-destination'); return; }
      if (!key.v6 && key.dstIp === this.localIp) { this.drop('local-port-closed'); return; }
      flow = this.openUdp(owner, key, now);
      if (!flow) return;
    }
    if (flow.kind !== 'udp') return;
    this.sockets.udpSend(flow.sock, payload, flow);
  }

  private openUdp(owner: number, key: FlowKey, now: number): NatUdpFlow<U> | undefined {
    const flow: NatUdpFlow<U> = { kind: 'udp', key, owner, hash: 0, assured: false, sock: undefined as U, dead: false };
    const res = this.table.insert(flow, udpTimeoutMs(key, false, this.timeouts), now);
    if (res !== 'ok') { this.drop(res === 'quota' ? 'quota' : 'hash-collision'); return undefined; }
    this.sweepSoon(now);
    this.udpOpen++;
    flow.sock = this.sockets.udpOpen(flow);
    return flow;
  }

  private udpRemoved(flow: NatUdpFlow<U>): void {
    if (flow.dead) return;
    flow.dead = true;
    this.udpOpen--;
    this.sockets.udpClose(flow.sock);
  }

  // ---- shared ----

  /** A packet to the client whose tunnel address is `owner`. */
  private toClient(packet: Buffer, owner: number): void {
    if (owner === this.goneClient) return;
    const total = this.table.total;
    total.packetsIn++;
    total.bytesIn += packet.length;
    const c = this.table.clientCounters(owner);
    if (c) { c.packetsIn++; c.bytesIn += packet.length; }
    this.deliver(packet);
  }

  /** The idle sweep runs once a second while there are flows or fragments to expire. */
  private sweepSoon(now: number): void {
    if (this.sweepAt !== undefined) return;
    if (this.table.size > 0 || (this.reassembler !== undefined && this.reassembler.inProgress > 0)) {
      this.sweepAt = now + SWEEP_INTERVAL_MS;
    }
  }

  private drop(reason: string): void { countDrop(this.drops, reason); }

  /** An ICMPv6 destination unreachable to the client, about `original` (a packet it sent on this flow). */
  private unreachable6(flow: Flow<T, U>, original: Buffer, code: number): void {
    const v6 = flow.key.v6;
    if (!v6) return;
    const u = buildIcmpv6Unreachable(original, code, this.icmp6Source ?? v6.dst);
    if (!u) return;
    this.drop(code === UNREACH6.ADDRESS ? 'ipv6-host-unreachable' : 'ipv6-no-route');
    this.toClient(u, flow.owner);
  }
}

/** The ICMPv6 unreachable code for a socket error that means "no way there", else undefined. */
function unreachCode(code: string | undefined): number | undefined {
  switch (code) {
    case 'ENETUNREACH': case 'EADDRNOTAVAIL': case 'EAFNOSUPPORT': return UNREACH6.NO_ROUTE;
    case 'EHOSTUNREACH': return UNREACH6.ADDRESS;
    default: return undefined;
  }
}

/** RFC 9293 §3.10.7.1: the reset for a segment that belongs to no connection. */
function closedReset(key: FlowKey, seg: TcpRepr): Buffer {
  const v6 = key.v6;
  const len = seg.payload.length + (seg.control === 'syn' || seg.control === 'fin' ? 1 : 0);
  const r: TcpRepr = {
    srcPort: key.dstPort, dstPort: key.clientPort, control: 'rst', psh: false, window: 0, sackPermitted: false,
    payload: EMPTY,
    seq: seg.ack ?? 0,
    ack: seg.ack === undefined ? (seg.seq + len) >>> 0 : undefined,
  };
  return v6 ? buildTcp6Packet(v6.dst, v6.client, r) : buildTcpPacket(key.dstIp, key.clientIp, r);
}
