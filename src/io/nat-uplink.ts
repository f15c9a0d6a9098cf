// Userspace socket-level NAT (like slirp): Nanos has no raw sockets, so each client TCP connection ends in our own
// TCP endpoint (core/uplink/nat/tcp-endpoint.ts) and is re-originated as a net.Socket; each UDP flow gets a dgram
// socket. The only NAT file that touches sockets and timers.
//
//   send(clientIp, packet) → classify (checksums) → [reassemble fragments] → flow lookup/create
//     TCP: endpoint.process → events (data → socket.write, fin → socket.end, closed → remove) → dispatch soon
//     UDP: dgram.send; replies → udpToClient → deliver
//   dispatch: one setImmediate drains every flow touched in this turn (so ACKs for a burst coalesce), then each
//   flow re-arms its own setTimeout at endpoint.pollAt(). While a client's burst goes on (segments in every turn),
//   outbound writes stay corked and a held ACK waits; the first turn without segments for the flow releases both.
//   A 1 s interval expires idle flows and fragments.
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { DeliverToClients, Uplink } from '../core/uplink/uplink.js';
import { fragmentIpv4, ipToString, ipFromString } from '../core/wire/ipv4.js';
import { buildTcpPacket, EMPTY, type TcpRepr } from '../core/wire/tcp.js';
import { classify } from '../core/uplink/nat/classify.js';
import { countDrop, type FlowCounters, type NatStats } from '../core/uplink/nat/counters.js';
import type { FlowKey } from '../core/uplink/nat/flow-key.js';
import { FlowTable, type FlowEntry, type RemoveReason } from '../core/uplink/nat/flow-table.js';
import { Reassembler, REASSEMBLY_DEFAULTS, type ReassemblyLimits } from '../core/uplink/nat/reassembly.js';
import { TcpEndpoint, TCP_DEFAULTS, type CloseReason, type TcpState } from '../core/uplink/nat/tcp-endpoint.js';
import { DEFAULT_TIMEOUTS, udpTimeoutMs, udpToClient, type NatTimeouts } from '../core/uplink/nat/udp-flow.js';
import { log } from '../log.js';

export type { NatStats, FlowCounters, NatTimeouts };

export interface NatOptions {
  /** Idle timeouts in seconds (conntrack-like). */
  timeouts?: Partial<NatTimeouts>;
  /** Flows one client may hold (default 4096). */
  perClientFlows?: number;
  /** Flows in total (default 65536). */
  maxFlows?: number;
  /** Source address for outbound sockets (nat-source); default: the OS chooses. */
  localAddress?: string;
  /** MSS clamp for our side of client TCP connections (default 1460). */
  mss?: number;
  /** Seconds to wait for an outbound TCP connect before resetting the client (default 20). */
  connectTimeout?: number;
  /** Client bytes buffered towards a server before our window closes (default 256 KiB). */
  tcpRcvBuf?: number;
  /** Server bytes buffered towards a client before the outbound socket is paused (default 256 KiB). */
  tcpSndBuf?: number;
  /** Largest packet delivered to a client (the tunnel MTU, default 1500); bigger UDP replies are fragmented. */
  mtu?: number;
  /** Fragment reassembly limits; false drops every fragment (counted). */
  reassembly?: Partial<ReassemblyLimits> | false;
}

export interface NatUplink extends Uplink {
  stats(): NatStats;
  clientStats(clientIp: number): FlowCounters | undefined;
  /** Socket-level state of the NAT right now (the server's `state` dump): what a stalled transfer waits for. */
  ioState(): NatIoState;
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
  /** The flow with the most bytes waiting for the client: its TCP send state. */
  worst?: { dst: string; state: TcpState; txQueued: number; inFlight: number; sndWnd: number; cwnd: number; rto: number; timer: string };
}

