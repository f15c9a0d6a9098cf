// Network-namespace test bed (see /work/shared/docs/testbed.md). Needs root.
//
//   netns inet  198.18.0.1/24 (dev up0)          the "Internet": iperf3, HTTP, DNS servers go here
//   netns srv   198.18.0.2/24 (dev up0, default route via 198.18.0.1)
//               198.19.k.1/24 (dev clk)          one link per client; VPN servers listen here
//   netns clik  198.19.k.2/24 (dev eth0)         only the connected /24: no route to 198.18.0.0/24
//
// API
//   createTopology({ clients }): Promise<Topology>   builds the above with unique namespace names
//   withTopology(opts, fn): Promise<T>                createTopology + fn(topo); on error prints every process
//                                                    log and saves the artifacts; always destroys
//   Failure artifacts: when fn throws (or the test process exits with the topology still up, as after a timeout),
//   every process's whole log and a pcap of srv's interfaces (tcpdump -i any in srv, when tcpdump is installed;
//   opts.capture: false turns it off, as the benchmarks do) are saved under test-artifacts/<test file>-<prefix>/
//   (NANOVPN_TEST_ARTIFACTS names another folder).
//   topo.exec(node, argv, { timeoutMs, check, input, cwd, env }): Promise<ExecResult>
//       runs argv inside `ip netns exec`; throws on non-zero exit unless check is false
//   topo.spawn(node, argv, { name, cwd, env }): Proc  long-running process inside a namespace
//   proc.waitForLine(re, timeoutMs, { failOn }): Promise<string>   scans stdout+stderr (past output included);
//       rejects on timeout, on a failOn match, or when the process exits, with the log tail
//   proc.kill(signal = 'SIGTERM', graceMs = 3000)    signals the process group, SIGKILL after graceMs
//   topo.enableForwarding({ masquerade })            ip_forward=1 in srv (+ MASQUERADE out of up0)
//   topo.tempDir(label): string                      a fresh directory, removed by destroy()
//   topo.destroy()                                   kills every process it started and every process left
//                                                    inside its namespaces, deletes the namespaces
// Nodes are named 'inet', 'srv', 'cli1'..'cliN'; topo.ns(node) gives the real namespace name.
// Addresses: INET_ADDR, SRV_UPLINK_ADDR, srvAddrFor(k), cliAddr(k); srv's uplink interface is SRV_UPLINK_DEV.
// IPv6 on the same veths, on request: addIpv6Links(topo) adds INET_ADDR6, SRV_UPLINK_ADDR6, srvAddr6For(k), cliAddr6(k)
// (ULA: fd00:198:18::/64 uplink, fd00:198:19:k::/64 client link k).
// Test gating: netnsUnavailable() (a skip reason or undefined), haveCommand('openvpn'); pidRunning(pid).
// Everything left behind by a crashed test is removed on process exit, SIGINT and SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type NodeName = 'inet' | 'srv' | `cli${number}`;

export const INET_ADDR = '198.18.0.1';
export const SRV_UPLINK_ADDR = '198.18.0.2';
export const UPLINK_NET = '198.18.0.0/24';
/** Interface names inside the namespaces. */
export const SRV_UPLINK_DEV = 'up0';
export const srvAddrFor = (k: number): string => `198.19.${k}.1`;
export const cliAddr = (k: number): string => `198.19.${k}.2`;
/** IPv6 on the same links (addIpv6Links): ULA fd00:198:18::/64 for the uplink, fd00:198:19:k::/64 per client link. */
export const INET_ADDR6 = 'fd00:198:18::1';
export const SRV_UPLINK_ADDR6 = 'fd00:198:18::2';
export const srvAddr6For = (k: number): string => `fd00:198:19:${k}::1`;
export const cliAddr6 = (k: number): string => `fd00:198:19:${k}::2`;

/** Adds the IPv6 addresses above (/64, no duplicate address detection, so they are usable at once) to the uplink
 *  and to every client link, and a default IPv6 route from srv to inet. The IPv4 addresses stay as they are. */
