// Issue 5, operator experience: password auth, client-config-dir, pool persistence, the no-config development
// setup (`npm start`), CRL revocation (also while running), duplicate-cn and max-clients, each with unmodified
// Debian openvpn 2.6 clients in network namespaces against dist/nanovpn.js (run `npm run build` first).
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addUser } from '../../src/config/users-file.js';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type NodeName, type Proc, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { BUNDLE, nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { CLIENT_FAILURE, startOpenVpnClient, type OpenVpnClient, type OpenVpnClientOptions } from '../helpers/openvpn-client.js';

const SERVER_IP = '10.8.0.1';
const READY = /Initialization Sequence Completed/;

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

async function pingOk(topo: Topology, node: NodeName, addr = SERVER_IP): Promise<void> {
  const r = await topo.exec(node, ['ping', '-c', '3', '-i', '0.2', '-W', '2', addr], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 0, `ping ${addr} from ${node}:\n${r.stdout}`);
}

interface Env { topo: Topology; pki: TestPki; server: NanovpnServer }
interface Setup { extra?: string[]; files?: Record<string, string> }

/** A topology with `clients` client namespaces and nanovpn (UDP, the testbed config plus `setup`'s lines) in srv. */
async function withServer(t: TestContext, o: { clients?: number; setup?: (topo: Topology) => Promise<Setup> | Setup },
  fn: (e: Env) => Promise<void>): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: o.clients ?? 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1', 'client2'] });
    const s = (await o.setup?.(topo)) ?? {};
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: 'udp', extra: s.extra }), files: s.files });
    await server.waitForLine(READY, 10_000);
    await fn({ topo, pki, server });
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
  });
}

/** A client in cli<k> talking to srv's address on that link; cert client<k> unless told otherwise. */
function client(e: Env, k: number, o: Partial<OpenVpnClientOptions> = {}): OpenVpnClient {
  return startOpenVpnClient({ topo: e.topo, node: `cli${k}`, proto: 'udp', remote: srvAddrFor(k), pki: e.pki, cn: `client${k}`, ...o });
}

/** waitInitialized must fail; stops the client and returns its log. */
async function refused(c: OpenVpnClient, timeoutMs = 15_000): Promise<string> {
  await assert.rejects(c.waitInitialized({ timeoutMs }), `${c.proc.name} should have been refused`);
  await c.stop();
  return c.proc.output;
}

/** A users file made with the users API. */
async function usersFile(topo: Topology, users: Record<string, string>): Promise<string> {
  const file = join(topo.tempDir('users'), 'users.txt');
  for (const [name, pw] of Object.entries(users)) assert.equal(await addUser(file, name, pw), 'added');
  return readFileSync(file, 'utf8');
}

/** Stops the server and starts the same config again in the same folder (its state files stay). */
async function restart(e: Env): Promise<Proc> {
  assert.equal((await e.server.stop()).code, 0);
  const p = e.topo.spawn('srv', [process.execPath, BUNDLE, 'serve', '--config', e.server.configPath], { name: 'nanovpn#2', cwd: e.server.dir });
  await p.waitForLine(READY, 10_000);
  return p;
}

// ---- password authentication ----------------------------------------------------------------------------------

const GOOD_PW = 'correct-horse-7Q';
const BAD_PW = 'wrong-battery-3Z';

test('auth-user-pass-verify builtin: right password connects, wrong password gets AUTH_FAILED, no password in the log', { timeout: 120_000 }, async (t) => {
  await withServer(t, {
    setup: async (topo) => ({ extra: ['auth-user-pass-verify users.txt builtin'], files: { 'users.txt': await usersFile(topo, { alice: GOOD_PW }) } }),
  }, async (e) => {
    const good = client(e, 1, { authUserPass: { username: 'alice', password: GOOD_PW } });
    await good.waitInitialized();
    await pingOk(e.topo, 'cli1');
    assert.match(await e.server.waitForLine(/client connected cn=client1 /, 5_000), /vip=10\.8\.0\.2 /);

    const bad = client(e, 2, { authUserPass: { username: 'alice', password: BAD_PW } });
    assert.match(await refused(bad), /AUTH_FAILED/);
    assert.match(await e.server.waitForLine(/client refused cn=client2 .*bad username or password/, 10_000), /user alice/);
    // The certificate is still required (verify-client-cert require is the default).
    const nocert = client(e, 2, { noCert: true, authUserPass: { username: 'alice', password: GOOD_PW }, name: 'nocert' });
    await refused(nocert);
    await e.server.waitForLine(/client refused .*peer did not return a certificate/, 10_000);
    await pingOk(e.topo, 'cli1');
    await e.server.stop();
    for (const pw of [GOOD_PW, BAD_PW]) assert.ok(!e.server.proc.output.includes(pw), 'a password reached the server log');
  });
});

