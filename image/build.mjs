// Build steps for nanovpn, called by build.sh (or `npm run build`, which is `bundle`).
//
//   node image/build.mjs [bundle] [--outdir DIR]        src/main.ts -> DIR/nanovpn.js (default dist), prints its sha256
//   node image/build.mjs ops-config --tun [--in config.json] [--out dist/config.tun.json]
//                                                 the tun variant of the ops config (Klibs, tun manifest, addon)
//   node image/build.mjs ops-config --pkg [--tun] [--in config.json] [--out dist/config.pkg.json]
//                                                 the config for `ops pkg load`: without Program (see pkgVariant)
//   node image/build.mjs manifest --config FILE --nanos DIR [--out dist/nanovpn.manifest] [--stage dist/image-stage]
//                                                 a Nanos mkfs manifest from an ops config (see manifestFromConfig);
//                                                 run mkfs inside the stage folder
//   node image/build.mjs fix-uuids --image IMG --mkfs-log LOG
//                                                 replaces the random filesystem UUIDs mkfs chose with UUIDs
//                                                 derived from the image contents, so equal inputs give equal bytes
//   node image/build.mjs check-memory [--config config.json]
//                                                 RunConfig.Memory against the JS heap limit in Env.NODE_OPTIONS
//   node image/build.mjs sha256 FILE
//
// Deterministic on purpose: no timestamps, no absolute paths in outputs, sorted directory walks, pinned lockfile.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));   // the repository (this file lives in image/)

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function parseFlags(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) flags[key] = true;
    else { flags[key] = next; i++; }
  }
  return flags;
}

// ---------------------------------------------------------------------------------------------------- bundle

export async function bundle(outdir = 'dist') {
  const out = resolve(outdir);
  mkdirSync(out, { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/main.ts'],
    outfile: join(out, 'nanovpn.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'warning',
  });
  // The project is "type": "module"; the bundle is CommonJS.
  writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
  chmodSync(join(out, 'nanovpn.js'), 0o755);
  const file = join(out, 'nanovpn.js');
  console.log(`${relative(process.cwd(), file) || file} sha256 ${sha256(file)}`);
}

// ------------------------------------------------------------------------------------------------ ops config

export const TUN_DEFAULTS = { address: '10.8.0.1', netmask: '255.255.255.0', mtu: '1500' };

/**
 * The tun variant of an ops config: the tun klib, the interface settings in the manifest (key "tu": Nanos keeps
 * only two characters of the name; every value a string) and the addon next to the bundle.
 */
export function tunVariant(config, tun = TUN_DEFAULTS, pathPrefix = '') {
  const c = structuredClone(config);
  c.Klibs = [...new Set([...(c.Klibs ?? []), 'tun'])];
  c.ManifestPassthrough = {
    ...(c.ManifestPassthrough ?? {}),
    tun: { tu: { ipaddress: tun.address, netmask: tun.netmask, mtu: String(tun.mtu), up: 'true' } },
  };
  c.MapDirs = { ...(c.MapDirs ?? {}), 'dist/tun.node': '/app' };
  return rebased(c, pathPrefix);
}

/** ops resolves Files and MapDirs against the config file's directory: rebase them for a variant's location. */
function rebased(config, pathPrefix) {
  const c = structuredClone(config);
  const rebase = (p) => (p.startsWith('/') ? p : posix.join(pathPrefix, p));
  if (c.Files) c.Files = c.Files.map(rebase);
  if (c.MapDirs) c.MapDirs = Object.fromEntries(Object.entries(c.MapDirs).map(([k, v]) => [rebase(k), v]));
  return c;
}

/**
 * The config for `ops pkg load PACKAGE -c FILE`: config.json without Program. ops (cmd/flags_build_image.go) puts
 * the config's Program in front of Args before it reads the package, then puts the package's own Args (its argv[0])
 * in front of that, so with Program the guest runs `node /usr/bin/node /app/nanovpn.js serve` and node exits with
 * "Cannot find module '/usr/bin/node'". The package's manifest names the program.
 */
export function pkgVariant(config, pathPrefix = '') {
  const c = rebased(config, pathPrefix);
  delete c.Program;
  return c;
}

function opsConfig(flags) {
  if (!flags.tun && !flags.pkg) throw new Error('ops-config: say --tun, --pkg or both');
  const input = flags.in ?? 'config.json';
  const out = flags.out ?? `dist/config${flags.tun ? '.tun' : ''}${flags.pkg ? '.pkg' : ''}.json`;
  const tun = {
    address: process.env.NANOVPN_TUN_ADDRESS ?? TUN_DEFAULTS.address,
    netmask: process.env.NANOVPN_TUN_NETMASK ?? TUN_DEFAULTS.netmask,
    mtu: process.env.NANOVPN_TUN_MTU ?? TUN_DEFAULTS.mtu,
  };
  const prefix = relative(dirname(resolve(out)), dirname(resolve(input)));
  let c = JSON.parse(readFileSync(input, 'utf8'));
  if (flags.tun) c = tunVariant(c, tun, prefix);
  if (flags.pkg) c = pkgVariant(c, flags.tun ? '' : prefix);
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, JSON.stringify(c, null, 2) + '\n');
  const what = [flags.tun && `tun ${tun.address}/${tun.netmask} mtu ${tun.mtu}`, flags.pkg && 'for ops pkg load: no Program'];
  console.log(`${out} (${what.filter(Boolean).join('; ')})`);
}

