// The management commands that need a session (log, state, echo, hold, verb, bytecount, client-auth & co.) and
// ManagementClients' rules (who is announced, when DISCONNECT comes), against plain objects standing in for the
// server and its connections: runCommand and the hub have no socket.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthRequest } from '../../src/core/session/session.js';
import { setLogSink, setVerb, log } from '../../src/log.js';
import { ClientEvents } from '../../src/server/client-events.js';
import type { Conn } from '../../src/server/conn.js';
import { withExternalConfig } from '../../src/server/external-auth.js';
import { type CommandContext, runCommand } from '../../src/server/management.js';
import { type ManagedServer, ManagementClients } from '../../src/server/management-clients.js';
import { ManagementHub, newSession } from '../../src/server/management-hub.js';

setVerb(3);
setLogSink(() => {});
const opened: (() => void)[] = [];
after(() => { for (const close of opened) close(); });

interface Fixture {
  ctx: CommandContext; out: string[][]; run: (line: string) => string[]; notes: () => string[];
  events: ClientEvents; conns: Set<Conn>; clients: ManagementClients; hub: ManagementHub;
}

function fixture(o: { clientAuth?: boolean; hold?: boolean; logCache?: number } = {}): Fixture {
  const events = new ClientEvents();
  const conns = new Set<Conn>();
  const server = {
    conns, clientEvents: events, cfg: { poolNetmask: undefined },
    pool: { topology: 'subnet', ifconfigPeer: () => 0xffffff00, size: 253, inUse: 0 },
    stats: { handshakesOk: 0, handshakesFailed: {}, renegotiations: 0 }, uplinkStats: () => undefined,
  } as unknown as ManagedServer;
  const hub = new ManagementHub({ logCache: o.logCache ?? 250, hold: o.hold ?? false });
  const clients = new ManagementClients(server, hub, o.clientAuth ?? true);
  const out: string[][] = [];
  const session = newSession((ls) => out.push(ls));
  hub.sessions.add(session);
  const ctx: CommandContext = { session, hub, clients, verb: { value: 3 } };
  const run = (line: string): string[] => runCommand(server, line, undefined, ctx).lines;
  opened.push(() => { clients.close(); hub.close(); });
  return { ctx, out, run, notes: () => out.flat(), events, conns, clients, hub };
}

let port = 40000;
function fakeConn(cn: string, o: { established?: boolean } = {}): Conn & { pendingCalls: unknown[] } {
  const pendingCalls: unknown[] = [];
  const session = {
    established: o.established ?? false, closed: false, cn, lastReceived: 0,
    stats: { bytesIn: 100, bytesOut: 200, packetsIn: 1, packetsOut: 1, renegotiations: 0 },
  };
  return {
    cn, remote: `198.19.1.2:${port++}`, proto: 'udp', ip: 0x0a080002, session, startedAt: Date.now(), connectedAt: Date.now(),
    peerInfo: new Map([['IV_VER', '2.6.14']]),
    authPending: (...a: unknown[]) => { pendingCalls.push(a); return true; },
    kill() {}, pendingCalls,
  } as unknown as Conn & { pendingCalls: unknown[] };
}

const req = (o: Partial<AuthRequest> = {}): AuthRequest => ({
  keyId: 0, first: true, cn: 'client1', certAuthorized: true, username: 'alice', password: 'pw', peerInfo: new Map(), ...o,
});

test('log on/off, N and all: history oldest first then END; records reach only the sessions that switched them on', () => {
  const f = fixture({ logCache: 3 });
  for (const w of ['one', 'two', 'three', 'four']) log('info', w);
  assert.deepEqual(f.notes(), [], 'log is off by default');
  const all = f.run('log all');
  assert.deepEqual(all.map((l) => l.replace(/^\d+,/, '')), ['I,two', 'I,three', 'I,four', 'END'], 'management-log-cache 3 keeps the last 3');
  assert.deepEqual(f.run('log 1').map((l) => l.replace(/^\d+,/, '')), ['I,four', 'END']);
  assert.deepEqual(f.run('log on'), ['SUCCESS: real-time log notification set to ON']);
  log('warn', 'careful', { n: 1 });
  log('error', 'broken');
  assert.deepEqual(f.notes().map((l) => l.replace(/:\d+,/, ':')), ['>LOG:W,careful n=1', '>LOG:N,broken']);
  assert.deepEqual(f.run('log off'), ['SUCCESS: real-time log notification set to OFF']);
  assert.deepEqual(f.run('log on all').slice(0, 1), ['SUCCESS: real-time log notification set to ON'], 'two parameters, as 2.6');
  assert.deepEqual(f.run('log maybe'), ["ERROR: log parameter must be 'on' or 'off' or some number n or 'all'"]);
  assert.deepEqual(f.run('log'), ["ERROR: the 'log' command requires at least 1 parameter"]);
});

