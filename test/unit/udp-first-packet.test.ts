// Unauthenticated UDP first packets under tls-crypt: vetted with the one shared responder wrap (peek, no replay
// state), so a forged reset builds no wrap and leaves no state; a session's own wrap is built only when the
// cookie comes back. Drives VpnServer's UDP handler directly (no socket: replies are captured).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import { buildServerConfig } from '../../src/config/server-config.js';
import type { ServerConfig } from '../../src/config/types.js';
import { type ControlWrap, tlsCryptWrap, type WrapOptions } from '../../src/core/session/control-wrap.js';
import { emitControl, isParseError, Op, parseControl } from '../../src/core/wire/openvpn-packet.js';
import { setLogSink } from '../../src/log.js';
import { VpnServer } from '../../src/server/server.js';
import { type ConfigFixture, makeConfigFixture, STOCK_CONFIG } from '../helpers/config-fixtures.js';

/** Counts the wraps the server builds (the responder's own, built in the constructor, included). */
class CountingServer extends VpnServer {
  wrapsBuilt = 0;
  override makeWrap(opts?: WrapOptions): ControlWrap { this.wrapsBuilt++; return super.makeWrap(opts); }
}

interface Harness {
  srv: CountingServer;
  sent: Buffer[];
  udp(msg: Buffer, port?: number): void;
}

let fx: ConfigFixture;
let cfg: ServerConfig;
const lines: string[] = [];
const servers: VpnServer[] = [];

before(() => {
  fx = makeConfigFixture();
  cfg = buildServerConfig(STOCK_CONFIG.replace('proto tcp-server', 'proto udp') + 'tls-crypt tc.key\n', 'test.conf', fx.dir);
  setLogSink((l) => { lines.push(l); });
});

after(async () => {
  for (const s of servers) await s.stop();
  setLogSink((l) => { process.stdout.write(l + '\n'); });
  fx.cleanup();
});

function harness(): Harness {
  const srv = new CountingServer(cfg);
  servers.push(srv);
  const sent: Buffer[] = [];
  const priv = srv as unknown as { onUdp(m: Buffer, r: RemoteInfo, now: number): void; udpSend: (b: Buffer) => void };
  priv.udpSend = (b) => { sent.push(b); };
  const udp = (msg: Buffer, port = 40000): void => {
    priv.onUdp(msg, { address: '198.51.100.7', port, family: 'IPv4', size: msg.length }, performance.now());
  };
  return { srv, sent, udp };
}

const clientWrap = (): ControlWrap => tlsCryptWrap(cfg.tlsCrypt!.bytes, 'client', { replayTime: 1000 });

function forgedReset(): Buffer {
  const b = randomBytes(1 + 8 + 8 + 32 + 14);
  b[0] = (Op.HARD_RESET_CLIENT_V2 << 3);
  return b;
}

function clientReset(w: ControlWrap, sid: Buffer): Buffer {
  return w.wrap(emitControl({ opcode: Op.HARD_RESET_CLIENT_V2, keyId: 0, sessionId: sid, acks: [], packetId: 0,
    payload: Buffer.alloc(0) }), 0);
}

/** The server's cookie (its session id) from a captured HARD_RESET_SERVER_V2. */
function cookieOf(reply: Buffer): Buffer {
  const plain = clientWrap().unwrap(reply, 0);
  assert.ok(plain, 'the reply unwraps with the client key');
  const pkt = parseControl(plain);
  assert.ok(!isParseError(pkt) && pkt.opcode === Op.HARD_RESET_SERVER_V2);
  return Buffer.from(pkt.sessionId);
}

function cookieEcho(w: ControlWrap, sid: Buffer, cookie: Buffer): Buffer {
  return w.wrap(emitControl({ opcode: Op.ACK_V1, keyId: 0, sessionId: sid, acks: [0], peerSessionId: cookie,
    payload: Buffer.alloc(0) }), 0);
}

const VERIFY = 'packet failed tls-auth/tls-crypt verification';

