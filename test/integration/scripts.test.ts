// OpenVPN 2.6's script hooks (issue 14) with Debian's openvpn 2.6 clients in network namespaces. Each hook is a
// shell script the test writes: it dumps its arguments and `env` into a folder the test reads, then answers with
// its exit status (and, for client-connect, a dynamic config file). Checked: client-connect (a pushed route the
// client then has; a refusal), client-disconnect (byte counts), learn-address add/delete, auth-user-pass-verify
// via-file and via-env (accept, refuse with auth_failed_reason_file; the password file is 0600 and gone after), tls-verify refusing a CN,
// tls-crypt-v2-verify with key metadata, up/down around the tun uplink, and script-security 1 running nothing.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliAddr, ensureTun, haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { BUNDLE, REPO_ROOT, nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

function skipReason(): string | undefined {
  return netnsUnavailable()
    ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh')
    ?? (existsSync(BUNDLE) ? undefined : `${BUNDLE} is missing: run npm run build`);
}

/** A serial's hex as 2.6 prints tls_serial_hex_N: its bytes, lowercase, colon-separated. */
function colonHex(hex: string): string {
  const h = hex.toLowerCase().replace(/^0+(?=.)/, '');
  return (h.length % 2 ? `0${h}` : h).match(/../g)!.join(':');
}

interface Call { hook: string; args: string[]; env: Record<string, string>; file?: string; mode?: string }

