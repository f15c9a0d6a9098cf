import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ccdPath, parseClientConfig, readClientConfig } from '../../src/config/client-config-dir.js';
import { ConfigError } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';

let root: string;
let logs: string[] = [];
before(() => { root = mkdtempSync(join(tmpdir(), 'nanovpn-ccd-')); setLogSink((l) => logs.push(l)); });
after(() => { rmSync(root, { recursive: true, force: true }); setLogSink((l) => process.stdout.write(l + '\n')); });

const ip = (s: string): number => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);

test('ccd: ifconfig-push, push, push-reset, disable', () => {
  const c = parseClientConfig([
    '# client1', 'ifconfig-push 10.8.0.50 255.255.255.0', 'push "route 192.168.5.0 255.255.255.0"',
    "push 'dhcp-option DNS 10.8.0.1'", 'push-reset', 'disable', '',
  ].join('\n'), 'client1');
  assert.deepEqual(c, {
    ifconfigPush: { ip: ip('10.8.0.50'), second: ip('255.255.255.0') }, iroutes: [], iroutes6: [],
    push: ['route 192.168.5.0 255.255.255.0', 'dhcp-option DNS 10.8.0.1'], pushReset: true, disable: true,
  });
  assert.deepEqual(parseClientConfig('', 'empty'), { iroutes: [], iroutes6: [], push: [], pushReset: false, disable: false });
});

test('ccd: iroute NET [MASK] with its line', () => {
  const c = parseClientConfig('iroute 192.168.1.0 255.255.255.0\npush "a"\niroute 172.16.9.9\n', 'c2');
  assert.deepEqual(c.push, ['a']);
  assert.deepEqual(c.iroutes, [
    { network: ip('192.168.1.0'), netmask: ip('255.255.255.0'), file: 'c2', line: 1 },
    { network: ip('172.16.9.9'), netmask: ip('255.255.255.255'), file: 'c2', line: 3 },
  ]);
  assert.throws(() => parseClientConfig('iroute 192.168.1.1 255.255.255.0\n', 'c'), /^.*c:1: iroute: 192\.168\.1\.1 is not the network address/);
  assert.throws(() => parseClientConfig('iroute 192.168.1.0 255.0.255.0\n', 'c'), /iroute: '255\.0\.255\.0' is not a netmask/);
});

test('ccd: errors carry file:line', () => {
  const cases: [string, RegExp][] = [
    ['ifconfig-push 10.8.0.50\n', /^c:1: 'ifconfig-push' takes 2 arguments, got 1$/],
    ['\nifconfig-push 10.8.0.500 255.255.255.0\n', /^c:2: ifconfig-push: '10\.8\.0\.500' is not an IPv4 address$/],
    ['ifconfig-push 10.8.0.5 10.8.0.256\n', /^c:1: ifconfig-push: '10\.8\.0\.256' is not an IPv4 address \(a netmask in topology subnet, the peer in net30 and p2p\)$/],
    ['push a b\n', /^c:1: 'push' takes 1 argument, got 2$/],
    ['push-reset now\n', /^c:1: 'push-reset' takes 0 arguments/],
    ['route 10.0.0.0 255.0.0.0\n', /^c:1: 'route' is not supported in a client-config-dir file$/],
    ['constructor\n', /^c:1: 'constructor' is not supported in a client-config-dir file$/],
    ['<ca>\nx\n</ca>\n', /^c:1: inline <ca> block is not allowed/],
    ['push "unterminated\n', /^c:1: no closing quotation/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseClientConfig(text, 'c'), (e: unknown) => e instanceof ConfigError && re.test(e.message), text);
  }
});

test('ccd: common names are sanitised against path traversal', () => {
  const dir = join(root, 'ccd');
  assert.equal(ccdPath(dir, 'client1'), join(dir, 'client1'));
  assert.equal(ccdPath(dir, 'a.b-c_d@e'), join(dir, 'a.b-c_d@e'));
  for (const cn of ['', '.', '..', '../etc/passwd', 'a/b', '..\\x', 'a\0b', 'a\nb', '/etc/passwd']) {
    assert.equal(ccdPath(dir, cn), undefined, JSON.stringify(cn));
  }
});

test('ccd: readClientConfig finds the CN file, else DEFAULT, else undefined', async () => {
  const dir = join(root, 'ccd2');
  mkdirSync(dir);
  writeFileSync(join(root, 'secret'), 'disable\n');
  writeFileSync(join(dir, 'alice'), 'ifconfig-push 10.8.0.9 255.255.255.0\n');
  assert.deepEqual((await readClientConfig(dir, 'alice'))?.ifconfigPush, { ip: ip('10.8.0.9'), second: ip('255.255.255.0') });
  assert.equal(await readClientConfig(dir, 'bob'), undefined);
  assert.equal(await readClientConfig(dir, '../secret'), undefined, 'traversal does not reach ../secret');
  assert.equal(await readClientConfig(join(root, 'nope'), 'alice'), undefined, 'missing dir');
  writeFileSync(join(dir, 'DEFAULT'), 'push "x"\n');
  assert.deepEqual((await readClientConfig(dir, 'bob'))?.push, ['x']);
  logs = [];
  assert.deepEqual((await readClientConfig(dir, '../secret'))?.push, ['x'], 'unsafe CN gets DEFAULT only');
  assert.ok(logs.some((l) => l.includes('not a safe file name')));
  writeFileSync(join(dir, 'carol'), 'bogus\n');
  await assert.rejects(readClientConfig(dir, 'carol'), (e: unknown) => e instanceof ConfigError && e.message === `${join(dir, 'carol')}:1: 'bogus' is not supported in a client-config-dir file`);
});