test('10,000 forged resets from 10,000 ports build no wrap, no state, and one log line', () => {
  const h = harness();
  const built = h.srv.wrapsBuilt;
  lines.length = 0;
  for (let i = 0; i < 10_000; i++) h.udp(forgedReset(), 1024 + i);
  assert.equal(h.srv.wrapsBuilt, built, 'no per-packet wrap');
  assert.equal(h.srv.conns.size, 0);
  assert.equal(h.sent.length, 0);
  assert.equal(h.srv.udpDropCounts()[VERIFY], 10_000);
  const dropLines = lines.filter((l) => l.includes('packet dropped'));
  assert.equal(dropLines.length, 1, dropLines.join('\n'));
  assert.match(dropLines[0]!, /remote=198\.51\.100\.7:1024 reason=/);
});

test('a legit reset is answered by the shared responder; its replays too, and none builds a wrap', () => {
  const h = harness();
  const built = h.srv.wrapsBuilt;
  const sid = randomBytes(8);
  const reset = clientReset(clientWrap(), sid);
  for (let i = 0; i < 5; i++) h.udp(reset);
  assert.equal(h.sent.length, 5, 'peek keeps no replay state, so one reset (or a forged one) cannot block the next');
  assert.equal(h.srv.wrapsBuilt, built);
  assert.equal(h.srv.conns.size, 0);
});

test('the cookie echo creates the session with its own wrap, which holds the first packet id', () => {
  const h = harness();
  const built = h.srv.wrapsBuilt;
  const sid = randomBytes(8);
  const w = clientWrap();
  h.udp(clientReset(w, sid));
  const echo = cookieEcho(w, sid, cookieOf(h.sent[0]!));
  h.udp(echo);
  assert.equal(h.srv.wrapsBuilt, built + 1, 'exactly one wrap, for the session');
  assert.equal(h.srv.conns.size, 1);
  const conn = [...h.srv.conns][0]!;
  const drops = conn.session.stats.drops;
  h.udp(echo);   // the same packet again goes to the session, whose wrap has seen its replay id
  assert.equal(conn.session.stats.drops, drops + 1, 'the replayed echo is refused by the session wrap');
  assert.equal(h.srv.wrapsBuilt, built + 1);
});

test('a forged reset from an established client address neither replaces nor closes its session', () => {
  const h = harness();
  const sid = randomBytes(8);
  const w = clientWrap();
  h.udp(clientReset(w, sid));
  h.udp(cookieEcho(w, sid, cookieOf(h.sent[0]!)));
  const conn = [...h.srv.conns][0]!;
  const built = h.srv.wrapsBuilt;
  for (let i = 0; i < 100; i++) h.udp(forgedReset());
  assert.ok(h.srv.conns.has(conn));
  assert.equal(conn.session.closed, false);
  assert.equal(h.srv.wrapsBuilt, built);
});

test('garbage of every opcode from unknown addresses builds no wrap and is counted by reason', () => {
  const h = harness();
  const built = h.srv.wrapsBuilt;
  for (let i = 0; i < 4096; i++) {
    const b = randomBytes(1 + (i % 200));
    b[0] = i & 0xff;
    h.udp(b, 2000 + i);
  }
  h.udp(Buffer.alloc(0));
  assert.equal(h.srv.wrapsBuilt, built);
  assert.equal(h.srv.conns.size, 0);
  const total = Object.values(h.srv.udpDropCounts()).reduce((a, b) => a + b, 0);
  assert.equal(total, 4097, JSON.stringify(h.srv.udpDropCounts()));
});

test('peek verifies without touching the replay window', () => {
  const server = tlsCryptWrap(cfg.tlsCrypt!.bytes, 'server', { replayTime: 2000 });
  const client = clientWrap();
  const a = client.wrap(emitControl({ opcode: Op.CONTROL_V1, keyId: 0, sessionId: randomBytes(8), acks: [], packetId: 1, payload: Buffer.from('x') }), 0);
  const plain = server.peek(a);
  assert.ok(plain);
  assert.deepEqual(server.peek(a), plain, 'a second peek of the same id still passes');
  assert.deepEqual(server.unwrap(a, 0), plain, 'and unwrap still sees the id as new');
  assert.equal(server.unwrap(a, 0), undefined, 'unwrap records it');
  assert.deepEqual(server.peek(a), plain, 'peek ignores the window');
  const forged = Buffer.from(a);
  forged[forged.length - 1] ^= 1;
  assert.equal(server.peek(forged), undefined);
  assert.equal(server.peek(a.subarray(0, 49)), undefined, 'too short');
});
