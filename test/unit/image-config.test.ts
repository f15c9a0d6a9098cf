// config.json (and the tun variant build.mjs derives from it) against the fields ops knows. ops decodes the file
// with DisallowUnknownFields into types.Config (nanovms/ops types/config.go), so an unknown or mistyped key
// makes `ops build -c config.json` fail. The schema below is written from that file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type T = 'string' | 'bool' | 'int' | 'string[]' | 'map<string>' | 'passthrough' | { [k: string]: T } | { list: T };

const RUN_CONFIG: Record<string, T> = {
  Accel: 'bool', AtExit: 'string', Bridged: 'bool', BridgeIPAddress: 'string', BridgeName: 'string',
  CanIPForward: 'bool', CPUs: 'int', GPUs: 'int', GPUType: 'string', Debug: 'bool', Gateway: 'string',
  GdbPort: 'int', ImageName: 'string', InstanceGroup: 'string', InstanceName: 'string', IPAddress: 'string',
  IPv6Address: 'string', Kernel: 'string', Memory: 'string', Mgmt: 'string', Vga: 'bool', Mounts: 'string[]',
  AttachVolumeOnInstanceCreate: 'bool', NetMask: 'string',
  Nics: { list: { IPAddress: 'string', IPv6Address: 'string', NetMask: 'string', Gateway: 'string', BridgeName: 'string' } },
  Background: 'bool', BackgroundDetach: 'bool', Ports: 'string[]', QMP: 'bool', ShowDebug: 'bool',
  ShowErrors: 'bool', ShowWarnings: 'bool', JSON: 'bool', TapName: 'string', UDPPorts: 'string[]', Verbose: 'bool',
  VolumeSizeInGb: 'int', ThreadsPerCore: 'int',
};

const CLOUD_CONFIG: Record<string, T> = {
  BucketName: 'string', BucketNamespace: 'string', ConfidentialVM: 'bool', DedicatedHostID: 'string',
  DomainName: 'string', StaticIP: 'string', EnableIPv6: 'bool', Flavor: 'string', ImageType: 'string',
  ImageName: 'string', InstanceProfile: 'string', KMS: 'string', Platform: 'string', ProjectID: 'string',
  RootVolume: { name: 'string', iops: 'int', size: 'int', throughput: 'int', typeof: 'string' },
  SecurityGroup: 'string', SkipImportVerify: 'bool', Spot: 'bool', Subnet: 'string',
  Tags: { list: { key: 'string', value: 'string' } },
  UserData: 'string', VPC: 'string', Zone: 'string',
};

const CONFIG: Record<string, T> = {
  Args: 'string[]', DisableArgsCopy: 'bool', BaseVolumeSz: 'string', Boot: 'string', UefiBoot: 'string',
  Uefi: 'bool', BuildDir: 'string', CloudConfig: CLOUD_CONFIG, TargetConfig: 'map<string>', Debugflags: 'string[]',
  Dirs: 'string[]', Env: 'map<string>', Files: 'string[]', Force: 'bool', home: 'string', Kernel: 'string',
  KlibDir: 'string', Klibs: 'string[]', MapDirs: 'map<string>', Mounts: 'map<string>', NameServers: 'string[]',
  NanosVersion: 'string', NightlyBuild: 'bool', NoTrace: 'string[]', ManifestPassthrough: 'passthrough',
  Program: 'string', ProgramPath: 'string', RebootOnExit: 'bool', RunConfig: RUN_CONFIG,
  LocalFilesParentDirectory: 'string', TargetRoot: 'string', TFSv4: 'bool', Version: 'string', Language: 'string',
  Description: 'string', VolumesDir: 'string', PackageBaseURL: 'string', PackageManifestURL: 'string',
};

/** ops copies ManifestPassthrough into the manifest: only strings, string arrays and maps of those survive. */
function isPassthroughValue(v: unknown): boolean {
  if (typeof v === 'string') return true;
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string');
  if (v && typeof v === 'object') return Object.values(v).every(isPassthroughValue);
  return false;
}

