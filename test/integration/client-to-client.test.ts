// Issue 3: with client-to-client, two clients ping each other and open a TCP connection between them; without
// it, they cannot (the router answers ICMP admin-prohibited).
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

/** A TCP echo server on `addr` in `node`; resolves once it listens. */
async function echoServer(topo: Topology, node: 'cli2', addr: string): Promise<void> {
  const src = `require('net').createServer((s)=>s.pipe(s)).listen(9000,'${addr}',()=>console.log('listening'))`;
  await topo.spawn(node, [process.execPath, '-e', src], { name: 'echo' }).waitForLine(/^listening$/, 10_000);
}

async function tcpEcho(topo: Topology, addr: string): Promise<{ code: number | null; out: string }> {
  const src = `const s=require('net').connect(9000,'${addr}',()=>s.end('hello across the tunnel'));let b='';` +
    `s.on('data',(d)=>b+=d);s.on('close',()=>{console.log(b);process.exit(b==='hello across the tunnel'?0:4)});` +
    `s.on('error',(e)=>{console.log(e.code);process.exit(3)});setTimeout(()=>{console.log('timeout');process.exit(5)},4000);`;
  const r = await topo.exec('cli1', [process.execPath, '-e', src], { check: false, timeoutMs: 10_000 });
  return { code: r.code, out: r.stdout.trim() };
}

for (const c2c of [true, false]) {
  test(`${c2c ? 'with' : 'without'} client-to-client: clients ${c2c ? 'can' : 'cannot'} ping and connect to each other`, { timeout: 120_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await withTopology({ clients: 2 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
      let config = nanovpnConfig({ proto: 'udp' });
      if (!c2c) config = config.replace(/^client-to-client\n/m, '');
      assert.equal(/^client-to-client$/m.test(config), c2c);
      const server = startNanovpn({ topo, pki, config });
      await server.waitForLine(/Initialization Sequence Completed/, 10_000);
      const a = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
      const b = startOpenVpnClient({ topo, node: 'cli2', proto: 'udp', remote: srvAddrFor(2), pki, cn: 'client2' });
      await Promise.all([a.waitInitialized(), b.waitInitialized()]);
      const bAddr = await b.tunAddress();
      await echoServer(topo, 'cli2', bAddr);
      const ping = await topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', bAddr], { check: false, timeoutMs: 20_000 });
      const echo = await tcpEcho(topo, bAddr);
      if (c2c) {
        assert.equal(ping.code, 0, ping.stdout);
        assert.equal(echo.code, 0, echo.out);
      } else {
        assert.notEqual(ping.code, 0, 'ping must fail without client-to-client');
        assert.match(ping.stdout, /Packet filtered|Destination Host Prohibited|100% packet loss/);
        assert.notEqual(echo.code, 0, `TCP must fail without client-to-client: ${echo.out}`);
      }
    });
  });
}
