// The script hooks without a VPN: config lines (argv splitting as 2.6's parse_line, script-security, setenv,
// the refusals), the environment builders of script-env.ts, and runScript with scripts that fail, crash or hang.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { scriptRefusal, splitCommand } from '../../src/config/script-options.js';
import { refusalText, directiveRule } from '../../src/config/directive-table.js';
import {
  addressEnv, certEnv, childEnv, ctimeString, peerInfoEnv, poolEnv, startEnv, subjectLine, tunEnv,
} from '../../src/server/script-env.js';
import { runScript, ScriptHooks } from '../../src/server/scripts.js';
import type { Conn } from '../../src/server/conn.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
let hook: string;
before(() => {
  fx = makeConfigFixture();
  hook = fx.write('hook.sh', '#!/bin/sh\nexit 0\n');
  chmodSync(hook, 0o755);
  setLogSink((l) => logs.push(l));
});
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });
const build = (extra: string) => buildServerConfig(STOCK_CONFIG + extra, join(fx.dir, 'server.conf'), fx.dir);
function refusal(extra: string): string {
  try { build(extra); } catch (e) { if (e instanceof ConfigError) return e.reason; throw e; }
  assert.fail(`accepted: ${extra}`);
}

test('a hook command is split like a 2.6 config line: quotes, backslash escapes, the program resolved against the config folder', () => {
  assert.deepEqual(splitCommand('/usr/bin/x a "b c" \'d\\e\' f\\ g', 'f', 1), ['/usr/bin/x', 'a', 'b c', 'd\\e', 'f g']);
  assert.deepEqual(splitCommand('x "a \\"q\\""', 'f', 1), ['x', 'a "q"']);
  assert.throws(() => splitCommand('x "open', 'f', 1), /no closing quotation/);
  const c = build(`client-connect "hook.sh --mode 'strict one'"\n`);
  assert.deepEqual(c.scripts?.hooks['client-connect']?.argv, [hook, '--mode', 'strict one']);
  // tls-verify: commas are spaces (2.6 substitutes them, for old configs).
  assert.deepEqual(build('tls-verify "hook.sh,a,b"\n').scripts?.hooks['tls-verify']?.argv, [hook, 'a', 'b']);
  assert.match(refusal('learn-address missing.sh\n'), /learn-address script '.*missing\.sh': no such file/);
  fx.write('plain.txt', 'x');
  assert.match(refusal('up plain.txt\nuplink tun\n'), /not executable \(chmod \+x\)/);
  assert.match(refusal('client-connect hook.sh extra\n'), /takes 1 argument, got 2/);
});

test('script-security takes 0 to 3 (default 1) and 2.6\'s notes say what the level allows; a later hook line overrides', () => {
  logs = [];
  const c = build('client-connect hook.sh\n');
  assert.equal(c.scripts?.security, 1);
  assert.ok(logs.some((l) => l.includes("'--script-security 2' or higher is required to call user-defined scripts")), logs.join('\n'));
  logs = [];
  assert.equal(build('script-security 3\nclient-connect hook.sh\nclient-connect "hook.sh x"\n').scripts?.hooks['client-connect']?.argv.length, 2);
  assert.ok(logs.some((l) => l.includes('Multiple --client-connect scripts defined')));
  assert.ok(logs.some((l) => l.includes('may allow this configuration to call user-defined scripts')));
  assert.match(refusal('script-security 4\n'), /must be 0, 1, 2 or 3/);
  assert.equal(build('').scripts, undefined);
});

test('auth-user-pass-verify: via-file and via-env are scripts, builtin a users file; both may be given', () => {
  const users = fx.write('users.txt', '');
  const a = build('auth-user-pass-verify hook.sh via-file\nverify-client-cert none\n');
  assert.equal(a.scripts?.authVia, 'file');
  assert.equal(a.authUserPassVerify, undefined);
  const b = build('auth-user-pass-verify users.txt builtin\nauth-user-pass-verify hook.sh via-env\n');
  assert.equal(b.authUserPassVerify, users);
  assert.equal(b.scripts?.authVia, 'env');
});

