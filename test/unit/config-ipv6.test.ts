// IPv6 inside the tunnel: the config directives, the IPv6 pool beside the IPv4 one, ccd, pool persistence and what
// the authorizer pushes, against OpenVPN 2.6's helper.c / pool.c / multi.c behaviour.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildServerConfig } from '../../src/config/server-config.js';
import { parseClientConfig } from '../../src/config/client-config-dir.js';
import { formatPoolPersist } from '../../src/config/pool-persist.js';
import { ConfigError } from '../../src/config/errors.js';
import { Authorizer, type AuthHost } from '../../src/server/authorizer.js';
import { IpPool } from '../../src/core/router/ip-pool.js';
import { Ipv6Pool } from '../../src/core/router/ipv6-pool.js';
import { formatIpv6, formatIpv6Net, parseIpv6Prefix, parseIpv6Text, type Ipv6Net } from '../../src/core/wire/ipv6.js';
import type { AuthRequest } from '../../src/core/session/session.js';
import { pushReplies } from '../../src/core/session/negotiate.js';
import type { ServerConfig } from '../../src/config/types.js';
import type { Conn } from '../../src/server/conn.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });

const src = (): string => join(fx.dir, 'server.conf');
const build = (extra: string) => buildServerConfig(STOCK_CONFIG + extra, src(), fx.dir);
const stockLines = STOCK_CONFIG.split('\n').length - 1;
function failsExtra(extra: string, re: RegExp, lineOffset = 1): void {
  assert.throws(() => build(extra), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.line, stockLines + lineOffset, e.message);
    assert.match(e.reason, re);
    return true;
  });
}
const a6 = (t: string): Buffer => parseIpv6Text(t)!;
const net6 = (t: string): Ipv6Net => parseIpv6Prefix(t) as Ipv6Net;

test('server-ipv6 expands as in 2.6: the server at NET+1, the pool from NET+0x1000 (NET+2 from /112), push tun-ipv6', () => {
  const c = build('server-ipv6 2001:db8:0:123::/64\n');
  assert.equal(formatIpv6(c.ipv6!.local), '2001:db8:0:123::1');
  assert.equal(c.ipv6!.bits, 64);
  assert.equal(formatIpv6Net(c.ipv6!.pool!), '2001:db8:0:123::1000/64');
  assert.equal(c.push.at(-1), 'tun-ipv6');
  const small = build('server-ipv6 fd00::/120\n');
  assert.equal(formatIpv6Net(small.ipv6!.pool!), 'fd00::2/120');
});

test('ifconfig-ipv6 with ifconfig-ipv6-pool, and without a pool', () => {
  const c = build('ifconfig-ipv6 fd00:1::1/64 fd00:1::2\nifconfig-ipv6-pool fd00:1::8000/64\n');
  assert.equal(formatIpv6(c.ipv6!.local), 'fd00:1::1');
  assert.equal(formatIpv6Net(c.ipv6!.network), 'fd00:1::/64');
  assert.equal(formatIpv6Net(c.ipv6!.pool!), 'fd00:1::8000/64');
  assert.ok(!c.push.includes('tun-ipv6'));
  assert.equal(build('ifconfig-ipv6 fd00:1::1/64\n').ipv6!.pool, undefined);
});

test('block-ipv6, and the REMOTE that sources its errors (server-ipv6: NET+2)', () => {
  const c = build('server-ipv6 fd00::/64\nblock-ipv6\n');
  assert.equal(c.blockIpv6, true);
  assert.equal(formatIpv6(c.ipv6!.remote!), 'fd00::2');
  assert.equal(formatIpv6(build('ifconfig-ipv6 fd00:1::1/64 fd00:1::9\n').ipv6!.remote!), 'fd00:1::9');
});

test('route-ipv6 lines are the IPv6 subnets behind clients', () => {
  const c = build('server-ipv6 fd00::/64\nroute-ipv6 fd00:99::/48\nroute-ipv6 2001:db8::/32 vpn_gateway 5\n');
  assert.deepEqual(c.routesIpv6.map(formatIpv6Net), ['fd00:99::/48', '2001:db8::/32']);
});