/** A folder for the hooks' dumps and a hook script writer. Scripts get no PATH (as in 2.6): absolute paths only. */
function hooks(topo: Topology) {
  const dir = topo.tempDir('hooks');
  const dumps = join(dir, 'dumps');
  const tmp = join(dir, 'tmp');
  mkdirSync(dumps);
  mkdirSync(tmp);
  let n = 0;
  return {
    dir, tmp,
    /** A script that dumps its call as HOOK, runs `body` (sh), and exits with the body's status. */
    script(hook: string, body = 'exit 0'): string {
      const path = join(dir, `${hook}-${n++}.sh`);
      writeFileSync(path, [
        '#!/bin/sh',
        `f=${dumps}/${hook}.$(/bin/date +%s%N).$$`,
        'for a in "$@"; do printf "%s\\n" "$a"; done > "$f.args"',
        '/usr/bin/env > "$f.env"',
        'last=""; for a in "$@"; do last=$a; done',
        // The password file of via-file, the metadata file of tls-crypt-v2-verify: their contents and mode.
        'if [ -n "$metadata_file" ]; then /bin/cat "$metadata_file" > "$f.file"; fi',
        `if [ "$script_type" = user-pass-verify ] && [ -f "$last" ]; then /bin/cat "$last" > "$f.file"; /usr/bin/stat -c %a "$last" > "$f.mode"; fi`,
        body,
        '',
      ].join('\n'), { mode: 0o755 });
      return path;
    },
    /** Every call of `hook` so far, in order. */
    calls(hook: string): Call[] {
      const names = readdirSync(dumps).filter((f) => f.startsWith(`${hook}.`) && f.endsWith('.env')).sort();
      return names.map((f) => {
        const base = join(dumps, f.slice(0, -'.env'.length));
        const env: Record<string, string> = {};
        for (const line of readFileSync(`${base}.env`, 'utf8').split('\n')) {
          const eq = line.indexOf('=');
          if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
        }
        const opt = (ext: string) => (existsSync(`${base}.${ext}`) ? readFileSync(`${base}.${ext}`, 'utf8') : undefined);
        return { hook, args: readFileSync(`${base}.args`, 'utf8').split('\n').slice(0, -1), env, file: opt('file'), mode: opt('mode')?.trim() };
      });
    },
    async waitCalls(hook: string, count: number, timeoutMs = 15_000): Promise<Call[]> {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const c = this.calls(hook);
        if (c.length >= count) return c;
        if (Date.now() > end) assert.fail(`${hook}: ${c.length} calls, expected ${count}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

async function serverWith(topo: Topology, pki: TestPki, extra: string[], opts: { files?: Record<string, string>; proto?: 'udp' | 'tcp' } = {},
): Promise<NanovpnServer> {
  const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: opts.proto ?? 'udp', extra }), files: opts.files });
  await server.waitForLine(/Initialization Sequence Completed/, 10_000, { failOn: /nanovpn: |ERROR/ });
  return server;
}

const client = (topo: Topology, pki: TestPki, cn: string, k = 1, extra: Partial<Parameters<typeof startOpenVpnClient>[0]> = {}) =>
  startOpenVpnClient({ topo, node: `cli${k}`, proto: 'udp', remote: srvAddrFor(k), pki, cn, explicitExitNotify: 1, ...extra });

test('client-connect pushes a route from its dynamic config file; learn-address add/delete; client-disconnect with byte counts', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const h = hooks(topo);
    const connect = h.script('connect', 'printf \'push "route 192.168.50.0 255.255.255.0"\\n\' > "$last"');
    const server = await serverWith(topo, pki, [
      'script-security 2', `tmp-dir ${h.tmp}`, 'setenv SITE lab-1', 'setenv-safe ROLE edge',
      `client-connect "${connect} first-arg"`, `client-disconnect ${h.script('disconnect')}`, `learn-address ${h.script('learn')}`,
    ]);
    const c = client(topo, pki, 'client1');
    await c.waitInitialized();
    const vip = await c.tunAddress();
    const routes = (await topo.exec('cli1', ['ip', 'route', 'show', '192.168.50.0/24'])).stdout;
    assert.match(routes, new RegExp(`192\\.168\\.50\\.0/24 via 10\\.8\\.0\\.1 dev ${c.tunDevice()}`));

    const [cc] = h.calls('connect');
    assert.ok(cc, 'client-connect ran');
    assert.equal(cc.args.length, 2);
    assert.equal(cc.args[0], 'first-arg');
    assert.equal(cc.args[1], cc.env.client_connect_config_file);
    const e = cc.env;
    assert.equal(e.script_type, 'client-connect');
    assert.equal(e.common_name, 'client1');
    assert.equal(e.trusted_ip, cliAddr(1));
    assert.equal(e.untrusted_ip, cliAddr(1));
    assert.match(e.trusted_port ?? '', /^\d+$/);
    assert.equal(e.ifconfig_pool_remote_ip, vip);
    assert.equal(e.ifconfig_pool_netmask, '255.255.255.0');
    assert.equal(e.ifconfig_local, '10.8.0.1');
    assert.equal(e.ifconfig_netmask, '255.255.255.0');
    assert.equal(e.tun_mtu, '1500');
    assert.match(e.time_unix ?? '', /^\d{10}$/);
    assert.match(e.time_ascii ?? '', /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
    assert.match(e.IV_VER ?? '', /^2\.6\./);
    assert.equal(e.X509_0_CN, 'client1');
    assert.equal(e.X509_1_CN, 'nanovpn test CA');
    assert.equal(e.tls_serial_0, BigInt(`0x${pki.clients.client1!.serial}`).toString());
    assert.match(e.tls_digest_sha256_0 ?? '', /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    assert.equal(e.config, server.configPath);
    assert.equal(e.daemon, '0');
    assert.equal(e.proto_1, 'udp');
    assert.equal(e.SITE, 'lab-1');
    assert.equal(e.OPENVPN_ROLE, 'edge');
    assert.equal(e.PATH, undefined, 'only OpenVPN\'s variables, not the server\'s environment');

    const [add] = await h.waitCalls('learn', 1);
    assert.deepEqual(add!.args, ['add', vip, 'client1']);
    assert.equal(add!.env.script_type, 'learn-address');
    assert.equal(add!.env.common_name, 'client1');

    // Some traffic both ways, then the client leaves (explicit-exit-notify).
    await topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.8.0.1']);
    await c.stop();
    const [dc] = await h.waitCalls('disconnect', 1);
    assert.equal(dc!.env.script_type, 'client-disconnect');
    assert.equal(dc!.env.common_name, 'client1');
    assert.equal(dc!.env.trusted_ip, cliAddr(1));
    assert.ok(Number(dc!.env.bytes_received) > 300, `bytes_received=${dc!.env.bytes_received}`);
    assert.ok(Number(dc!.env.bytes_sent) > 300, `bytes_sent=${dc!.env.bytes_sent}`);
    assert.match(dc!.env.time_duration ?? '', /^\d+$/);
    assert.deepEqual(dc!.args, []);
    const learned = await h.waitCalls('learn', 2);
    assert.deepEqual(learned[1]!.args, ['delete', vip]);
    assert.deepEqual(readdirSync(h.tmp), [], 'the client-connect files are removed');
    await server.stop();
  });
});

test('a client-connect that exits non-zero refuses the client (AUTH_FAILED); the next one gets in', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const h = hooks(topo);
    const connect = h.script('connect', '[ "$common_name" = client2 ] && exit 1; exit 0');
    const server = await serverWith(topo, pki, ['script-security 2', `tmp-dir ${h.tmp}`, `client-connect ${connect}`,
      `client-disconnect ${h.script('disconnect')}`]);
    const refused = client(topo, pki, 'client2', 2);
    await refused.proc.waitForLine(/AUTH_FAILED/, 30_000);
    await server.waitForLine(/client-connect script refused the client \(external program exited with error status: 1\)/, 10_000);
    const ok = client(topo, pki, 'client1', 1);
    await ok.waitInitialized();
    assert.deepEqual(h.calls('connect').map((c) => c.env.common_name).sort(), ['client1', 'client2']);
    await ok.stop();
    const dc = await h.waitCalls('disconnect', 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(h.calls('disconnect').map((c) => c.env.common_name), ['client1'], 'no client-disconnect for a refused client');
    assert.equal(dc.length, 1);
    assert.deepEqual(readdirSync(h.tmp), []);
    await server.stop();
  });
});

test('a client-connect that hangs (killed after 30 s) or crashes refuses only its client: others connect meanwhile, nothing leaks', { timeout: 150_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 3 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2', 'client3', 'client4'] });
    const h = hooks(topo);
    const pidFile = join(h.dir, 'hang.pid');
    const connect = h.script('connect', [
      `if [ "$common_name" = client2 ]; then /bin/sleep 3600 & echo $! > ${pidFile}; wait; fi`,
      '[ "$common_name" = client3 ] && kill -SEGV $$',
      'exit 0',
    ].join('\n'));
    const server = await serverWith(topo, pki, ['script-security 2', `tmp-dir ${h.tmp}`, `client-connect ${connect}`]);
    const hung = client(topo, pki, 'client2', 2);
    await h.waitCalls('connect', 1);
    assert.equal(h.calls('connect')[0]!.env.ifconfig_pool_remote_ip, '10.8.0.2', 'the hanging client holds the first address');
    // The server keeps serving while that script hangs.
    const other = client(topo, pki, 'client1', 1);
    await other.waitInitialized();
    assert.equal(await other.tunAddress(), '10.8.0.3');
    await hung.proc.waitForLine(/AUTH_FAILED/, 60_000);
    await server.waitForLine(/Failed running command \(--client-connect\): external program did not exit within 30 s and was killed/, 5_000);
    const sleeper = Number(readFileSync(pidFile, 'utf8').trim());
    const state = (): string => { try { return readFileSync(`/proc/${sleeper}/stat`, 'utf8').split(') ')[1]![0]!; } catch { return 'gone'; } };
    assert.ok(['gone', 'Z'].includes(state()), `the hung script's child is killed too (state ${state()})`);
    const crashed = client(topo, pki, 'client3', 3);
    await crashed.proc.waitForLine(/AUTH_FAILED/, 30_000);
    await server.waitForLine(/external program did not exit normally \(SIGSEGV\)/, 5_000);
    await hung.proc.exited;
    // The refused clients' address went back to the pool, and their temporary files are gone.
    const next = client(topo, pki, 'client4', 2);
    await next.waitInitialized();
    assert.equal(await next.tunAddress(), '10.8.0.2');
    assert.deepEqual(readdirSync(h.tmp), []);
    await server.stop();
  });
});

