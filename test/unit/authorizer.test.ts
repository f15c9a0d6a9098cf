// Authorizer decisions that need no network: address allocation and races with a session that ends mid-auth.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Authorizer, type AuthHost } from '../../src/server/authorizer.js';
import { IpPool } from '../../src/core/router/ip-pool.js';
import type { AuthRequest } from '../../src/core/session/session.js';
import type { ServerConfig } from '../../src/config/types.js';
import type { Conn } from '../../src/server/conn.js';
import type { AuthScripts } from '../../src/server/scripts.js';

const NET = 0x0a080000;
const MASK = 0xffffff00;

function setup() {
  const cfg = {
    server: { network: NET, netmask: MASK }, verifyClientCert: 'require', duplicateCn: false, maxClients: 10, push: [],
    usernameAsCommonName: false,
  } as unknown as ServerConfig;
  const host: AuthHost = {
    cfg, pool: new IpPool(NET, MASK), conns: new Set<Conn>(),
    allocatePeerId: () => 7, reloadSecureContext: () => {},
  };
  return { host, auth: new Authorizer(host) };
}

function fakeConn(cn: string, where: { proto?: 'udp' | 'tcp'; remote?: string } = {}) {
  const calls: string[] = [];
  const session = { cn, closed: false, established: false };
  return { ip: 0, peerId: undefined as number | undefined, cn, proto: where.proto ?? 'udp', remote: where.remote ?? '192.0.2.9:1194',
    calls,
    kill(message: string, reason: string, kind: string) { calls.push(`kill ${message} ${kind}: ${reason}`); session.closed = true; },
    forceClose(reason: string, kind: string) { calls.push(`close ${kind}: ${reason}`); session.closed = true; },
    session } as unknown as Conn & { session: { closed: boolean; established: boolean }; calls: string[] };
}

const req = (cn: string): AuthRequest => ({ keyId: 0, first: true, cn, certAuthorized: true, username: '', password: '', peerInfo: new Map() });

test('a good client gets the lowest free address, the gateway and its peer id', async () => {
  const { host, auth } = setup();
  const conn = fakeConn('alice');
  const r = await auth.authorize(conn, req('alice'));
  assert.ok(r.ok);
  assert.deepEqual(r.assign, {
    ip: '10.8.0.2', netmask: '255.255.255.0', gateway: '10.8.0.1', peerId: 7, push: [], topologyPush: ['route-gateway 10.8.0.1', 'topology subnet'],
  });
  assert.equal(host.pool.inUse, 1);
});

test('an unverified certificate is refused and takes no address', async () => {
  const { host, auth } = setup();
  const r = await auth.authorize(fakeConn('mallory'), { ...req('mallory'), certAuthorized: false, certError: 'CERT_HAS_EXPIRED' });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', /CERT_HAS_EXPIRED/);
  assert.equal(host.pool.inUse, 0);
});

test('a session that ends while the client-config-dir is read gets no address (no pool leak)', async () => {
  const { host, auth } = setup();
  const conn = fakeConn('bob');
  let release!: () => void;
  auth.plugins.clientConfig = () => new Promise((res) => { release = () => res(undefined); });
  const pending = auth.authorize(conn, req('bob'));
  await new Promise((r) => setImmediate(r));
  conn.session.closed = true;
  release();
  const r = await pending;
  assert.equal(r.ok, false);
  assert.equal(host.pool.inUse, 0);
  assert.equal(conn.ip, 0);
});

test('without duplicate-cn: an old session at the same UDP address closes quietly, one elsewhere is told RESTART', async () => {
  const { host, auth } = setup();
  const sameAddr = fakeConn('alice', { remote: '192.0.2.7:5000' });
  const otherAddr = fakeConn('alice', { remote: '192.0.2.8:5000' });
  const overTcp = fakeConn('alice', { proto: 'tcp', remote: '192.0.2.7:5000' });
  const bob = fakeConn('bob', { remote: '192.0.2.7:5000' });
  for (const c of [sameAddr, otherAddr, overTcp, bob]) { c.session.established = true; host.conns.add(c); }
  const fresh = fakeConn('alice', { remote: '192.0.2.7:5000' });
  host.conns.add(fresh);
  const r = await auth.authorize(fresh, req('alice'));
  assert.ok(r.ok);
  assert.deepEqual(sameAddr.calls, ['close replaced: replaced by a new login of alice']);
  assert.deepEqual(otherAddr.calls, ['kill RESTART replaced: replaced by a new login of alice']);
  assert.deepEqual(overTcp.calls, ['kill RESTART replaced: replaced by a new login of alice']);
  assert.deepEqual(bob.calls, [], 'another identity at the same address is left alone');
  assert.equal(fresh.calls.length, 0);
});

