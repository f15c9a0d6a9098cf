// Management interface: command replies (OpenVPN 2.6 wording), line splitting, and the TCP listener against a fake
// server on 127.0.0.1 with an ephemeral port.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { setLogSink, setVerb } from '../../src/log.js';
import { GREETING, LineReader, MAX_LINE, runCommand, splitArgs, startManagement } from '../../src/server/management.js';
import { clientIdOf, type ObservedConn, type ObservedServer } from '../../src/server/observe.js';

setVerb(3);
const logs: string[] = [];
setLogSink((l) => logs.push(l));

type FakeConn = ObservedConn & { killedWith: string[] };

function fakeConn(cn: string, remote: string, o: { established?: boolean; bytesIn?: number } = {}): FakeConn {
  const killedWith: string[] = [];
  return {
    cn, remote, proto: 'udp', ip: 0x0a080002, peerId: 0, connectedAt: Date.now(),
    session: {
      established: o.established ?? true, closed: false, lastReceived: 0,
      stats: { bytesIn: o.bytesIn ?? 1000, bytesOut: 2000, packetsIn: 3, packetsOut: 4, renegotiations: 0 },
      negotiated: { cipher: 'AES-128-GCM' },
    },
    kill(m: string) { killedWith.push(m); },
    killedWith,
  };
}

function fakeServer(conns: ObservedConn[]): ObservedServer {
  return { conns, stats: { handshakesOk: 0, handshakesFailed: {}, renegotiations: 0 }, pool: { size: 253, inUse: 0 },
    uplinkStats: () => undefined };
}

const run = (s: ObservedServer, line: string): string[] => runCommand(s, line).lines;
const UNKNOWN = "ERROR: unknown command, enter 'help' for more options";

test('kill CN: kills every session with that CN, with RESTART, and says how many', () => {
  const a = fakeConn('client1', '198.19.1.2:1000');
  const b = fakeConn('client1', '198.19.2.2:1000');
  const c = fakeConn('other', '198.19.3.2:1000');
  const s = fakeServer([a, b, c]);
  assert.deepEqual(run(s, 'kill client1'), ["SUCCESS: common name 'client1' found, 2 client(s) killed"]);
  assert.deepEqual(a.killedWith, ['RESTART']);
  assert.deepEqual(b.killedWith, ['RESTART']);
  assert.deepEqual(c.killedWith, []);
  assert.ok(logs.some((l) => /management: killing client cn=client1 remote=198\.19\.1\.2:1000/.test(l)));
  assert.deepEqual(run(s, 'kill nobody'), ["ERROR: common name 'nobody' not found"]);
  assert.deepEqual(run(s, 'kill "client1"'), ["SUCCESS: common name 'client1' found, 2 client(s) killed"]);
});

test('kill IP:port matches the real address; bad addresses and ports are reported like OpenVPN', () => {
  const a = fakeConn('client1', '198.19.1.2:40000');
  const s = fakeServer([a]);
  assert.deepEqual(run(s, 'kill 198.19.1.2:40001'), ['ERROR: client at address 198.19.1.2:40001 not found']);
  assert.deepEqual(a.killedWith, []);
  assert.deepEqual(run(s, 'kill 198.19.1.2:40000'), ['SUCCESS: 1 client(s) at address 198.19.1.2:40000 killed']);
  assert.deepEqual(a.killedWith, ['RESTART']);
  assert.deepEqual(run(s, 'kill udp:198.19.1.2:40000'), ['ERROR: error parsing IP address: udp']);
  assert.deepEqual(run(s, 'kill 300.1.1.1:5'), ['ERROR: error parsing IP address: 300.1.1.1']);
  assert.deepEqual(run(s, 'kill 1.2.3.4:70000'), ['ERROR: port number is out of range: 70000']);
  assert.deepEqual(run(s, 'kill'), ["ERROR: the 'kill' command requires 1 parameter"]);
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; they are shown and matched as IPv4.
  const mapped = fakeConn('client2', '::ffff:198.19.2.2:41000');
  const s2 = fakeServer([mapped]);
  assert.ok(run(s2, 'status 2').some((l) => l.startsWith('CLIENT_LIST,client2,198.19.2.2:41000,')));
  assert.deepEqual(run(s2, 'kill 198.19.2.2:41000'), ['SUCCESS: 1 client(s) at address 198.19.2.2:41000 killed']);
  assert.deepEqual(mapped.killedWith, ['RESTART']);
  assert.deepEqual(run(s, 'kill a b'), ["ERROR: the 'kill' command requires 1 parameter"]);
});

