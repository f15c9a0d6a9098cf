// The skip gate of `npm run test:integration` (test/helpers/skip-gate.mjs): a node:test run whose tests skip for a
// reason off the allowlist exits 1, and one whose skips are all allowed keeps the runner's status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = 'test/unit/fixtures/skip-gate-sample.ts';

function runGated(env: Record<string, string>): { status: number | null; gate: string } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT;  // else the inner runner reports to ours instead of using its reporters
  delete childEnv.SKIP_GATE_ALLOW;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test',
    '--test-reporter=./test/helpers/skip-gate.mjs', '--test-reporter-destination=stdout', SAMPLE],
  { cwd: REPO, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, gate: r.stdout + r.stderr };
}

test('skip gate: a skip for NANOS_DIR or NANOS_FWD_KERNEL is allowed', () => {
  const r = runGated({ SAMPLE_SKIP_REASON: 'NANOS_DIR is not set (a Nanos release folder: kernel.img, boot.img, mkfs, klibs/)',
    SAMPLE_NESTED_SKIP_REASON: 'NANOS_FWD_KERNEL (a kernel.img built with IP_FORWARD 1) is not set' });
  assert.equal(r.status, 0, r.gate);
  assert.match(r.gate, /no refused skips \(2 allowed\)/);
});

test('skip gate: any other skip fails the run and is named, nested ones too', () => {
  const r = runGated({ SAMPLE_SKIP_REASON: 'NANOS_DIR is not set', SAMPLE_NESTED_SKIP_REASON: 'needs root (network namespaces)' });
  assert.equal(r.status, 1, r.gate);
  assert.match(r.gate, /REFUSED skip: test\/unit\/fixtures\/skip-gate-sample\.ts "sample: inner": needs root/);
  assert.match(r.gate, /1 test\(s\) skipped that must run here/);
});

test('skip gate: a skip without a reason is refused', () => {
  const r = runGated({ SAMPLE_SKIP_REASON: '' });
  assert.equal(r.status, 1, r.gate);
  assert.match(r.gate, /"sample: skips": skipped without a reason/);
});
