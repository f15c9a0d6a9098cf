// Topologies net30, p2p and subnet as OpenVPN 2.6 hands out addresses (helper.c, pool.c): the pool, what is pushed,
// ifconfig-pool / nopool, ifconfig-push from a client-config-dir, and the ifconfig-pool-persist addresses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { IpPool } from '../../src/core/router/ip-pool.js';
import { topologyPush } from '../../src/core/router/topology-push.js';
import { ipFromString as ip, ipToString } from '../../src/core/wire/ipv4.js';
import { Authorizer, type AuthHost } from '../../src/server/authorizer.js';
import type { AuthRequest } from '../../src/core/session/session.js';
import type { ServerConfig } from '../../src/config/types.js';
import type { Conn } from '../../src/server/conn.js';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

const NET = ip('10.8.0.0');
const MASK = ip('255.255.255.0');
function all(p: IpPool): string[] {
  const out: string[] = [];
  for (let a; (a = p.allocate()) !== undefined;) out.push(ipToString(a));
  return out;
}

test('net30: a /30 each from NET+4, the client on its second host address; the last /30 stays free', () => {
  const p = new IpPool(NET, MASK, { topology: 'net30' });
  assert.equal(p.size, 62);
  const got = all(p);
  assert.equal(got.length, 62);
  assert.deepEqual(got.slice(0, 3), ['10.8.0.6', '10.8.0.10', '10.8.0.14']);
  assert.equal(got.at(-1), '10.8.0.250');
  assert.equal(ipToString(p.ifconfigPeer(ip('10.8.0.6'))), '10.8.0.5');
  assert.equal(ipToString(p.ifconfigPeer(ip('10.8.0.9'))), '10.8.0.10', 'a client on the first host address: its peer is the second');
  // A /29 has one client /30 and keeps no last one free (2.6: pool_end_reserve 0).
  assert.deepEqual(all(new IpPool(ip('10.9.0.0'), ip('255.255.255.248'), { topology: 'net30' })), ['10.9.0.6']);
  assert.throws(() => new IpPool(ip('10.9.0.0'), ip('255.255.255.252'), { topology: 'net30' }), /at least a \/29/);
});

test('p2p: one address each from NET+4 to broadcast-4; the peer is the server', () => {
  const p = new IpPool(NET, MASK, { topology: 'p2p' });
  const got = all(p);
  assert.equal(got.length, 248);
  assert.deepEqual([got[0], got.at(-1)], ['10.8.0.4', '10.8.0.251']);
  assert.equal(ipToString(p.ifconfigPeer(ip('10.8.0.4'))), '10.8.0.1');
  assert.deepEqual(all(new IpPool(ip('10.9.0.0'), ip('255.255.255.248'), { topology: 'p2p' })), ['10.9.0.4', '10.9.0.5', '10.9.0.6', '10.9.0.7']);
});

test('ifconfig-pool ranges and nopool; release makes a slot free again', () => {
  const s = new IpPool(NET, MASK, { range: { start: ip('10.8.0.100'), end: ip('10.8.0.102') } });
  assert.deepEqual(all(s), ['10.8.0.100', '10.8.0.101', '10.8.0.102']);
  assert.equal(ipToString(s.ifconfigPeer(ip('10.8.0.100'), ip('255.255.0.0'))), '255.255.0.0', 'the pool netmask is pushed');
  // net30 range: whole /30s from START's to END's.
  const n = new IpPool(NET, MASK, { topology: 'net30', range: { start: ip('10.8.0.21'), end: ip('10.8.0.33') } });
  assert.deepEqual(all(n), ['10.8.0.22', '10.8.0.26', '10.8.0.30', '10.8.0.34']);
  n.release(ip('10.8.0.26'));
  assert.equal(ipToString(n.allocate()!), '10.8.0.26');
  const none = new IpPool(NET, MASK, { topology: 'net30', range: null });
  assert.equal(none.size, 0);
  assert.equal(none.allocate(), undefined);
});

