// A flood in the simulated pipeline (test/helpers/sim/pipeline.ts): one authenticated client sends 20,000 forged UDP
// packets (random destinations and ports, some with a spoofed source, some with a broken checksum) through its
// tunnel. The NAT's state stays within the client's flow quota all along, the flows that were answered before the
// flood survive it, and once the idle timeouts pass nothing is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { buildUdpPacket } from '../../src/core/wire/udp.js';
import { Prng } from '../helpers/sim/prng.js';
import { CLIENT_IP, HOST, SimNet } from '../helpers/sim/pipeline.js';

const QUOTA = 256;
const FLOOD = 20_000;

test('sim: 20,000 forged UDP packets from one client leave bounded state, and answered flows survive', (t) => {
  const w0 = performance.now();
  const net = new SimNet({
    seed: 9, nat: { perClientFlows: QUOTA, maxFlows: 65536, timeouts: { udpUnreplied: 5, udpReplied: 20 } },
  });
  net.internet.udpRespond(HOST, 7, (p, reply) => reply(p));
  for (let i = 0; i < 10; i++) net.udp(30_000 + i, HOST, 7, Buffer.from(`hello ${i}`));
  net.sim.runFor(100);
  assert.equal([...net.clientUdp.values()].flat().length, 10, 'the echo answered the ten flows');

  const rng = new Prng(99);
  const spoofedSrc = (CLIENT_IP + 1) >>> 0;
  let spoofed = 0, broken = 0, maxFlows = 0, maxSockets = 0;
  for (let burst = 0; burst < FLOOD / 1000; burst++) {
    for (let i = 0; i < 1000; i++) {
      const spoof = rng.chance(0.05);
      const dst = ((rng.int(1, 223) << 24) | rng.int(0, 0x1000000)) >>> 0;
      const p = buildUdpPacket(spoof ? spoofedSrc : CLIENT_IP, dst, {
        srcPort: rng.int(1, 65536), dstPort: rng.int(1, 65536), payload: Buffer.alloc(rng.int(0, 64), 0x66),
      });
      if (!spoof && rng.chance(0.05)) {
        // A wrong UDP checksum, never 0 (that would mean "no checksum").
        const ck = p.readUInt16BE(26);
        p.writeUInt16BE((ck ^ 0x0101) === 0 ? ck ^ 0x0202 : ck ^ 0x0101, 26);
        broken++;
      }
      if (spoof) spoofed++;
      net.sendIp(p);
    }
    net.sim.runFor(20);
    maxFlows = Math.max(maxFlows, net.nat.size);
    maxSockets = Math.max(maxSockets, net.internet.sockets.openUdp().length);
  }
  const st = net.nat.stats();
  assert.ok(maxFlows <= QUOTA, `at most the quota (${maxFlows})`);
  assert.equal(maxSockets, maxFlows, 'one socket per flow, none left over');
  assert.equal(net.nat.size, QUOTA, 'the flood filled the quota');
  assert.equal(net.router.counters.drops.spoofed, spoofed, 'the router drops spoofed sources');
  assert.equal(st.drops['udp-checksum'], broken, 'the NAT drops broken checksums');
  assert.equal(st.flowsCreated - st.flowsEvicted - st.flowsExpired - st.flowsClosed, st.flowsOpen);
  assert.ok(st.flowsEvicted > FLOOD / 2, 'the oldest unanswered flows made room');
  const answered = net.internet.sockets.openUdp().filter((s) => s.flow.key.dstIp === HOST && s.flow.key.dstPort === 7);
  assert.equal(answered.length, 10, 'early drop never takes an answered flow');

  net.sim.runFor(6_000);
  assert.equal(net.nat.size, 10, 'unanswered flows are gone after udp-unreplied');
  net.sim.runFor(15_000);
  assert.equal(net.nat.size, 0, 'answered ones after udp-replied');
  assert.deepEqual(net.internet.sockets.openUdp(), []);
  net.sim.runFor(2_000);
  assert.equal(net.nat.nextDeadline(), undefined);
  t.diagnostic(`flood: ${(performance.now() - w0).toFixed(0)} ms wall, created ${st.flowsCreated}, evicted ${st.flowsEvicted}, `
    + `drops ${JSON.stringify(st.drops)}, router drops ${JSON.stringify(net.router.counters.drops)}`);
});