test('kill ignores sessions still in their handshake', () => {
  const h = fakeConn('client1', '198.19.1.2:1', { established: false });
  assert.deepEqual(run(fakeServer([h]), 'kill client1'), ["ERROR: common name 'client1' not found"]);
  assert.deepEqual(h.killedWith, []);
});

test('client-kill CID [MSG]', () => {
  const a = fakeConn('client1', '198.19.1.2:1');
  const s = fakeServer([a]);
  const cid = clientIdOf(a);
  assert.deepEqual(run(s, `client-kill ${cid + 1000}`), ['ERROR: client-kill command failed']);
  assert.deepEqual(run(s, 'client-kill x'), ['ERROR: client-kill command failed']);
  assert.deepEqual(run(s, 'client-kill'), ["ERROR: the 'client-kill' command requires at least 1 parameter"]);
  assert.deepEqual(run(s, `client-kill ${cid} HALT`), ['SUCCESS: client-kill command succeeded']);
  assert.deepEqual(a.killedWith, ['HALT']);
  assert.deepEqual(run(s, `client-kill ${cid}`), ['SUCCESS: client-kill command succeeded']);
  assert.deepEqual(a.killedWith, ['HALT', 'RESTART']);
});

test('status: no version (or atoi 0) is status-version\'s (default 1); 2, 3 uses tabs, 1 is the old layout, others are refused', () => {
  const s = { ...fakeServer([fakeConn('client1', '198.19.1.2:5', { bytesIn: 4242 })]), cfg: { statusVersion: 2 as const } };
  assert.equal(run({ ...s, cfg: undefined }, 'status')[0], 'OpenVPN CLIENT LIST');
  assert.equal(run({ ...s, cfg: { statusVersion: 3 } }, 'status x')[0]!.split('\t')[0], 'TITLE');
  const v2 = run(s, 'status');
  assert.match(v2[0]!, /^TITLE,nanovpn /);
  assert.ok(v2.some((l) => /^CLIENT_LIST,client1,198\.19\.1\.2:5,10\.8\.0\.2,,4242,2000,/.test(l)), v2.join('\n'));
  assert.equal(v2.at(-1), 'END');
  assert.deepEqual(run(s, 'status 2').slice(2), v2.slice(2));
  assert.deepEqual(run(s, 'status x').slice(2), v2.slice(2));   // atoi("x") = 0: OpenVPN's default
  const v3 = run(s, 'status 3');
  assert.ok(v3.some((l) => l.startsWith('CLIENT_LIST\tclient1\t198.19.1.2:5\t')));
  const v1 = run(s, 'status 1');
  assert.equal(v1[0], 'OpenVPN CLIENT LIST');
  assert.ok(v1.some((l) => l.startsWith('client1,198.19.1.2:5,4242,2000,')));
  assert.equal(v1.at(-1), 'END');
  assert.deepEqual(run(s, 'status 4'), ['ERROR: bad status format version number']);
  for (const out of [v1, v2, v3]) assert.ok(out.every((l) => !l.includes('\n') && !l.includes('\r')));
});

test('version, help, pid, load-stats, quit/exit, unknown and empty lines', () => {
  const s = fakeServer([fakeConn('a', '1.1.1.1:1', { bytesIn: 10 }), fakeConn('b', '1.1.1.2:1', { bytesIn: 5 })]);
  const v = run(s, 'version');
  assert.match(v[0]!, /^OpenVPN Version: nanovpn /);
  assert.deepEqual(v.slice(1), ['Management Version: 5', 'END']);
  const h = run(s, 'help');
  assert.equal(h.at(-1), 'END');
  for (const cmd of ['status', 'kill cn', 'kill IP:port', 'client-kill', 'exit|quit', 'version']) assert.ok(h.some((l) => l.startsWith(cmd)), cmd);
  assert.deepEqual(run(s, 'pid'), [`SUCCESS: pid=${process.pid}`]);
  assert.deepEqual(run(s, 'load-stats'), ['SUCCESS: nclients=2,bytesin=15,bytesout=4000']);
  assert.deepEqual(runCommand(s, 'quit'), { lines: [], quit: true });
  assert.deepEqual(runCommand(s, 'exit'), { lines: [], quit: true });
  assert.deepEqual(run(s, 'bogus'), [UNKNOWN]);
  assert.deepEqual(run(s, 'STATUS'), [UNKNOWN]);   // commands are case-sensitive, as in OpenVPN
  assert.deepEqual(run(s, ''), []);
  assert.deepEqual(run(s, '   '), []);
  assert.deepEqual(run(s, 'kill "unterminated'), ['ERROR: unterminated quote']);
});

