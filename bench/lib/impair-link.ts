// The emulated client link of the path matrix: cli1's link to srv runs through an impairment, both directions.
// With sch_netem in the kernel, a netem qdisc on each end (cli1 eth0 and srv cl1). Without it, cli1 and srv are
// re-linked through a namespace of their own, `imp`, where bench/lib/impair.c (compiled here with gcc) forwards the
// frames between the two veth ends and counts what it did to them.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { cliAddr, haveCommand, srvAddrFor, type NodeName, type Topology } from '../../test/helpers/netns.js';
import { bridgeArgs, netemArgs, type BridgeReport, type ImpairSpec, type NetemStats } from './paths.js';

const SOURCE = new URL('./impair.c', import.meta.url).pathname;
const CLIENT = 1;
const CLI_DEV = 'eth0';
const SRV_DEV = `cl${CLIENT}`;

function run(argv: string[], timeoutMs = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(argv: string[]): Promise<string> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Does this kernel have sch_netem? Tried on lo inside cli1, so nothing outside the test bed is touched. */
export async function netemAvailable(topo: Topology): Promise<boolean> {
  const ns = topo.ns('cli1');
  const r = await run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
  if (r.code !== 0) return false;
  await run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
  return true;
}

export interface ImpairedSession {
  /** The emulator's process (the userspace bridge), for its CPU time. */
  readonly pid?: number;
  /** Ends the impairment for this session and returns what it counted. */
  stop(): Promise<BridgeReport | NetemStats>;
}

export interface ImpairLink {
  readonly backend: 'bridge' | 'netem';
  /** Starts the impairment with `spec` on cli1's link until stop(). */
  start(spec: ImpairSpec, seed: number): Promise<ImpairedSession>;
  close(): Promise<void>;
}

/** Why the path matrix cannot run here (neither netem nor gcc), or undefined. */
export function impairUnavailable(netem: boolean): string | undefined {
  if (netem) return undefined;
  if (!haveCommand('gcc')) return 'the kernel has no sch_netem and gcc (for the userspace bridge bench/lib/impair.c) is not installed';
  return undefined;
}

export async function openImpairLink(topo: Topology, backend: 'bridge' | 'netem', workDir: string): Promise<ImpairLink> {
  return backend === 'netem' ? new NetemLink(topo) : BridgeLink.create(topo, workDir);
}

class NetemLink implements ImpairLink {
  readonly backend = 'netem';
  constructor(private topo: Topology) {}

  private ends(): [NodeName, string][] { return [['cli1', CLI_DEV], ['srv', SRV_DEV]]; }

  async start(spec: ImpairSpec): Promise<ImpairedSession> {
    for (const [node, dev] of this.ends()) {
      await this.topo.exec(node, ['tc', 'qdisc', 'replace', 'dev', dev, 'root', ...netemArgs(spec)]);
    }
    return {
      stop: async () => {
        const stats: NetemStats = { netem: true, up: { packets: 0, drops: 0 }, down: { packets: 0, drops: 0 } };
        for (const [node, dev] of this.ends()) {
          const r = await this.topo.exec(node, ['tc', '-s', '-j', 'qdisc', 'show', 'dev', dev], { check: false });
          const q = (JSON.parse(r.stdout || '[]') as { kind?: string; packets?: number; drops?: number }[]).find((x) => x.kind === 'netem');
          stats[node === 'cli1' ? 'up' : 'down'] = { packets: q?.packets ?? 0, drops: q?.drops ?? 0 };
          await this.topo.exec(node, ['tc', 'qdisc', 'del', 'dev', dev, 'root'], { check: false });
        }
        return stats;
      },
    };
  }

  async close(): Promise<void> {}
}

/** Namespaces made by this module and not yet removed: deleted on exit whatever happens. */
const liveNamespaces = new Set<string>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => { for (const ns of liveNamespaces) removeNamespaceSync(ns); });
}