test('setenv and setenv-safe feed the environment (setenv-safe as OPENVPN_NAME); setenv opt is not applied; tmp-dir must exist', () => {
  logs = [];
  const c = build('setenv A 1\nsetenv B\nsetenv A 2\nsetenv-safe C "x y"\nsetenv opt block-outside-dns\n');
  assert.deepEqual(c.scripts?.setenv, [['B', ''], ['A', '2'], ['OPENVPN_C', 'x y']]);
  assert.ok(logs.some((l) => l.includes("'setenv opt block-outside-dns' ignored")));
  assert.match(refusal('setenv A 1 2\n'), /takes NAME \[VALUE\]/);
  assert.equal(build(`tmp-dir ${fx.dir}\n`).scripts?.tmpDir, fx.dir);
  assert.match(refusal('tmp-dir nowhere\n'), /tmp-dir '.*nowhere': no such directory/);
  assert.match(refusal('tmp-dir hook.sh\n'), /is not a directory/);
});

test('up and down need the tun uplink; scripts are refused in static-key mode and on Nanos, with management-client-auth named', () => {
  assert.match(refusal('up hook.sh\n'), /'up' and 'down' run around the tun device.*'uplink tun'/);
  assert.equal(build('up hook.sh\ndown hook.sh\nuplink tun\n').scripts?.hooks.down?.argv[0], hook);
  assert.match(scriptRefusal('client-connect', 'Nanos') ?? '', /^'client-connect': scripts cannot run in a Nanos unikernel.*'management-client-auth'/);
  assert.equal(scriptRefusal('client-connect', 'Linux'), undefined);
  const plugin = directiveRule('plugin');
  assert.ok(plugin?.status === 'refused');
  assert.match(refusalText('plugin', plugin), /management-client-auth/);
});

test('the environment: start settings, the tun device, addresses, peer info, the pool address, times', () => {
  assert.deepEqual(startEnv({ config: '/e/s.conf', verb: 3, proto: 'tcp', port: 443, startedAtSec: 5, pid: 9, setenv: [['config', 'mine'], ['X', 'y']] }), {
    config: '/e/s.conf', X: 'y', verb: '3', daemon: '0', daemon_log_redirect: '0', daemon_start_time: '5', daemon_pid: '9',
    proto_1: 'tcp-server', local_port_1: '443',
  });
  assert.deepEqual(tunEnv({ dev: 'tun3', mtu: 1500, local: 0x0a080001, second: 0xffffff00, topology: 'subnet' }),
    { tun_mtu: '1500', script_context: 'init', ifconfig_local: '10.8.0.1', dev: 'tun3', dev_type: 'tun', ifconfig_netmask: '255.255.255.0' });
  assert.equal(tunEnv({ mtu: 1400, local: 0x0a080001, second: 0x0a080002, topology: 'net30' }).ifconfig_remote, '10.8.0.2');
  assert.deepEqual(addressEnv('untrusted', '198.19.1.2:40000'), { untrusted_ip: '198.19.1.2', untrusted_port: '40000' });
  assert.deepEqual(addressEnv('trusted', '::ffff:192.0.2.7:1194'), { trusted_ip: '192.0.2.7', trusted_port: '1194' });
  assert.deepEqual(addressEnv('trusted', '2001:db8::5:1194'), { trusted_ip6: '2001:db8::5', trusted_port: '1194' });
  assert.deepEqual(peerInfoEnv(new Map([['IV_VER', '2.6.14'], ['IV_GUI_VER', 'x $(rm) `y`'], ['UV_A', '1'], ['IV_bad-name', '1'], ['OTHER', '1']])),
    { IV_VER: '2.6.14', IV_GUI_VER: 'x___rm)__y_', UV_A: '1' });
  assert.deepEqual(poolEnv('subnet', 0x0a080002, 0xffffff00), { ifconfig_pool_remote_ip: '10.8.0.2', ifconfig_pool_netmask: '255.255.255.0' });
  assert.deepEqual(poolEnv('net30', 0x0a080006, 0x0a080005), { ifconfig_pool_remote_ip: '10.8.0.6', ifconfig_pool_local_ip: '10.8.0.5' });
  assert.equal(ctimeString(new Date(2026, 11, 3, 7, 4, 5)), 'Thu Dec  3 07:04:05 2026');
});