test('iroute in the client-config-dir: refused with its file:line when it overlaps the VPN or another client', async () => {
  const { host, auth } = setup();
  const addr = (s: string) => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const iroute = (network: string, netmask: string) => ({ network: addr(network), netmask: addr(netmask), file: '/ccd/c1', line: 3 });
  let ccdIroutes = [iroute('10.8.0.0', '255.255.0.0')];
  auth.plugins.clientConfig = async () => ({ push: [], pushReset: false, disable: false, iroutes: ccdIroutes });
  let r = await auth.authorize(fakeConn('c1'), req('c1'));
  assert.ok(!r.ok);
  assert.match(r.reason, /^\/ccd\/c1:3: iroute 10\.8\.0\.0\/16 overlaps the server's network 10\.8\.0\.0\/24$/);
  const other = fakeConn('gw2');
  (host as { irouteOwner?: unknown }).irouteOwner = () => other;
  ccdIroutes = [iroute('192.168.1.0', '255.255.255.0')];
  r = await auth.authorize(fakeConn('c1'), req('c1'));
  assert.ok(!r.ok);
  assert.match(r.reason, /^\/ccd\/c1:3: iroute 192\.168\.1\.0\/24 is already routed to another client \(gw2\)$/);
  (host as { irouteOwner?: unknown }).irouteOwner = () => undefined;
  const conn = fakeConn('c1');
  r = await auth.authorize(conn, req('c1'));
  assert.ok(r.ok);
  assert.deepEqual(conn.iroutes, [{ network: ccdIroutes[0]!.network, netmask: ccdIroutes[0]!.netmask }]);
});

/** Script hooks that accept everything, with client-connect answering `connect`. */
function scriptsWith(connect: AuthScripts['clientConnect'], checksPasswords = false): AuthScripts & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen, checksPasswords,
    verifyTls: async () => undefined,
    verifyPassword: async (_c, r) => { seen.push(`password '${r.username}'`); return undefined; },
    clientConnect: connect, established: () => {}, closed: () => {},
  };
}

test('client-connect: its ifconfig-push moves the client, its push adds, push-reset resets; disable refuses and frees the address', async () => {
  const { host, auth } = setup();
  auth.plugins.scripts = scriptsWith(async (_c, _cn, ip) => {
    assert.equal(ip, NET + 2, 'the script sees the address from the pool');
    return { ok: true, config: { ip: NET + 50, second: MASK, push: ['route 192.168.5.0 255.255.255.0'], pushReset: false, disable: false, iroutes: [] } };
  });
  host.cfg.push = ['dhcp-option DNS 9.9.9.9'];
  const r = await auth.authorize(fakeConn('alice'), req('alice'));
  assert.ok(r.ok);
  assert.equal(r.assign?.ip, '10.8.0.50');
  assert.deepEqual(r.assign?.push, ['dhcp-option DNS 9.9.9.9', 'route 192.168.5.0 255.255.255.0']);
  assert.equal(host.pool.inUse, 1, 'the pool address went back');
  auth.plugins.scripts = scriptsWith(async () => ({ ok: true, config: { push: ['x'], pushReset: true, disable: false, iroutes: [] } }));
  const reset = await auth.authorize(fakeConn('bob'), req('bob'));
  assert.deepEqual(reset.ok && reset.assign?.push, ['x']);
  auth.plugins.scripts = scriptsWith(async () => ({ ok: true, config: { push: [], pushReset: false, disable: true, iroutes: [] } }));
  const carol = fakeConn('carol');
  const off = await auth.authorize(carol, req('carol'));
  assert.deepEqual(off, { ok: false, reason: 'disabled by the client-connect script' });
  auth.plugins.scripts = scriptsWith(async () => ({ ok: false, reason: 'client-connect script refused the client (x)' }));
  assert.equal((await auth.authorize(fakeConn('dave'), req('dave'))).ok, false);
  assert.equal(carol.ip, 0);
  assert.equal(host.pool.inUse, 2);
});