// -------------------------------------------------------------------------------------------------- manifest

/** A Nanos tuple value: every name and string is quoted, so paths and spaces need no care. */
function q(s) {
  return `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function emit(value, indent) {
  const pad = '  '.repeat(indent + 1);
  if (typeof value === 'string') return q(value);
  if (Array.isArray(value)) return `[${value.map((v) => emit(v, indent + 1)).join(' ')}]`;
  const keys = Object.keys(value).sort();
  if (keys.length === 0) return '()';
  return `(\n${keys.map((k) => `${pad}${q(k)}:${emit(value[k], indent + 1)}`).join('\n')}\n${'  '.repeat(indent)})`;
}

/** Adds a host file at an absolute image path in a children tree. */
function addFile(tree, imagePath, hostPath) {
  const parts = imagePath.split('/').filter(Boolean);
  let node = tree;
  for (const dir of parts.slice(0, -1)) {
    node.children ??= {};
    node.children[dir] ??= { children: {} };
    node = node.children[dir];
  }
  node.children ??= {};
  node.children[parts.at(-1)] = { contents: { host: hostPath } };
}

function mkdirPath(tree, imagePath) {
  let node = tree;
  for (const dir of imagePath.split('/').filter(Boolean)) {
    node.children ??= {};
    node.children[dir] ??= { children: {} };
    node = node.children[dir];
  }
}

function walkSorted(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    out.push(p);
    if (statSync(p).isDirectory()) out.push(...walkSorted(p));
  }
  return out;
}

/** ops's MapDirs: "host/dir/pattern" -> image dir; every match under host/dir keeps its relative directory. */
function globToRegExp(pattern) {
  return new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

function addMapped(tree, base, src, dest) {
  const hostSrc = resolve(base, src);
  const dir = dirname(hostSrc);
  const re = globToRegExp(hostSrc.slice(dir.length + 1));
  if (!existsSync(dir)) throw new Error(`MapDirs: ${src}: no such directory ${dir}`);
  const isGlob = /[*?[]/.test(src);
  if (!isGlob && !existsSync(hostSrc)) throw new Error(`MapDirs: ${src}: ${hostSrc} does not exist`);
  const candidates = statSync(hostSrc, { throwIfNoEntry: false })?.isFile() ? [hostSrc] : walkSorted(dir);
  for (const host of candidates) {
    const name = host.slice(host.lastIndexOf('/') + 1);
    if (!re.test(name)) continue;
    const vm = posix.join(dest, relative(dir, host));
    if (statSync(host).isDirectory()) mkdirPath(tree, vm);
    else addFile(tree, vm, host);
  }
}

/** Libraries the dynamic loader needs for `program`, as { imagePath: hostPath } (what ops adds by ELF scan). */
export function sharedLibs(program) {
  const out = execFileSync('ldd', [program], { encoding: 'utf8' });
  const libs = {};
  for (const line of out.split('\n')) {
    const arrow = line.match(/^\s*\S+\s+=>\s+(\/\S+)\s+\(/);
    const direct = line.match(/^\s*(\/\S+)\s+\(/);
    const p = arrow?.[1] ?? direct?.[1];
    if (p) libs[p] = realpathSync(p);
  }
  return libs;
}

/**
 * The Nanos manifest for an ops config, built the way ops would but with no clock, no random names and no
 * per-user values: program and arguments, Files, Dirs, MapDirs, Env, the program's ldd libraries, ld-linux,
 * ld.so.cache, resolv.conf, passwd, hostname, klibs (with ManifestPassthrough, e.g. the tun settings), a static
 * address from RunConfig.IPAddress/NetMask/Gateway, and Kernel/Boot when the config names them.
 *
 * mkfs lays files out in an order that depends on where its heap strings land, so the manifest must be the same
 * text wherever the build runs: every file is linked into `stageDir` (root/<image path>, klibs/<name>,
 * kernel.img, boot.img) and the manifest names it relative to that folder. Run mkfs with stageDir as cwd.
 */
export function manifestFromConfig(config, { base, nanosDir, stageDir }) {
  if (!config.Program) throw new Error('config: Program is required');
  const program = config.Program;
  const root = { children: {} };
  addFile(root, program, realpathSync(program));
  for (const [img, host] of Object.entries(sharedLibs(program))) addFile(root, img, host);
  if (existsSync('/etc/ld.so.cache')) addFile(root, '/etc/ld.so.cache', realpathSync('/etc/ld.so.cache'));

  rmSync(stageDir, { recursive: true, force: true });
  mkdirSync(join(stageDir, 'gen'), { recursive: true });
  const generated = {
    'resolv.conf': (config.NameServers?.length ? config.NameServers : ['8.8.8.8']).map((n) => `nameserver ${n}\n`).join(''),
    passwd: 'root:x:0:0:root:/root:/bin/nobash\n',
    hostname: 'nanovpn\n',
  };
  for (const [name, text] of Object.entries(generated)) writeFileSync(join(stageDir, 'gen', name), text);
  addFile(root, '/etc/resolv.conf', join(stageDir, 'gen', 'resolv.conf'));
  addFile(root, '/etc/passwd', join(stageDir, 'gen', 'passwd'));
  addFile(root, '/proc/sys/kernel/hostname', join(stageDir, 'gen', 'hostname'));

  for (const f of config.Files ?? []) addFile(root, posix.join('/', f), resolve(base, f));
  for (const d of config.Dirs ?? []) {
    for (const host of walkSorted(resolve(base, d))) {
      const vm = posix.join('/', d, relative(resolve(base, d), host));
      if (statSync(host).isDirectory()) mkdirPath(root, vm);
      else addFile(root, vm, host);
    }
  }
  for (const [src, dest] of Object.entries(config.MapDirs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    addMapped(root, base, src, dest);
  }
  stageTree(root, stageDir, 'root');

  root.program = program;
  root.arguments = [program, ...(config.Args ?? [])];
  root.environment = { USER: 'root', PWD: '/', ...(config.Env ?? {}) };
  if (config.RebootOnExit) root.reboot_on_exit = 't';

  // ops's static address (otherwise the VM uses DHCP).
  const rc = config.RunConfig ?? {};
  if (rc.IPAddress) {
    root.ipaddr = rc.IPAddress;
    if (rc.NetMask) root.netmask = rc.NetMask;
    if (rc.Gateway) root.gateway = rc.Gateway;
  }

  // Kernel and Boot from the config win over the release folder's, as in ops (e.g. a kernel built with IP_FORWARD).
  const kernel = config.Kernel ? resolve(base, config.Kernel) : nanosDir && resolve(nanosDir, 'kernel.img');
  const boot = config.Boot ? resolve(base, config.Boot) : nanosDir && resolve(nanosDir, 'boot.img');
  if (kernel && existsSync(kernel)) symlinkSync(kernel, join(stageDir, 'kernel.img'));
  if (boot && existsSync(boot)) symlinkSync(boot, join(stageDir, 'boot.img'));
  const klibs = config.Klibs ?? [];
  if (klibs.length) {
    if (!nanosDir) throw new Error('Klibs need --nanos DIR (a Nanos release with klibs/)');
    root.klibs = 'bootfs';
    mkdirSync(join(stageDir, 'klibs'));
    const kl = {};
    for (const k of klibs) {
      const host = resolve(nanosDir, 'klibs', k);
      if (!existsSync(host)) throw new Error(`klib ${k} not found at ${host}`);
      symlinkSync(host, join(stageDir, 'klibs', k));
      kl[k] = { contents: { host: `klibs/${k}` } };
    }
    root.boot = { children: { klib: { children: kl } } };
  }
  for (const [k, v] of Object.entries(config.ManifestPassthrough ?? {})) root[k] = v;
  return `${emit(root, 0)}\n`;
}

/** Replaces each absolute host path in a children tree by a link under stageDir/prefix, named relatively. */
function stageTree(node, stageDir, prefix) {
  for (const [name, child] of Object.entries(node.children ?? {})) {
    const rel = `${prefix}/${name}`;
    if (child.contents) {
      mkdirSync(join(stageDir, prefix), { recursive: true });
      symlinkSync(child.contents.host, join(stageDir, rel));
      child.contents.host = rel;
    } else {
      stageTree(child, stageDir, rel);
    }
  }
}

function manifest(flags) {
  const configFile = flags.config ?? 'config.json';
  const out = flags.out ?? 'dist/nanovpn.manifest';
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  const stageDir = resolve(flags.stage ?? 'dist/image-stage');
  const text = manifestFromConfig(config, {
    base: dirname(resolve(configFile)), // as ops does
    nanosDir: flags.nanos ? resolve(flags.nanos) : undefined,
    stageDir,
  });
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, text);
  console.log(`${out} written (run mkfs in ${relative(process.cwd(), stageDir) || '.'})`);
}

// ------------------------------------------------------------------------------------------------ fix-uuids

const UUID_RE = /UUID: ([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})/g;

/**
 * mkfs prints "UUID: ..." for each filesystem it writes (boot FS, then root FS) and stores each UUID once, in the
 * header of the filesystem's first log extension. Replace them with UUIDs derived from the image with the UUIDs
 * zeroed, so the result depends only on the inputs.
 */
export function fixUuids(image, mkfsLog) {
  const uuids = [...mkfsLog.matchAll(UUID_RE)].map((m) => Buffer.from(m.slice(1).join(''), 'hex'));
  if (uuids.length === 0) throw new Error('fix-uuids: no "UUID:" line in the mkfs output');
  const offsets = uuids.map((u) => {
    const at = image.indexOf(u);
    if (at < 0) throw new Error(`fix-uuids: UUID ${u.toString('hex')} not found in the image`);
    if (image.indexOf(u, at + 1) >= 0) throw new Error(`fix-uuids: UUID ${u.toString('hex')} found twice`);
    return at;
  });
  for (const at of offsets) image.fill(0, at, at + 16);
  const digest = createHash('sha256').update(image).digest();
  offsets.forEach((at, i) => {
    const u = createHash('sha256').update(digest).update(`nanovpn-fs-${i}`).digest().subarray(0, 16);
    u[6] = (u[6] & 0x0f) | 0x80; // RFC 9562 version 8 (custom)
    u[8] = (u[8] & 0x3f) | 0x80; // variant 10
    u.copy(image, at);
  });
  return offsets.length;
}

// --------------------------------------------------------------------------------------------- check-memory

/** The smallest guest nanovpn supports (image/DEPLOY.md, "Memory"). */
export const MIN_GUEST_MIB = 256;
/**
 * The JS heap may take at most this share of the guest: the rest holds the Nanos kernel and its network buffers,
 * node's own code and native memory, and Buffers (packets, the NAT's per-flow buffers, which are outside the heap).
 */
export const MAX_HEAP_SHARE = 5 / 8;
/** Node 20 on 64-bit: the young generation is 3 semi-spaces of 16 MiB unless --max-semi-space-size says otherwise. */
const DEFAULT_SEMI_SPACE_MIB = 16;

/** ops's Memory string ("512M", "1G", "256m", "2048MB") in MiB; undefined when absent or unreadable. */
export function memoryMiB(memory) {
  const m = /^\s*(\d+)\s*([MG])i?B?\s*$/i.exec(memory ?? '');
  if (!m) return undefined;
  return Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 : 1);
}

/**
 * What V8 reports as heap_size_limit for NODE_OPTIONS (MiB): old space plus 3 semi-spaces. undefined when
 * NODE_OPTIONS sets no old-space limit (V8 then sizes the heap from the memory it sees).
 */
export function heapLimitMiB(nodeOptions = '') {
  const flag = (name) => {
    const m = new RegExp(`(?:^|\\s)--${name}[=\\s](\\d+)(?=\\s|$)`).exec(nodeOptions.replace(/_/g, '-'));
    return m ? Number(m[1]) : undefined;
  };
  const old = flag('max-old-space-size');
  if (old === undefined) return undefined;
  return old + 3 * (flag('max-semi-space-size') ?? DEFAULT_SEMI_SPACE_MIB);
}

/** Problems with a config's guest memory and heap limit, as sentences; empty when they fit. */
export function memoryProblems(config) {
  const problems = [];
  const raw = config.RunConfig?.Memory;
  const mem = memoryMiB(raw);
  if (mem === undefined) {
    problems.push(`RunConfig.Memory is ${raw === undefined ? 'not set' : `'${raw}'`}: set it, e.g. "512M" (at least ${MIN_GUEST_MIB}M)`);
    return problems;
  }
  if (mem < MIN_GUEST_MIB) problems.push(`RunConfig.Memory ${raw} is below the minimum guest of ${MIN_GUEST_MIB}M`);
  const heap = heapLimitMiB(config.Env?.NODE_OPTIONS);
  if (heap !== undefined && heap > mem * MAX_HEAP_SHARE) {
    problems.push(`NODE_OPTIONS '${config.Env.NODE_OPTIONS}' lets the JS heap grow to ${heap} MiB, more than ` +
      `${MAX_HEAP_SHARE * 100} % of RunConfig.Memory ${raw} (${Math.floor(mem * MAX_HEAP_SHARE)} MiB): ` +
      `lower --max-old-space-size to at most ${Math.floor(mem * MAX_HEAP_SHARE) - 3 * DEFAULT_SEMI_SPACE_MIB} or raise Memory`);
  }
  return problems;
}

function checkMemory(flags) {
  const file = flags.config ?? 'config.json';
  const config = JSON.parse(readFileSync(file, 'utf8'));
  const problems = memoryProblems(config);
  if (problems.length) throw new Error(`${file}: ${problems.join('; ')}`);
  const heap = heapLimitMiB(config.Env?.NODE_OPTIONS);
  console.log(`${file}: guest memory ${config.RunConfig.Memory}, JS heap limit ` +
    `${heap === undefined ? 'sized by V8 from the guest memory' : `${heap} MiB`} (minimum guest ${MIN_GUEST_MIB}M)`);
}

// ------------------------------------------------------------------------------------------------------ main

async function main(argv) {
  const [cmd = 'bundle', ...rest] = argv[0]?.startsWith('--') ? ['bundle', ...argv] : argv;
  const flags = parseFlags(rest);
  switch (cmd) {
    case 'bundle': return bundle(flags.outdir ?? 'dist');
    case 'ops-config': return opsConfig(flags);
    case 'manifest': return manifest(flags);
    case 'fix-uuids': {
      const image = readFileSync(flags.image);
      const n = fixUuids(image, readFileSync(flags['mkfs-log'], 'utf8'));
      writeFileSync(flags.image, image);
      console.log(`${flags.image}: ${n} filesystem UUIDs fixed`);
      return;
    }
    case 'check-memory': return checkMemory(flags);
    case 'sha256': return void console.log(sha256(rest[0]));
    default: throw new Error(`unknown step '${cmd}'`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`build.mjs: ${err.message}`);
    process.exit(1);
  });
}
