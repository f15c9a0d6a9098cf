// Issue 14: an existing service definition runs nanovpn with only the binary swapped: Debian's
// openvpn-server@.service line and an OpenWrt-style init line (--syslog, --status, --cd, --config, --port after it),
// each with a real OpenVPN 2.6 client.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, pidRunning, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { BUNDLE, nanovpnConfig } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';
import { VPN_SERVER_IP } from '../helpers/openvpn-server.js';

function skipReason(): string | undefined {
  if (!existsSync(BUNDLE)) return `${BUNDLE} is missing: npm run build`;
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

/** A PKI and a folder holding the server's ca.crt, server.crt, server.key and a UDP server.conf naming them. */
async function serverFolder(topo: Topology, label: string): Promise<{ pki: TestPki; etc: string }> {
  const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
  const etc = topo.tempDir(label);
  for (const [name, text] of [['ca.crt', pki.ca.cert], ['server.crt', pki.server.cert], ['server.key', pki.server.key]] as const) {
    writeFileSync(join(etc, name), text, { mode: 0o600 });
  }
  writeFileSync(join(etc, 'server.conf'), nanovpnConfig({ proto: 'udp' }));
  return { pki, etc };
}

test("service command lines: Debian's openvpn-server@.service and an OpenWrt-style one, binary swapped", { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const { pki, etc } = await serverFolder(topo, 'etc-openvpn-server');
    const run = topo.tempDir('run');
    mkdirSync(join(run, 'openvpn-server'));
    const lines: [string, string[], string, number][] = [
      // WorkingDirectory=/etc/openvpn/server, ExecStart=… --status %t/openvpn-server/status-%i.log --status-version 2
      //   --suppress-timestamps --config %i.conf
      ['debian', ['--status', join(run, 'openvpn-server', 'status-server.log'), '--status-version', '2', '--suppress-timestamps',
        '--config', 'server.conf'], join(run, 'openvpn-server', 'status-server.log'), 1194],
      ['openwrt', ['--syslog', 'openvpn(server)', '--status', join(run, 'openvpn.server.status'), '--cd', etc, '--config', 'server.conf',
        '--port', '1195'], join(run, 'openvpn.server.status'), 1195],
    ];
    for (const [name, args, status, port] of lines) {
      await t.test(name, async () => {
        const srv = topo.spawn('srv', [process.execPath, BUNDLE, ...args], { name: `nanovpn-${name}`, cwd: name === 'debian' ? etc : run });
        const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), port, pki });
        try {
          await srv.waitForLine(/Initialization Sequence Completed/, 10_000);
          await client.waitInitialized();
          const ping = await topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', VPN_SERVER_IP], { check: false, timeoutMs: 20_000 });
          assert.equal(ping.code, 0, ping.stdout);
        } finally {
          await client.stop();
          await srv.kill('SIGTERM', 5000);
        }
        // The status file named on the command line is written (at the latest on shutdown): version 2 where the line
        // says so, else OpenVPN's default version 1.
        const text = readFileSync(status, 'utf8');
        if (name === 'debian') assert.match(text, /^TITLE,.*\nTIME,.*\nHEADER,CLIENT_LIST,/);
        else assert.match(text, /^OpenVPN CLIENT LIST\nUpdated,.*\nCommon Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n/);
      });
    }
  });
});

/** Polls until `check` returns a value (files appear as the server gets there). */
async function until<T>(what: string, check: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  for (let waited = 0; ; waited += 100) {
    const v = check();
    if (v !== undefined) return v;
    if (waited >= timeoutMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const fileText = (p: string): string | undefined => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } };

test('--log FILE, --log-append FILE, --writepid FILE, --suppress-timestamps, --verb: as OpenVPN 2.6', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const { pki, etc } = await serverFolder(topo, 'etc');
    const logFile = join(etc, 'nanovpn.log');
    const pidFile = join(etc, 'nanovpn.pid');
    writeFileSync(logFile, 'a line from before\n');
    const run = async (logOption: '--log' | '--log-append'): Promise<string> => {
      const srv = topo.spawn('srv', [process.execPath, BUNDLE, '--config', 'server.conf', logOption, logFile, '--writepid', pidFile,
        '--suppress-timestamps', '--verb', '4'], { name: `nanovpn${logOption}`, cwd: etc });
      const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki });
      try {
        // The file may hold the first run's lines (--log-append): wait for this run's.
        const before = fileText(logFile)?.split('Initialization Sequence Completed').length ?? 1;
        await until('Initialization Sequence Completed in the log file',
          () => ((fileText(logFile)?.split('Initialization Sequence Completed').length ?? 1) > before ? true : undefined));
        assert.equal(fileText(pidFile), `${srv.pid}\n`, 'the pid file holds the server process id');
        await client.waitInitialized();
        const ping = await topo.exec('cli1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', VPN_SERVER_IP], { check: false, timeoutMs: 20_000 });
        assert.equal(ping.code, 0, ping.stdout);
      } finally {
        await client.stop();
        await srv.kill('SIGTERM', 5000);
      }
      assert.equal(srv.exit?.code, 0);
      assert.equal(existsSync(pidFile), false, 'the pid file is removed on a clean exit');
      assert.doesNotMatch(srv.stdout, /Initialization Sequence Completed|NOTICE stopped/, 'log lines go to the file, not to standard output');
      return readFileSync(logFile, 'utf8');
    };
    const first = await run('--log');
    assert.doesNotMatch(first, /a line from before/, '--log truncates');
    const lines = first.trimEnd().split('\n');
    // --suppress-timestamps: every line starts with its level; --verb 4 shows info lines.
    for (const l of lines) assert.match(l, /^(ERROR|WARN|NOTICE|INFO|DEBUG) /, l);
    assert.ok(lines.some((l) => l.startsWith('INFO ')), 'verb 4 logs info lines');
    assert.match(lines.at(-1)!, /^NOTICE stopped/);
    const second = await run('--log-append');
    assert.ok(second.startsWith(first), '--log-append keeps what was there');
    assert.equal(second.match(/Initialization Sequence Completed/g)?.length, 2);
  });
});

