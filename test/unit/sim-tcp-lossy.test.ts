// The NAT's TCP sender on a lossy, reordering path (issue 15): downloads through the whole simulated pipeline
// (test/helpers/sim/lossy-download.ts) over links with loss, duplication, reordering and jitter in both directions.
// Throughput is in virtual time and only reported; the assertions are on bytes and counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinkKnobs } from '../helpers/sim/link.js';
import { HOST, SimNet } from '../helpers/sim/pipeline.js';
import { blob, digest, lossyDownload, LOSSY, type LossyRun } from '../helpers/sim/lossy-download.js';
import type { NatOptions } from '../../src/core/uplink/nat/nat.js';
import type { SimTcpOptions } from '../helpers/sim/tcp-client.js';
import { parseTcpInIpv4 } from '../../src/core/wire/tcp.js';

/** Three seeded 1 MB downloads; byte-exact, and the spurious share of the NAT's retransmissions. */
interface Runs { spurious: number; retransmits: number; runs: LossyRun[] }

function threeRuns(t: { diagnostic: (m: string) => void }, client: Partial<SimTcpOptions>, nat: NatOptions): Runs {
  const runs = [11, 12, 13].map((seed) => lossyDownload(seed, 1 << 20, client, LOSSY, nat));
  for (const r of runs) {
    t.diagnostic(JSON.stringify(r));
    assert.ok(r.ok, 'not reset');
    assert.ok(r.exact, 'byte-exact');
    assert.ok(r.lostOnLink > 0, 'the link did lose packets');
  }
  const spurious = runs.reduce((n, r) => n + r.spurious, 0);
  const retransmits = runs.reduce((n, r) => n + r.retransmits, 0);
  t.diagnostic(`spurious ${spurious} of ${retransmits} retransmits; KB/s ${runs.map((r) => r.kBps).join(' ')}`);
  return { spurious, retransmits, runs };
}

/** The congestion control the bounds below were first set with (and the default until CUBIC). */
const NEWRENO: NatOptions = { tcpCongestion: 'newreno', tcpHystart: false };
/** The default: CUBIC, its initial slow start under HyStart++. */
const CUBIC: NatOptions = { tcpCongestion: 'cubic', tcpHystart: true };

// Before RACK and undo (a fixed three-duplicate-ACK threshold, every hole below the highest SACK resent) the same
// three runs made 194 retransmissions, 141 of them spurious, at 100-120 KB/s (NewReno).
test('sim: a 1 MB download over 2 % loss, 1 % duplication, 5 % reordering and 25 ± 10 ms arrives byte-exact, few retransmits spurious (SACK, timestamps)', (t) => {
  const { spurious, retransmits, runs } = threeRuns(t, {}, NEWRENO);
  assert.ok(spurious <= 20 && spurious * 4 <= retransmits, `spurious retransmits: ${spurious} of ${retransmits}`);
  assert.ok(runs.some((r) => r.nat.undoneByTimestamp! > 0), 'timestamps showed a recovery spurious');
});

test('sim: the same lossy download without timestamps: D-SACKs widen the reordering window and undo recoveries', (t) => {
  const { spurious, retransmits, runs } = threeRuns(t, { timestamps: false }, NEWRENO);
  assert.ok(spurious <= 25 && spurious * 3 <= retransmits, `spurious retransmits: ${spurious} of ${retransmits}`);
  assert.ok(runs.some((r) => r.nat.undoneByDsack! > 0), 'a D-SACK showed a recovery spurious');
  assert.ok(runs.every((r) => r.nat.undoneByTimestamp === 0));
});

// CUBIC keeps more in flight (beta 0.7, and the cubic curve regains the window faster than one segment per RTT), so
// the same reordering makes a few more needless resends per download: without timestamps its three runs sit at about
// a third, where NewReno's bound above is; a half still catches RACK or undo going wrong (the 141 of 194 above).
test('sim: the lossy download with CUBIC and HyStart++ (SACK, timestamps): byte-exact, few retransmits spurious', (t) => {
  const { spurious, retransmits, runs } = threeRuns(t, {}, CUBIC);
  assert.ok(spurious * 4 <= retransmits, `spurious retransmits: ${spurious} of ${retransmits}`);
  assert.ok(runs.some((r) => r.nat.undoneByTimestamp! > 0), 'timestamps showed a recovery spurious');
});

test('sim: the lossy download with CUBIC and HyStart++, without timestamps: byte-exact, D-SACKs undo recoveries', (t) => {
  const { spurious, retransmits, runs } = threeRuns(t, { timestamps: false }, CUBIC);
  assert.ok(spurious * 2 <= retransmits, `spurious retransmits: ${spurious} of ${retransmits}`);
  assert.ok(runs.some((r) => r.nat.undoneByDsack! > 0), 'a D-SACK showed a recovery spurious');
});

/** The most new data segments (first transmissions; resends in recovery are not paced) the NAT handed to the
 *  client's link at one virtual instant, in a 2 MB download. */
function largestBurst(nat: NatOptions): { burst: number; exact: boolean } {
  const knobs: Partial<LinkKnobs> = { latency: 10, rate: 2500, queueMs: 50 };
  const net = new SimNet({ seed: 5, up: knobs, down: knobs, nat });
  const sent = blob(2 << 20);
  net.internet.listen(HOST, 80, (c) => { c.onData = () => { c.write(sent); c.end(); }; });
  let at = -1, n = 0, burst = 0;
  const seen = new Set<number>();
  net.onDownIp = (ip, phase) => {
    if (phase === 'delivered') return;
    const r = parseTcpInIpv4(ip);
    if ('error' in r || r.payload.length === 0 || seen.has(r.seq)) return;
    seen.add(r.seq);
    if (net.now !== at) { at = net.now; n = 0; }
    burst = Math.max(burst, ++n);
  };
  const tcp = net.tcp(40001, HOST, 80, {});
  const data: Buffer[] = [];
  tcp.onData = (b) => data.push(b);
  tcp.onFin = () => tcp.end(net.now);
  tcp.connect(net.now);
  tcp.write(Buffer.from('GET /blob'), net.now);
  net.sim.runUntil(() => tcp.done, { maxTime: 300_000, what: 'download' });
  return { burst, exact: digest(data) === digest([sent]) };
}

test('sim: with nat-tcp-pacing on, a download over a 20 Mbit/s, 20 ms path arrives byte-exact and leaves in small bursts', (t) => {
  const paced = largestBurst({ ...CUBIC, tcpPacing: true });
  const unpaced = largestBurst({ ...CUBIC, tcpPacing: false });
  t.diagnostic(`largest burst: paced ${paced.burst}, unpaced ${unpaced.burst} segments`);
  assert.ok(paced.exact && unpaced.exact, 'byte-exact');
  // Paced, the largest burst is the 2 ms allowance at slow start's doubled rate near its largest window (18 here,
  // measured when this was written: 27 unpaced); the endpoint's unit test checks the rate itself.
  assert.ok(unpaced.burst > paced.burst, `unpaced bursts are larger (${unpaced.burst} vs ${paced.burst})`);
});