test('splitArgs: blanks, quotes, escapes', () => {
  assert.deepEqual(splitArgs('  kill   a  '), ['kill', 'a']);
  assert.deepEqual(splitArgs('kill "my client" x'), ['kill', 'my client', 'x']);
  assert.deepEqual(splitArgs('kill "a\\"b\\\\c"'), ['kill', 'a"b\\c']);
  assert.deepEqual(splitArgs('kill ""'), ['kill', '']);
  assert.deepEqual(splitArgs('a\tb'), ['a', 'b']);
  assert.equal(splitArgs('"open'), undefined);
});

test('property: runCommand never throws and always ends status-like output with END', () => {
  const s = fakeServer([fakeConn('client1', '198.19.1.2:5')]);
  fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }),
    fc.tuple(fc.constantFrom('status', 'kill', 'client-kill', 'version', 'help'), fc.string()).map(([a, b]) => `${a} ${b}`)), (line) => {
    const r = runCommand(s, line);
    assert.ok(Array.isArray(r.lines));
    for (const l of r.lines) assert.ok(!l.includes('\n'));
  }), { numRuns: 2000 });
});

test('LineReader: lines split across chunks, CRLF and LF, overlong lines reported once then recovery', () => {
  const r = new LineReader();
  assert.deepEqual(r.push(Buffer.from('sta')), []);
  assert.deepEqual(r.push(Buffer.from('tus\r\nver')), ['status']);
  assert.deepEqual(r.push(Buffer.from('sion\nhelp\n\n')), ['version', 'help', '']);
  assert.deepEqual(r.push(Buffer.from('x'.repeat(MAX_LINE))), []);
  assert.deepEqual(r.push(Buffer.from('y'.repeat(10))), []);
  assert.deepEqual(r.push(Buffer.from('y'.repeat(MAX_LINE * 3))), []);
  assert.deepEqual(r.push(Buffer.from('zzz\nquit\n')), [null, 'quit']);
  assert.deepEqual(r.push(Buffer.from(`${'a'.repeat(MAX_LINE + 1)}\nok\n`)), [null, 'ok']);
  assert.deepEqual(r.push(Buffer.from(`${'a'.repeat(MAX_LINE)}\n`)), ['a'.repeat(MAX_LINE)]);
  // UTF-8 split inside a character across chunks.
  const cn = Buffer.from('kill Jürgen\n');
  assert.deepEqual(r.push(cn.subarray(0, 7)), []);
  assert.deepEqual(r.push(cn.subarray(7)), ['kill Jürgen']);
});

// ---- over TCP ------------------------------------------------------------------------------------------------

