// Issue 12: every compression setting of OpenVPN 2.6, configured on the server, pushed, or only on the client,
// carries traffic with a real 2.6 client. Where the client compresses (allow-compression yes on its side), its
// status file proves it sent compressed packets (post-compress bytes below pre-compress bytes) and the ping answers
// prove nanovpn decompressed them.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology } from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';
import { VPN_SERVER_IP } from '../helpers/openvpn-server.js';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

interface Case {
  name: string;
  server: string[];
  client: string[];
  /** The client sends compressed packets (its status file must show it). */
  compresses: boolean;
  proto?: 'udp' | 'tcp';
}

const CASES: Case[] = [
  { name: 'comp-lzo no, pushed (kylemanna/docker-openvpn)', server: ['comp-lzo no', 'push "comp-lzo no"'], client: [], compresses: false },
  { name: 'comp-lzo on both sides, the client compresses (LZO)', server: ['comp-lzo'], client: ['comp-lzo yes', 'allow-compression yes'], compresses: true },
  {
    name: 'comp-lzo on both sides over TCP, the client compresses', server: ['comp-lzo'], client: ['comp-lzo yes', 'allow-compression yes'],
    compresses: true, proto: 'tcp',
  },
  {
    name: 'compress lz4-v2, pushed, the client compresses', server: ['compress lz4-v2', 'push "compress lz4-v2"', 'allow-compression asym'],
    client: ['allow-compression yes'], compresses: true,
  },
  { name: 'compress lz4 on both sides, the client compresses', server: ['compress lz4'], client: ['compress lz4', 'allow-compression yes'], compresses: true },
  { name: 'compress stub-v2, pushed', server: ['compress stub-v2', 'push "compress stub-v2"'], client: [], compresses: false },
  { name: 'compress (stub with the swapped byte), pushed', server: ['compress', 'push "compress"'], client: [], compresses: false },
  { name: 'compress migrate, a client with comp-lzo', server: ['compress migrate'], client: ['comp-lzo'], compresses: false },
  { name: 'only pushed: push "comp-lzo no" without it on the server', server: ['push "comp-lzo no"'], client: [], compresses: false },
  { name: 'comp-lzo on the server only, not pushed, a client without it', server: ['comp-lzo no'], client: [], compresses: false },
  { name: 'allow-compression no with a stub', server: ['allow-compression no', 'compress stub-v2', 'push "compress stub-v2"'], client: [], compresses: false },
];

function statusCounter(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name},(\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

test('every compression setting carries traffic with a real OpenVPN 2.6 client', { timeout: 600_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    for (const c of CASES) {
      await t.test(c.name, async () => {
        const proto = c.proto ?? 'udp';
        const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto, extra: c.server }) });
        const statusDir = topo.tempDir('status');
        const statusPath = join(statusDir, 'client.status');
        const client = startOpenVpnClient({
          topo, node: 'cli1', proto, remote: srvAddrFor(1), pki, extra: [...c.client, `status ${statusPath} 1`],
        });
        try {
          await server.waitForLine(/Initialization Sequence Completed/, 10_000);
          await client.waitInitialized();
          // 1200 bytes of zeros after ping's timestamp: LZO and LZ4 shrink it, so a compressing client compresses it.
          const ping = await topo.exec('cli1', ['ping', '-c', '6', '-i', '0.2', '-W', '2', '-s', '1200', '-p', '00', VPN_SERVER_IP],
            { check: false, timeoutMs: 20_000 });
          assert.equal(ping.code, 0, `${ping.stdout}\n${server.proc.output.slice(-3000)}`);
          assert.match(ping.stdout, / 0% packet loss/);
          await new Promise((r) => setTimeout(r, 1500));
          const status = readFileSync(statusPath, 'utf8');
          const pre = statusCounter(status, 'pre-compress bytes');
          const post = statusCounter(status, 'post-compress bytes');
          if (c.compresses) {
            assert.ok(pre !== undefined && post !== undefined && pre > 0, status);
            assert.ok(post < pre / 2, `the client did not compress: pre ${pre}, post ${post}`);
          } else {
            assert.ok(!(post !== undefined && pre !== undefined && post < pre), `the client compressed: pre ${pre}, post ${post}`);
          }
          assert.doesNotMatch(client.proc.output, /Bad (LZO|LZ4|compression)|decompression error/i);
        } finally {
          await client.stop();
          await server.stop();
        }
      });
    }
  });
});
