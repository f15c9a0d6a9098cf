// Static-key packets (no opcode; HMAC || IV || CBC(pid || time || payload)), checked against a construction written
// here with node:crypto alone, for every key direction setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { StaticKeyChannel, staticKeyKeys, staticKeyMaxPayload, type KeyDirection } from '../../src/core/crypto/static-key-channel.js';

const KEY = randomBytes(256);
const SEND_TIME = 0x65000000;
const seq = (a: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (a + i) & 0xff));

/** Where each direction setting encrypts: cipher key at [base, base+32), HMAC key at [base+64, base+64+32). */
const bases = (d: KeyDirection): { enc: number; dec: number } =>
  d === undefined ? { enc: 0, dec: 0 } : d === 0 ? { enc: 0, dec: 128 } : { enc: 128, dec: 0 };
const opposite = (d: KeyDirection): KeyDirection => (d === undefined ? undefined : d === 0 ? 1 : 0);

function referenceSeal(base: number, pid: number, time: number, payload: Buffer, iv: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(pid, 0);
  head.writeUInt32BE(time, 4);
  const c = createCipheriv('aes-256-cbc', KEY.subarray(base, base + 32), iv);
  const ct = Buffer.concat([c.update(Buffer.concat([head, payload])), c.final()]);
  const mac = createHmac('sha256', KEY.subarray(base + 64, base + 96)).update(iv).update(ct).digest();
  return Buffer.concat([mac, iv, ct]);
}

function referenceOpen(base: number, packet: Buffer): { pid: number; time: number; payload: Buffer } {
  const mac = createHmac('sha256', KEY.subarray(base + 64, base + 96)).update(packet.subarray(32)).digest();
  assert.deepEqual(packet.subarray(0, 32), mac, 'HMAC over IV || ciphertext');
  const d = createDecipheriv('aes-256-cbc', KEY.subarray(base, base + 32), packet.subarray(32, 48));
  const plain = Buffer.concat([d.update(packet.subarray(48)), d.final()]);
  return { pid: plain.readUInt32BE(0), time: plain.readUInt32BE(4), payload: plain.subarray(8) };
}

const channel = (d: KeyDirection, o: { randomIv?: (iv: Buffer) => void; sendTime?: number } = {}) =>
  new StaticKeyChannel(staticKeyKeys(KEY, d, 'AES-256-CBC', 'SHA256'), { sendTime: o.sendTime ?? SEND_TIME, randomIv: o.randomIv });

for (const d of [0, 1, undefined] as const) {
  const name = d === undefined ? 'no direction' : `direction ${d}`;

  test(`${name}: sealed packets are the reference construction, byte for byte, with pids 1, 2, …`, () => {
    const iv = seq(0xc0, 16);
    const ch = channel(d, { randomIv: (b) => iv.copy(b) });
    for (const [pid, payload] of [[1, seq(0, 20)], [2, seq(5, 16)], [3, Buffer.alloc(0)], [4, seq(9, 1400)]] as const) {
      const got = ch.seal(payload)!;
      assert.deepEqual(got, referenceSeal(bases(d).enc, pid, SEND_TIME, payload, iv), `pid ${pid}`);
      assert.deepEqual(referenceOpen(bases(d).enc, got), { pid, time: SEND_TIME, payload });
    }
  });

  test(`${name}: opens what the reference peer (the opposite direction) seals, and the peer opens ours`, () => {
    const peerEnc = bases(opposite(d)).enc;
    assert.equal(peerEnc, bases(d).dec, 'the peer encrypts with the half we decrypt with');
    const ch = channel(d);
    const payload = seq(0x40, 100);
    const r = ch.open(referenceSeal(peerEnc, 1, 77, payload, randomBytes(16)), 0);
    assert.ok(r.ok);
    assert.deepEqual(r, { ok: true, plain: payload, packetId: 1, time: 77 });
    const peer = channel(opposite(d));
    const back = peer.open(ch.seal(payload)!, 0);
    assert.ok(back.ok && back.plain.equals(payload) && back.time === SEND_TIME);
  });
}

