import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar } from '../../src/core/transport/udp-cookie.js';

const SID = Buffer.from('0102030405060708', 'hex');
const OTHER_SID = Buffer.from('0102030405060709', 'hex');
const ADDR = '192.0.2.10:51000';
const HAND_WINDOW = 60;
/** Slot length: (hand-window + 1) / 2 seconds (protocol doc §4.5). */
const SLOT_MS = ((HAND_WINDOW + 1) / 2) * 1000;
const T0 = 1000 * SLOT_MS;   // start of a slot

test('same inputs, same slot → same 8-byte cookie; it checks', () => {
  const jar = new CookieJar(HAND_WINDOW);
  const c = jar.make(ADDR, SID, T0);
  assert.equal(c.length, 8);
  assert.deepEqual(jar.make(ADDR, SID, T0 + SLOT_MS - 1), c);
  assert.equal(jar.check(c, ADDR, SID, T0), true);
});

test('another address, port, or client sid gives another cookie, and the cookie does not check for them', () => {
  const jar = new CookieJar(HAND_WINDOW);
  const c = jar.make(ADDR, SID, T0);
  for (const [addr, sid] of [['192.0.2.11:51000', SID], ['192.0.2.10:51001', SID], [ADDR, OTHER_SID]] as const) {
    assert.notDeepEqual(jar.make(addr, sid, T0), c, `${addr} ${sid.toString('hex')}`);
    assert.equal(jar.check(c, addr, sid, T0), false);
  }
});

test('another jar (server restart, new key) does not accept the cookie', () => {
  const c = new CookieJar(HAND_WINDOW).make(ADDR, SID, T0);
  assert.equal(new CookieJar(HAND_WINDOW).check(c, ADDR, SID, T0), false);
});

test('the next slot gives a different cookie', () => {
  const jar = new CookieJar(HAND_WINDOW);
  assert.notDeepEqual(jar.make(ADDR, SID, T0), jar.make(ADDR, SID, T0 + SLOT_MS));
});

test('cookies from the two previous slots are accepted, from three slots back rejected (edge at the slot start)', () => {
  const jar = new CookieJar(HAND_WINDOW);
  const c = jar.make(ADDR, SID, T0);
  assert.equal(jar.check(c, ADDR, SID, T0 + SLOT_MS), true);
  assert.equal(jar.check(c, ADDR, SID, T0 + 2 * SLOT_MS), true);
  assert.equal(jar.check(c, ADDR, SID, T0 + 3 * SLOT_MS - 1), true);
  assert.equal(jar.check(c, ADDR, SID, T0 + 3 * SLOT_MS), false);
  assert.equal(jar.check(c, ADDR, SID, T0 + 100 * SLOT_MS), false);
});

test('a cookie from the next slot is accepted (clock edge), two slots ahead is not', () => {
  const jar = new CookieJar(HAND_WINDOW);
  assert.equal(jar.check(jar.make(ADDR, SID, T0 + SLOT_MS), ADDR, SID, T0), true);
  assert.equal(jar.check(jar.make(ADDR, SID, T0 + 2 * SLOT_MS), ADDR, SID, T0), false);
  assert.equal(jar.check(jar.make(ADDR, SID, T0 + SLOT_MS), ADDR, SID, T0 - 1), false);
});

test('a flipped bit is rejected', () => {
  const jar = new CookieJar(HAND_WINDOW);
  const c = jar.make(ADDR, SID, T0);
  for (let bit = 0; bit < 64; bit++) {
    const bad = Buffer.from(c);
    bad[bit >> 3] ^= 1 << (bit & 7);
    assert.equal(jar.check(bad, ADDR, SID, T0), false, `bit ${bit}`);
  }
});

test('a cookie that is not 8 bytes is rejected, not thrown on', () => {
  const jar = new CookieJar(HAND_WINDOW);
  const c = jar.make(ADDR, SID, T0);
  assert.equal(jar.check(c.subarray(0, 7), ADDR, SID, T0), false);
  assert.equal(jar.check(Buffer.alloc(0), ADDR, SID, T0), false);
});

test('IPv6: a cookie over an IPv6 address and port checks only for that address and port', () => {
  const jar = new CookieJar(HAND_WINDOW);
  const v6 = '[fd00:198:19:1::2]:51000';
  const c = jar.make(v6, SID, T0);
  assert.equal(jar.check(c, v6, SID, T0), true);
  assert.equal(jar.check(c, v6, SID, T0 + 2 * SLOT_MS), true);
  for (const other of ['[fd00:198:19:1::3]:51000', '[fd00:198:19:1::2]:51001', '[fd00:198:19:2::2]:51000', ADDR]) {
    assert.equal(jar.check(c, other, SID, T0), false, other);
  }
  assert.equal(jar.check(c, v6, OTHER_SID, T0), false);
});

test('IPv6: the address text is what the MAC covers (the socket hands over one canonical text per address)', () => {
  const jar = new CookieJar(HAND_WINDOW);
  assert.notDeepEqual(jar.make('[fd00::2]:1', SID, T0), jar.make('[fd00:0:0:0:0:0:0:2]:1', SID, T0));
});
