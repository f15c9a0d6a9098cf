// Issue 14: log / log-append / writepid / daemon / suppress-timestamps / dev-node / capath in the config, the log
// file and pid file writers, and timestamps off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { capathCrlStamp, readCapathCas, readCapathCrls } from '../../src/config/capath.js';
import { log, replayLog, setLogSink, setTimestamps, setVerb, stdoutSink } from '../../src/log.js';
import { openLogFile, writePidFile } from '../../src/cli/process-options.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setVerb(3); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink(stdoutSink); setTimestamps(true); });

const src = (): string => join(fx.dir, 'server.conf');
const build = (extra = '', base = STOCK_CONFIG) => buildServerConfig(base + extra, src(), fx.dir);
function failsWith(text: string, re: RegExp): void {
  assert.throws(() => buildServerConfig(text, src(), fx.dir), (e: unknown) => e instanceof ConfigError && re.test(e.message));
}

test('log truncates, log-append appends; the first of them wins (as 2.6 redirects once); relative to the config', () => {
  assert.deepEqual(build('log server.log\n').logFile, { path: join(fx.dir, 'server.log'), append: false });
  assert.deepEqual(build('log-append /var/log/a.log\nlog b.log\n').logFile, { path: '/var/log/a.log', append: true });
  assert.equal(build().logFile, undefined);
  failsWith(STOCK_CONFIG + 'log\n', /'log' takes 1 argument, got 0/);
});

test('writepid, daemon [NAME], suppress-timestamps, dev-node are read, not ignored', () => {
  logs = [];
  const c = build('writepid run/nanovpn.pid\ndaemon ovpn-server\nsuppress-timestamps\ndev-node /dev/net/tun\n');
  assert.equal(c.writepid, join(fx.dir, 'run', 'nanovpn.pid'));
  assert.equal(c.daemon, true);
  assert.equal(c.suppressTimestamps, true);
  assert.equal(c.devNode, '/dev/net/tun');
  assert.equal(build('daemon\n').daemon, true);
  assert.deepEqual(logs.filter((l) => /ignored/.test(l)), []);
  failsWith(STOCK_CONFIG + 'daemon a b\n', /'daemon' takes 0 to 1 arguments, got 2/);
  failsWith(STOCK_CONFIG + 'suppress-timestamps now\n', /takes 0 arguments/);
});

test('syslog [NAME] and daemon [NAME]: the system log\'s program name, openvpn by default, as 2.6', () => {
  logs = [];
  assert.equal(build('syslog openvpn(server)\n').syslog, 'openvpn(server)');
  assert.equal(build('syslog\n').syslog, 'openvpn');
  assert.deepEqual([build('daemon ovpn-x\n').daemonName, build('daemon\n').daemonName], ['ovpn-x', 'openvpn']);
  assert.equal(build('port 1194\n').syslog, undefined);
  assert.deepEqual(logs.filter((l) => /syslog/.test(l)), []);
  failsWith(STOCK_CONFIG + 'syslog a b\n', /'syslog' takes 0 to 1 arguments, got 2/);
});