test('verify-client-cert none + username-as-common-name: a client with no certificate logs in by password', { timeout: 120_000 }, async (t) => {
  await withServer(t, {
    setup: async (topo) => ({
      extra: ['auth-user-pass-verify users.txt builtin', 'verify-client-cert none', 'username-as-common-name'],
      files: { 'users.txt': await usersFile(topo, { alice: GOOD_PW, bob: BAD_PW }) },
    }),
  }, async (e) => {
    const c = client(e, 1, { noCert: true, authUserPass: { username: 'alice', password: GOOD_PW } });
    assert.doesNotMatch(c.config, /<cert>|<key>/);
    await c.waitInitialized();
    await pingOk(e.topo, 'cli1');
    assert.match(await e.server.waitForLine(/client connected cn=alice /, 5_000), /vip=10\.8\.0\.2 /);
    // bob's password, given for alice.
    const wrong = client(e, 2, { noCert: true, authUserPass: { username: 'alice', password: BAD_PW } });
    assert.match(await refused(wrong), /AUTH_FAILED/);
    await e.server.waitForLine(/client refused .*bad username or password/, 10_000);
    await e.server.stop();
    for (const pw of [GOOD_PW, BAD_PW]) assert.ok(!e.server.proc.output.includes(pw), 'a password reached the server log');
  });
});

// ---- client-config-dir and pool persistence ------------------------------------------------------------------

test('client-config-dir: ifconfig-push gives client1 10.8.0.77; disable refuses client2', { timeout: 120_000 }, async (t) => {
  await withServer(t, {
    setup: (topo) => {
      const ccd = topo.tempDir('ccd');
      writeFileSync(join(ccd, 'client1'), 'ifconfig-push 10.8.0.77 255.255.255.0\n');
      writeFileSync(join(ccd, 'client2'), 'disable\n');
      return { extra: [`client-config-dir ${ccd}`] };
    },
  }, async (e) => {
    const c1 = client(e, 1);
    await c1.waitInitialized();
    assert.equal(await c1.tunAddress(), '10.8.0.77');
    await pingOk(e.topo, 'cli1');
    assert.match(await e.server.waitForLine(/client connected cn=client1 /, 5_000), /vip=10\.8\.0\.77 /);
    await refused(client(e, 2));
    await e.server.waitForLine(/client refused cn=client2 .*disabled in client-config-dir/, 10_000);
  });
});

test('ifconfig-pool-persist: after a restart client1 gets its old address back even when client2 logs in first', { timeout: 150_000 }, async (t) => {
  await withServer(t, { setup: () => ({ extra: ['ifconfig-pool-persist ipp.txt'] }) }, async (e) => {
    const c1 = client(e, 1);
    await c1.waitInitialized();
    const first = await c1.tunAddress();
    assert.equal(first, '10.8.0.2');
    await c1.stop();
    const server2 = await restart(e);
    assert.match(readFileSync(join(e.server.dir, 'ipp.txt'), 'utf8'), /^client1,10\.8\.0\.2,/m);
    const c2 = client(e, 2);
    await c2.waitInitialized();
    assert.notEqual(await c2.tunAddress(), first, "client2 must not take client1's remembered address");
    const again = client(e, 1, { name: 'client1-again' });
    await again.waitInitialized();
    assert.equal(await again.tunAddress(), first);
    await pingOk(e.topo, 'cli1');
    await pingOk(e.topo, 'cli2');
    assert.equal((await server2.kill('SIGTERM', 5000)).code, 0);
  });
});

// ---- the development setup (`npm start`) ---------------------------------------------------------------------

/** `nanovpn serve --state DIR --remote ADDR` in srv, as an unprivileged user when setpriv is there. */
function startDev(topo: Topology, state: string, name: string): Proc {
  const argv = [process.execPath, BUNDLE, 'serve', '--state', state, '--remote', srvAddrFor(1)];
  const unpriv = haveCommand('setpriv');
  if (unpriv) chownSync(state, 65534, 65534);
  return topo.spawn('srv', unpriv ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv, { name, cwd: state });
}