/** Every problem found, as "path: message"; empty when the value fits the type. */
function check(value: unknown, type: T, path: string): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (type === 'string') return typeof value === 'string' ? [] : [`${path}: expected a string`];
  if (type === 'bool') return typeof value === 'boolean' ? [] : [`${path}: expected a boolean`];
  if (type === 'int') return Number.isInteger(value) ? [] : [`${path}: expected an integer`];
  if (type === 'string[]') {
    return Array.isArray(value) && value.every((x) => typeof x === 'string') ? [] : [`${path}: expected string[]`];
  }
  if (type === 'map<string>') {
    return isObj(value) && Object.values(value).every((x) => typeof x === 'string') ? [] : [`${path}: expected a map of strings`];
  }
  if (type === 'passthrough') {
    return isObj(value) && isPassthroughValue(value) ? [] : [`${path}: passthrough holds only strings, string[] and maps`];
  }
  if ('list' in type && Object.keys(type).length === 1) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((x, i) => check(x, (type as { list: T }).list, `${path}[${i}]`));
  }
  if (!isObj(value)) return [`${path}: expected an object`];
  const fields = type as Record<string, T>;
  return Object.entries(value).flatMap(([k, v]) =>
    k in fields ? check(v, fields[k]!, `${path}.${k}`) : [`${path}.${k}: not a field ops knows`]);
}

const config = JSON.parse(readFileSync('config.json', 'utf8')) as Record<string, any>;

test('the checker rejects unknown and mistyped keys (so a pass below means something)', () => {
  assert.deepEqual(check({ Program: 'x', Bogus: 1 }, CONFIG, '$'), ['$.Bogus: not a field ops knows']);
  assert.deepEqual(check({ RunConfig: { Ports: [1194] } }, CONFIG, '$'), ['$.RunConfig.Ports: expected string[]']);
  assert.deepEqual(check({ RunConfig: { Memory: 512 } }, CONFIG, '$'), ['$.RunConfig.Memory: expected a string']);
  assert.deepEqual(check({ ManifestPassthrough: { tun: { tu: { mtu: 1500 } } } }, CONFIG, '$').length, 1);
});

test('config.json: every key is an ops field with the right type', () => {
  assert.deepEqual(check(config, CONFIG, '$'), []);
});

test('config.json: node runs the bundle from /app, ports 1194 tcp+udp, memory set, cloud placeholders', () => {
  assert.match(config.Program, /\/node$/);
  assert.deepEqual(config.Args, ['/app/nanovpn.js', 'serve']);
  assert.equal(config.MapDirs['dist/nanovpn.js'], '/app');
  assert.equal(config.MapDirs['dist/aead.node'], '/app', 'the native AEAD addon sits next to the bundle');
  assert.equal(config.MapDirs['dist/udp.node'], '/app', 'the UDP socket addon sits next to the bundle');
  assert.equal(config.MapDirs['image/etc/nanovpn/*'], '/etc/nanovpn');
  assert.ok(config.RunConfig.Ports.includes('1194'));
  assert.ok(config.RunConfig.UDPPorts.includes('1194'));
  assert.match(config.RunConfig.Memory, /^\d+[MG]$/);
  for (const k of ['ProjectID', 'Zone', 'BucketName', 'ImageName', 'Flavor']) {
    assert.equal(typeof config.CloudConfig[k], 'string', k);
  }
  // ops (cmd/flags_build_image.go) overwrites CloudConfig.ImageName with the base name of RunConfig.ImageName, or of
  // Program when that is unset: without RunConfig.ImageName, `ops image create -t gcp -c config.json` names the GCE
  // image and its bucket object "node", whatever CloudConfig says.
  assert.equal(config.RunConfig.ImageName, config.CloudConfig.ImageName, 'RunConfig.ImageName names the cloud image');
  // The tun uplink is opt-in: the default image has neither the klib nor its manifest entry.
  assert.equal(config.Klibs, undefined);
  assert.equal(config.ManifestPassthrough?.tun, undefined);
});

