import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPoolPersist, parsePoolPersist, readPoolPersist, writePoolPersist } from '../../src/config/pool-persist.js';
import { setLogSink } from '../../src/log.js';

let dir: string;
let logs: string[] = [];
before(() => { dir = mkdtempSync(join(tmpdir(), 'nanovpn-ipp-')); setLogSink((l) => logs.push(l)); });
after(() => { rmSync(dir, { recursive: true, force: true }); setLogSink((l) => process.stdout.write(l + '\n')); });

const ip = (s: string): number => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);

test('pool persist: writes OpenVPN 2.6 lines and reads them back', async () => {
  const file = join(dir, 'ipp.txt');
  const m = new Map([['client1', ip('10.8.0.2')], ['client two', ip('10.8.0.3')]]);
  await writePoolPersist(file, m);
  assert.equal(readFileSync(file, 'utf8'), 'client1,10.8.0.2,\nclient two,10.8.0.3,\n');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(await readPoolPersist(file), m);
  assert.deepEqual(await readPoolPersist(join(dir, 'missing.txt')), new Map());
});

test('pool persist: tolerant reader accepts 2.4 and 2.6 forms, skips bad lines with a warning', () => {
  logs = [];
  const m = parsePoolPersist([
    'a,10.8.0.2', 'b,10.8.0.3,', 'c,10.8.0.4,fd00::4', 'v6only,,fd00::5', 'nocomma', 'd,10.8.0.300,', ',10.8.0.6,',
    'e,10.8.0.2,', 'a,10.8.0.7,', 'f,10.8.0.2,', 'x,1,2,3', '\r', 'g,10.8.0.9\r',
  ].join('\n'), 'ipp.txt');
  assert.deepEqual([...m], [
    ['a', ip('10.8.0.7')], ['b', ip('10.8.0.3')], ['c', ip('10.8.0.4')], ['f', ip('10.8.0.2')], ['g', ip('10.8.0.9')],
  ]);
  const warned = logs.filter((l) => l.includes('ifconfig-pool-persist: line skipped'));
  assert.deepEqual(warned.map((l) => / line=(\d+)/.exec(l)![1]), ['5', '6', '7', '8', '11']);
});

test('pool persist: CNs that cannot be stored are skipped on write', () => {
  logs = [];
  assert.equal(formatPoolPersist([['a,b', 1], ['ok', ip('10.0.0.1')], ['x\ny', 2]]), 'ok,10.0.0.1,\n');
  assert.equal(logs.filter((l) => l.includes('cannot be stored')).length, 2);
});

test('property: format then parse is the identity for storable entries', () => {
  const cn = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[,\x00-\x1f]/.test(s));
  fc.assert(fc.property(fc.uniqueArray(fc.tuple(cn, fc.integer({ min: 0, max: 0xffffffff })), { selector: (t) => t[0],
    maxLength: 30 }), (entries) => {
    const unique = entries.filter((e, i) => entries.findIndex((f) => f[1] === e[1]) === i);
    assert.deepEqual([...parsePoolPersist(formatPoolPersist(unique), 'p')], unique);
  }));
});

test('pool persist: an unreadable path gives an empty pool', async () => {
  writeFileSync(join(dir, 'file'), 'x');
  assert.deepEqual(await readPoolPersist(join(dir, 'file', 'sub')), new Map());
  assert.deepEqual(await readPoolPersist(dir), new Map());
});
