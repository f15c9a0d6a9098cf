// forward-port (nanovpn extension): a port on the server's uplink side carried through the tunnel to one client,
// sans IO. The io layer (src/server/port-forward.ts) owns the listening sockets and asks this file, for each outer
// TCP connection or UDP datagram, which client it goes to; the userspace NAT (Nat.tcpOpenToClient,
// Nat.udpOpenToClient) then carries it from the server's tunnel address to the client's address and port.
//
//   outer connection / datagram ─▶ admit(): the rule's client online? ─ yes ▶ { forward, clientIp } (counted)
//                                                                     └ no  ▶ { refuse, reason, log? } (counted)
//
// A rule names its client by common name (the newest established session of that name, whatever address it got:
// the rule follows it across reconnects) or by a fixed address (client-config-dir ifconfig-push). UDP keeps one
// flow per outer source (udpFlow / addUdpFlow); a flow's idle timeout is the NAT's (it leaves the NAT's table and
// the io layer calls udpFlowGone). Refusals are logged through a DropSummary: the first of a quiet interval at once,
// then one summary per interval.
import { DropSummary, type DropReport } from '../transport/drop-summary.js';

export interface ForwardRule {
  proto: 'tcp' | 'udp';
  listen: { host: string; port: number };
  target: { cn: string } | { ip: number };
  /** The client's port. */
  port: number;
}

/** What admit() needs to know of a session. */
export interface ForwardCandidate {
  readonly cn: string | undefined;
  readonly ip: number;
  readonly session: { readonly established: boolean; readonly closed: boolean };
}

export type RefuseReason = 'client offline' | 'no NAT flow';

export type Admission =
  | { t: 'forward'; clientIp: number }
  | { t: 'refuse'; reason: RefuseReason; log?: DropReport<string> };

export interface ForwardCounters {
  accepted: number;
  refused: Record<RefuseReason, number>;
  active: number;
  /** Payload bytes from the outer peer to the client (in) and back (out). */
  bytesIn: number;
  bytesOut: number;
}

/** The rule as one line of text (log lines, metric labels): "tcp 0.0.0.0:8080 alice:80". */
export function ruleName(r: ForwardRule, ipText: (ip: number) => string): string {
  const target = 'cn' in r.target ? r.target.cn : ipText(r.target.ip);
  return `${r.proto} ${r.listen.host}:${r.listen.port} ${target}:${r.port}`;
}

/** The tunnel address of the rule's client, or undefined when it is offline. Sessions come oldest first. */
export function chooseClient(r: ForwardRule, sessions: Iterable<ForwardCandidate>): number | undefined {
  let found: number | undefined;
  for (const s of sessions) {
    if (!s.session.established || s.session.closed || !s.ip) continue;
    if ('cn' in r.target ? s.cn === r.target.cn : s.ip === r.target.ip) found = s.ip;
  }
  return found;
}

export class PortForward<F extends { readonly dead: boolean }> {
  readonly counters: ForwardCounters = {
    accepted: 0, refused: { 'client offline': 0, 'no NAT flow': 0 }, active: 0, bytesIn: 0, bytesOut: 0,
  };
  private readonly refusals: DropSummary<string>;
  private readonly udpFlows = new Map<string, F>();

  constructor(readonly rule: ForwardRule, readonly name: string, opts: { logIntervalMs?: number } = {}) {
    this.refusals = new DropSummary<string>({ intervalMs: opts.logIntervalMs });
  }

  /** A new outer connection (TCP) or a datagram from a source without a flow (UDP), from `peer`. */
  admit(sessions: Iterable<ForwardCandidate>, peer: string, now: number): Admission {
    const clientIp = chooseClient(this.rule, sessions);
    if (clientIp === undefined) return this.refuse('client offline', peer, now);
    return { t: 'forward', clientIp };
  }

  /** The NAT took the connection or flow (it is active until closed()). */
  opened(): void {
    this.counters.accepted++;
    this.counters.active++;
  }

  closed(): void { if (this.counters.active > 0) this.counters.active--; }

  /** A refusal after admit(): the NAT could not make the flow (the client's flow quota, no free port). */
  refuse(reason: RefuseReason, peer: string, now: number): Admission & { t: 'refuse' } {
    this.counters.refused[reason]++;
    const log = this.refusals.note(reason, peer, now);
    return log ? { t: 'refuse', reason, log } : { t: 'refuse', reason };
  }

  bytesIn(n: number): void { this.counters.bytesIn += n; }
  bytesOut(n: number): void { this.counters.bytesOut += n; }

  // ---- UDP flows, one per outer source ----

  /** The live flow of an outer source, if any. */
  udpFlow(peer: string): F | undefined {
    const f = this.udpFlows.get(peer);
    if (f && f.dead) { this.udpFlows.delete(peer); return undefined; }
    return f;
  }

  addUdpFlow(peer: string, flow: F): void {
    this.udpFlows.set(peer, flow);
    this.opened();
  }

  /** The NAT let the flow go (idle, the client gone, shutdown). */
  udpFlowGone(peer: string, flow: F): void {
    if (this.udpFlows.get(peer) === flow) this.udpFlows.delete(peer);
    this.closed();
  }

  // ---- the refusal log ----

  /** Refusal summaries whose interval ended by `now`. */
  pollLog(now: number): DropReport<string>[] { return this.refusals.poll(now); }
  flushLog(now: number): DropReport<string>[] { return this.refusals.flush(now); }
  nextLogDeadline(): number | undefined { return this.refusals.nextDeadline(); }
}
