// image/build.mjs check-memory: ops's Memory string, the heap limit V8 derives from NODE_OPTIONS, and the rule that
// the heap leaves the guest room for the kernel, node's native memory and packet Buffers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { spawnSync } from 'node:child_process';
// @ts-expect-error build.mjs is plain JavaScript without declarations
import { heapLimitMiB, memoryMiB, memoryProblems, MIN_GUEST_MIB } from '../../image/build.mjs';

test('memoryMiB reads ops Memory strings and refuses others', () => {
  assert.equal(memoryMiB('512M'), 512);
  assert.equal(memoryMiB('1G'), 1024);
  assert.equal(memoryMiB('256m'), 256);
  assert.equal(memoryMiB('2048MB'), 2048);
  assert.equal(memoryMiB('2GiB'), 2048);
  assert.equal(memoryMiB('lots'), undefined);
  assert.equal(memoryMiB(undefined), undefined);
});

test('heapLimitMiB matches what V8 reports for the same flags', () => {
  assert.equal(heapLimitMiB('--max-old-space-size=96'), 96 + 48);
  assert.equal(heapLimitMiB('--max_old_space_size=100 --max-semi-space-size=8'), 100 + 24);
  assert.equal(heapLimitMiB('--enable-source-maps'), undefined);
  for (const flags of ['--max-old-space-size=96', '--max-old-space-size=256']) {
    const r = spawnSync(process.execPath, ['-p', 'require("v8").getHeapStatistics().heap_size_limit'],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: flags } });
    assert.equal(Math.round(Number(r.stdout) / 1048576), heapLimitMiB(flags), `${flags}: ${r.stderr}`);
  }
  assert.ok(getHeapStatistics().heap_size_limit > 0);
});

test('memoryProblems: a heap past 5/8 of Memory, a guest below the minimum, a missing Memory', () => {
  assert.deepEqual(memoryProblems({ RunConfig: { Memory: '512M' }, Env: { NODE_OPTIONS: '--max-old-space-size=256' } }), []);
  const big = memoryProblems({ RunConfig: { Memory: '256M' }, Env: { NODE_OPTIONS: '--max-old-space-size=384' } });
  assert.equal(big.length, 1);
  assert.match(big[0], /432 MiB, more than 62.5 % of RunConfig.Memory 256M \(160 MiB\)/);
  assert.match(big[0], /at most 112 or raise Memory/);
  assert.match(memoryProblems({ RunConfig: { Memory: '128M' } }).join(), new RegExp(`below the minimum guest of ${MIN_GUEST_MIB}M`));
  assert.match(memoryProblems({ RunConfig: {} }).join(), /RunConfig.Memory is not set/);
});

test('the shipped config.json passes its own memory check', () => {
  const config = JSON.parse(readFileSync(new URL('../../config.json', import.meta.url), 'utf8'));
  assert.deepEqual(memoryProblems(config), []);
  assert.ok(heapLimitMiB(config.Env.NODE_OPTIONS) !== undefined, 'config.json pins the heap limit');
});
