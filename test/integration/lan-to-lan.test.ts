// Issue 13 (routed VPN, site to site): two client gateways, each with a LAN behind it (iroute in its
// client-config-dir file, `route` for both LANs on the server, client-to-client). A host on LAN A reaches a host on
// LAN B through the server and back: ping and a TCP connection, both ways. As OpenVPN operators do, each gateway is
// pushed the route to the other LAN only, from its own client-config-dir file (a gateway given the route to its own
// LAN would send that LAN's packets into the tunnel).
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology } from '../helpers/netns.js';
import { echoClientArgv, echoServerArgv, lanBehind, type Lan } from '../helpers/lan.js';
import { makeTestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

test('LAN to LAN: hosts behind two client gateways reach each other through the server (ping and TCP, both ways)', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const lans: Lan[] = [];
    try {
      const a = lanBehind(topo, 'cli1', '192.168.77');
      lans.push(a);
      const b = lanBehind(topo, 'cli2', '192.168.78');
      lans.push(b);
      const server = startNanovpn({ topo, pki, config: nanovpnConfig({
        proto: 'udp', extra: ['client-config-dir ccd', 'route 192.168.77.0 255.255.255.0', 'route 192.168.78.0 255.255.255.0'],
      }) });
      mkdirSync(join(server.dir, 'ccd'));
      writeFileSync(join(server.dir, 'ccd', 'client1'), 'iroute 192.168.77.0 255.255.255.0\npush "route 192.168.78.0 255.255.255.0"\n');
      writeFileSync(join(server.dir, 'ccd', 'client2'), 'iroute 192.168.78.0 255.255.255.0\npush "route 192.168.77.0 255.255.255.0"\n');
      await server.waitForLine(/Initialization Sequence Completed/, 10_000);
      const gwA = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
      const gwB = startOpenVpnClient({ topo, node: 'cli2', proto: 'udp', remote: srvAddrFor(2), pki, cn: 'client2' });
      await gwA.waitInitialized();
      await gwB.waitInitialized();

      assert.match(a.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', b.host]), / 0% packet loss/);
      assert.match(b.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', a.host]), / 0% packet loss/);

      await b.spawnIn(echoServerArgv(b.host, 9200), /listening/);
      assert.equal(a.exec(echoClientArgv(b.host, 9200, 'from LAN A')).trim(), 'from LAN A');
      await a.spawnIn(echoServerArgv(a.host, 9201), /listening/);
      assert.equal(b.exec(echoClientArgv(a.host, 9201, 'from LAN B')).trim(), 'from LAN B');

      // Each gateway routes only the other LAN into the tunnel (the per-client push).
      const routeA = await topo.exec('cli1', ['ip', 'route', 'get', b.host]);
      assert.match(routeA.stdout, new RegExp(`dev ${gwA.tunDevice()}`));
      const ownA = await topo.exec('cli1', ['ip', 'route', 'get', a.host]);
      assert.doesNotMatch(ownA.stdout, new RegExp(`dev ${gwA.tunDevice()}`));
    } finally {
      for (const l of lans) l.remove();
    }
  });
});