interface TcpFlow extends FlowEntry {
  kind: 'tcp';
  ep: TcpEndpoint;
  sock: net.Socket;
  connected: boolean;
  paused: boolean;
  /** Outbound writes are corked until the client's burst ends (or CORK_MAX bytes). */
  corked: boolean;
  /** Bytes written to the corked socket. */
  corkedBytes: number;
  /** A segment from the client arrived since the last dispatch. */
  segIn: boolean;
  dead: boolean;
  closeReason: CloseReason | undefined;
  lastState: TcpState;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

interface UdpFlow extends FlowEntry {
  kind: 'udp';
  sock: dgram.Socket;
  dstHost: string;
  dead: boolean;
}

type Flow = TcpFlow | UdpFlow;

const PROTO_TCP = 6;
const PROTO_UDP = 17;
const SWEEP_INTERVAL_MS = 1000;
/** Outbound bytes held corked while the client's burst goes on. */
const CORK_MAX = 64 * 1024;
/** In-order segments from a client ACKed at once; fewer are ACKed when its burst ends (TcpConfig.stretchAck). */
const STRETCH_ACK_SEGMENTS = 16;

/** Destinations a NAT must never originate to: this-network, multicast, limited broadcast. */
function badDestination(ip: number): boolean {
  const first = ip >>> 24;
  return first === 0 || first >= 224;
}

export function createNatUplink(opts: NatOptions, deliver: DeliverToClients): NatUplink {
  const timeouts: NatTimeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const sndBuf = opts.tcpSndBuf ?? 256 * 1024;
  const mtu = opts.mtu ?? 1500;
  const tcpBase = {
    ...TCP_DEFAULTS,
    mss: opts.mss ?? TCP_DEFAULTS.mss,
    rcvBuf: opts.tcpRcvBuf ?? TCP_DEFAULTS.rcvBuf,
    connectTimeout: (opts.connectTimeout ?? 20) * 1000,
    timeWait: timeouts.tcpTimeWait * 1000,
    stretchAck: STRETCH_ACK_SEGMENTS,
  };
  if (opts.localAddress !== undefined) ipFromString(opts.localAddress);  // fail early on a bad nat-source
  const drops: Record<string, number> = {};
  const reassembler = opts.reassembly === false ? undefined
    : new Reassembler({ ...REASSEMBLY_DEFAULTS, ...opts.reassembly });
  const dirty = new Set<TcpFlow>();
  /** Flows holding corked writes or an ACK until the client's burst ends: flushed again on the next turn. */
  const burstWait = new Set<TcpFlow>();
  let flushScheduled = false;
  let closing = false;
  /** While a client's flows are flushed on clientGone, nothing more is sent to it. */
  let goneClient: number | undefined;
  let tcpOpen = 0;
  let udpOpen = 0;
  let ident = 0;

  const table = new FlowTable<Flow>({
    maxFlows: opts.maxFlows ?? 65536,
    perClientFlows: opts.perClientFlows ?? 4096,
    seed: randomInt(0, 0x100000000),
    onRemove: (flow, reason) => (flow.kind === 'tcp' ? tcpRemoved(flow, reason) : udpRemoved(flow, reason)),
  });

  const now = (): number => performance.now();
  const drop = (reason: string): void => countDrop(drops, reason);

  function toClient(packet: Buffer): void {
    const dst = packet.readUInt32BE(16);
    if (dst === goneClient) return;
    table.total.packetsIn++;
    table.total.bytesIn += packet.length;
    const c = table.clientCounters(dst);
    if (c) { c.packetsIn++; c.bytesIn += packet.length; }
    deliver(packet);
  }

  // ---- client → NAT ----

  function send(clientIp: number, packet: Buffer): void {
    if (closing) return;
    const c = table.countersFor(clientIp);
    c.packetsOut++;
    c.bytesOut += packet.length;
    table.total.packetsOut++;
    table.total.bytesOut += packet.length;
    let cl = classify(packet);
    if (cl.kind === 'fragment') {
      if (!reassembler) { drop('fragment'); return; }
      const whole = reassembler.add(packet, now());
      if (!whole) return;
      cl = classify(whole);
    }
    switch (cl.kind) {
      case 'drop': drop(cl.reason); return;
      case 'fragment': drop('fragment'); return;
      case 'tcp':
        if (cl.src !== clientIp) { drop('spoofed'); return; }
        tcpInput(cl.src, cl.dst, cl.tcp);
        return;
      case 'udp':
        if (cl.src !== clientIp) { drop('spoofed'); return; }
        udpInput(cl.src, cl.dst, cl.udp.srcPort, cl.udp.dstPort, cl.udp.payload);
        return;
    }
  }

  // ---- TCP ----

  function tcpInput(src: number, dst: number, seg: TcpRepr): void {
    const key: FlowKey = { proto: PROTO_TCP, clientIp: src, clientPort: seg.srcPort, dstIp: dst, dstPort: seg.dstPort };
    const t = now();
    const flow = table.lookup(key, t);
    if (flow && flow.kind === 'tcp' && seg.control === 'syn' && seg.ack === undefined && flow.ep.state === 'timeWait') {
      // RFC 1122 4.2.2.13 / RFC 6191: a new SYN may reopen a connection in TIME-WAIT; the old flow has no socket left.
      table.remove(flow, 'closed');
    } else if (flow && flow.kind === 'tcp') {
      flow.segIn = true;
      flow.ep.process(seg, t);
      service(flow);
      return;
    }
    if (seg.control !== 'syn' || seg.ack !== undefined) {
      // RFC 9293 §3.10.7.1: a segment for no connection is answered with a reset (never a reset for a reset).
      drop('tcp-no-flow');
      if (seg.control !== 'rst') toClient(closedReset(key, seg));
      return;
    }
    if (badDestination(dst)) { drop('bad-destination'); return; }
    openTcp(key, seg, t);
  }

  function closedReset(key: FlowKey, seg: TcpRepr): Buffer {
    const len = seg.payload.length + (seg.control === 'syn' || seg.control === 'fin' ? 1 : 0);
    const r: TcpRepr = {
      srcPort: key.dstPort, dstPort: key.clientPort, control: 'rst', psh: false, window: 0, sackPermitted: false,
      payload: EMPTY,
      seq: seg.ack ?? 0,
      ack: seg.ack === undefined ? (seg.seq + len) >>> 0 : undefined,
    };
    return buildTcpPacket(key.dstIp, key.clientIp, r);
  }

  const tcpRetransmits = { timeout: 0, fast: 0, probe: 0 };

  function openTcp(key: FlowKey, syn: TcpRepr, t: number): void {
    const ep = new TcpEndpoint(key.dstPort, key.clientPort, syn, {
      ...tcpBase, iss: randomInt(0, 0x100000000), onDrop: (reason) => drop(`tcp: ${reason}`),
      onRetransmit: (kind) => { tcpRetransmits[kind]++; },
    }, t);
    const sock = new net.Socket({ allowHalfOpen: true });
    const flow: TcpFlow = {
      kind: 'tcp', key, hash: 0, assured: false, ep, sock, connected: false, paused: false, corked: false, corkedBytes: 0, segIn: false, dead: false,
      closeReason: undefined, lastState: ep.state, timer: undefined, timerAt: Infinity,
    };
    const res = table.insert(flow, timeouts.tcpTransitory * 1000, t);
    if (res !== 'ok') { drop(res === 'quota' ? 'quota' : 'hash-collision'); sock.destroy(); return; }
    tcpOpen++;
    sock.on('connect', () => {
      flow.connected = true;
      sock.setNoDelay(true);
      ep.accept();
      service(flow);
    });
    sock.on('data', (chunk: Buffer) => {
      ep.send(chunk);
      if (!flow.paused && ep.txQueued() >= sndBuf) { flow.paused = true; sock.pause(); }
      service(flow);
    });
    sock.on('end', () => { ep.shutdown(); service(flow); });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (flow.dead) return;
      log('debug', 'nat: outbound tcp error', { dst: `${ipToString(key.dstIp)}:${key.dstPort}`, code: err.code });
      if (flow.connected) ep.abort(); else ep.refuse();
      service(flow);
    });
    sock.on('close', () => {
      if (flow.dead || ep.isClosed()) return;
      // Closed without an error after both directions ended: the endpoint finishes on its own. Otherwise reset.
      if (!sock.readableEnded || !sock.writableFinished) { ep.abort(); service(flow); }
    });
    sock.connect({ host: ipToString(key.dstIp), port: key.dstPort, localAddress: opts.localAddress, family: 4 });
    scheduleTimer(flow);
  }

  /** Run the endpoint's events and queue a dispatch. */
  function service(flow: TcpFlow): void {
    if (flow.dead) return;
    drainEvents(flow);
    if (flow.dead) return;
    dirty.add(flow);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  function drainEvents(flow: TcpFlow): void {
    const { ep, sock } = flow;
    for (let ev = ep.poll(); ev; ev = ep.poll()) {
      switch (ev.t) {
        case 'data': {
          const n = ev.bytes.length;
          // Segments of one client burst leave in one writev: corked here, uncorked in flush().
          if (!flow.corked) { flow.corked = true; sock.cork(); }
          flow.corkedBytes += n;
          sock.write(ev.bytes, () => { ep.consumed(n); if (!flow.dead) service(flow); });
          break;
        }
        case 'fin':
          sock.end();
          break;
        case 'closed':
          flow.closeReason = ev.reason;
          // The last segments (a RST or the final ACK) still go out before the flow is dropped.
          dispatchNow(flow);
          table.remove(flow, 'closed');
          return;
      }
    }
    if (ep.state !== flow.lastState) {
      flow.lastState = ep.state;
      if (ep.state === 'established') table.assure(flow);
      const long = ep.state === 'established' || ep.state === 'closeWait' || ep.state === 'finWait2';
      table.setTtl(flow, (long ? timeouts.tcpEstablished : timeouts.tcpTransitory) * 1000, now());
    }
  }

  function flush(): void {
    flushScheduled = false;
    for (const f of burstWait) dirty.add(f);
    burstWait.clear();
    const flows = [...dirty];
    dirty.clear();
    for (const f of flows) {
      // Outbound writes stay corked while the client's burst goes on (up to CORK_MAX): one writev per burst.
      if (f.corked && (!f.segIn || f.corkedBytes >= CORK_MAX)) {
        f.corked = false;
        f.corkedBytes = 0;
        f.sock.uncork();
      }
      if (f.dead) continue;
      if (!f.segIn) f.ep.burstEnded();
      f.segIn = false;
      dispatchNow(f);
      drainEvents(f);
      if (f.dead) continue;
      if (f.paused && f.ep.txQueued() < sndBuf / 2) { f.paused = false; f.sock.resume(); }
      scheduleTimer(f);
      if (f.corked || f.ep.ackWaitsForBurstEnd()) burstWait.add(f);
    }
    if (burstWait.size > 0 && !flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  function dispatchNow(flow: TcpFlow): void {
    const { key } = flow;
    flow.ep.dispatch(now(), (repr, data) => toClient(buildTcpPacket(key.dstIp, key.clientIp, repr, data)));
  }

  function scheduleTimer(flow: TcpFlow): void {
    const at = flow.ep.pollAt();
    if (at === undefined) {
      if (flow.timer) { clearTimeout(flow.timer); flow.timer = undefined; flow.timerAt = Infinity; }
      return;
    }
    // A timer that fires early is harmless (dispatch does nothing and we re-arm), so only move it earlier.
    if (flow.timer && flow.timerAt <= at) return;
    if (flow.timer) clearTimeout(flow.timer);
    flow.timerAt = at;
    flow.timer = setTimeout(() => {
      flow.timer = undefined;
      flow.timerAt = Infinity;
      if (flow.dead) return;
      service(flow);
    }, Math.max(1, Math.ceil(at - now())));
  }

  function tcpRemoved(flow: TcpFlow, reason: RemoveReason): void {
    if (flow.dead) return;
    if (reason !== 'closed' || !flow.ep.isClosed()) {
      // Evicted, expired or flushed: reset the client (unless it is gone) and the server.
      flow.ep.abort();
      flow.closeReason = 'aborted';
      if (flow.key.clientIp !== goneClient) dispatchNow(flow);
    }
    flow.dead = true;
    tcpOpen--;
    dirty.delete(flow);
    burstWait.delete(flow);
    if (flow.timer) clearTimeout(flow.timer);
    flow.timer = undefined;
    const { sock } = flow;
    const graceful = flow.closeReason === 'done';
    if (flow.connected && !graceful && !sock.destroyed) sock.resetAndDestroy();
    else sock.destroy();
  }

  // ---- UDP ----

  function udpInput(src: number, dst: number, srcPort: number, dstPort: number, payload: Buffer): void {
    if (srcPort === 0) { drop('udp-malformed'); return; }
    const key: FlowKey = { proto: PROTO_UDP, clientIp: src, clientPort: srcPort, dstIp: dst, dstPort };
    const t = now();
    let flow = table.lookup(key, t);
    if (!flow) {
      if (badDestination(dst)) { drop('bad-destination'); return; }
      flow = openUdp(key, t);
      if (!flow) return;
    }
    if (flow.kind !== 'udp') return;
    const f = flow;
    f.sock.send(payload, key.dstPort, f.dstHost, (err) => {
      if (err && !f.dead) drop('udp-send-error');
    });
  }

  function openUdp(key: FlowKey, t: number): UdpFlow | undefined {
    const sock = dgram.createSocket({ type: 'udp4' });
    const flow: UdpFlow = { kind: 'udp', key, hash: 0, assured: false, sock, dstHost: ipToString(key.dstIp), dead: false };
    const res = table.insert(flow, udpTimeoutMs(key, false, timeouts), t);
    if (res !== 'ok') { drop(res === 'quota' ? 'quota' : 'hash-collision'); sock.close(); return undefined; }
    udpOpen++;
    sock.on('message', (msg, rinfo) => {
      if (flow.dead) return;
      // Endpoint-dependent filtering: only the destination the client talked to may answer on this flow.
      if (rinfo.address !== flow.dstHost || rinfo.port !== key.dstPort) { drop('udp-foreign-source'); return; }
      const t2 = now();
      if (!flow.assured) {
        table.assure(flow);
        table.setTtl(flow, udpTimeoutMs(key, true, timeouts), t2);
      } else {
        table.lookup(key, t2);  // refresh the idle timer
      }
      ident = (ident + 1) & 0xffff;
      for (const p of fragmentIpv4(udpToClient(key, msg, ident), mtu)) toClient(p);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      log('debug', 'nat: udp socket error', { dst: `${flow.dstHost}:${key.dstPort}`, code: err.code });
      table.remove(flow, 'closed');
    });
    if (opts.localAddress !== undefined) sock.bind({ address: opts.localAddress, port: 0 });
    return flow;
  }

  function udpRemoved(flow: UdpFlow, _reason: RemoveReason): void {
    if (flow.dead) return;
    flow.dead = true;
    udpOpen--;
    try { flow.sock.close(); } catch { /* already closed */ }
  }

  // ---- housekeeping ----

  const sweeper = setInterval(() => {
    const t = now();
    table.sweep(t);
    reassembler?.expire(t);
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  return {
    send,
    clientGone(clientIp: number): void {
      const c = table.clientCounters(clientIp);
      if (!c) return;
      const flows = c.flowsOpen;
      log('info', 'nat: client flows flushed', {
        client: ipToString(clientIp), flows, created: c.flowsCreated, bytesOut: c.bytesOut, bytesIn: c.bytesIn,
      });
      goneClient = clientIp;
      try { table.removeClient(clientIp); } finally { goneClient = undefined; }
    },
    async close(): Promise<void> {
      closing = true;
      clearInterval(sweeper);
      const socks: Promise<void>[] = [];
      for (const f of table.flows()) {
        if (f.kind === 'tcp') {
          socks.push(new Promise((resolve) => (f.sock.destroyed ? resolve() : f.sock.once('close', () => resolve()))));
        }
        table.remove(f, 'closed');
      }
      await Promise.all(socks);
    },
    stats(): NatStats {
      const r = reassembler?.counters;
      const all: Record<string, number> = { ...drops };
      if (r) {
        if (r.timedOut) all['fragment-timeout'] = r.timedOut;
        if (r.overlapping) all['fragment-overlap'] = r.overlapping;
        if (r.overLimit) all['fragment-over-limit'] = r.overLimit;
        if (r.malformed) all['fragment-malformed'] = r.malformed;
      }
      return { ...table.total, tcpFlows: tcpOpen, udpFlows: udpOpen, drops: all, tcpRetransmits: { ...tcpRetransmits } };
    },
    clientStats(clientIp: number): FlowCounters | undefined {
      const c = table.clientCounters(clientIp);
      return c ? { ...c } : undefined;
    },
    ioState(): NatIoState {
      const st: NatIoState = { tcpFlows: tcpOpen, udpFlows: udpOpen, paused: 0, corked: 0, txQueued: 0, sockWritable: 0 };
      let worst: TcpFlow | undefined;
      for (const f of table.flows()) {
        if (f.kind !== 'tcp') continue;
        if (f.paused) st.paused++;
        if (f.corked) st.corked++;
        const q = f.ep.txQueued();
        st.txQueued += q;
        st.sockWritable += f.sock.writableLength;
        if (!worst || q > worst.ep.txQueued()) worst = f;
      }
      if (worst) {
        st.worst = { dst: `${ipToString(worst.key.dstIp)}:${worst.key.dstPort}`, state: worst.ep.state,
          txQueued: worst.ep.txQueued(), ...worst.ep.sendState() };
      }
      return st;
    },
  };
}