test('ifconfig-push addresses: inside the network, not the server\'s, a host address of a free /30 in net30', () => {
  const n = new IpPool(NET, MASK, { topology: 'net30' });
  assert.ok(n.isAssignable(ip('10.8.0.9')));
  assert.ok(n.isAssignable(ip('10.8.0.10')));
  assert.ok(!n.isAssignable(ip('10.8.0.11')), 'broadcast of its /30');
  assert.ok(!n.isAssignable(ip('10.8.0.2')), "the server's own /30");
  assert.ok(!n.isAssignable(ip('10.9.0.9')), 'outside');
  n.assign(ip('10.8.0.9'));
  assert.ok(!n.isAssignable(ip('10.8.0.10')), 'its /30 is taken');
  assert.ok(!n.isFree(ip('10.8.0.10')));
  assert.notEqual(n.allocate(), ip('10.8.0.10'));
  const s = new IpPool(NET, MASK);
  assert.ok(s.isAssignable(ip('10.8.0.2')) && !s.isAssignable(ip('10.8.0.1')) && !s.isAssignable(ip('10.8.0.255')));
});

test('ifconfig-pool-persist: net30 stores the /30 base, as 2.6 writes it, and reads any address of a /30', () => {
  const n = new IpPool(NET, MASK, { topology: 'net30' });
  assert.equal(ipToString(n.persistedAddress(ip('10.8.0.6'))), '10.8.0.4');
  assert.equal(ipToString(n.fromPersisted(ip('10.8.0.4'))), '10.8.0.6');
  assert.equal(ipToString(n.fromPersisted(ip('10.8.0.7'))), '10.8.0.6');
  const s = new IpPool(NET, MASK, { topology: 'p2p' });
  assert.equal(ipToString(s.persistedAddress(ip('10.8.0.6'))), '10.8.0.6');
  assert.equal(ipToString(s.fromPersisted(ip('10.8.0.6'))), '10.8.0.6');
});

test('pushed by topology, as 2.6 server does', () => {
  const pool = (t: 'subnet' | 'net30' | 'p2p') => new IpPool(NET, MASK, { topology: t });
  assert.deepEqual(topologyPush(pool('subnet'), false), ['route-gateway 10.8.0.1', 'topology subnet']);
  assert.deepEqual(topologyPush(pool('subnet'), true), ['route-gateway 10.8.0.1', 'topology subnet']);
  assert.deepEqual(topologyPush(pool('net30'), false), ['route 10.8.0.1', 'topology net30']);
  assert.deepEqual(topologyPush(pool('net30'), true), ['route 10.8.0.0 255.255.255.0', 'topology net30']);
  assert.deepEqual(topologyPush(pool('p2p'), false), ['topology p2p']);
  assert.deepEqual(topologyPush(pool('p2p'), true), ['route 10.8.0.0 255.255.255.0', 'topology p2p']);
});

function authorizer(topology: 'subnet' | 'net30' | 'p2p', ccd?: { ip: number; second: number }, range?: { start: number; end: number } | null) {
  const cfg = {
    server: { network: NET, netmask: MASK }, topology, verifyClientCert: 'require', duplicateCn: false, maxClients: 10, push: [],
    usernameAsCommonName: false, clientToClient: false,
  } as unknown as ServerConfig;
  const host: AuthHost = {
    cfg, pool: new IpPool(NET, MASK, { topology, range }), conns: new Set<Conn>(), allocatePeerId: () => 3, reloadSecureContext: () => {},
  };
  const a = new Authorizer(host);
  if (ccd) a.plugins.clientConfig = async () => ({ ip: ccd.ip, second: ccd.second, push: [], pushReset: false, disable: false });
  return a;
}
const conn = (cn: string) => ({ ip: 0, cn, proto: 'udp', remote: '192.0.2.1:1', session: { cn, closed: false, established: false } }) as unknown as Conn;
const req = (cn: string): AuthRequest => ({ keyId: 0, first: true, cn, certAuthorized: true, username: '', password: '', peerInfo: new Map() });