for (const via of ['via-file', 'via-env'] as const) {
  test(`auth-user-pass-verify ${via}: the right password gets in, a wrong one is refused`, { timeout: 120_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await withTopology({ clients: 2 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
      const h = hooks(topo);
      const check = via === 'via-file'
        ? '{ read -r u; read -r p; } < "$last"; [ "$u" = alice ] && [ "$p" = "s3cret pass" ]'
        : '[ "$username" = alice ] && [ "$password" = "s3cret pass" ]';
      // via-env needs script-security 3 for the password to reach the script (2.6 drops password* below 3).
      const server = await serverWith(topo, pki, [`script-security ${via === 'via-env' ? 3 : 2}`, `tmp-dir ${h.tmp}`,
        `auth-user-pass-verify ${h.script('auth', `${check} && exit 0; echo "no such login" > "$auth_failed_reason_file"; exit 1`)} ${via}`]);
      const good = client(topo, pki, 'client1', 1, { authUserPass: { username: 'alice', password: 's3cret pass' } });
      await good.waitInitialized();
      const bad = client(topo, pki, 'client2', 2, { authUserPass: { username: 'alice', password: 'wrong' } });
      await bad.proc.waitForLine(/AUTH_FAILED,no such login/, 30_000);   // the script's auth_failed_reason_file
      await server.waitForLine(/auth-user-pass-verify script refused user alice/, 10_000);
      const calls = h.calls('auth');
      assert.equal(calls.length, 2);
      for (const c of calls) {
        assert.equal(c.env.script_type, 'user-pass-verify');
        assert.equal(c.env.username, 'alice');
        assert.match(c.env.untrusted_ip ?? '', /^198\.19\.\d\.2$/);
        assert.match(c.env.common_name ?? '', /^client\d$/);
        if (via === 'via-file') {
          assert.equal(c.env.password, undefined, 'via-file: no password in the environment');
          assert.equal(c.mode, '600');
          assert.match(c.file ?? '', /^alice\n/);
          assert.equal(c.args.length, 1);
          assert.equal(existsSync(c.args[0]!), false, 'the password file is removed after the script');
        } else {
          assert.equal(c.args.length, 0);
          assert.ok(c.env.password !== undefined);
        }
      }
      assert.deepEqual(readdirSync(h.tmp), []);
      await server.stop();
    });
  });
}