test('tun variant from build.mjs: valid for ops, tun klib, "tu" settings as strings, addon next to the bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-cfg-'));
  try {
    const out = join(dir, 'sub', 'config.tun.json');
    execFileSync(process.execPath, ['image/build.mjs', 'ops-config', '--tun', '--in', 'config.json', '--out', out], {
      env: { ...process.env, NANOVPN_TUN_ADDRESS: '10.9.0.1', NANOVPN_TUN_MTU: '1400' }, stdio: 'pipe',
    });
    const tun = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
    assert.deepEqual(check(tun, CONFIG, '$'), []);
    assert.deepEqual(tun.Klibs, ['tun']);
    assert.deepEqual(tun.ManifestPassthrough.tun, {
      tu: { ipaddress: '10.9.0.1', netmask: '255.255.255.0', mtu: '1400', up: 'true' },
    });
    // ops resolves MapDirs against the config file's directory: the variant's keys must point back at the repo.
    const keys = Object.keys(tun.MapDirs);
    assert.equal(keys.length, Object.keys(config.MapDirs).length + 1);
    for (const k of keys) {
      const resolved = join(dir, 'sub', k);
      const expected = k.endsWith('tun.node') ? join(process.cwd(), 'dist', 'tun.node') : undefined;
      if (expected) assert.equal(resolved, expected);
      else assert.ok(Object.keys(config.MapDirs).some((orig) => join(process.cwd(), orig) === resolved), k);
    }
    assert.equal(Object.entries(tun.MapDirs).find(([k]) => k.endsWith('dist/tun.node'))?.[1], '/app');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pkg variant from build.mjs: valid for ops, no Program (the package names it), Args and MapDirs kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-cfg-'));
  try {
    const out = join(dir, 'sub', 'config.pkg.json');
    execFileSync(process.execPath, ['image/build.mjs', 'ops-config', '--pkg', '--in', 'config.json', '--out', out], { stdio: 'pipe' });
    const pkg = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
    assert.deepEqual(check(pkg, CONFIG, '$'), []);
    // With a Program, ops pkg load runs `<package argv0> /usr/bin/node /app/nanovpn.js serve` (image/DEPLOY.md).
    assert.equal(pkg.Program, undefined);
    assert.deepEqual(pkg.Args, config.Args);
    assert.deepEqual(pkg.RunConfig, config.RunConfig);
    assert.deepEqual(Object.values(pkg.MapDirs), Object.values(config.MapDirs));
    for (const k of Object.keys(pkg.MapDirs)) {
      assert.ok(Object.keys(config.MapDirs).some((orig) => join(process.cwd(), orig) === join(dir, 'sub', k)), k);
    }
    const both = join(dir, 'config.tun.pkg.json');
    execFileSync(process.execPath, ['image/build.mjs', 'ops-config', '--pkg', '--tun', '--in', 'config.json', '--out', both], { stdio: 'pipe' });
    const tunPkg = JSON.parse(readFileSync(both, 'utf8')) as Record<string, any>;
    assert.equal(tunPkg.Program, undefined);
    assert.deepEqual(tunPkg.Klibs, ['tun']);
    assert.ok(Object.keys(tunPkg.MapDirs).some((k) => join(dir, k) === join(process.cwd(), 'dist', 'tun.node')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('git tracks nothing under image/etc/nanovpn: everything there is copied into the image', () => {
  const tracked = execFileSync('git', ['ls-files', 'image/etc/nanovpn'], { encoding: 'utf8' }).trim();
  assert.equal(tracked, '', `tracked files would end up in the image's /etc/nanovpn: ${tracked}`);
  const ignored = execFileSync('git', ['check-ignore', '--no-index', 'image/etc/nanovpn/README.md', 'image/etc/nanovpn/server.conf'], { encoding: 'utf8' });
  assert.deepEqual(ignored.trim().split('\n'), ['image/etc/nanovpn/README.md', 'image/etc/nanovpn/server.conf']);
});