export async function addIpv6Links(topo: Topology): Promise<void> {
  const add = (node: NodeName, addr: string, dev: string) => topo.exec(node, ['ip', '-6', 'addr', 'add', `${addr}/64`, 'dev', dev, 'nodad']);
  for (const node of ['inet', 'srv', ...Array.from({ length: topo.clients }, (_, i) => `cli${i + 1}` as const)] as NodeName[]) {
    await topo.exec(node, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0']);
  }
  await add('inet', INET_ADDR6, 'up0');
  await add('srv', SRV_UPLINK_ADDR6, SRV_UPLINK_DEV);
  await topo.exec('srv', ['ip', '-6', 'route', 'add', 'default', 'via', INET_ADDR6]);
  for (let k = 1; k <= topo.clients; k++) {
    await add('srv', srvAddr6For(k), `cl${k}`);
    await add(`cli${k}`, cliAddr6(k), 'eth0');
  }
}

export interface ExecOptions {
  timeoutMs?: number;           // default 30 s; the process group is killed when it expires
  check?: boolean;              // default true: reject when the exit code is not 0
  input?: string | Buffer;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}
export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}
export interface SpawnOptions {
  name?: string;                // label used in logs; default argv[0]
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}
export interface ExitInfo { code: number | null; signal: NodeJS.Signals | null }

export interface Proc {
  readonly name: string;
  readonly node: NodeName;
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr lines interleaved in arrival order. */
  readonly output: string;
  /** Set once the process has exited. */
  readonly exit: ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;
  waitForLine(re: RegExp, timeoutMs: number, opts?: { failOn?: RegExp }): Promise<string>;
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
  /** The last `lines` lines of output, prefixed with the process name. */
  tail(lines?: number): string;
}

export interface Topology {
  readonly prefix: string;
  readonly clients: number;
  /** The real namespace name of a node. */
  ns(node: NodeName): string;
  /** Every process started through spawn(), in start order. */
  readonly procs: readonly Proc[];
  exec(node: NodeName, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(node: NodeName, argv: string[], opts?: SpawnOptions): Proc;
  enableForwarding(opts?: { masquerade?: string }): Promise<void>;
  /** A new empty directory under the OS temp dir, removed by destroy(). */
  tempDir(label: string): string;
  /** Tails of every process log, for failure reports. */
  dumpLogs(lines?: number): string;
  destroy(): Promise<void>;
}

/** Where failed tests leave their logs and pcaps (gitignored). */
export const ARTIFACTS_DIR = process.env.NANOVPN_TEST_ARTIFACTS ?? fileURLToPath(new URL('../../test-artifacts', import.meta.url));

const live = new Set<TopologyImpl>();
let counter = 0;
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => { for (const t of live) t.destroySync(); });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const t of live) t.destroySync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

function existingNamespaces(): Set<string> {
  try { return new Set(readdirSync('/run/netns')); } catch { return new Set(); }
}

/** Run a command in the root namespace (setup and teardown only). */
function hostExec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return execArgv(argv, opts);
}

function execArgv(argv: string[], opts: ExecOptions): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const check = opts.check ?? true;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const res: ExecResult = { code, signal, stdout, stderr, timedOut };
      if (check && (code !== 0 || timedOut)) {
        const why = timedOut ? `timed out after ${timeoutMs} ms` : `exit ${code ?? signal}`;
        reject(new Error(`${argv.join(' ')}: ${why}\n${stderr.trim()}${stdout.trim() ? `\n${stdout.trim()}` : ''}`));
      } else {
        resolve(res);
      }
    });
  });
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try { process.kill(-pid, signal); } catch { /* group already gone */ }
  try { process.kill(pid, signal); } catch { /* already gone */ }
}

/** True while `pid` exists and is not a zombie (a killed process whose parent has not reaped it yet). */
export function pidRunning(pid: number): boolean {
  let stat: string;
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return false; }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

class ProcImpl implements Proc {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  stdout = '';
  stderr = '';
  private lines: string[] = [];
  private partial = { out: '', err: '' };
  private listeners = new Set<() => void>();