test('auth-user-pass-optional: a client without a password reaches the script with empty strings, which decides on its certificate', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const h = hooks(topo);
    const check = '[ -z "$username" ] && [ -z "$password" ] && [ "$X509_0_CN" = client1 ]';
    const server = await serverWith(topo, pki, ['script-security 3', 'auth-user-pass-optional', `auth-user-pass-verify ${h.script('auth', check)} via-env`]);
    const ok = client(topo, pki, 'client1', 1);
    await ok.waitInitialized();
    const refused = client(topo, pki, 'client2', 2);
    await refused.proc.waitForLine(/AUTH_FAILED/, 30_000);
    assert.deepEqual(h.calls('auth').map((c) => [c.env.X509_0_CN, c.env.username]).sort(), [['client1', ''], ['client2', '']]);
    await server.stop();
  });
});

test('tls-verify runs for each certificate depth with the subject, and a non-zero exit refuses that CN', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const h = hooks(topo);
    const verify = h.script('verify', 'case "$2" in *CN=client2*) exit 1;; esac; exit 0');
    const server = await serverWith(topo, pki, ['script-security 2', `tls-verify ${verify}`]);
    const ok = client(topo, pki, 'client1', 1);
    await ok.waitInitialized();
    const refused = client(topo, pki, 'client2', 2);
    await refused.proc.waitForLine(/AUTH_FAILED/, 30_000);
    await server.waitForLine(/tls-verify script refused the certificate at depth 0 \(CN=client2\)/, 10_000);
    const calls = h.calls('verify');
    const c1 = calls.filter((c) => c.env.X509_0_CN === 'client1');
    assert.deepEqual(c1.map((c) => c.args), [['1', 'CN=nanovpn test CA'], ['0', 'CN=client1']]);
    assert.equal(c1[1]!.env.script_type, 'tls-verify');
    assert.equal(c1[1]!.env.tls_id_0, 'CN=client1');
    assert.equal(c1[1]!.env.tls_serial_hex_0, colonHex(pki.clients.client1!.serial));
    assert.match(c1[1]!.env.tls_digest_0 ?? '', /^([0-9a-f]{2}:){19}[0-9a-f]{2}$/);
    assert.ok(calls.some((c) => c.args[0] === '0' && c.args[1] === 'CN=client2'));
    await server.stop();
  });
});

for (const proto of ['udp', 'tcp'] as const) {
  test(`tls-crypt-v2-verify over ${proto} gets the client key's metadata type and file; a non-zero exit refuses the client`, { timeout: 120_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await withTopology({ clients: 2 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
      const h = hooks(topo);
      const kd = topo.tempDir('tc2');
      execFileSync('openvpn', ['--genkey', 'tls-crypt-v2-server', join(kd, 'server.key')]);
      const clientKey = (name: string, metadata: string): string => {
        execFileSync('openvpn', ['--tls-crypt-v2', join(kd, 'server.key'), '--genkey', 'tls-crypt-v2-client', join(kd, name),
          Buffer.from(metadata).toString('base64')]);
        return readFileSync(join(kd, name), 'utf8').trim();
      };
      const verify = h.script('tc2', '[ "$(/bin/cat "$metadata_file")" = "allowed device" ]');
      const server = await serverWith(topo, pki, ['script-security 2', `tmp-dir ${h.tmp}`, 'tls-crypt-v2 tc2-server.key', `tls-crypt-v2-verify ${verify}`],
      { files: { 'tc2-server.key': readFileSync(join(kd, 'server.key'), 'utf8') }, proto });
      const ok = client(topo, pki, 'client1', 1, { proto, explicitExitNotify: undefined, extra: ['<tls-crypt-v2>', clientKey('good.key', 'allowed device'), '</tls-crypt-v2>'] });
      await ok.waitInitialized();
      const refused = client(topo, pki, 'client2', 2, { proto, explicitExitNotify: undefined, extra: ['<tls-crypt-v2>', clientKey('bad.key', 'stolen laptop'), '</tls-crypt-v2>'] });
      await refused.proc.waitForLine(/AUTH_FAILED/, 30_000);
      await server.waitForLine(/Failed running command \(--tls-crypt-v2-verify\): external program exited with error status: 1/, 10_000);
      const calls = h.calls('tc2');
      assert.deepEqual(calls.map((c) => c.file).sort(), ['allowed device', 'stolen laptop']);
      for (const c of calls) {
        assert.equal(c.env.script_type, 'tls-crypt-v2-verify');
        assert.equal(c.env.metadata_type, '0', 'user metadata (TLS_CRYPT_METADATA_TYPE_USER)');
        assert.deepEqual(c.args, []);
      }
      assert.deepEqual(readdirSync(h.tmp), [], 'metadata files are removed');
      await server.stop();
    });
  });
}

