import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromOptions as anyConfigFromOptions, splitOptions } from '../../src/config/command-line.js';
import { isStaticKeyConfig, type ServerConfig } from '../../src/config/types.js';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError, ConfigErrors } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';
import type { Directive } from '../../src/config/parse.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });
function configFromOptions(o: Directive[], cwd: string): ServerConfig {
  const c = anyConfigFromOptions(o, cwd);
  assert.ok(!isStaticKeyConfig(c), 'a TLS-mode config');
  return c;
}
const opts = (argv: string[]): Directive[] => { const o = splitOptions(argv); assert.ok(!('error' in o), JSON.stringify(o)); return o; };

test('splitOptions: each --name takes the words up to the next --', () => {
  const o = opts(['--status', '/run/s.log', '--status-version', '2', '--suppress-timestamps', '--config', 'x.conf']);
  assert.deepEqual(o.map((d) => [d.name, d.args]), [['status', ['/run/s.log']], ['status-version', ['2']], ['suppress-timestamps', []], ['config', ['x.conf']]]);
  assert.deepEqual(splitOptions(['server.conf']), { error: "'server.conf' is not an option (options start with --)" });
  assert.ok('error' in splitOptions(['--port', '1', '--']));
});

test("Debian's openvpn-server@.service line: options before --config, the file's lines after, later wins", () => {
  writeFileSync(join(fx.dir, 'server.conf'), STOCK_CONFIG + 'status file-status.log 30\n');
  logs = [];
  // WorkingDirectory=/etc/openvpn/server; ExecStart=openvpn --status %t/… --status-version 2 --suppress-timestamps --config %i.conf
  const c = configFromOptions(opts(['--status', '/run/openvpn-server/status-server.log', '--status-version', '2', '--suppress-timestamps',
    '--config', 'server.conf']), fx.dir);
  assert.deepEqual(c.status, { path: join(fx.dir, 'file-status.log'), seconds: 30 }, "the config file's status comes later and wins");
  const d = configFromOptions(opts(['--config', 'server.conf', '--port', '1195', '--status', 'st.log', '--verb', '4']), fx.dir);
  assert.equal(d.port, 1195);
  assert.equal(d.verb, 4);
  assert.deepEqual(d.status, { path: join(fx.dir, 'st.log'), seconds: 60 });
  assert.equal(c.suppressTimestamps, true);
  assert.equal(d.suppressTimestamps, undefined);
  assert.doesNotMatch(logs.join('\n'), /'suppress-timestamps' ignored/);
});

test('--cd moves where later relative paths (and --config) start', () => {
  mkdirSync(join(fx.dir, 'etc'), { recursive: true });
  for (const f of ['ca.crt', 'server.crt', 'server.key']) writeFileSync(join(fx.dir, 'etc', f), readFixture(f));
  writeFileSync(join(fx.dir, 'etc', 'server.conf'), STOCK_CONFIG);
  const c = configFromOptions(opts(['--cd', 'etc', '--config', 'server.conf', '--status', 'st.log']), fx.dir);
  assert.equal(c.source, join(fx.dir, 'etc', 'server.conf'));
  assert.deepEqual(c.status?.path, join(fx.dir, 'etc', 'st.log'));
  assert.throws(() => configFromOptions(opts(['--config', 'missing.conf']), fx.dir), /missing\.conf: cannot read config file: no such file/);
  assert.throws(() => configFromOptions(opts(['--config', 'server.conf', '--bogus', '1']), join(fx.dir, 'etc')),
    (e: unknown) => e instanceof ConfigError && e.file === '<command line>' && /unknown directive 'bogus'/.test(e.reason));
});

function readFixture(name: string): string {
  return name.endsWith('.key') ? fx.key : fx.cert;
}

test('every bad line is reported at once, each with its line', () => {
  const text = STOCK_CONFIG + 'frobnicate 1\nport 70000\nclient-config-dir a b\ntopology mesh\n';
  assert.throws(() => buildServerConfig(text, join(fx.dir, 'server.conf'), fx.dir), (e: unknown) => {
    assert.ok(e instanceof ConfigErrors, String(e));
    assert.equal(e.errors.length, 4);
    const base = STOCK_CONFIG.split('\n').length - 1;
    assert.deepEqual(e.errors.map((x) => x.line), [base + 1, base + 2, base + 3, base + 4]);
    const lines = e.message.split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /server\.conf:\d+: unknown directive 'frobnicate'$/);
    assert.match(lines[1]!, /not an integer from 1 to 65535/);
    assert.match(lines[2]!, /'client-config-dir' takes 1 argument, got 2/);
    assert.match(lines[3]!, /'mesh' must be one of/);
    return true;
  });
  // One bad line: that error itself, as before.
  assert.throws(() => buildServerConfig(STOCK_CONFIG + 'frobnicate\n', join(fx.dir, 'server.conf'), fx.dir),
    (e: unknown) => e instanceof ConfigError && !(e instanceof ConfigErrors));
});

test('ignore-unknown-option: the unknown directives it names (after it) warn; known refused ones still fail', () => {
  logs = [];
  const c = buildServerConfig(STOCK_CONFIG + 'ignore-unknown-option frobnicate block-ipv6x\nfrobnicate 1\nblock-ipv6x\n', join(fx.dir, 's.conf'), fx.dir);
  assert.equal(c.port, 1194);
  assert.equal(logs.filter((l) => /ignored: an unknown directive named by ignore-unknown-option/.test(l)).length, 2);
  assert.throws(() => buildServerConfig(STOCK_CONFIG + 'frobnicate 1\nignore-unknown-option frobnicate\n', join(fx.dir, 's.conf'), fx.dir),
    /unknown directive 'frobnicate'/, 'it only covers the lines after it, as in 2.6');
  assert.throws(() => buildServerConfig(STOCK_CONFIG + 'ignore-unknown-option ipchange\nipchange /bin/x\n', join(fx.dir, 's.conf'), fx.dir),
    /'ipchange' is not supported/);
});