test('authorizer: the ifconfig pushed in each topology, from the pool and from ifconfig-push', async () => {
  const assign = async (a: Authorizer) => { const r = await a.authorize(conn('c1'), req('c1')); assert.ok(r.ok, JSON.stringify(r)); return r.assign!; };
  const n = await assign(authorizer('net30'));
  assert.deepEqual([n.ip, n.netmask, n.topologyPush], ['10.8.0.6', '10.8.0.5', ['route 10.8.0.1', 'topology net30']]);
  const p = await assign(authorizer('p2p'));
  assert.deepEqual([p.ip, p.netmask, p.topologyPush], ['10.8.0.4', '10.8.0.1', ['topology p2p']]);
  const ccd = await assign(authorizer('net30', { ip: ip('10.8.0.9'), second: ip('10.8.0.10') }));
  assert.deepEqual([ccd.ip, ccd.netmask], ['10.8.0.9', '10.8.0.10']);
  const subnetCcd = await assign(authorizer('subnet', { ip: ip('10.8.0.50'), second: ip('255.255.255.0') }));
  assert.deepEqual([subnetCcd.ip, subnetCcd.netmask], ['10.8.0.50', '255.255.255.0']);
  const nopool = await assign(authorizer('subnet', { ip: ip('10.8.0.50'), second: ip('255.255.255.0') }, null));
  assert.equal(nopool.ip, '10.8.0.50');
  const refused = async (a: Authorizer, re: RegExp) => { const r = await a.authorize(conn('c1'), req('c1')); assert.ok(!r.ok); assert.match(r.reason, re); };
  await refused(authorizer('net30', { ip: ip('10.8.0.11'), second: ip('10.8.0.10') }), /not a client address of 10\.8\.0\.0\/24 in topology net30/);
  await refused(authorizer('subnet', { ip: ip('10.8.0.50'), second: ip('10.8.0.1') }), /is not a netmask \(topology subnet/);
  await refused(authorizer('subnet', undefined, null), /no pool \('nopool'\) and no ifconfig-push/);
});

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });
const build = (text: string) => { logs = []; return buildServerConfig(text, join(fx.dir, 'server.conf'), fx.dir); };
const noTopology = STOCK_CONFIG.replace(/^topology subnet\n/m, '');

test('config: no topology line is net30, with a warning that says what subnet would change', () => {
  const c = build(noTopology);
  assert.equal(c.topology, 'net30');
  const w = logs.filter((l) => / WARN config: /.test(l));
  assert.equal(w.length, 1);
  assert.match(w[0]!, /no 'topology' line: OpenVPN 2\.6's default 'topology net30' is used .* 'topology subnet' would give each client one address/);
  build(`${noTopology}topology net30\n`);
  assert.match(logs.join('\n'), /topology net30 for a server with an IPv4 pool is deprecated/);
  build(STOCK_CONFIG);
  assert.deepEqual(logs.filter((l) => /topology/.test(l)), []);
});

test('config: ifconfig-pool needs server … nopool and a range inside the network; its netmask is for subnet', () => {
  const c = build(STOCK_CONFIG.replace('server 10.8.0.0 255.255.255.0', 'server 10.8.0.0 255.255.255.0 nopool') + 'ifconfig-pool 10.8.0.100 10.8.0.199 255.255.255.0\n');
  assert.deepEqual(c.ifconfigPool, { start: ip('10.8.0.100'), end: ip('10.8.0.199') });
  assert.equal(c.poolNetmask, ip('255.255.255.0'));
  assert.equal(build(STOCK_CONFIG.replace('255.255.255.0\n', '255.255.255.0 nopool\n')).ifconfigPool, null);
  const refuses = (text: string, re: RegExp) =>
    assert.throws(() => build(text), (e: unknown) => e instanceof ConfigError && re.test(e.reason) && e.line !== undefined);
  refuses(`${STOCK_CONFIG}ifconfig-pool 10.8.0.100 10.8.0.199\n`, /'server' already defines the pool; add 'nopool'/);
  const nopool = STOCK_CONFIG.replace('255.255.255.0\n', '255.255.255.0 nopool\n');
  refuses(`${nopool}ifconfig-pool 10.9.0.100 10.9.0.199\n`, /inside the server's network 10\.8\.0\.0\/24/);
  refuses(`${nopool}ifconfig-pool 10.8.0.1 10.8.0.199\n`, /leave out the network address, the server's 10\.8\.0\.1/);
  refuses(`${nopool}ifconfig-pool 10.8.0.199 10.8.0.100\n`, /below the start/);
  refuses(`${nopool.replace('topology subnet', 'topology net30')}ifconfig-pool 10.8.0.100 10.8.0.199 255.255.255.0\n`, /netmask is for topology subnet only/);
});