test('up runs after the tun device opens and down after it closes, with the device\'s arguments and variables', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason() ?? (existsSync(join(REPO_ROOT, 'dist', 'tun.node')) ? undefined : 'dist/tun.node is missing (see tun-uplink.test.ts)');
  if (skip) return t.skip(skip);
  await ensureTun();
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const h = hooks(topo);
    const up = h.script('up', '/usr/sbin/ip link show "$1" > /dev/null');
    const server = await serverWith(topo, pki, ['uplink tun', 'script-security 2', `up ${up}`, `down ${h.script('down')}`,
      `client-disconnect ${h.script('disconnect')}`, `learn-address ${h.script('learn')}`]);
    const dev = /tun uplink up.*dev=(\S+)/.exec(server.proc.output)![1]!;
    const [u] = h.calls('up');
    assert.deepEqual(u!.args, [dev, '1500', '0', '10.8.0.1', '255.255.255.0', 'init']);
    assert.equal(u!.env.script_type, 'up');
    assert.equal(u!.env.dev, dev);
    assert.equal(u!.env.tun_mtu, '1500');
    assert.equal(u!.env.ifconfig_local, '10.8.0.1');
    assert.equal(u!.env.ifconfig_netmask, '255.255.255.0');
    assert.equal(u!.env.script_context, 'init');
    assert.equal(h.calls('down').length, 0);
    const c = client(topo, pki, 'client1');
    await c.waitInitialized();
    assert.equal(c.proc.exit, undefined);
    await h.waitCalls('learn', 1);
    await server.stop();
    // The clients' last scripts finish before the down script, and before the server exits.
    assert.equal(h.calls('disconnect').length, 1, 'client-disconnect for the client still connected at shutdown');
    assert.deepEqual(h.calls('learn').map((c) => c.args[0]), ['add', 'delete']);
    const [d] = h.calls('down');
    assert.ok(d, 'down ran at shutdown');
    assert.deepEqual(d.args, [dev, '1500', '0', '10.8.0.1', '255.255.255.0', 'init']);
    assert.equal(d.env.script_type, 'down');
    assert.equal(d.env.signal, 'sigterm');

    // 2.6 stops when the up script fails; so does nanovpn, before it listens.
    const failing = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: ['uplink tun', 'script-security 2', `up ${h.script('up-fail', 'exit 7')}`] }) });
    const exit = await failing.proc.exited;
    assert.equal(exit.code, 1);
    assert.match(failing.proc.output, /nanovpn: up script failed: external program exited with error status: 7/);
    assert.doesNotMatch(failing.proc.output, /Initialization Sequence Completed/);
  });
});

test('script-security 1 runs no script: client-connect is refused with 2.6\'s warning, and the client with it', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    const h = hooks(topo);
    const server = await serverWith(topo, pki, [`client-connect ${h.script('connect')}`]);
    assert.match(server.proc.output, /'--script-security 2' or higher is required to call user-defined scripts/);
    const c = client(topo, pki, 'client1');
    await c.proc.waitForLine(/AUTH_FAILED/, 30_000);
    await server.waitForLine(/External program may not be called unless '--script-security 2' or higher is enabled/, 10_000);
    await server.waitForLine(/Failed running command \(--client-connect\): disallowed by script-security setting/, 10_000);
    assert.deepEqual(h.calls('connect'), [], 'the script never ran');
    await server.stop();
  });
});
