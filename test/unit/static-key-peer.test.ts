// The static-key peer: lock-on and float, pings and ping-restart at their deadlines, OCC request and exit, framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { StaticKeyChannel, staticKeyKeys } from '../../src/core/crypto/static-key-channel.js';
import { StaticKeyPeer, type StaticKeyPeerParams, type StaticPeerOutput } from '../../src/core/session/static-key-peer.js';
import { OCC_MAGIC, PING_MAGIC } from '../../src/core/session/session.js';

const KEY = randomBytes(256);
type Link = string;
const IP = Buffer.concat([Buffer.from('4500001c0000000040010000', 'hex'), Buffer.from([10, 8, 0, 2, 10, 8, 0, 1]), Buffer.alloc(8)]);

function peer(o: Partial<StaticKeyPeerParams<Link>> = {}): StaticKeyPeer<Link> {
  return new StaticKeyPeer<Link>({
    keys: staticKeyKeys(KEY, 0, 'AES-256-CBC', 'SHA1'), framing: 'none', tunMtu: 1500, ping: 10, pingRestart: 60,
    occOptions: 'V4,dev-type tun', sendTime: 1000, sameLink: (a, b) => a === b, ...o,
  });
}
/** The other end (direction 1), sealing what it sends to us and opening what we send. */
const remote = (sendTime = 5000) => new StaticKeyChannel(staticKeyKeys(KEY, 1, 'AES-256-CBC', 'SHA1'), { sendTime });
function drain(p: StaticKeyPeer<Link>): StaticPeerOutput<Link>[] {
  const o = [];
  for (let x = p.poll(); x; x = p.poll()) o.push(x);
  return o;
}
const sends = (out: StaticPeerOutput<Link>[]) => out.filter((o) => o.t === 'send');

test('nothing is sent before a peer authenticates; forgeries lock nothing on', () => {
  const p = peer();
  assert.equal(p.sealData(IP, 0), undefined);
  assert.deepEqual(p.openData(randomBytes(80), 'A', 0), { kind: 'drop', reason: 'auth' });
  assert.equal(p.link, undefined);
  assert.equal(p.nextDeadline(), undefined);
  assert.deepEqual(drain(p), []);
});

test('the first authenticated packet locks the peer on its link and is answered with a ping at once', () => {
  const p = peer(), r = remote();
  assert.deepEqual(p.openData(r.seal(IP)!, 'A', 100), { kind: 'packet', ip: IP });
  assert.equal(p.link, 'A');
  const out = drain(p);
  assert.deepEqual(out[0], { t: 'locked', link: 'A' });
  assert.equal(out.length, 2);
  const ping = r.open((out[1] as { bytes: Buffer }).bytes, 0);
  assert.ok(ping.ok && ping.plain.equals(PING_MAGIC));
});

test('float: an authenticated packet from another link moves the peer; a forged or replayed one does not', () => {
  const p = peer(), r = remote();
  const first = r.seal(IP)!;
  p.openData(first, 'A', 0);
  drain(p);
  assert.deepEqual(p.openData(first, 'B', 1), { kind: 'drop', reason: 'replay' });
  assert.deepEqual(p.openData(randomBytes(100), 'B', 2), { kind: 'drop', reason: 'auth' });
  assert.equal(p.link, 'A');
  p.openData(r.seal(IP)!, 'B', 3);
  assert.deepEqual(drain(p), [{ t: 'locked', link: 'B', previous: 'A' }]);
  assert.equal(p.link, 'B');
  p.openData(r.seal(IP)!, 'B', 4);
  assert.deepEqual(drain(p), [], 'the same link again: no event');
});

test('ping: after `ping` s without sending, not before; sending data moves the deadline', () => {
  const p = peer(), r = remote();
  p.openData(r.seal(IP)!, 'A', 0);
  drain(p);
  assert.equal(p.nextDeadline(), 10_000);
  p.tick(9_999);
  assert.deepEqual(drain(p), []);
  p.tick(10_000);
  const out = sends(drain(p));
  assert.equal(out.length, 1);
  const opened = r.open((out[0] as { bytes: Buffer }).bytes, 0);
  assert.ok(opened.ok && opened.plain.equals(PING_MAGIC));
  p.sealData(IP, 15_000);
  assert.equal(p.nextDeadline(), 25_000);
});