function removeNamespaceSync(ns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const pid of (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  spawnSync('ip', ['netns', 'del', ns]);
  liveNamespaces.delete(ns);
}

class BridgeLink implements ImpairLink {
  readonly backend = 'bridge';
  private constructor(private topo: Topology, private ns: string, private binary: string) {}

  static async create(topo: Topology, workDir: string): Promise<BridgeLink> {
    const binary = join(workDir, 'impair');
    await must(['gcc', '-O2', '-Wall', '-o', binary, SOURCE]);
    const ns = `${topo.prefix}m`;
    hookExit();
    await must(['ip', 'netns', 'add', ns]);
    liveNamespaces.add(ns);
    const inImp = (argv: string[]): Promise<string> => must(['ip', 'netns', 'exec', ns, ...argv]);
    await inImp(['ip', 'link', 'set', 'lo', 'up']);
    // The bridge's namespace has no addresses and says nothing itself.
    await inImp(['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const srv = topo.ns('srv'), cli = topo.ns('cli1');
    // Deleting srv's end removes cli1's too; both are made again, each paired with an end in imp.
    await topo.exec('srv', ['ip', 'link', 'del', SRV_DEV]);
    await must(['ip', 'link', 'add', SRV_DEV, 'netns', srv, 'type', 'veth', 'peer', 'name', 'tosrv', 'netns', ns]);
    await must(['ip', 'link', 'add', CLI_DEV, 'netns', cli, 'type', 'veth', 'peer', 'name', 'tocli', 'netns', ns]);
    for (const dev of ['tosrv', 'tocli']) {
      await inImp(['sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
      await inImp(['ip', 'link', 'set', dev, 'up']);
    }
    // gso_max_segs 1: the senders hand the link one wire packet per frame, so every decision is about one packet.
    await topo.exec('srv', ['ip', 'addr', 'add', `${srvAddrFor(CLIENT)}/24`, 'dev', SRV_DEV]);
    await topo.exec('srv', ['ip', 'link', 'set', SRV_DEV, 'gso_max_segs', '1', 'up']);
    await topo.exec('cli1', ['ip', 'addr', 'add', `${cliAddr(CLIENT)}/24`, 'dev', CLI_DEV]);
    await topo.exec('cli1', ['ip', 'link', 'set', CLI_DEV, 'gso_max_segs', '1', 'up']);
    return new BridgeLink(topo, ns, binary);
  }

  async start(spec: ImpairSpec, seed: number): Promise<ImpairedSession> {
    // Real-time priority keeps the emulated delays on time while the servers and clients load both cores; the
    // bridge sleeps in ppoll whenever nothing is due.
    const argv = ['ip', 'netns', 'exec', this.ns, ...(haveCommand('chrt') ? ['chrt', '-f', '10'] : []),
      this.binary, 'bridge', 'tocli', 'tosrv', ...bridgeArgs(spec, seed)];
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await waitFor(() => out.includes('"ready"'), exited, 5000, () => `impair bridge did not start: ${err.trim()}`);
    await this.arpSettled();
    return { pid: child.pid, stop: () => stopBridge(child, exited, () => out, () => err) };
  }

  /** The first ping after a fresh bridge pays ARP; one short exchange so sessions start alike. */
  private async arpSettled(): Promise<void> {
    await this.topo.exec('cli1', ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '1', srvAddrFor(CLIENT)], { check: false });
  }

  async close(): Promise<void> { removeNamespaceSync(this.ns); }
}

async function waitFor(cond: () => boolean, exited: Promise<unknown>, timeoutMs: number, why: () => string): Promise<void> {
  let gone = false;
  void exited.then(() => { gone = true; });
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (gone || Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stopBridge(child: ChildProcess, exited: Promise<number | null>, out: () => string,
  err: () => string): Promise<BridgeReport> {
  try { process.kill(child.pid!, 'SIGTERM'); } catch { /* already gone */ }
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
  const code = await exited;
  clearTimeout(timer);
  const line = out().split('\n').find((l) => l.startsWith('{"seed"'));
  if (!line) throw new Error(`impair bridge exited ${code} without its counters: ${err().trim()}`);
  return JSON.parse(line) as BridgeReport;
}