test('a session that ends while client-connect runs gets no address, and closing it frees the one it held', async () => {
  const { host, auth } = setup();
  const conn = fakeConn('erin');
  let answer!: () => void;
  auth.plugins.scripts = scriptsWith(() => new Promise((res) => { answer = () => res({ ok: true }); }));
  const pending = auth.authorize(conn, req('erin'));
  await new Promise((r) => setImmediate(r));
  assert.equal(host.pool.inUse, 1, 'held while the script runs');
  conn.session.closed = true;
  auth.released(conn);   // what the server's closed() does
  answer();
  assert.deepEqual(await pending, { ok: false, reason: 'session ended during client-connect' });
  assert.equal(host.pool.inUse, 0);
});

test('auth-user-pass-optional: no username is the script\'s to judge (empty strings); without a script the certificate must carry it', async () => {
  const { host, auth } = setup();
  const verified: string[] = [];
  host.cfg.authUserPassVerify = '/users';
  host.cfg.authUserPassOptional = true;
  auth.plugins.verifyPassword = async (u) => { verified.push(u); return u === 'alice'; };
  assert.equal((await auth.authorize(fakeConn('c1'), req('c1'))).ok, true, 'a certificate alone');
  assert.deepEqual(verified, [], 'the users file is not asked about an empty username');
  assert.equal((await auth.authorize(fakeConn('c2'), { ...req('c2'), username: 'alice', password: 'x' })).ok, true);
  assert.equal((await auth.authorize(fakeConn('c3'), { ...req('c3'), username: 'bob', password: 'x' })).ok, false, 'a username given is checked');
  host.cfg.verifyClientCert = 'none';
  const r = await auth.authorize(fakeConn(''), { ...req(''), cn: undefined, certAuthorized: false });
  assert.match(!r.ok ? r.reason : '', /no username\/password sent and no accepted client certificate/);
  const scripts = scriptsWith(async () => ({ ok: true }), true);
  auth.plugins.scripts = scripts;
  assert.equal((await auth.authorize(fakeConn(''), { ...req(''), cn: undefined, certAuthorized: false })).ok, true, 'the script accepted');
  assert.deepEqual(scripts.seen, ["password ''"]);
  host.cfg.authUserPassOptional = false;
  assert.match(await auth.authorize(fakeConn('c4'), req('c4')).then((x) => (!x.ok ? x.reason : '')), /no username\/password sent/);
});

test('a login of the same name that got in while client-connect ran is replaced once the script answers; max-clients is counted again', async () => {
  const { host, auth } = setup();
  const conn = fakeConn('frank', { remote: '192.0.2.1:1000' });
  let answer!: () => void;
  auth.plugins.scripts = scriptsWith(() => new Promise((res) => { answer = () => res({ ok: true }); }));
  const pending = auth.authorize(conn, req('frank'));
  await new Promise((r) => setImmediate(r));
  const earlier = fakeConn('frank', { remote: '192.0.2.2:2000' });
  earlier.session.established = true;
  host.conns.add(earlier);
  answer();
  assert.equal((await pending).ok, true);
  assert.deepEqual(earlier.calls, ['kill RESTART replaced: replaced by a new login of frank']);

  host.cfg.maxClients = 1;
  const late = fakeConn('gina');
  const waiting = auth.authorize(late, req('gina'));
  await new Promise((r) => setImmediate(r));
  const other = fakeConn('hank');
  other.session.established = true;
  host.conns.add(other);
  const inUse = host.pool.inUse;
  answer();
  assert.deepEqual(await waiting, { ok: false, reason: 'max-clients (1) reached' });
  assert.equal(host.pool.inUse, inUse - 1, 'its address is freed');
});