test('state: the current state then END; state on streams >STATE:; echo the same way', () => {
  const f = fixture();
  f.hub.state({ time: 10, name: 'CONNECTING' });
  f.hub.state({ time: 11, name: 'CONNECTED', detail: 'SUCCESS', tunIp: '10.8.0.1' });
  assert.deepEqual(f.run('state'), ['11,CONNECTED,SUCCESS,10.8.0.1,,,,', 'END']);
  assert.deepEqual(f.run('state all'), ['10,CONNECTING,,,,,,', '11,CONNECTED,SUCCESS,10.8.0.1,,,,', 'END']);
  f.run('state on');
  f.hub.state({ time: 12, name: 'EXITING', detail: 'exit' });
  assert.deepEqual(f.notes(), ['>STATE:12,EXITING,exit,,,,,']);
  f.run('echo on');
  f.hub.echo('hello\nthere', 13);
  assert.deepEqual(f.notes().slice(1), ['>ECHO:13,hello there'], 'one line, whatever the text held');
  assert.deepEqual(f.run('echo all'), ['13,hello there', 'END']);
});

test('hold: show, on, off, release; waitForRelease waits only with the flag, and new sessions see the >HOLD line', async () => {
  const f = fixture({ hold: true });
  assert.deepEqual(f.run('hold'), ['SUCCESS: hold=1']);
  let released = false;
  const wait = f.hub.waitForRelease().then(() => { released = true; });
  assert.deepEqual(f.notes(), ['>HOLD:Waiting for hold release:0']);
  assert.equal(f.hub.holdMessage, '>HOLD:Waiting for hold release:0');
  await new Promise((r) => setImmediate(r));
  assert.equal(released, false);
  assert.deepEqual(f.run('hold release'), ['SUCCESS: hold release succeeded']);
  await wait;
  assert.equal(released, true);
  assert.equal(f.hub.holdMessage, undefined);
  assert.deepEqual(f.run('hold off'), ['SUCCESS: hold flag set to OFF']);
  await f.hub.waitForRelease();   // resolves at once
  assert.deepEqual(f.run('hold on'), ['SUCCESS: hold flag set to ON']);
  assert.deepEqual(f.run('hold maybe'), ['ERROR: bad hold command parameter']);
});

test('verb shows and sets the log level (0..15); mute is shown as 0 and cannot be set; no password is ever needed', () => {
  const f = fixture();
  assert.deepEqual(f.run('verb'), ['SUCCESS: verb=3']);
  assert.deepEqual(f.run('verb 16'), ['ERROR: verb level is out of range']);
  assert.deepEqual(f.run('verb 5'), ['SUCCESS: verb level changed']);
  assert.deepEqual(f.run('verb'), ['SUCCESS: verb=5']);
  f.run('verb 3');
  assert.deepEqual(f.run('mute'), ['SUCCESS: mute=0']);
  assert.match(f.run('mute 10')[0]!, /^ERROR: /);
  assert.deepEqual(f.run('password "Private Key" secret'), ['ERROR: no password is currently needed at this time']);
  assert.deepEqual(f.run('username Auth bob'), ['ERROR: no username is currently needed at this time']);
  assert.deepEqual(f.run('env-filter 2'), ['SUCCESS: env_filter_level=2']);
  assert.deepEqual(f.run('env-filter'), ['SUCCESS: env_filter_level=0'], 'no level is 0, as 2.6');
  assert.deepEqual(f.run('env-filter x'), ['SUCCESS: env_filter_level=0']);
});

