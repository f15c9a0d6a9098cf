// Where the idle RTT through the tunnel goes: ping to 10.8.0.1 every 50 ms through one client, OpenVPN 2.6 and
// nanovpn variants alternating, next to the bare underlay RTT (client to server namespace, no VPN).
//
//   node --import tsx bench/latency-probe.ts [--rounds N] [--count N] [--proto udp|tcp] [--interval S]
//     [--variant NAME:ENV=VALUE;conf=LINE;...]
//     [--trace F | --record F | --stat F]
import { spawn } from 'node:child_process';
import { srvAddrFor, withTopology, type Topology } from '../test/helpers/netns.js';
import { makeTestPki } from '../test/helpers/pki.js';
import { nanovpnConfig, startNanovpn } from '../test/helpers/nanovpn-server.js';
import { startOpenVpnServer } from '../test/helpers/openvpn-server.js';
import { startOpenVpnClient } from '../test/helpers/openvpn-client.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => { const i = args.indexOf(name); return i >= 0 ? args[i + 1]! : dflt; };
const rounds = Number(opt('--rounds', '3'));
const count = Number(opt('--count', '200'));
const proto = opt('--proto', 'udp') as 'udp' | 'tcp';
const interval = opt('--interval', '0.05');
/** At most one perf tool watches the server during the warm pings; its output goes to F.<server>.<round>. */
const perfTools: Record<string, string[]> = {
  '--trace': ['trace', '-e', 'recvmmsg,sendmmsg,recvfrom,sendto,read,write,epoll_wait,epoll_pwait,epoll_pwait2,poll,ppoll'],
  '--record': ['record', '-F', '25000', '-g'],
  '--stat': ['stat', '-e', 'page-faults,context-switches,cpu-migrations,task-clock'],
};
const perfFlag = Object.keys(perfTools).find((f) => args.includes(f));
const perfTool = perfFlag ? { args: perfTools[perfFlag]!, out: opt(perfFlag, '') } : undefined;
/** NAME:ENV1=v1;ENV2=v2;conf=LINE for nanovpn variants; the plain 'nanovpn' always runs. */
const variants: { name: string; env: NodeJS.ProcessEnv; extra: string[] }[] = [{ name: 'nanovpn', env: {}, extra: [] }];
for (let i = 0; i < args.length; i++) {
  if (args[i] !== '--variant') continue;
  const [name, ...rest] = args[i + 1]!.split(':');
  const env: NodeJS.ProcessEnv = {};
  const extra: string[] = [];
  for (const kv of rest.join(':').split(';').filter(Boolean)) {
    if (kv.startsWith('conf=')) { extra.push(kv.slice(5)); continue; }
    const j = kv.indexOf('=');
    env[kv.slice(0, j)] = kv.slice(j + 1);
  }
  variants.push({ name: name!, env, extra });
}

async function pingStats(topo: Topology, addr: string): Promise<{ avg: number; p50: number; p99: number }> {
  const r = await topo.exec('cli1', ['ping', '-n', '-i', interval, '-c', String(count), '-W', '1', addr], { check: false, timeoutMs: 120_000 });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  return { avg, p50: rtts[Math.floor(rtts.length / 2)]!, p99: rtts[Math.floor(rtts.length * 0.99)]! };
}

const results = new Map<string, { avg: number; p50: number; p99: number }[]>();
const add = (k: string, v: { avg: number; p50: number; p99: number }): void => { results.set(k, [...(results.get(k) ?? []), v]); };

await withTopology({ clients: 1, capture: false }, async (topo) => {
  const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
  for (let r = 0; r < rounds; r++) {
    add('underlay', await pingStats(topo, srvAddrFor(1)));
    for (const who of ['openvpn', ...variants.map((v) => v.name)]) {
      const v = variants.find((x) => x.name === who);
      let stop: () => Promise<unknown>;
      let pid: number;
      if (who === 'openvpn') {
        const s = await startOpenVpnServer({ topo, pki, proto });
        stop = () => s.stop();
        pid = s.proc.pid;
      } else {
        const s = startNanovpn({ topo, pki, config: nanovpnConfig({ proto, extra: v!.extra }), env: { ...process.env, ...v!.env } });
        await s.waitForLine(/Initialization Sequence Completed/, 10_000);
        stop = () => s.stop();
        pid = s.proc.pid;
      }
      const c = startOpenVpnClient({ topo, node: 'cli1', remote: srvAddrFor(1), pki, cn: 'client1', proto });
      await c.waitInitialized();
      add(`${who} fresh`, await pingStats(topo, '10.8.0.1'));
      await topo.exec('cli1', ['ping', '-n', '-f', '-c', '20000', '-s', '1300', '10.8.0.1'], { check: false, timeoutMs: 60_000 });
      const tracer = perfTool && pid ? spawn('perf', [...perfTool.args, '-p', String(pid), '-o', `${perfTool.out}.${who}.${r}`], { stdio: 'ignore' }) : undefined;
      add(`${who} warm`, await pingStats(topo, '10.8.0.1'));
      tracer?.kill('SIGINT');
      await c.stop();
      await stop();
    }
  }
});
const fmt = (xs: number[]): string => { const s = [...xs].sort((a, b) => a - b); return `${s[Math.floor(s.length / 2)]!.toFixed(3)} (${s[0]!.toFixed(3)}–${s.at(-1)!.toFixed(3)})`; };
console.log(`| ${proto} | avg ms | p50 ms | p99 ms |\n|---|--:|--:|--:|`);
for (const [k, v] of results) console.log(`| ${k} | ${fmt(v.map((x) => x.avg))} | ${fmt(v.map((x) => x.p50))} | ${fmt(v.map((x) => x.p99))} |`);
