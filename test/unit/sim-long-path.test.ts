// The NAT's TCP on a long fat path (issue 15, path (c): 100 ms RTT, no loss): its buffers follow the path instead
// of a fixed 256 KiB. Downloads: the flow keeps 2 × cwnd of server data (Linux sizes a send buffer so), so more than
// 256 KiB can be in flight. Uploads: the receive buffer grows with what the outbound socket drains per RTT, so the
// advertised window passes 256 KiB. The assertions are on bytes in flight and windows; throughput (virtual time)
// is only reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinkKnobs } from '../helpers/sim/link.js';
import { HOST, SimNet } from '../helpers/sim/pipeline.js';
import type { NatOptions } from '../../src/core/uplink/nat/nat.js';
import { parseTcpInIpv4 } from '../../src/core/wire/tcp.js';

/** 50 ms each way, 50 Mbit/s: a bandwidth-delay product of 625 KB. */
const LONG: Partial<LinkKnobs> = { latency: 50, rate: 6250 };
/** A client whose own buffers are not the limit (as a Linux client's autotuned ones are not). */
const BIG_CLIENT = { window: 8 << 20, wscale: 8, maxInFlight: 16 << 20 };
const SIZE = 16 << 20;
const FIXED: NatOptions = { tcpBufMax: 256 * 1024 };

function download(nat: NatOptions): { inFlight: number; kBps: number; exact: boolean } {
  const net = new SimNet({ seed: 1, up: LONG, down: LONG, nat });
  const blob = Buffer.alloc(SIZE, 0x5a);
  net.internet.listen(HOST, 80, (c) => { c.onData = () => { c.write(blob); c.end(); }; });
  let inFlight = 0;
  net.onDownIp = (_ip, phase) => {
    if (phase !== 'sent') return;
    for (const f of net.nat.tcpFlows()) inFlight = Math.max(inFlight, f.ep.sendState().inFlight);
  };
  const tcp = net.tcp(40000, HOST, 80, BIG_CLIENT);
  let got = 0, exact = true;
  tcp.onData = (b) => { exact &&= b.every((x) => x === 0x5a); got += b.length; };
  tcp.onFin = () => tcp.end(net.now);
  const start = net.now;
  tcp.connect(net.now);
  tcp.write(Buffer.from('GET /blob'), net.now);
  net.sim.runUntil(() => tcp.done, { maxTime: 600_000, what: 'download' });
  return { inFlight, kBps: Math.round(SIZE / (net.now - start)), exact: exact && got === SIZE };
}

function upload(nat: NatOptions): { window: number; kBps: number; got: number } {
  const net = new SimNet({ seed: 1, up: LONG, down: LONG, nat });
  let got = 0;
  net.internet.listen(HOST, 80, (c) => { c.onData = (b) => { got += b.length; }; });
  let shift = 0, window = 0;
  net.onDownIp = (ip, phase) => {
    if (phase !== 'sent') return;
    const r = parseTcpInIpv4(ip);
    if ('error' in r) return;
    if (r.control === 'syn') shift = r.wscale ?? 0;
    else window = Math.max(window, r.window << shift);
  };
  const tcp = net.tcp(40000, HOST, 80, BIG_CLIENT);
  const start = net.now;
  tcp.connect(net.now);
  tcp.write(Buffer.alloc(SIZE, 1), net.now);
  net.sim.runUntil(() => got >= SIZE, { maxTime: 600_000, what: 'upload' });
  return { window, kBps: Math.round(SIZE / (net.now - start)), got };
}

test('sim, 100 ms RTT: a download keeps more than 256 KiB in flight (the send buffer follows 2 × cwnd)', (t) => {
  const grown = download({});
  const fixed = download(FIXED);
  t.diagnostic(`in flight at most: ${grown.inFlight} B (${grown.kBps} KB/s) vs ${fixed.inFlight} B with a fixed 256 KiB (${fixed.kBps} KB/s)`);
  assert.ok(grown.exact && fixed.exact, 'byte-exact');
  assert.ok(fixed.inFlight <= 384 * 1024, `the fixed buffer (plus the read that crossed it) bounds the flight: ${fixed.inFlight}`);
  assert.ok(grown.inFlight > 512 * 1024, `most of the 625 KB path is filled (${grown.inFlight})`);
});

test('sim, 100 ms RTT: an upload is offered a window past 256 KiB (the receive buffer follows the drain rate)', (t) => {
  const grown = upload({});
  const fixed = upload(FIXED);
  t.diagnostic(`largest window: ${grown.window} B (${grown.kBps} KB/s) vs ${fixed.window} B fixed (${fixed.kBps} KB/s)`);
  assert.equal(grown.got, SIZE);
  assert.ok(fixed.window <= 256 * 1024, `fixed: ${fixed.window}`);
  assert.ok(grown.window > 1 << 20, `grown: ${grown.window}`);
  assert.ok(grown.window <= 4 << 20, 'within tcpBufMax');
});
