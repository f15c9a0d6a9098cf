// tls-crypt-v2 in the config (tls-crypt-v2, tls-crypt-v2-max-age, tls-crypt-v2-verify) and its key files: the
// PEM format of openvpn --genkey, in both directions, and `nanovpn pki tls-crypt-v2-*` / `nanovpn profile`.
import { after, before, test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import {
  formatTlsCryptV2ClientKey, formatTlsCryptV2ServerKey, parseTlsCryptV2ClientKey, parseTlsCryptV2ServerKey,
} from '../../src/config/tls-crypt-v2-key.js';
import { metadataTimestamp, splitClientKeyFile, unwrapClientKey } from '../../src/core/crypto/tls-crypt-v2.js';
import { pki } from '../../src/cli/pki.js';
import { profile } from '../../src/cli/profile.js';
import { writeTlsCryptV2Server } from '../../src/pki/tls-crypt-v2.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
let tmp: string;
const haveOpenvpn = (() => { try { execFileSync('openvpn', ['--version'], { stdio: 'ignore' }); return true; } catch (e) { return (e as { status?: number }).status === 1; } })();

before(() => { fx = makeConfigFixture(); tmp = mkdtempSync(join(tmpdir(), 'nanovpn-tc2-')); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); rmSync(tmp, { recursive: true, force: true }); setLogSink((l) => process.stdout.write(l + '\n')); });

const build = (extra: string) => buildServerConfig(STOCK_CONFIG + extra, join(fx.dir, 'server.conf'), fx.dir);
function refusal(extra: string): string {
  try { build(extra); } catch (e) { if (e instanceof ConfigError) return e.message; throw e; }
  return assert.fail(`accepted: ${extra}`);
}
function genkey(...args: string[]): string {
  const file = join(tmp, `k${Math.random().toString(36).slice(2)}.key`);
  execFileSync('openvpn', [...args.slice(0, -1), '--genkey', args.at(-1)!, file], { stdio: 'ignore' });
  return file;
}

test('openvpn --genkey keys: parsed, unwrapped, formatted back byte for byte; a nanovpn server key wraps for openvpn', { skip: !haveOpenvpn && 'openvpn not installed' }, () => {
  const serverFile = genkey('tls-crypt-v2-server');
  const clientFile = genkey('--tls-crypt-v2', serverFile, 'tls-crypt-v2-client');
  const serverText = readFileSync(serverFile, 'utf8'), clientText = readFileSync(clientFile, 'utf8');
  const serverKey = parseTlsCryptV2ServerKey(serverText);
  assert.equal(formatTlsCryptV2ServerKey(serverKey), serverText);
  const file = splitClientKeyFile(parseTlsCryptV2ClientKey(clientText))!;
  assert.equal(formatTlsCryptV2ClientKey(file.kc, file.wkc), clientText);
  const key = unwrapClientKey(serverKey, file.wkc)!;
  assert.deepEqual(key.kc, file.kc);
  assert.ok(Math.abs(metadataTimestamp(key.metadata)! - Date.now() / 1000) < 3600, 'openvpn writes the timestamp type by default');
  assert.throws(() => parseTlsCryptV2ServerKey(clientText), /client key/);

  // The other direction: openvpn wraps client keys with a server key nanovpn made, and reads nanovpn's client keys.
  const dir = join(tmp, 'pki');
  mkdirSync(dir);
  const ourServer = writeTlsCryptV2Server(dir);
  const theirClient = genkey('--tls-crypt-v2', ourServer, 'tls-crypt-v2-client');
  const f2 = splitClientKeyFile(parseTlsCryptV2ClientKey(readFileSync(theirClient, 'utf8')))!;
  assert.deepEqual(unwrapClientKey(parseTlsCryptV2ServerKey(readFileSync(ourServer, 'utf8')), f2.wkc)?.kc, f2.kc);
});

