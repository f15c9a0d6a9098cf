import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { formatStaticKey, parseStaticKey } from '../../src/config/static-key.js';

test('static key: format then parse round trips', () => {
  for (let i = 0; i < 20; i++) {
    const key = randomBytes(256);
    const text = formatStaticKey(key);
    assert.equal(text.split('\n').length, 4 + 16 + 1 + 1);
    assert.deepEqual(parseStaticKey(text), key);
  }
});

test('static key: openvpn --genkey secret output parses and re-formats byte for byte', (t) => {
  let hasOpenvpn = true;
  try { execFileSync('openvpn', ['--version'], { stdio: 'ignore' }); } catch (e) {
    // openvpn --version exits 1 on some builds; only ENOENT means it is missing.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') hasOpenvpn = false;
  }
  if (!hasOpenvpn) { t.skip('openvpn not installed'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-sk-'));
  try {
    const file = join(dir, 'ta.key');
    execFileSync('openvpn', ['--genkey', 'secret', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    const key = parseStaticKey(text);
    assert.equal(key.length, 256);
    assert.equal(formatStaticKey(key), text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('static key: tolerates CRLF, blank lines and comments', () => {
  const key = randomBytes(256);
  const text = '# hello\r\n\r\n' + formatStaticKey(key).replace(/\n/g, '\r\n') + '# trailing\r\n';
  assert.deepEqual(parseStaticKey(text), key);
});

test('static key: rejects malformed input with a clear error', () => {
  const good = formatStaticKey(randomBytes(256));
  const lines = good.split('\n');
  const cases: [string, RegExp][] = [
    ['', /missing '-----BEGIN/],
    ['garbage\n' + good, /line 1: expected '-----BEGIN/],
    [good.replace(/-----END[^\n]*\n/, ''), /missing '-----END/],
    [lines.slice(0, 5).concat(lines.slice(6)).join('\n'), /240 bytes of key, expected 256/],
    [good.replace(/^([0-9a-f]{31})[0-9a-f]$/m, '$1z'), /line \d+: not a hex line/],
    [good.replace(/^([0-9a-f]{31})[0-9a-f]$/m, '$1'), /odd number of hex digits/],
    [good + 'extra\n', /unexpected text after/],
    [good.replace('-----END', 'abcd\n-----END'), /more than 256 bytes/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseStaticKey(text), re);
  assert.throws(() => formatStaticKey(Buffer.alloc(10)), /must be 256 bytes/);
});