function startProfile(topo: Topology, node: NodeName, profile: string, name: string, extra: string[] = []): Proc {
  return topo.spawn(node, ['openvpn', '--config', profile, ...extra], { name });
}

test('serve with no config creates ./state, prints a working profile, and reuses it on the next run', { timeout: 150_000 }, async (t) => {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 1 }, async (topo) => {
    const state = topo.tempDir('state');
    const run1 = startDev(topo, state, 'nanovpn-dev');
    await run1.waitForLine(READY, 30_000);
    assert.match(run1.output, /created a development setup/);
    const alice = /openvpn --config (\S+)$/m.exec(run1.output)?.[1];
    assert.equal(alice, join(state, 'alice.ovpn'));
    const fp1 = /CA fingerprint \(SHA-256\): (\S+)/.exec(run1.output)?.[1];
    assert.ok(fp1);
    const ca1 = readFileSync(join(state, 'pki', 'ca.crt'), 'utf8');
    assert.match(readFileSync(alice, 'utf8'), new RegExp(`^remote ${srvAddrFor(1).replace(/\./g, '\\.')} 1194$`, 'm'));

    const a = startProfile(topo, 'cli1', alice, 'alice-udp');
    await a.waitForLine(READY, 30_000, { failOn: CLIENT_FAILURE });
    await pingOk(topo, 'cli1');
    assert.match(await run1.waitForLine(/client connected cn=alice /, 5_000), /proto=udp /);
    await a.kill();
    const b = startProfile(topo, 'cli1', join(state, 'bob.ovpn'), 'bob-tcp', ['--proto', 'tcp-client']);
    await b.waitForLine(READY, 30_000, { failOn: CLIENT_FAILURE });
    await pingOk(topo, 'cli1');
    assert.match(await run1.waitForLine(/client connected cn=bob /, 5_000), /proto=tcp /);
    await b.kill();
    assert.equal((await run1.kill('SIGTERM', 5000)).code, 0);

    const run2 = startDev(topo, state, 'nanovpn-dev#2');
    await run2.waitForLine(READY, 30_000);
    assert.match(run2.output, /using the existing setup/);
    assert.doesNotMatch(run2.output, /created/);
    assert.equal(/CA fingerprint \(SHA-256\): (\S+)/.exec(run2.output)?.[1], fp1);
    assert.equal(readFileSync(join(state, 'pki', 'ca.crt'), 'utf8'), ca1);
    const a2 = startProfile(topo, 'cli1', alice, 'alice-again');
    await a2.waitForLine(READY, 30_000, { failOn: CLIENT_FAILURE });
    await pingOk(topo, 'cli1');
    await a2.kill();
    assert.equal((await run2.kill('SIGTERM', 5000)).code, 0);
  });
});

// ---- CRL ----------------------------------------------------------------------------------------------------

/** Runs the bundled CLI (in the root namespace: it only touches files) and returns stdout. */
async function nanovpn(topo: Topology, args: string[]): Promise<string> {
  const r = await topo.exec('srv', [process.execPath, BUNDLE, ...args]);
  return r.stdout;
}