test('client-auth: CONNECT with ENV, then the multi-line config applied like a ccd file; a bad line keeps the client waiting', async () => {
  const f = fixture();
  const c = fakeConn('client1');
  const decision = f.clients.external(c, req(), 'client1');
  const notes = f.notes();
  assert.match(notes[0]!, /^>CLIENT:CONNECT,(\d+),0$/);
  const cid = Number(/CONNECT,(\d+)/.exec(notes[0]!)![1]);
  assert.equal(notes[1], '>CLIENT:ENV,n_clients=0');
  assert.ok(notes.includes('>CLIENT:ENV,username=alice'));
  assert.ok(notes.includes('>CLIENT:ENV,IV_VER=2.6.14'));
  assert.ok(!notes.some((l) => l.includes('pw')), 'no password');
  assert.equal(notes[notes.length - 1], '>CLIENT:ENV,END');
  // A config error: reported, nothing decided.
  assert.deepEqual(f.run(`client-auth ${cid} 0`), []);
  assert.deepEqual(f.run('bogus-option 1'), []);
  assert.match(f.run('END')[0]!, /^ERROR: client-auth command failed \(client-auth \d+ 0:1: 'bogus-option' is not supported/);
  // The real one.
  assert.deepEqual(f.run(`client-auth ${cid} 0`), []);
  assert.deepEqual(f.run('push "route 10.99.0.0 255.255.255.0"'), []);
  assert.deepEqual(f.run('ifconfig-push 10.8.0.50 255.255.255.0'), []);
  assert.deepEqual(f.run('END'), ['SUCCESS: client-auth command succeeded']);
  const d = await decision;
  assert.equal(d.ok, true);
  assert.ok(d.ok && d.config);
  assert.deepEqual(d.ok && d.config?.push, ['route 10.99.0.0 255.255.255.0']);
  assert.equal(d.ok && d.config?.ip, 0x0a080032);
  assert.equal(c.username, 'alice');
  assert.deepEqual(f.run(`client-auth-nt ${cid} 0`), ['ERROR: client-auth command failed'], 'decided already');
});

test('client-deny, client-auth-nt, client-pending-auth: the CID and KID must match the one waiting; parse errors as 2.6', async () => {
  const f = fixture();
  const c = fakeConn('client2');
  const decision = f.clients.external(c, req({ cn: 'client2', keyId: 0 }), 'client2');
  const cid = Number(/CONNECT,(\d+)/.exec(f.notes()[0]!)![1]);
  assert.deepEqual(f.run('client-deny x 0 r'), ['ERROR: cannot parse CID']);
  assert.deepEqual(f.run(`client-deny ${cid} y r`), ['ERROR: cannot parse KID']);
  assert.deepEqual(f.run(`client-deny ${cid} 0`), ["ERROR: the 'client-deny' command requires at least 3 parameters"]);
  assert.deepEqual(f.run(`client-pending-auth ${cid} 0 "OPEN_URL:x" 30`), ['SUCCESS: client-pending-auth command succeeded']);
  assert.deepEqual(c.pendingCalls, [[0, 'OPEN_URL:x', 30]]);
  assert.deepEqual(f.run(`client-pending-auth ${cid} 0 x t`), ['ERROR: cannot parse TIMEOUT']);
  assert.deepEqual(f.run(`client-deny ${cid + 1} 0 r`), ['ERROR: client-deny command failed']);
  assert.deepEqual(f.run(`client-deny ${cid} 0 "not on the list" "ask the admin"`), ['SUCCESS: client-deny command succeeded']);
  assert.deepEqual(await decision, { ok: false, reason: 'client-deny: not on the list', clientMessage: 'ask the admin' });
  // A second authentication of the same connection is a REAUTH with the next KID.
  const again = f.clients.external(c, req({ first: false, keyId: 1 }), 'client2');
  assert.ok(f.notes().includes(`>CLIENT:REAUTH,${cid},1`));
  assert.deepEqual(f.run(`client-auth-nt ${cid} 0`), ['ERROR: client-auth command failed'], 'KID 0 is gone');
  assert.deepEqual(f.run(`client-auth-nt ${cid} 1`), ['SUCCESS: client-auth command succeeded']);
  assert.deepEqual(await again, { ok: true, config: undefined });
});

test('management-client-auth needs a username and password, as in OpenVPN 2.6', async () => {
  const f = fixture();
  const d = await f.clients.external(fakeConn('client1'), req({ username: '', password: '' }), 'client1');
  assert.equal(d.ok, false);
  assert.match(!d.ok ? d.reason : '', /no username\/password sent/);
  assert.deepEqual(f.notes(), [], 'nothing announced');
});

test('ESTABLISHED for every client; ADDRESS and DISCONNECT only for announced ones; a session that ends while waiting is denied', async () => {
  const f = fixture();
  const quiet = fakeConn('quiet', { established: true });
  f.events.emit({ t: 'established', conn: quiet });
  assert.match(f.notes()[0]!, /^>CLIENT:ESTABLISHED,\d+$/);
  assert.ok(!f.notes().some((l) => l.startsWith('>CLIENT:ADDRESS')));
  f.out.length = 0;
  f.events.emit({ t: 'closed', conn: quiet, established: true, reason: 'bye' });
  assert.deepEqual(f.notes(), [], 'not announced by CONNECT: no DISCONNECT (DAF_INITIAL_AUTH)');

  const c = fakeConn('client1');
  const pending = f.clients.external(c, req(), 'client1');
  const cid = Number(/CONNECT,(\d+)/.exec(f.notes()[0]!)![1]);
  f.out.length = 0;
  f.events.emit({ t: 'closed', conn: c, established: false, reason: 'link closed' });
  assert.deepEqual(await pending, { ok: false, reason: 'session ended: link closed' });
  assert.equal(f.notes()[0], `>CLIENT:DISCONNECT,${cid}`);
  assert.ok(f.notes().includes('>CLIENT:ENV,bytes_received=100'));
  f.out.length = 0;
  f.events.emit({ t: 'closed', conn: c, established: false, reason: 'again' });
  assert.deepEqual(f.notes(), [], 'one DISCONNECT');

  const e = fakeConn('client3');
  (e as { iroutes?: unknown }).iroutes = [{ network: 0x0a370000, netmask: 0xffffff00 }];
  void f.clients.external(e, req({ cn: 'client3' }), 'client3');
  const cid3 = Number(/CONNECT,(\d+)/.exec(f.notes()[0]!)![1]);
  f.clients.authorize(cid3, 0, undefined);
  f.out.length = 0;
  f.events.emit({ t: 'established', conn: e });
  assert.deepEqual(f.notes().slice(0, 3), [`>CLIENT:ADDRESS,${cid3},10.8.0.2,1`, `>CLIENT:ADDRESS,${cid3},10.55.0.0/24,0`, `>CLIENT:ESTABLISHED,${cid3}`]);
});

test('bytecount N: >BYTECOUNT_CLI for each established client every N seconds; 0 stops it', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const f = fixture();
  const c = fakeConn('client1', { established: true });
  f.conns.add(c);
  assert.deepEqual(f.run('bytecount 2'), ['SUCCESS: bytecount interval changed']);
  t.mock.timers.tick(2000);
  assert.match(f.notes()[0]!, /^>BYTECOUNT_CLI:\d+,100,200$/);
  assert.deepEqual(f.run('bytecount 0'), ['SUCCESS: bytecount interval changed']);
  f.out.length = 0;
  t.mock.timers.tick(10_000);
  assert.deepEqual(f.notes(), []);
  assert.deepEqual(f.run('bytecount'), ["ERROR: the 'bytecount' command requires 1 parameter"]);
});

test('client-auth config after the client-config-dir file: pushes add up, push-reset and ifconfig-push replace', () => {
  const ccd = { push: ['a'], pushReset: false, disable: false, ip: 1, second: 2, iroutes: [] };
  assert.deepEqual(withExternalConfig(ccd, { push: ['b'], pushReset: false, disable: false }),
    { ip: 1, second: 2, push: ['a', 'b'], pushReset: false, disable: false, iroutes: [] });
  assert.deepEqual(withExternalConfig(ccd, { push: ['b'], pushReset: true, disable: false, ip: 5, second: 6 })?.push, ['b']);
  assert.equal(withExternalConfig(ccd, { push: [], pushReset: false, disable: false, ip: 5, second: 6 })?.ip, 5);
  assert.equal(withExternalConfig(undefined, undefined), undefined);
});