  constructor(readonly name: string, readonly node: NodeName, private child: ChildProcess) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.pid = child.pid;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; this.feed('out', d); });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; this.feed('err', d); });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        for (const k of ['out', 'err'] as const) if (this.partial[k]) { this.lines.push(this.partial[k]); this.partial[k] = ''; }
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
    child.on('error', (err) => { this.lines.push(`[spawn error] ${err.message}`); });
  }

  get output(): string { return this.lines.join('\n'); }

  private feed(k: 'out' | 'err', d: string): void {
    const parts = (this.partial[k] + d).split('\n');
    this.partial[k] = parts.pop()!;
    if (parts.length === 0) return;
    this.lines.push(...parts);
    this.notify();
  }

  private notify(): void { for (const l of [...this.listeners]) l(); }

  tail(n = 40): string {
    const all = [...this.lines, this.partial.out, this.partial.err].filter((l) => l !== '');
    const shown = all.slice(-n).map((l) => `  [${this.name}] ${l}`).join('\n');
    const status = this.exit ? ` (exited ${this.exit.code ?? this.exit.signal})` : ` (running, pid ${this.pid})`;
    return `--- ${this.name} in ${this.node}${status}, last ${Math.min(n, all.length)} of ${all.length} lines\n${shown}`;
  }

  waitForLine(re: RegExp, timeoutMs: number, opts: { failOn?: RegExp } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      let scanned = 0;
      const done = (err: Error | undefined, line?: string): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err); else resolve(line!);
      };
      const check = (): void => {
        for (; scanned < this.lines.length; scanned++) {
          const line = this.lines[scanned]!;
          if (re.test(line)) return done(undefined, line);
          if (opts.failOn?.test(line)) return done(new Error(`${this.name}: "${line.trim()}" while waiting for ${re}\n${this.tail()}`));
        }
        if (this.exit) done(new Error(`${this.name} exited (${this.exit.code ?? this.exit.signal}) before ${re}\n${this.tail()}`));
      };
      const timer = setTimeout(() => done(new Error(`${this.name}: no line matching ${re} within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<ExitInfo> {
    if (this.exit) return this.exit;
    killGroup(this.pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => { killGroup(this.pid, 'SIGKILL'); resolve(); }, graceMs);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(timer);
    return this.exited;
  }
}

class TopologyImpl implements Topology {
  readonly procs: ProcImpl[] = [];
  private created: string[] = [];
  private dirs: string[] = [];
  private destroyed = false;
  /** tcpdump in srv and the folder its pcap files go to, when capturing. */
  private capture: { proc: ProcImpl; dir: string } | undefined;

  constructor(readonly prefix: string, readonly clients: number) {}

  ns(node: NodeName): string {
    if (node === 'inet') return `${this.prefix}i`;
    if (node === 'srv') return `${this.prefix}s`;
    const k = Number(node.slice(3));
    if (!Number.isInteger(k) || k < 1 || k > this.clients) throw new Error(`no such node '${node}' (clients: ${this.clients})`);
    return `${this.prefix}c${k}`;
  }

  async build(): Promise<void> {
    const nodes: NodeName[] = ['inet', 'srv'];
    for (let k = 1; k <= this.clients; k++) nodes.push(`cli${k}`);
    for (const node of nodes) {
      await hostExec(['ip', 'netns', 'add', this.ns(node)]);
      this.created.push(this.ns(node));
      await this.exec(node, ['ip', 'link', 'set', 'lo', 'up']);
    }
    const srv = this.ns('srv');
    // veth ends are created directly inside their namespaces, so fixed interface names never collide.
    await hostExec(['ip', 'link', 'add', 'up0', 'netns', this.ns('inet'), 'type', 'veth', 'peer', 'name', SRV_UPLINK_DEV, 'netns', srv]);
    await this.exec('inet', ['ip', 'addr', 'add', `${INET_ADDR}/24`, 'dev', 'up0']);
    await this.exec('inet', ['ip', 'link', 'set', 'up0', 'up']);
    await this.exec('srv', ['ip', 'addr', 'add', `${SRV_UPLINK_ADDR}/24`, 'dev', SRV_UPLINK_DEV]);
    await this.exec('srv', ['ip', 'link', 'set', SRV_UPLINK_DEV, 'up']);
    await this.exec('srv', ['ip', 'route', 'add', 'default', 'via', INET_ADDR]);
    for (let k = 1; k <= this.clients; k++) {
      const cli: NodeName = `cli${k}`;
      await hostExec(['ip', 'link', 'add', `cl${k}`, 'netns', srv, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns(cli)]);
      await this.exec('srv', ['ip', 'addr', 'add', `${srvAddrFor(k)}/24`, 'dev', `cl${k}`]);
      await this.exec('srv', ['ip', 'link', 'set', `cl${k}`, 'up']);
      await this.exec(cli, ['ip', 'addr', 'add', `${cliAddr(k)}/24`, 'dev', 'eth0']);
      await this.exec(cli, ['ip', 'link', 'set', 'eth0', 'up']);
    }
    // A new namespace may inherit ip_forward=1 from the host; nanovpn's NAT mode must not rely on the kernel.
    await this.exec('srv', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
  }

  exec(node: NodeName, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return execArgv(['ip', 'netns', 'exec', this.ns(node), ...argv], opts);
  }

  spawn(node: NodeName, argv: string[], opts: SpawnOptions = {}): Proc {
    if (this.destroyed) throw new Error('topology already destroyed');
    // `ip netns exec` execs argv in place, so the child's pid is the program's pid; detached gives it its own
    // process group, which kill() and destroy() signal as a whole.
    const child = spawn('ip', ['netns', 'exec', this.ns(node), ...argv], {
      cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new ProcImpl(opts.name ?? argv[0]!, node, child);
    this.procs.push(proc);
    return proc;
  }

  async enableForwarding(opts: { masquerade?: string } = {}): Promise<void> {
    await this.exec('srv', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    if (opts.masquerade) {
      await this.exec('srv', ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', opts.masquerade, '-o', SRV_UPLINK_DEV, '-j', 'MASQUERADE']);
    }
  }

  tempDir(label: string): string {
    const dir = mkdtempSync(join(tmpdir(), `nanovpn-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  dumpLogs(lines = 40): string {
    return this.procs.map((p) => p.tail(lines)).join('\n');
  }

  /** Capture every interface of srv (client links and uplink) with tcpdump, headers only, at most 2 × 32 MB. */
  async startCapture(): Promise<void> {
    const dir = this.tempDir('pcap');
    // -Z root: tcpdump would drop to its own user, which cannot write into a root-owned temp dir.
    const proc = this.spawn('srv', ['tcpdump', '-i', 'any', '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', '256', '-C', '32', '-W', '2',
      '-w', join(dir, 'srv.pcap')], { name: 'tcpdump' }) as ProcImpl;
    this.capture = { proc, dir };
    await proc.waitForLine(/listening on/, 5000).catch(() => undefined);
  }

  /** Stop the capture so its last packets are on disk (async path only; the exit handler copies as it is). */
  async stopCapture(): Promise<void> {
    await this.capture?.proc.kill('SIGINT', 1000);
  }

  /** Copy every process's whole log and the pcap files into a fresh artifacts folder; returns the folder. */
  saveArtifacts(why: string): string {
    const test = basename(process.argv[1] ?? 'test').replace(/\.test\.[cm]?[jt]s$/, '');
    const dir = join(ARTIFACTS_DIR, `${test}-${this.prefix}`);
    mkdirSync(dir, { recursive: true });
    this.procs.forEach((p, i) => {
      const file = `${i + 1}-${p.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${p.node}.log`;
      writeFileSync(join(dir, file), p.tail(Number.MAX_SAFE_INTEGER) + '\n');
    });
    if (this.capture && existsSync(this.capture.dir)) {
      for (const f of readdirSync(this.capture.dir)) copyFileSync(join(this.capture.dir, f), join(dir, f));
    }
    writeFileSync(join(dir, 'why.txt'), `${why}\nnamespaces: ${this.created.join(' ')}\n`);
    return dir;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all(this.procs.map((p) => p.kill('SIGTERM', 2000)));
    for (const ns of this.created) {
      // Anything still inside (a daemonized child, a process started by hand) goes too.
      const pids = await hostExec(['ip', 'netns', 'pids', ns], { check: false });
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) killGroup(pid, 'SIGKILL');
    }
    for (const ns of this.created) await waitNamespaceEmpty(ns);
    for (const ns of this.created) await hostExec(['ip', 'netns', 'del', ns], { check: false });
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    this.destroyed = true;
    this.created = [];
    live.delete(this);
  }

  /** Last-resort cleanup from an exit handler: synchronous, best effort. */
  destroySync(): void {
    if (this.destroyed) return;
    // Still up at exit: the test timed out or crashed before withTopology could save what it left.
    try { this.saveArtifacts('the test process exited with this topology still up'); } catch { /* best effort */ }
    for (const p of this.procs) if (!p.exit) killGroup(p.pid, 'SIGKILL');
    for (const ns of this.created) {
      const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
      for (const pid of (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) killGroup(pid, 'SIGKILL');
      spawnSync('ip', ['netns', 'del', ns]);
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    this.destroyed = true;
    live.delete(this);
  }
}

async function waitNamespaceEmpty(ns: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await hostExec(['ip', 'netns', 'pids', ns], { check: false });
    const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number).filter(pidRunning);
    if (pids.length === 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Load the tun module if /dev/net/tun is missing; throws when that is impossible. */
export async function ensureTun(): Promise<void> {
  if (existsSync('/dev/net/tun')) return;
  await hostExec(['modprobe', 'tun'], { check: false, timeoutMs: 10_000 }).catch(() => undefined);
  if (!existsSync('/dev/net/tun')) throw new Error('/dev/net/tun is missing and `modprobe tun` did not create it');
}

/** Why integration tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  const ip = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (ip.error || ip.status !== 0) return 'iproute2 (`ip`) is not installed; run test/install-deps.sh';
  return undefined;
}

/** Is `cmd` on PATH? */
export function haveCommand(cmd: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '';
}

export async function createTopology(opts: { clients: number }): Promise<Topology> {
  if (!Number.isInteger(opts.clients) || opts.clients < 0 || opts.clients > 250) throw new Error(`clients must be 0..250, got ${opts.clients}`);
  await ensureTun();
  hookExit();
  const taken = existingNamespaces();
  let prefix: string;
  do {
    prefix = `nv${process.pid % 10000}${(counter++).toString(36)}`;
  } while ([...taken].some((n) => n.startsWith(prefix)));
  const topo = new TopologyImpl(prefix, opts.clients);
  live.add(topo);
  try {
    await topo.build();
  } catch (err) {
    await topo.destroy();
    throw err;
  }
  return topo;
}

/**
 * Build a topology, run fn, and always destroy it. When fn throws, the tail of every process log is printed to
 * stderr and the whole logs and the pcap are saved (see "Failure artifacts" above) before the error propagates.
 */
export async function withTopology<T>(opts: { clients: number; capture?: boolean },
  fn: (topo: Topology) => Promise<T>): Promise<T> {
  const topo = await createTopology(opts) as TopologyImpl;
  try {
    if (opts.capture !== false && haveCommand('tcpdump')) await topo.startCapture();
    return await fn(topo);
  } catch (err) {
    await topo.stopCapture();
    let saved: string;
    try { saved = topo.saveArtifacts(`failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`); }
    catch (e) { saved = `(not saved: ${(e as Error).message})`; }
    process.stderr.write(`\n=== process logs (topology ${topo.prefix}; whole logs and pcap in ${saved}) ===\n${topo.dumpLogs()}\n`);
    throw err;
  } finally {
    await topo.destroy();
  }
}
