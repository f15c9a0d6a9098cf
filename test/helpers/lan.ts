// A LAN namespace behind a client gateway, for iroute tests: NET.10 in its own namespace, linked by a veth pair to
// the client's node (NET.1, ip_forward on), with its default route through the gateway. Processes started with
// spawnIn() are killed by remove(), which also deletes the namespace.
//
//   const lan = lanBehind(topo, 'cli1', '192.168.77');   // lan.host = 192.168.77.10
//   try { ... lan.exec(['ping', ...]) ... } finally { lan.remove(); }
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { NodeName, Topology } from './netns.js';

export interface Lan {
  readonly ns: string;
  readonly host: string;
  readonly gateway: string;
  readonly net: string;
  /** Runs argv in the LAN namespace; returns stdout (throws on a non-zero exit). */
  exec(argv: string[], timeoutMs?: number): string;
  /** Starts a long-running process in the LAN namespace; resolves once a stdout line matches `ready`. */
  spawnIn(argv: string[], ready: RegExp): Promise<ChildProcess>;
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
let lans = 0;

/** `net` is the first three octets of a /24. */
export function lanBehind(topo: Topology, node: NodeName, net: string): Lan {
  const n = ++lans;
  const ns = `${topo.ns(node)}-lan${n}`;
  const tag = `${process.pid % 10000}${n}`;
  const [a, b] = [`lan${tag}a`, `lan${tag}b`];
  const host = `${net}.10`, gateway = `${net}.1`;
  ip('netns', 'add', ns);
  try {
    ip('link', 'add', a, 'netns', topo.ns(node), 'type', 'veth', 'peer', 'name', b, 'netns', ns);
    ip('-n', topo.ns(node), 'addr', 'add', `${gateway}/24`, 'dev', a);
    ip('-n', topo.ns(node), 'link', 'set', a, 'up');
    ip('-n', ns, 'addr', 'add', `${host}/24`, 'dev', b);
    ip('-n', ns, 'link', 'set', b, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', gateway);
    execFileSync('ip', ['netns', 'exec', topo.ns(node), 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  } catch (e) {
    ip('netns', 'del', ns);
    throw e;
  }
  const procs: ChildProcess[] = [];
  return {
    ns, host, gateway, net,
    exec: (argv, timeoutMs = 20_000) => execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: timeoutMs }),
    spawnIn(argv, ready) {
      const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      procs.push(p);
      return new Promise((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`${argv[0]} in ${ns}: not ready: ${out}`)), 10_000);
        p.stdout!.on('data', (d: Buffer) => {
          out += d;
          if (ready.test(out)) { clearTimeout(timer); resolve(p); }
        });
        p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${argv[0]} in ${ns} exited with ${code}: ${out}`)); });
      });
    },
    remove() {
      for (const p of procs) { try { if (p.pid) process.kill(-p.pid, 'SIGKILL'); } catch { /* gone already */ } }
      try { ip('netns', 'del', ns); } catch { /* already gone */ }
    },
  };
}

/** A one-line TCP echo server (node), listening on `addr:port`; prints "listening". */
export function echoServerArgv(addr: string, port: number): string[] {
  return [process.execPath, '-e', `require('net').createServer((s)=>s.pipe(s)).listen(${port},'${addr}',()=>console.log('listening'))`];
}

/** A node one-liner that connects to addr:port, sends `text`, half-closes and prints what came back. */
export function echoClientArgv(addr: string, port: number, text: string): string[] {
  return [process.execPath, '-e',
    `const s=require('net').connect(${port},'${addr}',()=>s.end(${JSON.stringify(text)}));let b='';s.on('data',(d)=>b+=d);` +
    `s.on('close',()=>{console.log(b);process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(3)});setTimeout(()=>process.exit(5),8000)`];
}
