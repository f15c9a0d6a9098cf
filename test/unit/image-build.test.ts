// Reproducible artifacts: the bundle, the Nanos manifest build.mjs writes, the UUID fix, and (with NANOS_DIR) the
// raw image itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = process.cwd();
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

function tmp(t: { after(fn: () => void): void }, label: string): string {
  const d = mkdtempSync(join(tmpdir(), `nanovpn-${label}-`));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function buildMjs(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(process.execPath, [join(REPO, 'image', 'build.mjs'), ...args], {
    cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// ---- a reader for the tuple syntax build.mjs emits: quoted names and values, (...) tuples, [...] vectors ----
type TupleValue = string | TupleValue[] | { [k: string]: TupleValue };

function parseTuple(text: string): TupleValue {
  let i = 0;
  const ws = (): void => { while (i < text.length && /\s/.test(text[i]!)) i++; };
  const str = (): string => {
    assert.equal(text[i], '"', `string expected at ${i}`);
    let s = '';
    for (i++; text[i] !== '"'; i++) {
      if (i >= text.length) throw new Error('unterminated string');
      if (text[i] === '\\') i++;
      s += text[i];
    }
    i++;
    return s;
  };
  const value = (): TupleValue => {
    ws();
    if (text[i] === '(') {
      i++;
      const t: Record<string, TupleValue> = {};
      for (ws(); text[i] !== ')'; ws()) {
        const k = str();
        assert.equal(text[i], ':', `':' expected after ${k}`);
        i++;
        assert.equal(k in t, false, `duplicate key ${k}`);
        t[k] = value();
      }
      i++;
      return t;
    }
    if (text[i] === '[') {
      i++;
      const v: TupleValue[] = [];
      for (ws(); text[i] !== ']'; ws()) v.push(value());
      i++;
      return v;
    }
    return str();
  };
  const v = value();
  ws();
  assert.equal(i, text.length, 'trailing text after the root tuple');
  return v;
}

function at(root: TupleValue, imagePath: string): Record<string, TupleValue> | undefined {
  let node = root as Record<string, any>;
  for (const part of imagePath.split('/').filter(Boolean)) {
    node = node?.children?.[part];
    if (!node) return undefined;
  }
  return node;
}

/** A throwaway project layout: config.json + dist/ + image/etc/nanovpn + a fake Nanos release with klibs/tun. */
function fixture(dir: string): { config: string; nanos: string } {
  mkdirSync(join(dir, 'dist'));
  mkdirSync(join(dir, 'image', 'etc', 'nanovpn'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'nanovpn.js'), '// bundle\n');
  writeFileSync(join(dir, 'dist', 'tun.node'), 'addon');
  writeFileSync(join(dir, 'dist', 'aead.node'), 'aead addon');
  writeFileSync(join(dir, 'dist', 'udp.node'), 'udp addon');
  writeFileSync(join(dir, 'image', 'etc', 'nanovpn', 'server.conf'), 'port 1194\n');
  cpSync(join(REPO, 'config.json'), join(dir, 'config.json'));
  const nanos = join(dir, 'nanos');
  mkdirSync(join(nanos, 'klibs'), { recursive: true });
  writeFileSync(join(nanos, 'klibs', 'tun'), 'klib');
  return { config: join(dir, 'config.json'), nanos };
}

test('bundle: two builds into two directories are byte-identical and carry no absolute path', (t) => {
  const a = tmp(t, 'bundle-a');
  const b = tmp(t, 'bundle-b');
  const outA = buildMjs(['bundle', '--outdir', a]);
  buildMjs(['bundle', '--outdir', b], { cwd: b });
  assert.match(outA, /nanovpn\.js sha256 [0-9a-f]{64}/);
  assert.equal(outA.match(/[0-9a-f]{64}/)![0], sha(join(a, 'nanovpn.js')));
  assert.equal(sha(join(a, 'nanovpn.js')), sha(join(b, 'nanovpn.js')));
  const text = readFileSync(join(a, 'nanovpn.js'), 'utf8');
  assert.equal(text.includes(REPO), false, 'repository path leaked into the bundle');
  assert.equal(text.includes(a), false, 'output path leaked into the bundle');
  assert.equal(readFileSync(join(a, 'package.json'), 'utf8'), '{ "type": "commonjs" }\n');
});

test('manifest from config.json: node + ldd libraries + loader files, bundle, embedded config, no klibs', (t) => {
  const dir = tmp(t, 'manifest');
  const { config, nanos } = fixture(dir);
  const stage = join(dir, 'stage');
  buildMjs(['manifest', '--config', config, '--nanos', nanos, '--out', join(dir, 'm'), '--stage', stage]);
  const m = parseTuple(readFileSync(join(dir, 'm'), 'utf8')) as Record<string, any>;
  /** The host file behind an image path: the manifest names a link inside the stage folder. */
  const hostOf = (imagePath: string): string | undefined => {
    const host = (at(m, imagePath)?.contents as { host?: string } | undefined)?.host;
    if (host === undefined) return undefined;
    assert.equal(host, `root${imagePath}`, 'relative to the stage folder');
    return readlinkSync(join(stage, host));
  };
  const cfg = JSON.parse(readFileSync(config, 'utf8'));

  assert.equal(m.program, cfg.Program);
  assert.deepEqual(m.arguments, [cfg.Program, '/app/nanovpn.js', 'serve']);
  assert.equal(m.environment.NODE_OPTIONS, cfg.Env.NODE_OPTIONS);
  assert.equal(m.environment.USER, 'root');
  assert.equal(hostOf(cfg.Program), resolve(cfg.Program));
  const ldd = execFileSync('ldd', [cfg.Program], { encoding: 'utf8' });
  const libs = [...ldd.matchAll(/(?:=>\s+)?(\/\S+)\s+\(0x/g)].map((x) => x[1]!);
  assert.ok(libs.some((l) => l.includes('ld-linux')), 'ldd lists the loader');
  for (const lib of libs) assert.ok(hostOf(lib), `library ${lib} in the image`);
  for (const f of ['/etc/ld.so.cache', '/etc/resolv.conf', '/etc/passwd', '/proc/sys/kernel/hostname']) {
    assert.ok(hostOf(f), f);
  }
  assert.equal(readFileSync(join(stage, 'root', 'etc', 'resolv.conf'), 'utf8'), 'nameserver 8.8.8.8\n');
  assert.equal(hostOf('/app/nanovpn.js'), join(dir, 'dist', 'nanovpn.js'));
  assert.equal(hostOf('/app/aead.node'), join(dir, 'dist', 'aead.node'));
  assert.equal(hostOf('/app/udp.node'), join(dir, 'dist', 'udp.node'));
  assert.equal(hostOf('/etc/nanovpn/server.conf'), join(dir, 'image', 'etc', 'nanovpn', 'server.conf'));
  assert.equal(readFileSync(join(dir, 'm'), 'utf8').includes(dir), false, 'no build-directory path in the manifest');
  assert.equal(at(m, '/app/tun.node'), undefined);
  assert.equal(m.klibs, undefined);
  assert.equal(m.boot, undefined);
  assert.equal(m.tun, undefined);
});

test('manifest for the tun variant: tun klib in the boot FS, klibs:bootfs, tun settings, addon in /app', (t) => {
  const dir = tmp(t, 'manifest-tun');
  const { config, nanos } = fixture(dir);
  const variant = join(dir, 'dist', 'config.tun.json');
  buildMjs(['ops-config', '--tun', '--in', config, '--out', variant]);
  const stage = join(dir, 'stage');
  buildMjs(['manifest', '--config', variant, '--nanos', nanos, '--out', join(dir, 'm'), '--stage', stage]);
  const m = parseTuple(readFileSync(join(dir, 'm'), 'utf8')) as Record<string, any>;
  assert.equal(m.klibs, 'bootfs');
  assert.deepEqual(m.boot, { children: { klib: { children: { tun: { contents: { host: 'klibs/tun' } } } } } });
  assert.equal(readlinkSync(join(stage, 'klibs', 'tun')), join(nanos, 'klibs', 'tun'));
  assert.deepEqual(m.tun, { tu: { ipaddress: '10.8.0.1', netmask: '255.255.255.0', mtu: '1500', up: 'true' } });
  assert.equal(readlinkSync(join(stage, (at(m, '/app/tun.node')!.contents as any).host)), join(dir, 'dist', 'tun.node'));
  assert.equal(readlinkSync(join(stage, (at(m, '/app/nanovpn.js')!.contents as any).host)), join(dir, 'dist', 'nanovpn.js'));
});

test('manifest: RunConfig static address and a Kernel from the config (e.g. one built with IP_FORWARD)', (t) => {
  const dir = tmp(t, 'manifest-static');
  const { config, nanos } = fixture(dir);
  writeFileSync(join(nanos, 'kernel.img'), 'stock');
  writeFileSync(join(nanos, 'boot.img'), 'boot');
  writeFileSync(join(dir, 'kernel-fwd.img'), 'forwarding');
  const cfg = JSON.parse(readFileSync(config, 'utf8'));
  cfg.Kernel = 'kernel-fwd.img';
  cfg.RunConfig = { ...cfg.RunConfig, IPAddress: '10.0.2.15', NetMask: '255.255.255.0', Gateway: '10.0.2.2' };
  writeFileSync(config, JSON.stringify(cfg));
  const stage = join(dir, 'stage');
  buildMjs(['manifest', '--config', config, '--nanos', nanos, '--out', join(dir, 'm'), '--stage', stage]);
  const m = parseTuple(readFileSync(join(dir, 'm'), 'utf8')) as Record<string, any>;
  assert.deepEqual([m.ipaddr, m.netmask, m.gateway], ['10.0.2.15', '255.255.255.0', '10.0.2.2']);
  assert.equal(readlinkSync(join(stage, 'kernel.img')), join(dir, 'kernel-fwd.img'));
  assert.equal(readlinkSync(join(stage, 'boot.img')), join(nanos, 'boot.img'));
});

test('manifest: a missing bundle is an error, not an image without the program', (t) => {
  const dir = tmp(t, 'manifest-missing');
  const { config, nanos } = fixture(dir);
  rmSync(join(dir, 'dist', 'nanovpn.js'));
  const r = spawnSync(process.execPath, [join(REPO, 'image', 'build.mjs'), 'manifest', '--config', config, '--nanos', nanos,
    '--out', join(dir, 'm'), '--stage', join(dir, 'stage')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /nanovpn\.js/);
});

const FILLER = randomBytes(64 * 1024);

/** The same bytes every time except for the UUIDs, which sit at 4096 and 24096. */
function fakeImage(uuids: Buffer[]): { image: Buffer; log: string } {
  const image = Buffer.from(FILLER);
  uuids.forEach((u, i) => u.copy(image, 4096 + i * 20000));
  const fmt = (u: Buffer): string => {
    const h = u.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  return { image, log: uuids.map((u) => `UUID: ${fmt(u)}\nmetadata\n(...)\n`).join('') };
}

test('fix-uuids: the UUIDs mkfs printed are replaced by ones derived from the contents', (t) => {
  const dir = tmp(t, 'uuid');
  const run = (uuids: Buffer[]): Buffer => {
    const { image, log } = fakeImage(uuids);
    writeFileSync(join(dir, 'img'), image);
    writeFileSync(join(dir, 'log'), log);
    assert.match(buildMjs(['fix-uuids', '--image', join(dir, 'img'), '--mkfs-log', join(dir, 'log')]), /2 filesystem UUIDs fixed/);
    return readFileSync(join(dir, 'img'));
  };
  const first = [randomBytes(16), randomBytes(16)];
  const a = run(first);
  const b = run([randomBytes(16), randomBytes(16)]);
  // Identical apart from random UUIDs before the fix -> identical after it; nothing else touched.
  assert.equal(a.equals(b), true);
  assert.equal(a.subarray(0, 4096).equals(FILLER.subarray(0, 4096)), true);
  assert.equal(a.subarray(4112, 24096).equals(FILLER.subarray(4112, 24096)), true);
  assert.equal(a.subarray(4096, 4112).equals(b.subarray(4096, 4112)), true);
  assert.equal(a.subarray(24096, 24112).equals(b.subarray(24096, 24112)), true);
  assert.equal(a.subarray(4096, 4112).equals(first[0]!), false);
  assert.equal(a.subarray(4096, 4112).equals(a.subarray(24096, 24112)), false, 'the two filesystems get different UUIDs');
  assert.equal(a[4096 + 6]! >> 4, 8, 'version 8 UUID');
});

test('fix-uuids: refuses when a printed UUID is not in the image', (t) => {
  const dir = tmp(t, 'uuid-missing');
  const { image } = fakeImage([randomBytes(16)]);
  const { log } = fakeImage([randomBytes(16)]); // a UUID that is not in `image`
  writeFileSync(join(dir, 'img'), image);
  writeFileSync(join(dir, 'log'), log);
  const r = spawnSync(process.execPath, [join(REPO, 'image', 'build.mjs'), 'fix-uuids', '--image', join(dir, 'img'),
    '--mkfs-log', join(dir, 'log')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /not found in the image/);
});

const NANOS_DIR = process.env.NANOS_DIR;
const nanosReady = NANOS_DIR && ['kernel.img', 'boot.img', 'mkfs', 'klibs/tun'].every((f) => existsSync(join(NANOS_DIR, f)));

test('raw image: the same inputs give a byte-identical image, from two different directories', (t) => {
  if (!nanosReady) return t.skip('set NANOS_DIR to a Nanos release folder (kernel.img, boot.img, mkfs, klibs/)');
  const hashes: string[] = [];
  for (const label of ['raw-a', 'raw-b-longer-path']) {
    const dir = tmp(t, label);
    const { config } = fixture(dir);
    writeFileSync(join(dir, 'dist', 'nanovpn.js'), readFileSync(join(REPO, 'test', 'unit', 'image-build.test.ts')));
    const stage = join(dir, 'stage');
    buildMjs(['manifest', '--config', config, '--nanos', NANOS_DIR!, '--out', join(dir, 'm'), '--stage', stage]);
    const mkfs: SpawnSyncReturns<string> = spawnSync('setarch', ['x86_64', '-R', resolve(NANOS_DIR!, 'mkfs'), '-b', 'boot.img', '-k', 'kernel.img',
      join(dir, 'img')], { cwd: stage, input: readFileSync(join(dir, 'm')), encoding: 'utf8' });
    assert.equal(mkfs.status, 0, mkfs.stderr);
    writeFileSync(join(dir, 'log'), mkfs.stdout);
    buildMjs(['fix-uuids', '--image', join(dir, 'img'), '--mkfs-log', join(dir, 'log')]);
    hashes.push(sha(join(dir, 'img')));
  }
  assert.equal(hashes[0], hashes[1]);
});