test('IPv6 config errors carry file:line and 2.6\'s limits', () => {
  failsExtra('server-ipv6 fd00::/48\n', /between \/64 and \/124/);
  failsExtra('server-ipv6 fd00::/126\n', /between \/64 and \/124/);
  failsExtra('server-ipv6 fd00::5/64\n', /not the network address/);
  failsExtra('server-ipv6 10.8.0.0/64\n', /not an IPv6 address/);
  failsExtra('server-ipv6 fd00::\n', /ADDRESS\/BITS/);
  failsExtra('ifconfig-ipv6-pool fd00::1000/64\n', /needs ifconfig-ipv6/);
  failsExtra('server-ipv6 fd00::/64\nifconfig-ipv6-pool fd00::1000/64\n', /already defines the IPv6 pool/, 2);
  failsExtra('ifconfig-ipv6 fd00::1/64 nothere\n', /not an IPv6 address/);
  failsExtra('route-ipv6 fd00:99::1/48\n', /not the network address/);
  assert.throws(() => buildServerConfig(STOCK_CONFIG.replace(/^server (.*)$/m, 'server $1 nopool') + 'server-ipv6 fd00::/64\n', src(), fx.dir),
    /incompatible with 'nopool'/);
  failsExtra('iroute-ipv6 fd00::/64\n', /client-config-dir/);
  failsExtra('ifconfig-ipv6-push fd00::5/64\n', /client-config-dir/);
});

test('ccd: ifconfig-ipv6-push ADDR/BITS [REMOTE] and iroute-ipv6 NET/BITS with their lines', () => {
  const c = parseClientConfig('ifconfig-ipv6-push fd00::77/64 fd00::1\niroute-ipv6 fd00:99:1::/48\n', 'c');
  assert.equal(formatIpv6Net(c.ifconfigIpv6Push!.local), 'fd00::77/64');
  assert.equal(formatIpv6(c.ifconfigIpv6Push!.remote!), 'fd00::1');
  assert.deepEqual(c.iroutes6.map((r) => [formatIpv6Net(r.net), r.line]), [['fd00:99:1::/48', 2]]);
  assert.equal(parseClientConfig('ifconfig-ipv6-push fd00::77/64\n', 'c').ifconfigIpv6Push!.remote, undefined);
  assert.throws(() => parseClientConfig('ifconfig-ipv6-push fd00::77\n', 'c'), /^.*c:1: ifconfig-ipv6-push: .*ADDRESS\/BITS/);
  assert.throws(() => parseClientConfig('\niroute-ipv6 fd00:99:1::1/48\n', 'c'), /c:2: iroute-ipv6: .*not the network address/);
  assert.throws(() => parseClientConfig('ifconfig-ipv6-push fd00::77/64 x\n', 'c'), /not an IPv6 address/);
});

test('the IPv6 pool: slot i of the IPv4 pool gets base+i; a zero host part starts one higher; /112+ sizes', () => {
  const p6 = new Ipv6Pool(a6('fd00::1'), net6('fd00::/64'), net6('fd00::1000/64'));
  assert.equal(formatIpv6(p6.addressAt(0)!), 'fd00::1000');
  assert.equal(formatIpv6(p6.addressAt(0x1234)!), 'fd00::2234');
  assert.equal(p6.size, 65536);
  const zero = new Ipv6Pool(a6('fd00::1'), net6('fd00::/64'), net6('fd00:0:0:1::/64'));
  assert.equal(formatIpv6(zero.addressAt(0)!), 'fd00:0:0:1::1');
  const small = new Ipv6Pool(a6('fd00::1'), net6('fd00::/120'), net6('fd00::2/120'));
  assert.equal(small.size, 254, '2^8 - 2');
  assert.equal(small.addressAt(254), undefined);
  // The IPv4 pool shrinks to the IPv6 side's size, as 2.6's unified pool does.
  const v4 = new IpPool(0x0a080000, 0xffff0000, { maxSlots: small.size });
  assert.equal(v4.size, 254);
  assert.equal(v4.indexOf(0x0a080002), 0);
  assert.ok(!small.isAssignable(a6('fd00::1')), 'the server\'s own address');
  const owner = {};
  small.assign(a6('fd00::77'), owner);
  assert.ok(!small.isAssignable(a6('fd00::77')));
  small.release(a6('fd00::77'), {});
  assert.ok(!small.isAssignable(a6('fd00::77')), 'only its holder releases it');
  small.release(a6('fd00::77'), owner);
  assert.ok(small.isAssignable(a6('fd00::77')));
});

test('ifconfig-pool-persist lines are CN,IPv4,IPv6 as 2.6 writes them', () => {
  assert.equal(formatPoolPersist([['alice', 0x0a080002, 'fd00::1000'], ['bob', 0x0a080003, '']]), 'alice,10.8.0.2,fd00::1000\nbob,10.8.0.3,\n');
});

// ---- the authorizer ----

function setup(pool6?: Ipv6Pool) {
  const cfg = {
    server: { network: 0x0a080000, netmask: 0xffffff00 }, verifyClientCert: 'require', duplicateCn: false, maxClients: 10, push: [],
    usernameAsCommonName: false, topology: 'subnet',
  } as unknown as ServerConfig;
  const host: AuthHost = {
    cfg, pool: new IpPool(0x0a080000, 0xffffff00), pool6, conns: new Set<Conn>(), allocatePeerId: () => 7, reloadSecureContext: () => {},
  };
  return { host, auth: new Authorizer(host) };
}
function fakeConn(cn: string) {
  return { ip: 0, cn, proto: 'udp', remote: '192.0.2.9:1194', session: { cn, closed: false, established: false } } as unknown as Conn;
}
const req = (cn: string): AuthRequest => ({ keyId: 0, first: true, cn, certAuthorized: true, username: '', password: '', peerInfo: new Map() });
const pool6 = () => new Ipv6Pool(a6('2001:db8::1'), net6('2001:db8::/64'), net6('2001:db8::1000/64'));

