// A download through the whole simulated pipeline (pipeline.ts) over links with the given impairments in both
// directions. Every packet towards the client is tagged, so the run knows which transmission of each segment reached
// the client: a retransmission is spurious when an earlier transmission of the same segment arrived.
import { createHash } from 'node:crypto';
import type { LinkKnobs } from './link.js';
import { HOST, SimNet } from './pipeline.js';
import type { NatOptions } from '../../../src/core/uplink/nat/nat.js';
import type { SimTcpOptions } from './tcp-client.js';
import { parseTcpInIpv4 } from '../../../src/core/wire/tcp.js';

export const digest = (b: Buffer[]) => createHash('sha256').update(Buffer.concat(b)).digest('hex');

export function blob(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >>> 11)) & 0xff;
  return b;
}

/** 25 ms ± 10 ms one way, 2 % loss, 1 % duplication, 5 % reordering, 20 Mbit/s. */
export const LOSSY: Partial<LinkKnobs> = {
  latency: 15, jitter: 20, loss: 0.02, duplicate: 0.01, reorder: 0.05, reorderDelay: 10, rate: 2500,
};

export interface LossyRun {
  ok: boolean; exact: boolean; virtualMs: number; kBps: number;
  retransmits: number; spurious: number; lostOnLink: number; nat: Record<string, number>;
}

export function lossyDownload(seed: number, size: number, client: Partial<SimTcpOptions> = {},
  knobs: Partial<LinkKnobs> = LOSSY, nat: NatOptions = {}): LossyRun {
  const net = new SimNet({ seed, up: knobs, down: knobs, nat });
  const sent = blob(size);
  net.internet.listen(HOST, 80, (c) => { c.onData = () => { c.write(sent); c.end(); }; });
  const transmissions = new Map<number, number[]>();
  const delivered = new Set<number>();
  net.onDownIp = (ip, phase, id) => {
    if (phase === 'delivered') { delivered.add(id); return; }
    const r = parseTcpInIpv4(ip);
    if ('error' in r || r.payload.length === 0) return;
    const ids = transmissions.get(r.seq);
    if (ids) ids.push(id); else transmissions.set(r.seq, [id]);
  };
  const tcp = net.tcp(40000, HOST, 80, client);
  const data: Buffer[] = [];
  tcp.onData = (b) => data.push(b);
  tcp.onFin = () => tcp.end(net.now);
  const start = net.now;
  tcp.connect(net.now);
  tcp.write(Buffer.from('GET /blob'), net.now);
  net.sim.runUntil(() => tcp.done, { maxTime: 300_000, what: 'download' });
  const virtualMs = net.now - start;
  let retransmits = 0, spurious = 0;
  for (const ids of transmissions.values()) {
    retransmits += ids.length - 1;
    const first = ids.findIndex((id) => delivered.has(id));
    if (first >= 0) spurious += ids.length - 1 - first;
  }
  const st = net.nat.stats();
  return {
    ok: tcp.state !== 'reset', exact: digest(data) === createHash('sha256').update(sent).digest('hex'), virtualMs,
    kBps: Math.round(size / virtualMs), retransmits, spurious, lostOnLink: net.down.stats.lost,
    nat: { ...st.tcpRetransmits, undoneByDsack: st.tcpSpurious.dsack, undoneByTimestamp: st.tcpSpurious.timestamp,
      clientDsacks: tcp.stats.dsacks },
  };
}