test('crl-verify: a client revoked with `nanovpn pki revoke` is refused, also when revoked while the server runs', { timeout: 180_000 }, async (t) => {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: 2 }, async (topo) => {
    const dir = join(topo.tempDir('ca'), 'pki');
    await nanovpn(topo, ['pki', 'init', '--dir', dir]);
    await nanovpn(topo, ['pki', 'issue', '--dir', dir, '--server', 'server']);
    const profiles: Record<string, string> = {};
    for (const [cn, k] of [['client1', 1], ['client2', 2], ['client3', 2]] as const) {
      await nanovpn(topo, ['pki', 'issue', '--dir', dir, '--client', cn]);
      profiles[cn] = join(dir, `${cn}.ovpn`);
      writeFileSync(profiles[cn], await nanovpn(topo, ['profile', '--dir', dir, '--name', cn, '--remote', srvAddrFor(k)]));
    }
    assert.match(await nanovpn(topo, ['pki', 'revoke', '--dir', dir, 'client2']), /revoked 'client2'/);
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    const server = startNanovpn({
      topo, config: nanovpnConfig({ proto: 'udp', extra: [`crl-verify ${join(dir, 'crl.pem')}`] }),
      files: { 'ca.crt': read('ca.crt'), 'server.crt': read('issued/server.crt'), 'server.key': read('private/server.key') },
    });
    await server.waitForLine(READY, 10_000);

    const c1 = startProfile(topo, 'cli1', profiles.client1!, 'client1');
    await c1.waitForLine(READY, 30_000, { failOn: CLIENT_FAILURE });
    await pingOk(topo, 'cli1');
    const c2 = startProfile(topo, 'cli2', profiles.client2!, 'client2-revoked');
    await assert.rejects(c2.waitForLine(READY, 15_000, { failOn: CLIENT_FAILURE }));
    await c2.kill();
    await server.waitForLine(/client refused cn=client2 .*CERT_REVOKED/, 10_000);

    // Revoke client1 while the server runs; it notices the new crl.pem and refuses client1's next login.
    await c1.kill();
    await nanovpn(topo, ['pki', 'revoke', '--dir', dir, 'client1']);
    await server.waitForLine(/CRL reloaded/, 15_000);
    const c1again = startProfile(topo, 'cli1', profiles.client1!, 'client1-revoked');
    await assert.rejects(c1again.waitForLine(READY, 15_000, { failOn: CLIENT_FAILURE }));
    await c1again.kill();
    assert.match(c1again.output, /AUTH_FAILED/);
    await server.waitForLine(/client refused cn=client1 .*CERT_REVOKED/, 10_000);
    // A good client still gets in.
    const c3 = startProfile(topo, 'cli2', profiles.client3!, 'client3');
    await c3.waitForLine(READY, 30_000, { failOn: CLIENT_FAILURE });
    await pingOk(topo, 'cli2');
    await c3.kill();
    assert.equal((await server.stop()).code, 0);
  });
});

// ---- duplicate-cn and max-clients ----------------------------------------------------------------------------

// remap-usr1 SIGTERM: a client told to RESTART exits instead of logging in again (and pushing the other one out).
const EXIT_ON_RESTART = ['remap-usr1 SIGTERM'];

test('without duplicate-cn a second login with the same certificate replaces the first', { timeout: 120_000 }, async (t) => {
  await withServer(t, {}, async (e) => {
    const first = client(e, 1, { extra: EXIT_ON_RESTART });
    await first.waitInitialized();
    const second = client(e, 2, { cn: 'client1', name: 'client1-second' });
    await second.waitInitialized();
    await first.proc.exited;
    assert.match(first.proc.output, /server-pushed-connection-reset/);
    assert.match(await e.server.waitForLine(/client disconnected cn=client1 remote=198\.19\.1\.2/, 10_000), /client1/);
    await pingOk(e.topo, 'cli2');
  });
});

test('with duplicate-cn two logins with the same certificate both stay, with distinct addresses', { timeout: 120_000 }, async (t) => {
  await withServer(t, { setup: () => ({ extra: ['duplicate-cn'] }) }, async (e) => {
    const a = client(e, 1, { extra: EXIT_ON_RESTART });
    await a.waitInitialized();
    const b = client(e, 2, { cn: 'client1', name: 'client1-second' });
    await b.waitInitialized();
    const [ia, ib] = [await a.tunAddress(), await b.tunAddress()];
    assert.notEqual(ia, ib);
    await pingOk(e.topo, 'cli1');
    await pingOk(e.topo, 'cli2');
    assert.equal(a.proc.exit, undefined, 'the first client is still running');
    assert.doesNotMatch(a.proc.output, /server-pushed-connection-reset/);
  });
});

test('max-clients 1: a second client is refused; the same certificate logging in again replaces the first', { timeout: 120_000 }, async (t) => {
  await withServer(t, { setup: () => ({ extra: ['max-clients 1'] }) }, async (e) => {
    const c1 = client(e, 1, { extra: EXIT_ON_RESTART });
    await c1.waitInitialized();
    await refused(client(e, 2));
    await e.server.waitForLine(/client refused cn=client2 .*max-clients \(1\) reached/, 10_000);
    await pingOk(e.topo, 'cli1');
    const again = client(e, 2, { cn: 'client1', name: 'client1-second' });
    await again.waitInitialized();
    await c1.proc.exited;
    assert.match(c1.proc.output, /server-pushed-connection-reset/);
    await pingOk(e.topo, 'cli2');
  });
});
