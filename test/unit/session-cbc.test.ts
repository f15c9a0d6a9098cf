// The session with CBC + HMAC data channels: negotiated from IV_CIPHERS or, for clients without negotiation (which a
// 2.6 client cannot play, see test/integration/data-ciphers.test.ts), from the OCC cipher or data-ciphers-fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Output } from '../../src/core/session/session.js';
import { splitTextMessages } from '../../src/core/session/key-method2.js';
import { Op } from '../../src/core/wire/openvpn-packet.js';
import { clientDataChannel } from '../../src/core/crypto/data-channel-for.js';
import {
  ASSIGN, drain, ekmFor, IP_PACKET, only, renegotiate, sessionAuthWait, sessionEstablished, T0, tlsWrites,
} from './fixtures/session-harness.js';

const LEGACY = { IV_CIPHERS: undefined, IV_NCP: undefined };
const OCC = 'V4,dev-type tun,link-mtu 1558,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 256,key-method 2,tls-client';
const pushReply = (outs: Output[]) => tlsWrites(outs).map((b) => b.toString()).find((t) => t.startsWith('PUSH_REPLY'));

function roundTrip(f: ReturnType<typeof sessionEstablished>): void {
  const up = f.client.sealV2(0, ASSIGN.peerId, IP_PACKET);
  assert.deepEqual(f.s.openData(up, T0 + 1), IP_PACKET);
  const down = f.s.sealData(IP_PACKET, T0 + 1);
  assert.ok(down);
  const r = f.client.open(down, T0 + 1);
  assert.ok(r.ok, `client could not open: ${r.ok ? '' : r.reason}`);
  assert.deepEqual(r.plain, IP_PACKET);
  const parts = f.s.sealDataParts(IP_PACKET, T0 + 2);
  assert.ok(parts);
  assert.ok(f.client.open(Buffer.concat(parts), T0 + 2).ok);
}

for (const auth of ['SHA1', 'SHA256', 'SHA512'] as const) {
  test(`IV_CIPHERS AES-192-CBC, auth ${auth}: pushed, and data flows both ways with HMAC-${auth}`, () => {
    const f = sessionEstablished({ params: { dataCiphers: ['AES-256-GCM', 'AES-192-CBC'], auth }, peerInfo: { IV_CIPHERS: 'AES-192-CBC' } });
    assert.equal(f.cipher, 'AES-192-CBC');
    assert.match(pushReply(f.out) ?? '', /,cipher AES-192-CBC(,|\0|$)/);
    roundTrip(f);
    // A client with another digest authenticates nothing.
    const wrongAuth = clientDataChannel(ekmFor(0), 'AES-192-CBC', auth === 'SHA1' ? 'SHA256' : 'SHA1', { initialSendPacketId: 100 });
    assert.deepEqual(f.s.openData(wrongAuth.sealV2(0, ASSIGN.peerId, IP_PACKET), T0 + 3), { kind: 'drop', reason: 'data-auth' });
  });
}

test('renegotiation keeps the negotiated CBC cipher and digest for the new key', () => {
  const f = sessionEstablished({ params: { dataCiphers: ['AES-128-CBC'], auth: 'SHA256' }, peerInfo: { IV_CIPHERS: 'AES-128-CBC' } });
  const r = renegotiate(f, 1, T0 + 10);
  const up = r.client.sealV2(1, ASSIGN.peerId, IP_PACKET);
  assert.deepEqual(f.s.openData(up, T0 + 11), IP_PACKET);
  const down = f.s.sealData(IP_PACKET, T0 + 11);
  assert.ok(down);
  assert.equal(down[0]! >> 3, Op.DATA_V2);
});

test('a client without negotiation and without an OCC cipher gets data-ciphers-fallback', () => {
  const f = sessionEstablished({ params: { dataCiphersFallback: 'AES-256-CBC', auth: 'SHA1' }, peerInfo: LEGACY, km2: { options: OCC } });
  assert.equal(f.cipher, 'AES-256-CBC');
  assert.match(pushReply(f.out) ?? '', /,cipher AES-256-CBC(,|\0|$)/);
  roundTrip(f);
});

test('a client without negotiation whose OCC cipher is in data-ciphers gets it, and the fallback is not used', () => {
  const f = sessionEstablished({
    params: { dataCiphers: ['AES-256-GCM', 'AES-128-CBC'], dataCiphersFallback: 'AES-256-CBC' },
    peerInfo: LEGACY, km2: { options: `${OCC},cipher AES-128-CBC` },
  });
  assert.equal(f.cipher, 'AES-128-CBC');
  roundTrip(f);
});

for (const [name, params] of [['no fallback', {}], ['a fallback (2.6 does not use it for a client with an OCC cipher)', { dataCiphersFallback: 'AES-256-CBC' as const }]] as const) {
  test(`a client without negotiation is refused with 2.6's AUTH_FAILED reason: ${name}`, () => {
    const options = 'dataCiphersFallback' in params ? `${OCC},cipher AES-192-CBC` : OCC;
    const f = sessionAuthWait({ params, peerInfo: LEGACY, km2: { options } });
    f.s.handleAuth(f.handle, { ok: true, assign: ASSIGN }, T0);
    const out = drain(f.s);
    const messages = tlsWrites(out).filter((b) => b.readUInt32BE(0) !== 0).flatMap((b) => splitTextMessages(b).messages);
    assert.deepEqual(messages, ['AUTH_FAILED,Data channel cipher negotiation failed (no shared cipher)']);
    assert.deepEqual(only(out, 'established'), []);
  });
}
