// Runs in child processes: V8 flags are process-wide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const MODULE = join(import.meta.dirname, '..', '..', 'src', 'server', 'young-generation.ts');
// Allocates short-lived objects fast while keeping a rolling window of 20,000 alive: what makes V8 grow new space.
const CHURN = `
  const { pinYoungGeneration } = await import(${JSON.stringify(MODULE)});
  const pinned = pinYoungGeneration();
  const v8 = await import('node:v8');
  const keep = new Array(20000);
  for (let n = 0; n < 3e6; n++) keep[n % 20000] = { a: 'x' + n, b: [n] };
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  console.log(JSON.stringify({ pinned, newSpaceMiB: s.space_size / 1048576 }));`;

function run(env: Record<string, string> = {}, execArgv: string[] = []): { pinned: boolean; newSpaceMiB: number } {
  const r = spawnSync(process.execPath, [...execArgv, '--import', 'tsx', '--input-type=module', '-e', CHURN], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { pinned: boolean; newSpaceMiB: number };
}

test('pinYoungGeneration keeps new space at its starting size under churn that grows it otherwise', () => {
  const pinned = run();
  assert.equal(pinned.pinned, true);
  assert.ok(pinned.newSpaceMiB <= 4, `new space grew to ${pinned.newSpaceMiB} MiB`);
  const grown = run({}, ['--semi-space-growth-factor=2']);
  assert.equal(grown.pinned, false, 'an operator flag is left alone');
  assert.ok(grown.newSpaceMiB >= 8, `without the pin new space stayed at ${grown.newSpaceMiB} MiB: the test shows nothing`);
});

test('pinYoungGeneration leaves the young generation alone when NODE_OPTIONS sizes it', () => {
  const r = run({ NODE_OPTIONS: '--max-semi-space-size=4' });
  assert.equal(r.pinned, false);
});