test('direction 0 and 1 differ in both halves; the same direction on both ends does not authenticate', () => {
  const a = channel(0), b = channel(0);
  assert.deepEqual(b.open(a.seal(seq(0, 32))!, 0), { ok: false, reason: 'auth' });
  assert.deepEqual(channel(undefined).open(channel(1).seal(seq(0, 32))!, 0), { ok: false, reason: 'auth' });
});

test('tampering anywhere (HMAC, IV, ciphertext) fails authentication; nothing is recorded', () => {
  const tx = channel(0), rx = channel(1);
  const pkt = tx.seal(seq(0, 40))!;
  for (const at of [0, 31, 32, 47, 48, pkt.length - 1]) {
    const bad = Buffer.from(pkt);
    bad[at] ^= 0x01;
    assert.deepEqual(rx.open(bad, 0), { ok: false, reason: 'auth' }, `byte ${at}`);
  }
  assert.ok(rx.open(pkt, 0).ok, 'the genuine packet still opens: the forgeries left no trace');
});

test('short packets: less than HMAC + IV + one block is short; a ciphertext that is not whole blocks fails', () => {
  const rx = channel(1);
  for (const n of [0, 1, 32, 48, 63]) assert.deepEqual(rx.open(randomBytes(n), 0), { ok: false, reason: 'short' }, `${n} bytes`);
  const pkt = channel(0).seal(seq(0, 40))!;
  assert.deepEqual(rx.open(pkt.subarray(0, pkt.length - 3), 0), { ok: false, reason: 'auth' });
});

test('an authentic plaintext shorter than the long packet id is short', () => {
  // The reference construction without the 8 id bytes: 4 bytes of plaintext only.
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', KEY.subarray(0, 32), iv);
  const ct = Buffer.concat([c.update(seq(1, 4)), c.final()]);
  const mac = createHmac('sha256', KEY.subarray(64, 96)).update(iv).update(ct).digest();
  assert.deepEqual(channel(1).open(Buffer.concat([mac, iv, ct]), 0), { ok: false, reason: 'short' });
});

test('replay: a packet opens once; reordering within the window is fine; an older time is refused, a newer one restarts', () => {
  const rx = channel(1);
  const at = (pid: number, time: number) => referenceSeal(0, pid, time, seq(pid, 8), randomBytes(16));
  const p1 = at(1, 100), p3 = at(3, 100), p2 = at(2, 100);
  assert.ok(rx.open(p1, 0).ok);
  assert.deepEqual(rx.open(p1, 1), { ok: false, reason: 'replay' });
  assert.ok(rx.open(p3, 2).ok);
  assert.ok(rx.open(p2, 3).ok, 'pid 2 after 3: reordered, not replayed');
  assert.deepEqual(rx.open(p2, 4), { ok: false, reason: 'replay' });
  assert.deepEqual(rx.open(at(0, 100), 5), { ok: false, reason: 'replay' }, 'pid 0 is never valid');
  assert.deepEqual(rx.open(at(9, 99), 6), { ok: false, reason: 'replay' }, 'an earlier time: stale');
  assert.ok(rx.open(at(1, 101), 7).ok, 'a later time: the peer restarted, its pids start again');
  assert.deepEqual(rx.open(at(4, 100), 8), { ok: false, reason: 'replay' }, 'the old epoch is gone for good');
});

test('max payload: a packet of that payload fits packetLen exactly or by less than a block; one more byte does not', () => {
  for (const len of [1400, 1424, 1464]) {
    const max = staticKeyMaxPayload('SHA256', len);
    const ch = channel(0);
    assert.ok(ch.seal(Buffer.alloc(max))!.length <= len, `${len}`);
    assert.ok(ch.seal(Buffer.alloc(max + 1))!.length > len, `${len} + 1`);
  }
});
