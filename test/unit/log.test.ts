// verb as OpenVPN reads it: 0 fatal errors only, 1 (the default) adds warnings and the start/stop milestones that
// tooling waits for ("Initialization Sequence Completed"), 2-4 the normal operational lines, 5+ debug.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { log, setLogSink, setVerb } from '../../src/log.js';

function linesAt(verb: number): string[] {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l.replace(/^\S+ /, '')));
  setVerb(verb);
  log('error', 'e'); log('warn', 'w'); log('notice', 'Initialization Sequence Completed'); log('info', 'i'); log('debug', 'd');
  return lines;
}

test('each verb prints its levels and nothing below', (t) => {
  t.after(() => { setVerb(1); setLogSink((l) => process.stdout.write(l + '\n')); });
  assert.deepEqual(linesAt(0), ['ERROR e']);
  assert.deepEqual(linesAt(1), ['ERROR e', 'WARN w', 'NOTICE Initialization Sequence Completed']);
  for (const v of [2, 3, 4]) assert.deepEqual(linesAt(v), ['ERROR e', 'WARN w', 'NOTICE Initialization Sequence Completed', 'INFO i']);
  assert.deepEqual(linesAt(5).length, 5);
  assert.deepEqual(linesAt(11).at(-1), 'DEBUG d');
});