/** Under systemd (a CI job run as a service) --daemon does not fork: these tests want the plain command line. */
const NOT_UNDER_SYSTEMD: NodeJS.ProcessEnv = { ...process.env, NOTIFY_SOCKET: undefined };

test('--daemon: the command returns once the server is up, the server keeps running detached, logging to --log', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const { pki, etc } = await serverFolder(topo, 'etc');
    const logFile = join(etc, 'daemon.log');
    const pidFile = join(etc, 'daemon.pid');
    // Debian's openvpn@.service line: --daemon ovpn-%i --status … --cd … --config … --writepid …
    const r = await topo.exec('srv', [process.execPath, BUNDLE, '--daemon', 'ovpn-server', '--log', logFile, '--cd', etc,
      '--config', 'server.conf', '--writepid', pidFile], { timeoutMs: 30_000, env: NOT_UNDER_SYSTEMD });
    assert.equal(r.code, 0, r.stderr);
    // Up by the time the command returned: pid file written, initialization logged.
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0 && pidRunning(pid), `daemon pid ${pid} is running`);
    assert.match(readFileSync(logFile, 'utf8'), /Initialization Sequence Completed/);
    const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki });
    try {
      await client.waitInitialized();
      const ping = await topo.exec('cli1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', VPN_SERVER_IP], { check: false, timeoutMs: 20_000 });
      assert.equal(ping.code, 0, ping.stdout);
    } finally {
      await client.stop();
      process.kill(pid, 'SIGTERM');
    }
    await until('the daemon to exit', () => (pidRunning(pid) ? undefined : true));
    assert.equal(existsSync(pidFile), false);
    assert.match(readFileSync(logFile, 'utf8'), /NOTICE stopped/);

    // A config the daemon cannot start with: the command fails with the reason, nothing keeps running.
    writeFileSync(join(etc, 'bad.conf'), nanovpnConfig({ proto: 'udp' }).replace('cert server.crt', 'cert missing.crt'));
    const bad = await topo.exec('srv', [process.execPath, BUNDLE, '--daemon', '--cd', etc, '--config', 'bad.conf', '--writepid', pidFile],
      { timeoutMs: 30_000, check: false, env: NOT_UNDER_SYSTEMD });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr + bad.stdout, /missing\.crt/);
    assert.equal(existsSync(pidFile), false);
  });
});

/** Stands in for systemd: binds the AF_UNIX datagram socket of $NOTIFY_SOCKET and prints each message as JSON. */
const NOTIFY_LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

test("under systemd (Type=notify, $NOTIFY_SOCKET): READY=1 with the server's pid once it is up, and --daemon does not fork, as 2.6", { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason() ?? (haveCommand('python3') ? undefined : 'python3 is not installed; run test/install-deps.sh');
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const { pki, etc } = await serverFolder(topo, 'etc');
    const socketPath = join(topo.tempDir('systemd'), 'notify');
    const systemd = topo.spawn('srv', ['python3', '-c', NOTIFY_LISTENER, socketPath], { name: 'notify-socket' });
    await systemd.waitForLine(/^listening$/, 10_000);
    // Debian's openvpn@.service: Type=notify with --daemon and --writepid.
    const pidFile = join(etc, 'server.pid');
    const srv = topo.spawn('srv', [process.execPath, BUNDLE, '--daemon', 'ovpn-server', '--cd', etc, '--config', 'server.conf',
      '--writepid', pidFile], { name: 'nanovpn-systemd', env: { ...process.env, NOTIFY_SOCKET: socketPath } });
    try {
      const ready = await systemd.waitForLine(/READY=1/, 15_000);
      assert.match(ready, new RegExp(`MAINPID=${srv.pid}\\b`));
      await srv.waitForLine(/daemon: running under systemd/, 5000);
      assert.equal(srv.exit, undefined, 'still the same process: no fork');
      assert.equal(readFileSync(pidFile, 'utf8'), `${srv.pid}\n`);
      const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki });
      try {
        await client.waitInitialized();
      } finally {
        await client.stop();
      }
    } finally {
      await srv.kill('SIGTERM', 5000);
      await systemd.kill('SIGTERM', 2000);
    }
    assert.equal((await srv.exited).code, 0);
  });
});

