// tcp-queue-limit with real openvpn 2.6 clients on TCP transport: while one client stops reading (SIGSTOP), a flood
// of tunnel traffic to it from the other client is dropped at the server once the queue in front of its link holds
// the limit, instead of piling up in the server's memory; when the client resumes, its link still carries traffic.
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology } from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { managementCommand, nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';
import { QUEUED_PACKET_BYTES } from '../../src/io/framed-tcp-writer.js';

const LIMIT = 4;
/** Bytes the server may hold for one link: the limit, plus what one turn of routing adds before the next check. */
const HELD_BOUND = 1024 * 1024;

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

interface TcpState { writable: number; queueFullDrops: number }

async function tcpState(sock: string): Promise<TcpState> {
  const reply = await managementCommand(sock, 'io-state');
  assert.match(reply, /^SUCCESS: \{/);
  const state = JSON.parse(reply.slice('SUCCESS: '.length)) as { tcp: TcpState };
  return state.tcp;
}

/** UDP datagrams of 1200 bytes to addr:9, 20 per millisecond, until killed. */
function floodSource(addr: string): string {
  return `const d=require('dgram').createSocket('udp4');const b=Buffer.alloc(1200);` +
    `setInterval(()=>{for(let i=0;i<20;i++)d.send(b,9,'${addr}',()=>{})},1);console.log('flooding');`;
}

test(`tcp-queue-limit ${LIMIT}: a TCP client that stops reading gets its tunnel data dropped, the server's queue stays bounded, the link works on resume`, { timeout: 120_000 }, async (t) => {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const config = nanovpnConfig({ proto: 'tcp', extra: ['management mgmt.sock unix', `tcp-queue-limit ${LIMIT}`] });
    assert.match(config, /^client-to-client$/m);
    const server = startNanovpn({ topo, pki, config });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    const sock = join(server.dir, 'mgmt.sock');
    const a = startOpenVpnClient({ topo, node: 'cli1', proto: 'tcp', remote: srvAddrFor(1), pki, cn: 'client1' });
    const b = startOpenVpnClient({ topo, node: 'cli2', proto: 'tcp', remote: srvAddrFor(2), pki, cn: 'client2' });
    await Promise.all([a.waitInitialized(), b.waitInitialized()]);
    const bAddr = await b.tunAddress();
    const ping = () => topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '-W', '3', bAddr], { check: false, timeoutMs: 30_000 });

    const before = await ping();
    assert.equal(before.code, 0, before.stdout);
    assert.equal((await tcpState(sock)).queueFullDrops, 0, 'no drops while both clients read');

    process.kill(-b.proc.pid, 'SIGSTOP');
    let resumed = false;
    try {
      const flood = topo.spawn('cli1', [process.execPath, '-e', floodSource(bAddr)], { name: 'flood' });
      await flood.waitForLine(/^flooding$/, 10_000);
      const samples: TcpState[] = [];
      const end = Date.now() + 30_000;
      while (Date.now() < end && samples.filter((s) => s.queueFullDrops > 0).length < 10) {
        samples.push(await tcpState(sock));
        await new Promise((r) => setTimeout(r, 200));
      }
      await flood.kill();
      const last = samples.at(-1)!;
      assert.ok(last.queueFullDrops > 0, `no drops while the flood met a stopped client: ${JSON.stringify(samples)}`);
      const held = Math.max(...samples.map((s) => s.writable));
      assert.ok(held < HELD_BOUND, `the server held ${held} bytes for the stopped client's link (bound ${HELD_BOUND})`);
      // The drops kept rising while the flood went on: the limit held for the whole stall, not once.
      const firstDrop = samples.findIndex((s) => s.queueFullDrops > 0);
      assert.ok(last.queueFullDrops > samples[firstDrop]!.queueFullDrops, JSON.stringify(samples.slice(firstDrop)));

      process.kill(-b.proc.pid, 'SIGCONT');
      resumed = true;
      const after = await ping();
      assert.equal(after.code, 0, `the resumed client's link carries traffic again:\n${after.stdout}`);
      const drained = (await tcpState(sock)).writable;
      assert.ok(drained < LIMIT * QUEUED_PACKET_BYTES, `the queue drained once the client read again: ${drained} bytes held`);
    } finally {
      if (!resumed) process.kill(-b.proc.pid, 'SIGCONT');
    }
  });
});