test('config: tls-crypt-v2 from a file or inline, beside tls-crypt as on a 2.6 server; its refusals say why', () => {
  const key = Buffer.alloc(128, 3);
  const text = formatTlsCryptV2ServerKey(key);
  fx.write('tc2.key', text);
  assert.deepEqual(build('tls-crypt-v2 tc2.key\n').tlsCryptV2, { serverKey: key, maxAgeDays: undefined });
  assert.deepEqual(build(`<tls-crypt-v2>\n${text}</tls-crypt-v2>\n`).tlsCryptV2?.serverKey, key);
  assert.deepEqual(build('tls-crypt-v2 tc2.key force-cookie\n').tlsCryptV2?.serverKey, key);
  const both = build('tls-crypt tc.key\ntls-crypt-v2 tc2.key\n');
  assert.ok(both.tlsCrypt && both.tlsCryptV2);
  assert.equal(build('tls-crypt-v2 tc2.key\ntls-crypt-v2-max-age 30\n').tlsCryptV2?.maxAgeDays, 30);
  assert.equal(build('tls-crypt-v2-max-age 30\ntls-crypt-v2 tc2.key\n').tlsCryptV2?.maxAgeDays, 30, 'in any order');
  assert.match(refusal('tls-crypt-v2 tc2.key allow-noncookie\n'), /allow-noncookie: .*force-cookie/);
  assert.match(refusal('tls-crypt-v2 tc2.key sometimes\n'), /must be one of: force-cookie, allow-noncookie/);
  assert.match(refusal('tls-crypt-v2 tc.key\n'), /tls-crypt-v2: expected '-----BEGIN OpenVPN tls-crypt-v2 server key-----'/);
  fx.write('c2.key', formatTlsCryptV2ClientKey(Buffer.alloc(256), Buffer.from([...Buffer.alloc(297), 0x01, 0x2b])));
  assert.match(refusal('tls-crypt-v2 c2.key\n'), /this is a client key/);
  fx.write('short.key', '-----BEGIN OpenVPN tls-crypt-v2 server key-----\nAAAA\n-----END OpenVPN tls-crypt-v2 server key-----\n');
  assert.match(refusal('tls-crypt-v2 short.key\n'), /3 bytes of key, expected 128/);
  assert.match(refusal('tls-crypt-v2-max-age 0\n'), /'0' is not an integer from 1/);
  assert.deepEqual(build('tls-crypt-v2 tc2.key\ntls-crypt-v2-verify /bin/true\n').scripts?.hooks['tls-crypt-v2-verify']?.argv, ['/bin/true']);
  assert.match(refusal('tls-crypt-v2-verify /nonexistent/verify.sh\n'), /tls-crypt-v2-verify script '\/nonexistent\/verify\.sh': no such file/);
  logs = [];
  build('tls-crypt-v2-max-age 30\n');
  assert.ok(logs.some((l) => /tls-crypt-v2-max-age has no effect without 'tls-crypt-v2'/.test(l)), logs.join('\n'));
});

async function quiet(fn: (a: string[]) => Promise<number>, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const l = mock.method(console, 'log', (...a: unknown[]) => { out += a.join(' ') + '\n'; });
  const e = mock.method(console, 'error', (...a: unknown[]) => { err += a.join(' ') + '\n'; });
  try { return { code: await fn(args), out, err }; } finally { l.mock.restore(); e.mock.restore(); }
}

test('pki tls-crypt-v2-server / -client write keys the server key unwraps (timestamp metadata); profile embeds <tls-crypt-v2>', async () => {
  const dir = join(tmp, 'cli');
  assert.equal((await quiet(pki, ['init', '--dir', dir])).code, 0);
  assert.equal((await quiet(pki, ['issue', '--dir', dir, '--client', 'alice'])).code, 0);
  assert.equal((await quiet(pki, ['tls-crypt', '--dir', dir])).code, 0);
  assert.match((await quiet(pki, ['tls-crypt-v2-client', '--dir', dir, 'alice'])).err, /tls-crypt-v2 server key .* not found/);
  assert.match((await quiet(pki, ['tls-crypt-v2-server', '--dir', dir])).out, /wrote tls-crypt-v2 server key .*tc2-server\.key/);
  assert.notEqual((await quiet(pki, ['tls-crypt-v2-server', '--dir', dir])).code, 0, 'never overwrites');
  assert.match((await quiet(profile, ['--dir', dir, '--name', 'alice', '--remote', 'vpn.example.org'])).err, /no client key for 'alice'.*tls-crypt-v2-client/);
  const before = Math.floor(Date.now() / 1000);
  assert.match((await quiet(pki, ['tls-crypt-v2-client', '--dir', dir, 'alice'])).out, /wrote tls-crypt-v2 client key .*tc2\/alice\.key/);
  assert.equal(statSync(join(dir, 'tc2', 'alice.key')).mode & 0o777, 0o600);
  const serverKey = parseTlsCryptV2ServerKey(readFileSync(join(dir, 'tc2-server.key'), 'utf8'));
  const clientText = readFileSync(join(dir, 'tc2', 'alice.key'), 'utf8');
  const file = splitClientKeyFile(parseTlsCryptV2ClientKey(clientText))!;
  assert.equal(file.wkc.length, 299, 'the size of openvpn\'s default client key');
  const key = unwrapClientKey(serverKey, file.wkc)!;
  assert.deepEqual(key.kc, file.kc);
  assert.ok(metadataTimestamp(key.metadata)! >= before && metadataTimestamp(key.metadata)! <= Date.now() / 1000 + 1);
  const ovpn = (await quiet(profile, ['--dir', dir, '--name', 'alice', '--remote', 'vpn.example.org'])).out;
  assert.ok(ovpn.includes(`<tls-crypt-v2>\n${clientText.trim()}\n</tls-crypt-v2>`));
  assert.doesNotMatch(ovpn, /<tls-crypt>/, 'one control-channel key per client');
});