/**
 * A private /dev in a mount namespace of its own, with a stand-in system logger on its /dev/log (python3, each
 * datagram a JSON line in LOGFILE), then the command line. The host's /dev is not touched.
 */
const WITH_FAKE_SYSLOG = `
set -e
mount -t tmpfs -o mode=755 nanovpn-test-dev /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9
setsid python3 -c "$LISTENER" /dev/log > "$LOGFILE" 2>/dev/null < /dev/null &
echo $! > "$LOGFILE.pid"
while ! grep -q '^listening$' "$LOGFILE"; do sleep 0.05; done
exec "$@"
`;

test('system log as 2.6: --syslog NAME sends every line to /dev/log at once; --daemon NAME without --log once detached', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason() ?? (haveCommand('python3') && haveCommand('unshare') ? undefined : 'python3 and unshare are needed');
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const { pki, etc } = await serverFolder(topo, 'etc');
    const logs = topo.tempDir('syslog');
    const records = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').filter((l) => l.startsWith('"')).map((l) => JSON.parse(l) as string);
    const stopLogger = (file: string): void => { try { process.kill(Number(readFileSync(`${file}.pid`, 'utf8')), 'SIGKILL'); } catch { /* gone */ } };
    const inFakeSyslog = (file: string, argv: string[]): string[] =>
      ['env', `LISTENER=${NOTIFY_LISTENER}`, `LOGFILE=${file}`, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', WITH_FAKE_SYSLOG, 'sh', ...argv];

    await t.test('--syslog NAME (OpenWrt\'s init line)', async () => {
      const file = join(logs, 'syslog.jsonl');
      const srv = topo.spawn('srv', inFakeSyslog(file, [process.execPath, BUNDLE, '--syslog', 'openvpn(server)', '--cd', etc, '--config', 'server.conf']),
        { name: 'nanovpn-syslog', env: NOT_UNDER_SYSTEMD });
      const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki });
      try {
        const up = await until('Initialization Sequence Completed in the system log', () => records(file).find((r) => /Initialization Sequence Completed/.test(r)));
        assert.match(up, /^<29>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d openvpn\(server\)\[\d+\]: Initialization Sequence Completed/);
        await client.waitInitialized();
        await until('the client in the system log', () => records(file).find((r) => /^<30>.*client connected cn=client1/.test(r)));
        assert.doesNotMatch(srv.output, /Initialization Sequence Completed/, 'not on standard output as well');
        await client.stop();
        await srv.kill('SIGTERM', 5000);
        await until('the last line, stopped, in the system log', () => records(file).find((r) => /^<29>.*: stopped/.test(r)));
      } finally {
        await client.stop();
        await srv.kill('SIGTERM', 5000);
        stopLogger(file);
      }
    });

    await t.test('--daemon NAME without --log (the init script of a distribution without systemd)', async () => {
      const file = join(logs, 'daemon.jsonl');
      const pidFile = join(etc, 'daemon.pid');
      const r = await topo.exec('srv', inFakeSyslog(file, [process.execPath, BUNDLE, '--daemon', 'ovpn-server', '--cd', etc, '--config', 'server.conf',
        '--writepid', pidFile]), { timeoutMs: 30_000, env: NOT_UNDER_SYSTEMD });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Initialization Sequence Completed/, 'shown until it is up, as 2.6 does');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      try {
        const client = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki });
        try {
          await client.waitInitialized();
          await until('the client in the system log', () => records(file).find((l) => new RegExp(`^<30>.* ovpn-server\\[${pid}\\]: client connected`).test(l)));
        } finally {
          await client.stop();
        }
        process.kill(pid, 'SIGTERM');
        await until('the daemon to exit', () => (pidRunning(pid) ? undefined : true));
        await until('its shutdown in the system log', () => records(file).find((l) => new RegExp(`ovpn-server\\[${pid}\\]: stopped`).test(l)));
      } finally {
        if (pidRunning(pid)) process.kill(pid, 'SIGKILL');
        stopLogger(file);
      }
    });
  });
});
