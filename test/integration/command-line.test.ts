// Issue 14: an existing service definition runs nanovpn with only the binary swapped: Debian's
// openvpn-server@.service line and an OpenWrt-style init line (--syslog, --status, --cd, --config, --port after it),
// each with a real OpenVPN 2.6 client.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology } from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { BUNDLE, nanovpnConfig } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';
import { VPN_SERVER_IP } from '../helpers/openvpn-server.js';

function skipReason(): string | undefined {
  if (!existsSync(BUNDLE)) return `${BUNDLE} is missing: npm run build`;
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

test("service command lines: Debian's openvpn-server@.service and an OpenWrt-style one, binary swapped", { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const etc = topo.tempDir('etc-openvpn-server');
    for (const [name, text] of [['ca.crt', pki.ca.cert], ['server.crt', pki.server.cert], ['server.key', pki.server.key]] as const) {
      writeFileSync(join(etc, name), text, { mode: 0o600 });
    }
    writeFileSync(join(etc, 'server.conf'), nanovpnConfig({ proto: 'udp' }));
    const run = topo.tempDir('run');
    mkdirSync(join(run, 'openvpn-server'));
    const lines: [string, string[], string, number][] = [
      // WorkingDirectory=/etc/openvpn/server, ExecStart=… --status %t/openvpn-server/status-%i.log --status-version 2
      //   --suppress-timestamps --config %i.conf
      ['debian', ['--status', join(run, 'openvpn-server', 'status-server.log'), '--status-version', '2', '--suppress-timestamps',
        '--config', 'server.conf'], join(run, 'openvpn-server', 'status-server.log'), 1194],
      ['openwrt', ['--syslog', 'openvpn(server)', '--status', join(run, 'openvpn.server.status'), '--cd', etc, '--config', 'server.conf',
        '--port', '1195'], join(run, 'openvpn.server.status'), 1195],
    ];
    for (const [name, args, status, port] of lines) {
      await t.test(name, async () => {
        const srv = topo.spawn('srv', [process.execPath, BUNDLE, ...args], { name: `nanovpn-${name}`, cwd: name === 'debian' ? etc : run });
        const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), port, pki });
        try {
          await srv.waitForLine(/Initialization Sequence Completed/, 10_000);
          await client.waitInitialized();
          const ping = await topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', VPN_SERVER_IP], { check: false, timeoutMs: 20_000 });
          assert.equal(ping.code, 0, ping.stdout);
        } finally {
          await client.stop();
          await srv.kill('SIGTERM', 5000);
        }
        // The status file named on the command line is written (at the latest on shutdown): version 2 where the line
        // says so, else OpenVPN's default version 1.
        const text = readFileSync(status, 'utf8');
        if (name === 'debian') assert.match(text, /^TITLE,.*\nTIME,.*\nHEADER,CLIENT_LIST,/);
        else assert.match(text, /^OpenVPN CLIENT LIST\nUpdated,.*\nCommon Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n/);
      });
    }
  });
});
