// The start-time heap check: a heap limit the machine cannot back is refused with a sentence that says what to change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { totalmem } from 'node:os';
import { heapProblem, MAX_HEAP_SHARE_AT_START } from '../../src/cli/heap-check.js';

const MiB = 1024 * 1024;

test('a heap within 3/4 of memory passes; one past it is refused with the limit, the memory and a fitting value', () => {
  assert.equal(heapProblem(304 * MiB, 512 * MiB), undefined);
  assert.equal(heapProblem(384 * MiB, 512 * MiB), undefined);   // exactly 3/4
  const p = heapProblem(432 * MiB, 256 * MiB, ' --max-old-space-size=384 ');
  assert.ok(p);
  assert.match(p, /432 MiB/);
  assert.match(p, /256 MiB of memory/);
  assert.match(p, /NODE_OPTIONS '--max-old-space-size=384'/);
  assert.match(p, /at most 112\b/);   // 5/8 of 256 MiB less three 16 MiB semi-spaces
  // what it suggests fits the check itself
  assert.equal(heapProblem((112 + 48) * MiB, 256 * MiB), undefined);
  assert.equal(MAX_HEAP_SHARE_AT_START, 3 / 4);
});

test('without NODE_OPTIONS the sentence names the node command line', () => {
  assert.match(heapProblem(2048 * MiB, 1024 * MiB) ?? '', /from the node command line/);
});

test('nanovpn serve refuses to start with a heap larger than the machine, before reading any config', () => {
  const oldSpace = Math.ceil(totalmem() / MiB) + 1024;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', '/nonexistent/server.conf'], {
    encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--max-old-space-size=${oldSpace}` }, timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /nanovpn serve: the JS heap limit is \d+ MiB \(from NODE_OPTIONS/);
  assert.doesNotMatch(r.stderr, /cannot read config file/);
});