test('the certificate variables: subject fields in order, a repeated field numbered, digests and serials as 2.6 prints them', () => {
  const pem = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null',
    '-subj', '/C=KG/O=OpenVPN-TEST/OU=a/OU=b/CN=Test-Client', '-set_serial', '933971680', '-days', '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const cert = new X509Certificate(pem);
  assert.equal(subjectLine(cert), 'C=KG, O=OpenVPN-TEST, OU=a, OU=b, CN=Test-Client');
  const env = certEnv(cert, 0);
  assert.equal(env.X509_0_C, 'KG');
  assert.equal(env.X509_0_OU, 'a');
  assert.equal(env.X509_0_OU_1, 'b');
  assert.equal(env.X509_0_CN, 'Test-Client');
  assert.equal(env.tls_id_0, 'C=KG, O=OpenVPN-TEST, OU=a, OU=b, CN=Test-Client');
  assert.equal(env.tls_serial_0, '933971680');
  assert.equal(env.tls_serial_hex_0, '37:ab:46:e0');
  assert.equal(env.tls_digest_0, cert.fingerprint.toLowerCase());
  assert.match(env.tls_digest_sha256_0!, /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
});

test('a script\'s environment holds no password below script-security 3, and no control characters', () => {
  const env = { username: 'alice', password: 'pw', password_extra: 'x', common_name: 'a\nb' };
  assert.deepEqual(childEnv(env, 2), { username: 'alice', common_name: 'a_b' });
  assert.deepEqual(childEnv(env, 3), { username: 'alice', password: 'pw', password_extra: 'x', common_name: 'a_b' });
});

test('runScript: exit status, a program that cannot start, a crash, and a hang killed with everything it started', async () => {
  assert.deepEqual(await runScript(['/bin/sh', '-c', 'exit 0'], {}), { ok: true });
  assert.deepEqual(await runScript(['/bin/sh', '-c', 'exit 3'], {}), { ok: false, code: 3, why: 'external program exited with error status: 3' });
  const env = await runScript(['/bin/sh', '-c', '[ "$A" = 1 ] && [ -z "$HOME" ]'], { A: '1' });
  assert.deepEqual(env, { ok: true }, 'exactly the given environment');
  const missing = await runScript([join(fx.dir, 'nope')], {});
  assert.ok(!missing.ok && /could not execute external program \(ENOENT\)/.test(missing.why), JSON.stringify(missing));
  const crash = await runScript(['/bin/sh', '-c', 'kill -SEGV $$'], {});
  assert.ok(!crash.ok && /did not exit normally \(SIGSEGV\)/.test(crash.why), JSON.stringify(crash));
  const pidFile = join(fx.dir, 'child.pid');
  const hang = await runScript(['/bin/sh', '-c', `/bin/sleep 300 & echo $! > ${pidFile}; wait`], {}, 300);
  assert.ok(!hang.ok && /did not exit within 0\.3 s and was killed/.test(hang.why), JSON.stringify(hang));
  const child = Number(execFileSync('cat', [pidFile], { encoding: 'utf8' }).trim());
  // Gone, or a zombie waiting for whoever adopted it to reap it: not running either way.
  const state = (): string => { try { return readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]![0]!; } catch { return 'gone'; } };
  for (let i = 0; i < 50 && state() !== 'gone' && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(['gone', 'Z'].includes(state()), `the background child of the script is killed too (state ${state()})`);
});

test('learn-address: add for the address and each iroute (NET/BITS) with the CN; delete without, after client-disconnect; a failed add unroutes the client', async () => {
  const dump = join(fx.dir, 'learn.log');
  const learn = fx.write('learn.sh', `#!/bin/sh\necho "$script_type $* cn=$common_name" >> ${dump}\ncase "$2" in */*) exit 1;; esac\n`);
  chmodSync(learn, 0o755);
  const cfg = build(`script-security 2\nlearn-address ${learn}\nclient-disconnect "${learn} x"\n`);
  const unrouted: string[] = [];
  const hooks = new ScriptHooks(cfg, { unroute: (c) => unrouted.push(c.cn ?? '') });
  const conn = {
    cn: 'gw1', ip: 0x0a080002, iroutes: [{ network: 0xc0a84d00, netmask: 0xffffff00 }], remote: '198.19.1.2:5000',
    connectedAt: Date.now(), startedAt: Date.now(), session: { closed: false, stats: { bytesIn: 10, bytesOut: 20 } },
  } as unknown as Conn;
  hooks.established(conn);
  await hooks.settled();
  hooks.closed(conn, true);
  await hooks.settled();
  assert.deepEqual(readFileSync(dump, 'utf8').split('\n').filter(Boolean), [
    'learn-address add 10.8.0.2 gw1 cn=gw1',
    'learn-address add 192.168.77.0/24 gw1 cn=gw1',
    'client-disconnect x cn=gw1',
    'learn-address delete 10.8.0.2 cn=',
    'learn-address delete 192.168.77.0/24 cn=',
  ]);
  assert.deepEqual(unrouted, ['gw1']);
});
