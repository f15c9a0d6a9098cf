// IPv6 next to IPv4 through the NAT: iperf3 from a tunnel client to the Internet namespace over each family, with
// nanovpn's userspace NAT and with OpenVPN 2.6 (kernel forwarding, MASQUERADE for IPv4 and ip6tables MASQUERADE for
// IPv6) on the same topology, in interleaved rounds. UDP transport over IPv4; the tunnel carries both families
// (`server-ipv6`). Run as root: `node --import tsx bench/ipv6-nat.ts [--rounds N] [--time S] [--out FILE]`.
import { writeFileSync } from 'node:fs';
import {
  addIpv6Links, haveCommand, INET_ADDR, INET_ADDR6, netnsUnavailable, srvAddrFor, SRV_UPLINK_DEV, withTopology, type Topology,
} from '../test/helpers/netns.js';
import { makeTestPki, type TestPki } from '../test/helpers/pki.js';
import { startOpenVpnServer, VPN_NET } from '../test/helpers/openvpn-server.js';
import { nanovpnConfig, startNanovpn } from '../test/helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../test/helpers/openvpn-client.js';
import { iperfClientArgs, parseIperf3Json } from './lib/iperf.js';
import { ratio, summarize, type Summary } from './lib/stats.js';

const VPN_NET6 = 'fd00:8::/64';
const TUNNEL_LINES = [`server-ipv6 ${VPN_NET6}`, 'push "route-ipv6 fd00:198:18::/64"'];
const CELLS = [
  { streams: 1, dir: 'up' }, { streams: 1, dir: 'down' }, { streams: 8, dir: 'up' }, { streams: 8, dir: 'down' },
] as const;
type Server = 'openvpn' | 'nanovpn';
type Family = 'IPv4' | 'IPv6';

function args(): { rounds: number; seconds: number; out?: string } {
  const a = process.argv.slice(2);
  const val = (flag: string): string | undefined => { const i = a.indexOf(flag); return i >= 0 ? a[i + 1] : undefined; };
  const rounds = Number(val('--rounds') ?? 3);
  const seconds = Number(val('--time') ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(seconds) || seconds < 1) throw new Error('--rounds and --time take positive integers');
  return { rounds, seconds, out: val('--out') };
}

const log = (m: string): void => { process.stdout.write(`${m}\n`); };

async function setForwarding(topo: Topology, on: boolean): Promise<void> {
  await topo.exec('srv', ['sysctl', '-qw', `net.ipv4.ip_forward=${on ? 1 : 0}`, `net.ipv6.conf.all.forwarding=${on ? 1 : 0}`]);
}

async function start(topo: Topology, pki: TestPki, id: Server): Promise<() => Promise<unknown>> {
  await setForwarding(topo, id === 'openvpn');
  if (id === 'openvpn') {
    const s = await startOpenVpnServer({ topo, pki, proto: 'udp', forward: false, extra: TUNNEL_LINES });
    return () => s.stop('SIGTERM', 5000);
  }
  const s = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: TUNNEL_LINES }) });
  await s.waitForLine(/Initialization Sequence Completed/, 20_000);
  return () => s.stop(5000);
}

/**
 * Waits until the tunnel carries TCP of `family` to the inet namespace (the client's IPv6 address may still be
 * settling): a one-second iperf3 run must succeed. Not ping: nanovpn's NAT carries no ICMP echo to Internet hosts.
 */
