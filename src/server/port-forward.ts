// forward-port (nanovpn extension): the listening sockets. Each rule listens on its address (TCP or UDP) and hands
// what arrives to the NAT uplink (NatUplink.forwardTcp / forwardUdp), which carries it through the tunnel to the
// client's address and port. Which client, and whether it is online, is decided by core/forward/port-forward.ts;
// this file moves bytes, counts them, and logs what the core's refusal summary says.
//   TCP refused (client offline, or the NAT cannot take the flow): the outer connection is reset at once.
//   UDP refused: the datagram is dropped.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { PortForward, ruleName, type ForwardCandidate, type ForwardCounters, type ForwardRule } from '../core/forward/port-forward.js';
import type { DropReport } from '../core/transport/drop-summary.js';
import { ipToString } from '../core/wire/ipv4.js';
import { Driver, Wakeup } from '../io/driver.js';
import { listen } from '../io/listen.js';
import type { ForwardedUdp, NatUplink } from '../io/nat-uplink.js';
import { log } from '../log.js';

export interface ForwardStats extends ForwardCounters { rule: string; proto: 'tcp' | 'udp' }

export interface PortForwards {
  /** Per rule; bytes of open TCP connections included. */
  stats(): ForwardStats[];
  close(): Promise<void>;
}

interface Listener {
  pf: PortForward<ForwardedUdp>;
  /** Open outer TCP connections, for their bytes so far. */
  open: Set<net.Socket>;
  close(): Promise<void>;
}

/** Starts every rule's listener; a rule that cannot bind stops startup (the operator asked for that port). */
export async function startPortForwards(
  rules: readonly ForwardRule[], uplink: NatUplink, sessions: () => Iterable<ForwardCandidate>, driver: Driver,
): Promise<PortForwards> {
  const listeners: Listener[] = [];
  const logWakeup = new Wakeup((t) => {
    for (const l of listeners) for (const r of l.pf.pollLog(t)) logSummary(l.pf.name, r);
    armLog();
  });
  function armLog(): void {
    let at: number | undefined;
    for (const l of listeners) {
      const d = l.pf.nextLogDeadline();
      if (d !== undefined && (at === undefined || d < at)) at = d;
    }
    driver.wakeAt(logWakeup, at);
  }
  function refused(pf: PortForward<ForwardedUdp>, report: DropReport<string> | undefined): void {
    if (!report) return;
    log('warn', 'forward-port: refused', { rule: pf.name, reason: report.reason, peer: report.sample });
    armLog();
  }

  try {
    for (const rule of rules) {
      const pf = new PortForward<ForwardedUdp>(rule, ruleName(rule, ipToString));
      listeners.push(rule.proto === 'tcp'
        ? await listenTcp(pf, uplink, sessions, driver, refused)
        : await listenUdp(pf, uplink, sessions, driver, refused));
      log('notice', 'forward-port listening', { rule: pf.name });
    }
  } catch (e) {
    await Promise.all(listeners.map((l) => l.close()));
    throw e;
  }

  return {
    stats: () => listeners.map((l) => {
      const c = l.pf.counters;
      let bytesIn = c.bytesIn, bytesOut = c.bytesOut;
      for (const s of l.open) { bytesIn += s.bytesRead; bytesOut += s.bytesWritten; }
      return { rule: l.pf.name, proto: l.pf.rule.proto, ...c, refused: { ...c.refused }, bytesIn, bytesOut };
    }),
    async close() {
      driver.wakeAt(logWakeup, undefined);
      const t = driver.now();
      for (const l of listeners) for (const r of l.pf.flushLog(t)) logSummary(l.pf.name, r);
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
}

function logSummary(rule: string, r: DropReport<string>): void {
  log('warn', 'forward-port: refused', { rule, reason: r.reason, count: r.count, seconds: Math.round((r.intervalMs ?? 0) / 1000), sample: r.sample });
}

type Refused = (pf: PortForward<ForwardedUdp>, report: DropReport<string> | undefined) => void;

async function listenTcp(
  pf: PortForward<ForwardedUdp>, uplink: NatUplink, sessions: () => Iterable<ForwardCandidate>, driver: Driver, refused: Refused,
): Promise<Listener> {
  const open = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.on('error', () => {});   // the NAT's own handler reports errors of a carried connection
    const a = pf.admit(sessions(), peer, driver.now());
    if (a.t === 'refuse') { refused(pf, a.log); sock.resetAndDestroy(); return; }
    if (!uplink.forwardTcp(sock, a.clientIp, pf.rule.port)) {
      refused(pf, pf.refuse('no NAT flow', peer, driver.now()).log);
      sock.resetAndDestroy();
      return;
    }
    pf.opened();
    open.add(sock);
    sock.on('close', () => {
      open.delete(sock);
      pf.bytesIn(sock.bytesRead);
      pf.bytesOut(sock.bytesWritten);
      pf.closed();
    });
  });
  await listen(srv, pf.rule.listen.port, pf.rule.listen.host);
  srv.on('error', (e) => log('error', 'forward-port: listener error', { rule: pf.name, error: e.message }));
  return {
    pf, open,
    close: () => new Promise<void>((res) => {
      srv.close(() => res());
      for (const s of open) s.destroy();
    }),
  };
}

async function listenUdp(
  pf: PortForward<ForwardedUdp>, uplink: NatUplink, sessions: () => Iterable<ForwardCandidate>, driver: Driver, refused: Refused,
): Promise<Listener> {
  const sock = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((res, rej) => {
    sock.once('error', rej);
    sock.bind({ address: pf.rule.listen.host, port: pf.rule.listen.port }, () => { sock.off('error', rej); res(); });
  });
  sock.on('error', (e) => log('error', 'forward-port: socket error', { rule: pf.name, error: e.message }));
  sock.on('message', (msg, rinfo) => {
    const peer = `${rinfo.address}:${rinfo.port}`;
    let flow = pf.udpFlow(peer);
    if (!flow) {
      const a = pf.admit(sessions(), peer, driver.now());
      if (a.t === 'refuse') { refused(pf, a.log); return; }
      const from = { address: rinfo.address, port: rinfo.port };
      const made: ForwardedUdp | undefined = uplink.forwardUdp(sock, from, a.clientIp, pf.rule.port, {
        sent: (n) => pf.bytesOut(n),
        gone: () => { if (made) pf.udpFlowGone(peer, made); },
      });
      if (!made) { refused(pf, pf.refuse('no NAT flow', peer, driver.now()).log); return; }
      pf.addUdpFlow(peer, made);
      flow = made;
    }
    pf.bytesIn(msg.length);
    flow.send(msg);
  });
  return {
    pf, open: new Set(),
    close: () => new Promise<void>((res) => { try { sock.close(() => res()); } catch { res(); } }),
  };
}