test('a tun device whose name starts with tap is fine with dev-type tun; without it, tap is refused', () => {
  assert.equal(build('dev tap7\ndev-type tun\n').devName, 'tap7');
  assert.equal(build('dev-type tun\ndev tapx\n').devName, 'tapx');
  failsWith(STOCK_CONFIG + 'dev tap7\n', /dev 'tap7': tap devices \(layer 2\) are not supported; use 'dev tun' \(or add 'dev-type tun'/);
  failsWith(STOCK_CONFIG + 'dev tap\n', /tap devices \(layer 2\) are not supported/);
});

/** An `openssl rehash`ed folder with the fixture's certificate and CRL, and a stray file. */
function capath(name: string): string {
  const dir = join(fx.dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ca.pem'), fx.cert);
  writeFileSync(join(dir, 'crl.pem'), fx.crl);
  writeFileSync(join(dir, 'README'), 'not a certificate');
  execFileSync('openssl', ['rehash', dir], { stdio: 'ignore' });
  return dir;
}

test('capath: the HASH.N certificates join those of ca; HASH.rN are the CRLs; other files are not read', () => {
  const dir = capath('capath-ok');
  const cas = readCapathCas(dir);
  assert.equal(cas.files, 1);
  assert.equal(cas.pem.trim(), fx.cert.trim());
  const crls = readCapathCrls(dir);
  assert.equal(crls.files, 1);
  assert.equal(crls.pem.trim(), fx.crl.trim());
  const c = build(`capath ${dir}\n`);
  assert.equal(c.capath, dir);
  assert.equal(c.ca, fx.cert.trimEnd() + '\n' + fx.cert);
  // capath alone is enough (2.6: "--ca or --capath").
  const noCa = STOCK_CONFIG.replace(/^ca .*\n/m, '');
  assert.equal(buildServerConfig(noCa + `capath ${dir}\n`, src(), fx.dir).ca, fx.cert);
  const stamp = capathCrlStamp(dir);
  writeFileSync(join(dir, `${stamp.split(':')[0]!.replace(/\.r0$/, '')}.r1`), fx.crl);
  assert.notEqual(capathCrlStamp(dir), stamp);
});

test('capath errors name the folder or the file', () => {
  failsWith(STOCK_CONFIG + `capath ${join(fx.dir, 'missing')}\n`, /capath .*missing: no such file/);
  failsWith(STOCK_CONFIG + `capath ${join(fx.dir, 'ca.crt')}\n`, /capath .*ca\.crt: .*is not a directory/);
  const bad = join(fx.dir, 'capath-bad');
  mkdirSync(bad);
  writeFileSync(join(bad, '0123abcd.0'), fx.crl);
  failsWith(STOCK_CONFIG + `capath ${bad}\n`, /0123abcd\.0: expected PEM certificates/);
  const empty = join(fx.dir, 'capath-empty');
  mkdirSync(empty);
  failsWith(STOCK_CONFIG.replace(/^ca .*\n/m, '') + `capath ${empty}\n`, /no CA certificates \(HASH\.N files.*and no 'ca'/);
});

test('openLogFile: log truncates, log-append appends, mode 0600; an unopenable file warns and keeps the old sink', () => {
  const file = join(fx.dir, 'out.log');
  writeFileSync(file, 'old line\n');
  try {
    openLogFile({ path: file, append: true });
    log('warn', 'appended');
    assert.match(readFileSync(file, 'utf8'), /^old line\n\S+ WARN appended\n$/);
    openLogFile({ path: file, append: false });
    log('warn', 'fresh');
    assert.match(readFileSync(file, 'utf8'), /^\S+ WARN fresh\n$/);
  } finally {
    setLogSink((l) => logs.push(l));
  }
  logs = [];
  assert.equal(openLogFile({ path: join(fx.dir, 'no', 'such', 'dir.log'), append: false }), undefined);
  log('warn', 'still here');
  assert.match(logs.join('\n'), /WARN log: cannot open the file, logging to standard output file=.*dir\.log/);
  assert.match(logs.join('\n'), /WARN still here/);
});

test('writePidFile writes the pid and a newline, its remover deletes it; an unwritable path throws', () => {
  const file = join(fx.dir, 'x.pid');
  const remove = writePidFile(file);
  assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
  remove();
  assert.equal(existsSync(file), false);
  remove();
  assert.throws(() => writePidFile(join(fx.dir, 'no', 'x.pid')), /writepid: cannot write .*no\/x\.pid/);
});

test('suppress-timestamps: lines start with the level; held-back lines lose their time when replayed', () => {
  logs = [];
  log('warn', 'with time');
  setTimestamps(false);
  try {
    log('warn', 'without time');
    replayLog(['2026-01-02T03:04:05.678Z WARN early']);
  } finally {
    setTimestamps(true);
  }
  assert.match(logs[0]!, /^\d{4}-\d\d-\d\dT\S+Z WARN with time$/);
  assert.deepEqual(logs.slice(1), ['WARN without time', 'WARN early']);
});

test('replayLog drops the held-back lines the verb would not have logged', () => {
  logs = [];
  setVerb(1);
  try {
    replayLog(['2026-01-02T03:04:05.678Z WARN kept', '2026-01-02T03:04:05.678Z INFO dropped', 'NOTICE kept too', 'free text']);
  } finally {
    setVerb(3);
  }
  assert.deepEqual(logs, ['2026-01-02T03:04:05.678Z WARN kept', 'NOTICE kept too', 'free text']);
});
