// The system log's datagrams (src/io/syslog.ts): glibc syslog(3)'s local format after openlog(NAME, LOG_PID, LOG_DAEMON).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLogLine, syslogDatagram, syslogSink } from '../../src/io/syslog.js';

test('datagram: <PRI> of LOG_DAEMON and the severity, "Mmm dd hh:mm:ss" local time with a space-padded day, NAME[PID]', () => {
  const t = new Date(2026, 0, 5, 7, 3, 9);
  assert.equal(syslogDatagram('notice', 'Initialization Sequence Completed', 'openvpn(server)', 42, t),
    '<29>Jan  5 07:03:09 openvpn(server)[42]: Initialization Sequence Completed');
  const sev = (['error', 'warn', 'notice', 'info', 'debug'] as const).map((l) => syslogDatagram(l, 'x', 'o', 1, t).match(/^<(\d+)>/)![1]);
  assert.deepEqual(sev, ['27', '28', '29', '30', '31']);
  assert.match(syslogDatagram('info', 'x', 'o', 1, new Date(2026, 11, 24, 23, 59, 0)), /^<30>Dec 24 23:59:00 o\[1\]: x$/);
});

test('datagram: a line longer than the datagram limit is cut, not refused', () => {
  const d = syslogDatagram('info', 'y'.repeat(5000), 'openvpn', 7, new Date());
  assert.equal(Buffer.byteLength(d), 1000);
  assert.ok(d.startsWith('<30>'));
});

test('log lines: the level and text come out of both timestamped and bare lines; anything else is a notice', () => {
  assert.deepEqual(parseLogLine('2026-12-04T18:00:00.000Z WARN a b=c'), { level: 'warn', text: 'a b=c' });
  assert.deepEqual(parseLogLine('ERROR boom'), { level: 'error', text: 'boom' });
  assert.deepEqual(parseLogLine('free text'), { level: 'notice', text: 'free text' });
});

test('sink: without a logger socket there is none, and the reason says so', () => {
  const s = syslogSink('openvpn', '/nonexistent/dev-log');
  assert.ok(typeof s !== 'function' && /does not exist/.test(s.error));
});