test('a pool client gets the IPv6 address of its IPv4 slot, pushed as ifconfig-ipv6 IP/BITS SERVER before ifconfig', async () => {
  const { auth } = setup(pool6());
  const a = fakeConn('a'), b = fakeConn('b');
  const ra = await auth.authorize(a, req('a'));
  const rb = await auth.authorize(b, req('b'));
  assert.ok(ra.ok && rb.ok);
  assert.equal(ra.assign?.ifconfigIpv6, '2001:db8::1000/64 2001:db8::1');
  assert.equal(rb.assign?.ifconfigIpv6, '2001:db8::1001/64 2001:db8::1');
  assert.equal(formatIpv6(b.ip6!), '2001:db8::1001');
  const push = pushReplies({ cipher: 'AES-256-GCM', dataV2: true } as never, {
    configPush: [], clientIp: ra.assign!.ip, netmask: ra.assign!.netmask, gateway: ra.assign!.gateway,
    ifconfigIpv6: ra.assign!.ifconfigIpv6, tunMtu: 1500,
  })[0]!;
  assert.match(push, /,ifconfig-ipv6 2001:db8::1000\/64 2001:db8::1,ifconfig 10\.8\.0\.2 255\.255\.255\.0,/);
});

test('ifconfig-ipv6-push wins; static IPv4 without it gets no IPv6; conflicts and overlaps are refused', async () => {
  const { auth, host } = setup(pool6());
  auth.plugins.clientConfig = async (cn) => {
    if (cn === 'static6') {
      return { push: [], pushReset: false, disable: false, ifconfigIpv6Push: { local: net6('2001:db8::77/64') },
        iroutes6: [{ net: net6('fd00:99::/48'), file: 'ccd/static6', line: 2 }] };
    }
    if (cn === 'static4') return { push: [], pushReset: false, disable: false, ip: 0x0a080032, second: 0xffffff00 };
    if (cn === 'clash') {
      return { push: [], pushReset: false, disable: false, ifconfigIpv6Push: { local: net6('2001:db8::77/64'), remote: a6('2001:db8::fe') } };
    }
    if (cn === 'overlap') return { push: [], pushReset: false, disable: false, iroutes6: [{ net: net6('2001:db8::/48'), file: 'ccd/overlap', line: 1 }] };
    return undefined;
  };
  const s6 = fakeConn('static6');
  const r = await auth.authorize(s6, req('static6'));
  assert.ok(r.ok);
  assert.equal(r.assign?.ifconfigIpv6, '2001:db8::77/64 2001:db8::1');
  assert.deepEqual(s6.iroutes6?.map(formatIpv6Net), ['fd00:99::/48']);
  const s4 = await auth.authorize(fakeConn('static4'), req('static4'));
  assert.ok(s4.ok);
  assert.equal(s4.assign?.ifconfigIpv6, undefined);
  const clash = await auth.authorize(fakeConn('clash'), req('clash'));
  assert.equal(clash.ok, false);
  assert.match(!clash.ok ? clash.reason : '', /2001:db8::77 is the server's own or given to another client/);
  const overlap = await auth.authorize(fakeConn('overlap'), req('overlap'));
  assert.match(!overlap.ok ? overlap.reason : '', /ccd\/overlap:1: iroute-ipv6 2001:db8::\/48 overlaps the server's IPv6 network/);
  assert.equal(host.pool.inUse, 2, 'refused clients took no IPv4 address');
  auth.released(s6);
  const again = await auth.authorize(fakeConn('clash'), req('clash'));
  assert.ok(again.ok);
  assert.equal(again.assign?.ifconfigIpv6, '2001:db8::77/64 2001:db8::fe', 'free again once its holder left');
});

test('without IPv6 on the server no ifconfig-ipv6 is pushed, and ccd IPv6 lines only warn', async () => {
  const { auth } = setup();
  auth.plugins.clientConfig = async () => ({ push: [], pushReset: false, disable: false, ifconfigIpv6Push: { local: net6('2001:db8::77/64') } });
  logs = [];
  const r = await auth.authorize(fakeConn('x'), req('x'));
  assert.ok(r.ok);
  assert.equal(r.assign?.ifconfigIpv6, undefined);
  assert.ok(logs.some((l) => l.includes('the server has no IPv6 address')));
});