test('ping-restart: no authenticated packet for `pingRestart` s forgets the link; the next one locks on again', () => {
  const p = peer(), r = remote();
  p.openData(r.seal(IP)!, 'A', 0);
  p.openData(r.seal(PING_MAGIC)!, 'A', 30_000);
  drain(p);
  p.tick(89_999);
  assert.ok(!drain(p).some((o) => o.t === 'lost'));
  p.tick(90_000);
  assert.deepEqual(drain(p), [{ t: 'lost', reason: 'ping-restart' }]);
  assert.equal(p.link, undefined);
  assert.equal(p.nextDeadline(), undefined);
  assert.deepEqual(p.openData(r.seal(IP)!, 'C', 100_000), { kind: 'packet', ip: IP });
  assert.deepEqual(drain(p)[0], { t: 'locked', link: 'C' });
});

test('ping 0 and ping-restart 0 mean never', () => {
  const p = peer({ ping: 0, pingRestart: 0 }), r = remote();
  p.openData(r.seal(IP)!, 'A', 0);
  drain(p);
  assert.equal(p.nextDeadline(), undefined);
  p.tick(1e9);
  assert.deepEqual(drain(p), []);
});

test('a ping from the peer is a keepalive, not a packet', () => {
  const p = peer(), r = remote();
  assert.deepEqual(p.openData(r.seal(PING_MAGIC)!, 'A', 0), { kind: 'keepalive' });
});

test('OCC_REQUEST is answered with OCC_REPLY and our options string; OCC EXIT forgets the peer', () => {
  const p = peer(), r = remote();
  p.openData(r.seal(IP)!, 'A', 0);
  drain(p);
  assert.deepEqual(p.openData(r.seal(Buffer.concat([OCC_MAGIC, Buffer.from([0])]))!, 'A', 1), { kind: 'occ' });
  const out = sends(drain(p));
  assert.equal(out.length, 1);
  const reply = r.open((out[0] as { bytes: Buffer }).bytes, 0);
  assert.ok(reply.ok);
  assert.deepEqual(reply.plain, Buffer.concat([OCC_MAGIC, Buffer.from([1]), Buffer.from('V4,dev-type tun\0')]));
  assert.deepEqual(p.openData(r.seal(Buffer.concat([OCC_MAGIC, Buffer.from([6])]))!, 'A', 2), { kind: 'occ' });
  assert.deepEqual(drain(p), [{ t: 'lost', reason: 'exit' }]);
  assert.equal(p.link, undefined);
});

test('compression framing: lzo-stub packets are unframed and ours are framed; a bad header byte is dropped', () => {
  const p = peer({ framing: 'lzo-stub' }), r = remote();
  assert.deepEqual(p.openData(r.seal(Buffer.concat([Buffer.from([0xfa]), IP]))!, 'A', 0), { kind: 'packet', ip: IP });
  drain(p);
  const mine = r.open(p.sealData(IP, 1)!, 0);
  assert.ok(mine.ok && mine.plain.equals(Buffer.concat([Buffer.from([0xfa]), IP])));
  assert.deepEqual(p.openData(r.seal(Buffer.concat([Buffer.from([0x12]), IP]))!, 'A', 2), { kind: 'drop', reason: 'framing' });
});

test('a restarted peer (a later time, pids from 1 again) is accepted; a replay of its old packets is not', () => {
  const p = peer(), before = remote(5000);
  const old = before.seal(IP)!;
  p.openData(old, 'A', 0);
  const after = remote(6000);
  assert.deepEqual(p.openData(after.seal(IP)!, 'A', 1), { kind: 'packet', ip: IP });
  assert.deepEqual(p.openData(old, 'B', 2), { kind: 'drop', reason: 'replay' });
  assert.equal(p.link, 'A');
});
