// The tun addon in a fresh network namespace. This file is also the child program: with NANOVPN_TUN_CHILD set it
// runs inside the namespace, opens the device through src/io/tun.ts, answers one ping by hand and reports what it
// saw as JSON lines on stdout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { addonCandidates, loadTunAddon, openTun } from '../../src/io/tun.js';

const TUN_ADDR = '10.99.0.1';
const PEER_ADDR = '10.99.0.2';
const MTU = 1400;

function checksum(buf: Buffer, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += buf.readUInt16BE(off + i);
  if (len & 1) sum += buf[off + len - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An ICMP echo reply for an echo request: addresses swapped, type 0, both checksums recomputed. */
function echoReply(req: Buffer): Buffer {
  const ihl = (req[0]! & 0x0f) * 4;
  const totalLen = req.readUInt16BE(2);
  const r = Buffer.from(req.subarray(0, totalLen));
  req.copy(r, 12, 16, 20);
  req.copy(r, 16, 12, 16);
  r[8] = 64;
  r.writeUInt16BE(0, 10);
  r.writeUInt16BE(checksum(r, 0, ihl), 10);
  r[ihl] = 0;
  r.writeUInt16BE(0, ihl + 2);
  r.writeUInt16BE(checksum(r, ihl, totalLen - ihl), ihl + 2);
  return r;
}

async function child(): Promise<void> {
  const say = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
  const dev = openTun({ name: 'nvt%d', address: TUN_ADDR, netmask: '255.255.255.0', mtu: MTU });
  say({ ev: 'open', name: dev.name });
  // A reader can be stopped twice, and the fd can be watched again afterwards.
  const probe = loadTunAddon().startReader(dev.fd, () => undefined, () => undefined);
  probe.stop();
  probe.stop();
  let answered = false;
  dev.onPackets(
    (packets) => {
      for (const p of packets) {
        if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 1) continue;
        const ihl = (p[0]! & 0x0f) * 4;
        const icmpType = p[ihl]!;
        const src = [...p.subarray(12, 16)].join('.');
        const dst = [...p.subarray(16, 20)].join('.');
        say({ ev: 'icmp', type: icmpType, src, dst, ipSumOk: checksum(p, 0, ihl) === 0 });
        if (icmpType === 8 && !answered) {
          answered = true;
          say({ ev: 'wrote', ok: dev.write(echoReply(p)) });
        }
      }
    },
    (err) => say({ ev: 'error', message: err.message }),
  );
  // The parent closes our stdin when it is done; closing the device must let the process exit on its own
  // (no blocking read left behind).
  process.stdin.resume();
  process.stdin.on('end', () => {
    dev.close();
    dev.close();
    say({ ev: 'closed' });
  });
}

function run(argv: string[]): { code: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function runAsync(argv: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (code) => resolve({ code, out }));
  });
}

function ensureAddon(): string | undefined {
  if (addonCandidates().some((p) => existsSync(p))) return undefined;
  const gyp = `${spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim()}/npm/node_modules/node-gyp/bin/node-gyp.js`;
  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--nodedir=/usr'], {
    cwd: 'src/native/tun', encoding: 'utf8', timeout: 120_000,
  });
  return r.status === 0 ? undefined : `node-gyp failed: ${r.stderr.slice(-500)}`;
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  if (run(['ip', 'netns', 'list']).code !== 0) return 'ip netns unavailable';
  return ensureAddon();
}

if (process.env.NANOVPN_TUN_CHILD) {
  await child();
} else {
  test('addon loads and exports the documented functions', (t) => {
    const reason = skipReason();
    if (reason) return t.skip(reason);
    const addon = loadTunAddon();
    for (const fn of ['open', 'configure', 'startReader', 'write', 'close'] as const) {
      assert.equal(typeof addon[fn], 'function', fn);
    }
    assert.throws(() => addon.configure('nonexistent0', 'not-an-ip', '255.0.0.0', 1500), /invalid IPv4 address|EINVAL/);
  });

  test('tun in a netns: real name, address and MTU set, ping request read, hand-written reply accepted', async (t) => {
    const reason = skipReason();
    if (reason) return t.skip(reason);
    const ns = `nvtun-${process.pid}-${randomBytes(3).toString('hex')}`;
    assert.equal(run(['ip', 'netns', 'add', ns]).code, 0);
    t.after(() => { run(['ip', 'netns', 'del', ns]); });
    run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);

    const self = fileURLToPath(import.meta.url);
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', self], {
      env: { ...process.env, NANOVPN_TUN_CHILD: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); });

    const events: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try { events.push(JSON.parse(line) as Record<string, unknown>); } catch { events.push({ ev: 'noise', line }); }
      for (const w of waiters.splice(0)) w();
    });
    const waitFor = (ev: string, ms: number): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${ev}' from child; stderr: ${stderr.slice(-800)}`)), ms);
        const check = (): void => {
          const found = events.find((e) => e.ev === ev);
          if (found) { clearTimeout(timer); resolve(found); } else waiters.push(check);
        };
        check();
      });

    const opened = await waitFor('open', 15_000);
    const name = String(opened.name);
    assert.match(name, /^nvt\d+$/, 'the real interface name, NUL-trimmed');

    const link = JSON.parse(run(['ip', 'netns', 'exec', ns, 'ip', '-j', 'addr', 'show', 'dev', name]).out) as Array<{
      mtu: number; flags: string[]; addr_info: Array<{ family: string; local: string; prefixlen: number }>;
    }>;
    assert.equal(link[0]!.mtu, MTU);
    assert.ok(link[0]!.flags.includes('UP'), `flags ${link[0]!.flags.join(',')}`);
    assert.deepEqual(
      link[0]!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      [`${TUN_ADDR}/24`],
    );

    // Async: the child's report lines must keep flowing while ping waits for the reply.
    const ping = await runAsync(['ip', 'netns', 'exec', ns, 'ping', '-c', '1', '-W', '5', '-I', TUN_ADDR, PEER_ADDR]);
    await waitFor('wrote', 5_000).catch(() => undefined);
    const req = events.find((e) => e.ev === 'icmp' && e.type === 8);
    assert.ok(req, `echo request read from the fd; events ${JSON.stringify(events)}`);
    assert.equal(req.src, TUN_ADDR);
    assert.equal(req.dst, PEER_ADDR);
    assert.equal(req.ipSumOk, true);
    assert.deepEqual(events.find((e) => e.ev === 'wrote'), { ev: 'wrote', ok: true });
    assert.equal(ping.code, 0, `ping through the tun got our reply: ${ping.out}`);
    assert.match(ping.out, /1 received/);

    proc.stdin.end();
    await waitFor('closed', 10_000);
    assert.equal(await exited, 0, `child exits by itself once the device is closed; stderr: ${stderr}`);
    assert.equal(events.some((e) => e.ev === 'error'), false);
  });
}
