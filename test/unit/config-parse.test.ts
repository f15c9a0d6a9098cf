import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConfig, tokenizeLine } from '../../src/config/parse.js';
import { ConfigError } from '../../src/config/errors.js';

const tok = (s: string): string[] => tokenizeLine(s, 'f.conf', 1);

test('tokenize: words, whitespace, comments', () => {
  assert.deepEqual(tok('port 1194'), ['port', '1194']);
  assert.deepEqual(tok('  \tport\t 1194  '), ['port', '1194']);
  assert.deepEqual(tok('# a comment'), []);
  assert.deepEqual(tok('; a comment'), []);
  assert.deepEqual(tok('   # indented comment'), []);
  assert.deepEqual(tok('proto tcp-server        # or: proto udp'), ['proto', 'tcp-server']);
  assert.deepEqual(tok('verb 3 ; trailing'), ['verb', '3']);
  assert.deepEqual(tok('verb 3#x'), ['verb', '3#x'], 'a comment only starts a token');
  assert.deepEqual(tok(''), []);
});

test('tokenize: double and single quotes', () => {
  assert.deepEqual(tok('push "route 198.18.0.0 255.255.255.0"'), ['push', 'route 198.18.0.0 255.255.255.0']);
  assert.deepEqual(tok('push "dhcp-option DNS 1.1.1.1" # dns'), ['push', 'dhcp-option DNS 1.1.1.1']);
  assert.deepEqual(tok("push 'a \"b\" \\c'"), ['push', 'a "b" \\c'], 'single quotes are literal');
  assert.deepEqual(tok('x ""'), ['x', ''], 'empty quoted argument');
  assert.deepEqual(tok('x "a#b;c"'), ['x', 'a#b;c']);
  assert.deepEqual(tok('x "ab"cd'), ['x', 'ab', 'cd'], 'closing quote ends the token');
  assert.deepEqual(tok('x ab"cd'), ['x', 'ab"cd'], 'a quote inside a word is literal');
});

test('tokenize: backslash escapes as OpenVPN does', () => {
  assert.deepEqual(tok('x a\\ b'), ['x', 'a b']);
  assert.deepEqual(tok('x "a\\"b"'), ['x', 'a"b']);
  assert.deepEqual(tok('x "c:\\\\dir\\\\f"'), ['x', 'c:\\dir\\f']);
  assert.deepEqual(tok('x \\"a'), ['x', '"a']);
  assert.throws(() => tok('x c:\\dir'), /^ConfigError: f\.conf:1: bad backslash/);
  assert.throws(() => tok('x "a\\nb"'), /f\.conf:1: bad backslash/);
  assert.throws(() => tok('x abc\\'), /f\.conf:1: backslash at end of line/);
});

test('tokenize: unterminated quotes are errors with file:line', () => {
  assert.throws(() => tokenizeLine('push "route', 'a.conf', 7), (e: unknown) =>
    e instanceof ConfigError && e.file === 'a.conf' && e.line === 7 && e.message === 'a.conf:7: no closing quotation (")');
  assert.throws(() => tokenizeLine("push 'route", 'a.conf', 8), /^ConfigError: a\.conf:8: no closing single quotation/);
});

test('parse: directives with names, args and line numbers; leading -- stripped; CRLF and BOM', () => {
  const ds = parseConfig('\ufeff# hi\r\n--port 1194\r\n\r\nproto udp\r\npush "a b"\n', 's.conf');
  assert.deepEqual(ds, [
    { name: 'port', args: ['1194'], file: 's.conf', line: 2, inline: false },
    { name: 'proto', args: ['udp'], file: 's.conf', line: 4, inline: false },
    { name: 'push', args: ['a b'], file: 's.conf', line: 5, inline: false },
  ]);
});

test('parse: inline blocks keep their text verbatim', () => {
  const text = 'port 1\n<ca>\n-----BEGIN CERTIFICATE-----\n  AAAA # not a comment\n-----END CERTIFICATE-----\n  </ca>\n<tls-crypt>\nk\n</tls-crypt>\nverb 3\n';
  const ds = parseConfig(text, 'i.conf');
  assert.deepEqual(ds, [
    { name: 'port', args: ['1'], file: 'i.conf', line: 1, inline: false },
    { name: 'ca', args: ['-----BEGIN CERTIFICATE-----\n  AAAA # not a comment\n-----END CERTIFICATE-----\n'], file: 'i.conf', line: 2, inline: true },
    { name: 'tls-crypt', args: ['k\n'], file: 'i.conf', line: 7, inline: true },
    { name: 'verb', args: ['3'], file: 'i.conf', line: 10, inline: false },
  ]);
  for (const tag of ['ca', 'cert', 'key', 'tls-auth', 'tls-crypt', 'crl-verify', 'dh']) {
    const [d] = parseConfig(`<${tag}>\nx\n</${tag}>\n`, 'i.conf');
    assert.deepEqual(d, { name: tag, args: ['x\n'], file: 'i.conf', line: 1, inline: true });
  }
  assert.deepEqual(parseConfig('<ca>\n</ca>', 'e.conf')[0]!.args, [''], 'empty block');
});

test('parse: inline block errors name the opening line', () => {
  assert.throws(() => parseConfig('verb 3\n<ca>\nxx\n', 'b.conf'), /^ConfigError: b\.conf:2: <ca> block has no closing <\/ca>$/);
  assert.throws(() => parseConfig('<ca>\nxx\n</cert>\n', 'b.conf'), /b\.conf:1: <ca> block has no closing/);
  assert.throws(() => parseConfig('verb 3\n</ca>\n', 'b.conf'), /^ConfigError: b\.conf:2: closing tag <\/ca> without/);
  assert.throws(() => parseConfig('<ca> foo\n</ca>\n', 'b.conf'), /^ConfigError: b\.conf:1: unexpected text after <ca>/);
  assert.throws(() => parseConfig('x\n<>\n', 'b.conf'), /^ConfigError: b\.conf:2: invalid directive name '<>'/);
});

test('property: the parser returns directives or throws ConfigError, nothing else', () => {
  const alphabet = fc.constantFrom(...'ab #;"\'\\\n\r\t<>/-ca\0x'.split(''), '<ca>', '</ca>', '<key>\n', '\n</key>');
  const arb = fc.oneof(fc.string(), fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')), fc.string({ unit: 'binary' }));
  fc.assert(fc.property(arb, (text) => {
    try {
      const ds = parseConfig(text, 'p.conf');
      for (const d of ds) {
        assert.ok(d.name.length > 0 && d.line >= 1);
        if (d.inline) assert.equal(d.args.length, 1);
      }
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      assert.match(e.message, /^p\.conf:\d+: /);
    }
  }), { numRuns: 3000 });
});
