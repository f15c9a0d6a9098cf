import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  FLOOD_DROPS_PER_SEC, HOLD_FLAG, QUIET_DROPS_PER_SEC, RELEASE_FLAG, YoungGenerationGuard,
} from '../../src/server/young-generation.js';

test('the guard holds new space from the drop that makes a second a flood, and releases it after a quiet second', () => {
  const set: string[] = [];
  const g = new YoungGenerationGuard('', (f) => set.push(f));
  let next: number | undefined;
  for (let i = 0; i < FLOOD_DROPS_PER_SEC - 1; i++) assert.equal(g.drop(1000 + i * 0.1), undefined);
  assert.deepEqual(set, [], 'one short of a flood: nothing held');
  next = g.drop(1200);
  assert.deepEqual(set, [HOLD_FLAG]);
  assert.equal(next, 2000, 'checked again when the second ends');
  // The flood goes on through the next second: still held.
  for (let i = 0; i < FLOOD_DROPS_PER_SEC; i++) g.drop(2000 + i * 0.2);
  assert.equal(g.check(2999), 2000 + 1000, 'mid-window: the same deadline');
  next = g.check(3000);
  assert.equal(next, 4000);
  assert.deepEqual(set, [HOLD_FLAG]);
  // A quiet second (a few drops): released at its end.
  for (let i = 0; i < QUIET_DROPS_PER_SEC - 1; i++) g.drop(3000 + i);
  assert.equal(g.check(4000), undefined);
  assert.deepEqual(set, [HOLD_FLAG, RELEASE_FLAG]);
  assert.equal(g.held, false);
});

test('the guard never touches V8 when the operator sized the young generation', () => {
  const set: string[] = [];
  const g = new YoungGenerationGuard('--max-old-space-size=256 --max-semi-space-size=8', (f) => set.push(f));
  for (let i = 0; i < 3 * FLOOD_DROPS_PER_SEC; i++) g.drop(1000 + i * 0.01);
  assert.deepEqual(set, []);
});

// The mechanism itself, in child processes (V8 flags are process-wide): HOLD_FLAG set at run time keeps new space
// at its size under churn that grows it otherwise.
const CHURN = (flag: string) => `
  const v8 = require('node:v8');
  ${flag ? `v8.setFlagsFromString(${JSON.stringify(flag)});` : ''}
  const keep = new Array(20000);
  for (let n = 0; n < 3e6; n++) keep[n % 20000] = { a: 'x' + n, b: [n] };
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  console.log(s.space_size / 1048576);`;

function newSpaceMiB(flag: string): number {
  const r = spawnSync(process.execPath, ['-e', CHURN(flag)], { encoding: 'utf8', timeout: 60_000, cwd: join(import.meta.dirname) });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

test('HOLD_FLAG set at run time keeps new space at its size; without it the same churn grows it', () => {
  const held = newSpaceMiB(HOLD_FLAG);
  const free = newSpaceMiB('');
  assert.ok(held <= 4, `held: new space grew to ${held} MiB`);
  assert.ok(free >= 8, `free: new space stayed at ${free} MiB, so this churn shows nothing`);
});
