// Deferred authentication in the session (management client-pending-auth, and a decision that never comes):
// AUTH_PENDING / INFO_PRE after the server's key-method 2, the key waiting past the hand-window, AUTH_FAILED when
// nobody decides in time, and the repeated PUSH_REQUESTs of a waiting client answered once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitTextMessages, textMessage } from '../../src/core/session/key-method2.js';
import type { Output } from '../../src/core/session/session.js';
import { ASSIGN, drain, only, sessionAuthWait, T0, tlsWrites } from './fixtures/session-harness.js';

const HAND_WINDOW = 60_000;
const isKm2 = (b: Buffer): boolean => b.readUInt32BE(0) === 0;
const texts = (outs: Output[]): string[] => tlsWrites(outs).filter((b) => !isKm2(b)).map((b) => splitTextMessages(b).messages[0]!);
const km2Count = (outs: Output[]): number => tlsWrites(outs).filter(isKm2).length;

test('client-pending-auth: the server key-method 2, then AUTH_PENDING,timeout N (IV_PROTO keyword bit) and INFO_PRE', () => {
  const f = sessionAuthWait({ peerInfo: { IV_PROTO: String(2 | 8 | 16) } });
  assert.equal(f.s.authPending(0, 'OPEN_URL:https://example.invalid/', 30, T0 + 1000), true);
  const out = drain(f.s);
  assert.equal(km2Count(out), 1, 'the key-method 2 reply goes first');
  assert.ok(isKm2(tlsWrites(out)[0]!));
  assert.deepEqual(texts(out), ['AUTH_PENDING,timeout 30', 'INFO_PRE,OPEN_URL:https://example.invalid/']);
  // The decision later: no second key-method 2, data keys from the one sent.
  f.s.handleAuth(f.handle, { ok: true, assign: ASSIGN }, T0 + 20_000);
  const done = drain(f.s);
  assert.equal(km2Count(done), 0);
  assert.equal(only(done, 'established').length, 1);
});

test('client-pending-auth: plain AUTH_PENDING for a client without the keyword bit; the timeout is capped like 2.6', () => {
  const f = sessionAuthWait({ peerInfo: { IV_PROTO: '10' } });
  // max(reneg-sec/2, hand-window) since the key began: the fixture's reneg-sec is 3600, so 1800 s, less 10 s gone.
  assert.equal(f.s.authPending(0, 'x', 100_000, T0 + 10_000), true);
  assert.deepEqual(texts(drain(f.s)), ['AUTH_PENDING', 'INFO_PRE,x']);
  f.s.tick(T0 + 1_799_000);
  assert.ok(!texts(drain(f.s)).includes('AUTH_FAILED'), 'still within the capped timeout');
  f.s.tick(T0 + 1_800_000);
  assert.deepEqual(texts(drain(f.s)), ['AUTH_FAILED'], 'capped at 1800 s from the key\'s start, not 100000 s');
});

test('client-pending-auth: the key outlives the hand-window until its timeout, then AUTH_FAILED and close', () => {
  const f = sessionAuthWait({ peerInfo: { IV_PROTO: '26' } });
  assert.equal(f.s.authPending(0, 'wait', 120, T0), true);
  drain(f.s);
  f.s.tick(T0 + HAND_WINDOW + 1000);
  assert.equal(f.s.closed, false, 'still waiting after the hand-window');
  assert.deepEqual(only(drain(f.s), 'closed'), []);
  f.s.tick(T0 + 120_000);
  const out = drain(f.s);
  assert.deepEqual(texts(out), ['AUTH_FAILED']);
  assert.equal(km2Count(out), 0, 'the key-method 2 went out already');
  f.s.tick(T0 + 122_000);
  const c = only(drain(f.s), 'closed');
  assert.equal(c.length, 1);
  assert.equal(c[0]!.kind, 'refused');
  assert.match(c[0]!.reason, /authentication not decided within the client-pending-auth timeout/);
});

test('no decision within the hand-window: key-method 2 and AUTH_FAILED (OpenVPN 2.6), not a silent close', () => {
  const f = sessionAuthWait();
  f.s.tick(T0 + HAND_WINDOW);
  const out = drain(f.s);
  assert.equal(km2Count(out), 1);
  assert.deepEqual(texts(out), ['AUTH_FAILED']);
  f.s.tick(T0 + HAND_WINDOW + 2000);
  const c = only(drain(f.s), 'closed');
  assert.equal(c[0]!.kind, 'refused');
  assert.match(c[0]!.reason, /authentication not decided within hand-window 60 s/);
});

test('the PUSH_REQUESTs a pending client repeats are answered with one PUSH_REPLY', () => {
  const f = sessionAuthWait({ peerInfo: { IV_PROTO: '10' } });
  f.s.authPending(0, 'x', 60, T0);
  drain(f.s);
  for (let i = 1; i <= 5; i++) f.s.handleTls(f.handle, { kind: 'plaintext', bytes: textMessage('PUSH_REQUEST') }, T0 + i * 1000);
  assert.deepEqual(drain(f.s).filter((o) => o.t !== 'link'), []);
  f.s.handleAuth(f.handle, { ok: true, assign: ASSIGN }, T0 + 6000);
  assert.equal(texts(drain(f.s)).filter((t) => t.startsWith('PUSH_REPLY')).length, 1);
});

test('client-pending-auth refused: a key not waiting, a control character or an EXTRA too long for one message', () => {
  const f = sessionAuthWait();
  assert.equal(f.s.authPending(1, 'x', 30, T0), false, 'no key 1 waits');
  assert.equal(f.s.authPending(0, 'a\nb', 30, T0), false);
  assert.equal(f.s.authPending(0, 'x'.repeat(1020), 30, T0), false);
  assert.deepEqual(tlsWrites(drain(f.s)), []);
  f.s.handleAuth(f.handle, { ok: false, reason: 'no' }, T0);
  drain(f.s);
  assert.equal(f.s.authPending(0, 'x', 30, T0), false, 'decided already');
});

test('a pending client that floods the control channel with text is cut off', () => {
  const f = sessionAuthWait();
  f.s.authPending(0, 'x', 60, T0);
  drain(f.s);
  f.s.handleTls(f.handle, { kind: 'plaintext', bytes: Buffer.alloc(20_000, 0x41) }, T0 + 1);
  const c = only(drain(f.s), 'closed');
  assert.equal(c.length, 1);
  assert.match(c[0]!.reason, /too much control-channel text/);
});
