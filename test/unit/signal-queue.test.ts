// The signals the server process acts on (src/cli/signal-queue.ts) and the management `signal` command that raises
// them: arrival order, a stop ahead of a waiting restart, remap-usr1, and what is forgotten across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignalQueue } from '../../src/cli/signal-queue.js';
import { runCommand } from '../../src/server/management.js';
import type { ObservedServer } from '../../src/server/observe.js';

test('signals queue in order, a stop goes ahead of a restart, remap-usr1 turns SIGUSR1 into what it names', async () => {
  let remap: 'SIGHUP' | 'SIGTERM' | undefined;
  const q = new SignalQueue(() => remap);
  const told: string[] = [];
  q.onSignal = (s) => told.push(s);
  process.emit('SIGHUP');
  process.emit('SIGUSR1');
  assert.equal(await q.next(), 'SIGHUP');
  assert.equal(await q.next(), 'SIGUSR1');
  process.emit('SIGUSR1');
  process.emit('SIGTERM');
  assert.equal(await q.next(), 'SIGTERM', 'the stop first');
  assert.equal(await q.next(), 'SIGUSR1');
  remap = 'SIGHUP';
  const waiting = q.next();
  process.emit('SIGUSR1');
  assert.equal(await waiting, 'SIGHUP', 'remap-usr1 SIGHUP');
  remap = 'SIGTERM';
  process.emit('SIGUSR1');
  assert.equal(await q.next(), 'SIGTERM');
  remap = undefined;
  process.emit('SIGHUP');
  process.emit('SIGINT');
  process.emit('SIGUSR1');
  q.drop();
  assert.equal(await q.next(), 'SIGINT', 'a stop survives drop(), restarts do not');
  assert.deepEqual(told, ['SIGHUP', 'SIGUSR1', 'SIGUSR1', 'SIGTERM', 'SIGHUP', 'SIGTERM', 'SIGHUP', 'SIGINT', 'SIGUSR1']);
});

test('management signal: 2.6\'s replies, and the process gets the signal after the reply', async () => {
  const server = { conns: new Set() } as unknown as ObservedServer;
  assert.deepEqual(runCommand(server, 'signal').lines, ["ERROR: the 'signal' command requires 1 parameter"]);
  assert.deepEqual(runCommand(server, 'signal SIGKILL').lines, ["ERROR: signal 'SIGKILL' is not a known signal type"]);
  assert.deepEqual(runCommand(server, 'signal sigterm').lines, ["ERROR: signal 'sigterm' is not a known signal type"], 'upper case only, as 2.6');
  const got: string[] = [];
  const on = (): void => { got.push('SIGUSR2'); };
  process.on('SIGUSR2', on);
  assert.deepEqual(runCommand(server, 'signal SIGUSR2').lines, ['SUCCESS: signal SIGUSR2 thrown']);
  assert.deepEqual(got, [], 'not before the reply is written');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['SIGUSR2']);
  process.off('SIGUSR2', on);
});
