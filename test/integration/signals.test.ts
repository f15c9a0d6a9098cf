// Issue 14 (drop-in): the process signals an operator and a service manager send OpenVPN 2.6, with a real openvpn 2.6
// client in a network namespace. SIGHUP restarts the server on its config read again (a pushed route added to the
// file reaches the reconnected client), the management `signal SIGUSR1` restarts it on the same config, and a
// SIGHUP onto a broken config ends the process with the file and line, as 2.6 does.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Proc, type Topology } from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { managementCommand, nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

const READY = /Initialization Sequence Completed/g;

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

/** Waits until `re` (global) has matched `n` times in the process's output. */
async function seenTimes(p: Proc, re: RegExp, n: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((p.output.match(re) ?? []).length < n) {
    if (p.exit) throw new Error(`${p.name} exited before ${re} appeared ${n} times:\n${p.tail(30)}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} ${n} times:\n${p.tail(30)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function routeShown(topo: Topology, net: string): Promise<boolean> {
  const r = await topo.exec('cli1', ['ip', '-4', 'route', 'show', net]);
  return /dev tun/.test(r.stdout);
}

test('SIGHUP re-reads the config, management signal SIGUSR1 restarts on the same one, SIGHUP onto a bad config exits with file:line', { timeout: 180_000 }, async (t) => {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: ['management mgmt.sock unix', 'explicit-exit-notify 1'] }) });
    await server.waitForLine(READY, 10_000);
    const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
    await client.waitInitialized();
    assert.equal(await routeShown(topo, '10.77.0.0/24'), false);

    const conf = readFileSync(server.configPath, 'utf8');
    writeFileSync(server.configPath, `${conf}push "route 10.77.0.0 255.255.255.0"\n`);
    process.kill(server.proc.pid, 'SIGHUP');
    await server.waitForLine(/SIGHUP received, process restarting/, 10_000);
    await seenTimes(server.proc, READY, 2, 15_000);
    // The server told the client to restart (explicit-exit-notify); it logs in again and gets the new route.
    await seenTimes(client.proc, READY, 2, 60_000);
    assert.equal(await routeShown(topo, '10.77.0.0/24'), true, 'the route added to the file before SIGHUP is pushed');

    const sock = join(server.dir, 'mgmt.sock');
    assert.equal(await managementCommand(sock, 'signal SIGUSR1'), 'SUCCESS: signal SIGUSR1 thrown');
    await server.waitForLine(/SIGUSR1 received, process restarting/, 10_000);
    await seenTimes(server.proc, READY, 3, 15_000);
    await seenTimes(client.proc, READY, 3, 60_000);

    writeFileSync(server.configPath, `${conf}no-such-directive here\n`);
    process.kill(server.proc.pid, 'SIGHUP');
    const exit = await server.proc.exited;
    assert.equal(exit.code, 1, server.proc.tail(20));
    const lineNo = conf.split('\n').length;
    assert.match(server.proc.output, new RegExp(`server\\.conf:${lineNo}: .*no-such-directive`));
    await client.stop();
  });
});