async function reachable(topo: Topology, family: Family, restartIperf: () => Promise<void>): Promise<void> {
  const host = family === 'IPv4' ? INET_ADDR : INET_ADDR6;
  let last = '';
  for (let i = 0; i < 20; i++) {
    const r = await topo.exec('cli1', iperfClientArgs({ host, seconds: 1, parallel: 1, reverse: false }), { check: false, timeoutMs: 15_000 });
    try { parseIperf3Json(r.stdout); return; } catch (err) { last = err instanceof Error ? err.message : String(err); }
    if (/busy/.test(last)) await restartIperf();
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${host} is not reachable through the tunnel over TCP: ${last}`);
}

async function main(): Promise<number> {
  const o = args();
  const why = netnsUnavailable() ?? (['openvpn', 'iperf3', 'ip6tables'].find((c) => !haveCommand(c)) && 'openvpn, iperf3 and ip6tables are needed (test/install-deps.sh)');
  if (why) { process.stderr.write(`ipv6-nat: ${why}\n`); return 1; }
  const samples = new Map<string, number[]>();
  const key = (id: Server, f: Family, c: (typeof CELLS)[number]): string => `${id}|${f}|${c.streams}|${c.dir}`;
  const began = Date.now();
  const failures: string[] = [];
  await withTopology({ clients: 1, capture: false }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    await addIpv6Links(topo);
    await topo.enableForwarding({ masquerade: VPN_NET });
    await topo.exec('srv', ['ip6tables', '-t', 'nat', '-A', 'POSTROUTING', '-s', VPN_NET6, '-o', SRV_UPLINK_DEV, '-j', 'MASQUERADE']);
    let iperf = topo.spawn('inet', ['iperf3', '-s', '--forceflush'], { name: 'iperf3-server' });
    await iperf.waitForLine(/Server listening/, 10_000);
    // iperf3 -s can stay stuck in a test whose end went missing ("the server is busy"): a fresh one, then one retry.
    const restartIperf = async (): Promise<void> => {
      await iperf.kill('SIGKILL', 1000);
      iperf = topo.spawn('inet', ['iperf3', '-s', '--forceflush'], { name: 'iperf3-server' });
      await iperf.waitForLine(/Server listening/, 10_000);
    };
    for (let round = 1; round <= o.rounds; round++) {
      for (const id of ['openvpn', 'nanovpn'] as const) {
        log(`round ${round}/${o.rounds}: ${id}`);
        await restartIperf();  // as the path matrix does: no test of the last session can hold it
        const stop = await start(topo, pki, id);
        const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1' });
        try {
          await client.waitInitialized();
          for (const family of ['IPv4', 'IPv6'] as const) {
            await reachable(topo, family, restartIperf);
            for (const c of CELLS) {
              const host = family === 'IPv4' ? INET_ADDR : INET_ADDR6;
              let mbps: number | undefined;
              for (let attempt = 0; attempt < 2 && mbps === undefined; attempt++) {
                const r = await topo.exec('cli1', iperfClientArgs({ host, seconds: o.seconds, parallel: c.streams, reverse: c.dir === 'down' }),
                  { check: false, timeoutMs: o.seconds * 1000 + 30_000 });
                try { mbps = parseIperf3Json(r.stdout).bitsPerSecond / 1e6; } catch (err) {
                  const why = `round ${round}, ${id}, ${family} ${c.streams} stream(s) ${c.dir}, attempt ${attempt + 1}: ${err instanceof Error ? err.message : String(err)}`;
                  log(`  ${why}`);
                  failures.push(why);
                  await restartIperf();
                }
              }
              if (mbps === undefined) continue;
              log(`  ${family} ${c.streams} stream(s) ${c.dir}: ${mbps.toFixed(0)} Mbit/s`);
              const k = key(id, family, c);
              samples.set(k, [...(samples.get(k) ?? []), mbps]);
            }
          }
        } finally {
          await client.stop();
          await stop();
        }
      }
    }
  });
  const fmt = (s: Summary | undefined): string => (s ? `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})` : 'n/a');
  const cell = (id: Server, f: Family, c: (typeof CELLS)[number]): Summary | undefined => summarize(samples.get(key(id, f, c)) ?? []);
  const rows = CELLS.map((c) => {
    const name = `${c.streams} stream${c.streams > 1 ? 's' : ''}, ${c.dir === 'up' ? 'client→inet' : 'inet→client'}`;
    const parts = (['IPv4', 'IPv6'] as const).map((f) => {
      const ov = cell('openvpn', f, c), nv = cell('nanovpn', f, c);
      const r = ratio(nv, ov);
      return `${fmt(ov)} | ${fmt(nv)} | ${r === undefined ? 'n/a' : `${r.toFixed(2)}×`}`;
    });
    return `| ${name} | ${parts.join(' | ')} |`;
  });
  const md = [
    '# IPv6 next to IPv4 through the NAT (iperf3, Mbit/s)',
    '',
    `${new Date(began).toISOString()}, ${o.rounds} interleaved rounds, iperf3 -t ${o.seconds}, took ${Math.round((Date.now() - began) / 1000)} s. ` +
      'One openvpn 2.6 client (UDP over IPv4, the tunnel carrying both families) in cli1, iperf3 -s in inet. OpenVPN 2.6 forwards ' +
      'in the kernel with MASQUERADE (IPv4) and ip6tables MASQUERADE (IPv6); nanovpn carries both through its userspace NAT ' +
      'with forwarding off. Median (min–max) over rounds; the ratio divides the medians.',
    '',
    '| cell | OpenVPN 2.6, IPv4 | nanovpn, IPv4 | ratio | OpenVPN 2.6, IPv6 | nanovpn, IPv6 | ratio |',
    '|---|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
    ...(failures.length ? ['Runs that failed (iperf3 -s restarted, the cell retried once; a cell failed twice has no sample in that round):', '', ...failures.map((f) => `- ${f}`), ''] : []),
  ].join('\n');
  process.stdout.write(`\n${md}`);
  if (o.out) writeFileSync(o.out, md);
  return 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => { process.stderr.write(`ipv6-nat: ${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });
