import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addUser, delUser, formatUserLine, hashPassword, invalidUserName, parseUserLine, parseUsersFile, verifyUser,
} from '../../src/config/users-file.js';
import { setLogSink } from '../../src/log.js';

let dir: string;
let logs: string[] = [];
before(() => { dir = mkdtempSync(join(tmpdir(), 'nanovpn-users-')); setLogSink((l) => logs.push(l)); });
after(() => { rmSync(dir, { recursive: true, force: true }); setLogSink((l) => process.stdout.write(l + '\n')); });

test('users: add, verify, change password, delete; file is 0600 and keeps comments', async () => {
  const file = join(dir, 'users');
  writeFileSync(file, '# nanovpn users\n');
  assert.equal(await addUser(file, 'alice', 'correct horse'), 'added');
  assert.equal(await addUser(file, 'bob', 'hunter2'), 'added');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(await verifyUser(file, 'alice', 'correct horse'), true);
  assert.equal(await verifyUser(file, 'alice', 'correct horsE'), false);
  assert.equal(await verifyUser(file, 'alice', ''), false);
  assert.equal(await verifyUser(file, 'bob', 'hunter2'), true);
  assert.equal(await verifyUser(file, 'carol', 'hunter2'), false, 'unknown user');
  assert.equal(await verifyUser(file, 'bob', 'correct horse'), false, 'another user\'s password');
  assert.equal(await addUser(file, 'alice', 'new pass'), 'updated');
  assert.equal(await verifyUser(file, 'alice', 'correct horse'), false);
  assert.equal(await verifyUser(file, 'alice', 'new pass'), true);
  const text = readFileSync(file, 'utf8');
  assert.ok(text.startsWith('# nanovpn users\nalice:scrypt:16384:8:1:'));
  assert.ok(!text.includes('new pass') && !text.includes('hunter2'));
  assert.equal(await delUser(file, 'alice'), true);
  assert.equal(await delUser(file, 'alice'), false);
  assert.equal(await verifyUser(file, 'alice', 'new pass'), false);
  assert.equal(await verifyUser(file, 'bob', 'hunter2'), true);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left');
});

test('users: add to a missing file creates it; verify on a missing file is false', async () => {
  const file = join(dir, 'new-users');
  assert.equal(await verifyUser(file, 'x', 'y'), false);
  await addUser(file, 'x', 'y');
  assert.equal(await verifyUser(file, 'x', 'y'), true);
});

test('users: duplicate lines for a name collapse on add', async () => {
  const a = await hashPassword('dup', 'one'), b = await hashPassword('dup', 'two');
  const file = join(dir, 'dups');
  writeFileSync(file, `${formatUserLine(a)}\n# c\n${formatUserLine(b)}\n`);
  await addUser(file, 'dup', 'three');
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('dup:'));
  assert.equal(lines.length, 1);
  assert.equal(await verifyUser(file, 'dup', 'three'), true);
});

test('users: line format parse/format round trip and rejection of bad lines', async () => {
  const e = await hashPassword('u@example.org', 'pw');
  assert.deepEqual(parseUserLine(formatUserLine(e)), e);
  const good = formatUserLine(e);
  const f = good.split(':');
  const variants = [
    f.slice(0, 6).join(':'), [f[0], 'bcrypt', ...f.slice(2)].join(':'), [...f.slice(0, 2), '1000', ...f.slice(3)].join(':'),
    [...f.slice(0, 2), String(1 << 21), ...f.slice(3)].join(':'), [...f.slice(0, 3), '0', ...f.slice(4)].join(':'),
    [...f.slice(0, 5), '!!', f[6]].join(':'), [...f.slice(0, 6), 'AAAA'].join(':'),
    [...f.slice(0, 2), String(1 << 20), '32', ...f.slice(4)].join(':'),
  ];
  for (const v of variants) assert.equal(parseUserLine(v), undefined, v);
  const parsed = parseUsersFile(`# c\n\n${good}\nbroken line\n`);
  assert.deepEqual([...parsed.users.keys()], ['u@example.org']);
  assert.deepEqual(parsed.badLines, [4]);
  const file = join(dir, 'bad');
  writeFileSync(file, `garbage\n${good}\n`);
  logs = [];
  assert.equal(await verifyUser(file, 'u@example.org', 'pw'), true);
  assert.ok(logs.some((l) => l.includes('malformed lines skipped') && l.includes('lines=1')));
  assert.ok(!logs.some((l) => l.includes('garbage') || l.includes(' pw')), 'no file content or password in logs');
});

test('users: names are validated', async () => {
  for (const bad of ['', 'a:b', 'a b', 'a\nb', '#x', 'x'.repeat(129)]) assert.ok(invalidUserName(bad), JSON.stringify(bad));
  assert.equal(invalidUserName('alice.smith@example-1'), undefined);
  await assert.rejects(addUser(join(dir, 'u2'), 'a:b', 'pw'), /may not contain ':'/);
  await assert.rejects(addUser(join(dir, 'u2'), 'ok', ''), /password is empty/);
});

test('nanovpn users add/del via the CLI: password from stdin, never echoed', () => {
  const file = join(dir, 'cli-users');
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  const run = (args: string[], input = '') => spawnSync(process.execPath, ['--import', 'tsx', main, 'users', ...args], { input, encoding: 'utf8' });
  const add = run(['add', file, 'dave', '--password-stdin'], 's3cret pass\n');
  assert.equal(add.status, 0, add.stderr);
  assert.ok(!add.stdout.includes('s3cret') && !add.stderr.includes('s3cret'));
  const piped = run(['add', file, 'erin'], 'other\r\nignored second line\n');
  assert.equal(piped.status, 0, piped.stderr);
  return (async () => {
    assert.equal(await verifyUser(file, 'dave', 's3cret pass'), true);
    assert.equal(await verifyUser(file, 'erin', 'other'), true);
    assert.equal(run(['add', file, 'frank'], '').status, 1, 'empty password refused');
    assert.equal(run(['del', file, 'dave']).status, 0);
    assert.equal(await verifyUser(file, 'dave', 's3cret pass'), false);
    const missing = run(['del', file, 'dave']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no user 'dave'/);
    assert.equal(run(['frob', file, 'x']).status, 2);
    assert.equal(run(['add', file, 'bad:name'], 'x\n').status, 1);
  })();
});