/** A line-oriented test client: `until(re)` waits for output matching re (the whole transcript so far). */
function connect(port: number | string) {
  const sock = typeof port === 'string' ? net.connect(port) : net.connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  const waiters: Array<() => void> = [];
  sock.on('data', (d) => { text += d.toString('latin1'); for (const w of waiters.splice(0)) w(); });
  sock.on('close', () => { closed = true; for (const w of waiters.splice(0)) w(); });
  sock.on('error', () => {});
  const until = (pred: () => boolean, what: string): Promise<void> => new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}; got ${JSON.stringify(text)}`)), 5000);
    const check = (): void => {
      if (pred()) { clearTimeout(timer); res(); return; }
      if (closed) { clearTimeout(timer); rej(new Error(`closed while waiting for ${what}; got ${JSON.stringify(text)}`)); return; }
      waiters.push(check);
    };
    check();
  });
  return {
    sock,
    get text() { return text; },
    get closed() { return closed; },
    send(s: string | Buffer) { sock.write(s); },
    waitFor(re: RegExp) { return until(() => re.test(text), String(re)); },
    waitClosed() { return until(() => closed, 'close'); },
  };
}

test('TCP: greeting, CRLF replies, two concurrent clients, kill, garbage and overlong lines, quit', async () => {
  const k = fakeConn('client1', '198.19.1.2:777');
  const m = await startManagement(fakeServer([k]), { host: '127.0.0.1', port: 0 });
  assert.ok(m);
  try {
    const a = connect(m.port);
    const b = connect(m.port);
    await a.waitFor(/\r\n$/);
    assert.equal(a.text, `${GREETING}\r\n`);
    await b.waitFor(/\r\n$/);
    a.send('version\r\n');
    b.send('status 2\n');
    await a.waitFor(/Management Version: 5\r\nEND\r\n$/);
    await b.waitFor(/\r\nEND\r\n$/);
    assert.match(b.text, /\r\nCLIENT_LIST,client1,198\.19\.1\.2:777,/);
    assert.doesNotMatch(b.text.replace(/\r\n/g, ''), /\n/);   // every line ends in CRLF
    // Garbage: binary bytes, a NUL, a line far over the limit; the connection survives and other clients too.
    a.send(Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a]));
    await a.waitFor(/unknown command, enter 'help' for more options\r\n$/);
    a.send(Buffer.alloc(100_000, 0x41));
    a.send('\nbogus\n');
    await a.waitFor(/ERROR: command line too long\r\nERROR: unknown command, enter 'help' for more options\r\n$/);
    b.send('kill client1\n');
    await b.waitFor(/SUCCESS: common name 'client1' found, 1 client\(s\) killed\r\n$/);
    assert.deepEqual(k.killedWith, ['RESTART']);
    // Pipelined commands after quit are not run.
    a.send('quit\nkill client1\n');
    await a.waitClosed();
    assert.deepEqual(k.killedWith, ['RESTART']);
    b.send('exit\n');
    await b.waitClosed();
    assert.ok(logs.some((l) => /management: client connected remote=127\.0\.0\.1:\d+/.test(l)));
    assert.ok(logs.some((l) => /management: client disconnected remote=127\.0\.0\.1:\d+/.test(l)));
  } finally {
    await m.close();
  }
});

test('TCP: close() drops connected clients and stops listening', async () => {
  const m = await startManagement(fakeServer([]), { host: '127.0.0.1', port: 0 });
  assert.ok(m);
  const a = connect(m.port);
  await a.waitFor(/\r\n$/);
  await m.close();
  await a.waitClosed();
  await assert.rejects(new Promise((res, rej) => {
    const s = net.connect(m.port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); res(undefined); });
    s.on('error', rej);
  }));
});

test('a non-loopback address is refused with a warning unless allowed; loopback names are accepted', async () => {
  logs.length = 0;
  const m = await startManagement(fakeServer([]), { host: '0.0.0.0', port: 0 });
  assert.equal(m, undefined);
  assert.ok(logs.some((l) => / WARN management: refusing a non-loopback address .*address=0\.0\.0\.0/.test(l)), logs.join('\n'));
  const l = await startManagement(fakeServer([]), { host: 'localhost', port: 0 });
  assert.ok(l);
  await l.close();
});

test('a port already in use: warning, no listener, no throw', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  logs.length = 0;
  try {
    assert.equal(await startManagement(fakeServer([]), { host: '127.0.0.1', port }), undefined);
    assert.ok(logs.some((l) => / WARN management: cannot listen/.test(l)));
  } finally {
    await new Promise((r) => blocker.close(r));
  }
});

test('io-state: one SUCCESS line with the server\'s socket-level state as JSON; {} without ioState', () => {
  const s = { ...fakeServer([]), ioState: () => ({ udp: { rx: 3, tx: 2, sendQueueCount: 0 } }) };
  assert.deepEqual(run(s, 'io-state'), ['SUCCESS: {"udp":{"rx":3,"tx":2,"sendQueueCount":0}}']);
  assert.deepEqual(run(fakeServer([]), 'io-state'), ['SUCCESS: {}']);
});

test('unix socket (management PATH unix): the same protocol; a stale socket file is replaced, the file goes on close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-mgmt-'));
  const path = join(dir, 'server.sock');
  try {
    // A process that exits while listening leaves its socket file behind, as a crash does.
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    assert.ok(existsSync(path));
    const m = await startManagement(fakeServer([fakeConn('client1', '198.19.1.2:777')]), { path });
    assert.ok(m);
    const a = connect(path);
    await a.waitFor(/\r\n$/);
    assert.equal(a.text, `${GREETING}\r\n`);
    a.send('status 2\n');
    await a.waitFor(/\r\nEND\r\n$/);
    assert.match(a.text, /\r\nCLIENT_LIST,client1,198\.19\.1\.2:777,/);
    await m.close();
    await a.waitClosed();
    assert.ok(!existsSync(path));
    writeFileSync(path, 'not a socket');
    assert.equal(await startManagement(fakeServer([]), { path }), undefined, 'a regular file there is left alone');
    assert.ok(logs.some((l) => /management: cannot listen/.test(l)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill [IPv6]:port matches an IPv6 client at its real address as the status shows it, whatever the spelling', () => {
  const a = fakeConn('client6', '[fd00:198:19:1::2]:40000');
  const s = fakeServer([a]);
  assert.ok(run(s, 'status 2').some((l) => l.startsWith('CLIENT_LIST,client6,[fd00:198:19:1::2]:40000,')));
  assert.deepEqual(run(s, 'kill [fd00:198:19:1::2]:40001'), ['ERROR: client at address [fd00:198:19:1::2]:40001 not found']);
  assert.deepEqual(a.killedWith, []);
  assert.deepEqual(run(s, 'kill [FD00:198:19:1:0:0:0:2]:40000'), ['SUCCESS: 1 client(s) at address [fd00:198:19:1::2]:40000 killed']);
  assert.deepEqual(a.killedWith, ['RESTART']);
});
