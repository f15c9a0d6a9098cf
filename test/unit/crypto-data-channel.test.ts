import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { deriveKeyBlockPrf } from '../../src/core/crypto/prf.js';
import { CIPHER_KEY_LEN, type AeadCipherName as CipherName } from '../../src/core/crypto/ciphers.js';
import {
  clientDataKeys, AeadDataChannel, serverDataKeys, DATA_V1_OVERHEAD, DATA_V2_OVERHEAD, type DataKeys, type OpenResult,
} from '../../src/core/crypto/data-channel.js';

const seq = (a: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (a + i) & 0xff));
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const PING = hex('2a187bf3641eb4cb07ed2d0a981fc748');
const CIPHERS: CipherName[] = ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'];

// Key block K of TV1 (protocol doc section 11).
const K = deriveKeyBlockPrf({
  clientPreMaster: seq(0x00, 48), clientRandom1: seq(0x40, 32), clientRandom2: seq(0x60, 32),
  serverRandom1: seq(0x80, 32), serverRandom2: seq(0xa0, 32),
  clientSid: hex('0102030405060708'), serverSid: hex('1112131415161718'),
});

function expectOpen(r: OpenResult): { plain: Buffer; packetId: number } {
  assert.ok(r.ok, `open failed: ${r.ok ? '' : r.reason}`);
  return r;
}

test('key slicing: server encrypts with K[128..) and decrypts with K[0..); client mirrors', () => {
  const s = serverDataKeys(K, 'AES-256-GCM');
  assert.deepEqual(s.encKey, K.subarray(128, 160));
  assert.deepEqual(s.encIv, K.subarray(192, 200));
  assert.deepEqual(s.decKey, K.subarray(0, 32));
  assert.deepEqual(s.decIv, K.subarray(64, 72));
  const c = clientDataKeys(K, 'AES-128-GCM');
  assert.deepEqual(c.encKey, K.subarray(0, 16));
  assert.deepEqual(c.encIv, hex('a1f4ec72dee73239'));
  assert.deepEqual(c.decKey, K.subarray(128, 144));
  assert.deepEqual(c.decIv, hex('9aeadb982a7a6767'));
  assert.throws(() => serverDataKeys(K.subarray(0, 255), 'AES-256-GCM'));
});

test('TV2: AES-256-GCM P_DATA_V2 server->client, and the client opens it', () => {
  const want = hex('48000007 00000001 aa15ba542983934183639eb3036d0755 7d15214fd200005dbce709bce27afd8c');
  const server = new AeadDataChannel(serverDataKeys(K, 'AES-256-GCM'));
  assert.equal(server.sendPacketId, 1);
  assert.deepEqual(server.sealV2(0, 7, PING), want);
  assert.equal(server.sendPacketId, 2);
  const got = expectOpen(new AeadDataChannel(clientDataKeys(K, 'AES-256-GCM')).open(want, 0));
  assert.deepEqual(got.plain, PING);
  assert.equal(got.packetId, 1);
});

test('TV3: AES-128-GCM P_DATA_V1 client->server, and the server opens it', () => {
  const want = hex('30 00000001 e60270aba16ba66ec50a56cd91e10f11 7f3c5f5283ca2541b8565ac6f2172e79');
  assert.deepEqual(new AeadDataChannel(clientDataKeys(K, 'AES-128-GCM')).sealV1(0, PING), want);
  const got = expectOpen(new AeadDataChannel(serverDataKeys(K, 'AES-128-GCM')).open(want, 0));
  assert.deepEqual(got.plain, PING);
  assert.equal(got.packetId, 1);
});

test('TV4: CHACHA20-POLY1305 P_DATA_V2 key_id 1, pid 2', () => {
  const want = hex('49000007 00000002 637347222e92a4a2a30f0abb3f76d4f1 9cf88b963f12604e47f1c3fef214b094');
  const server = new AeadDataChannel(serverDataKeys(K, 'CHACHA20-POLY1305'), { initialSendPacketId: 2 });
  assert.deepEqual(server.sealV2(1, 7, PING), want);
  const got = expectOpen(new AeadDataChannel(clientDataKeys(K, 'CHACHA20-POLY1305')).open(want, 0));
  assert.deepEqual(got.plain, PING);
  assert.equal(got.packetId, 2);
});

test('TV6: a real OpenVPN 2.6.14 client ping opens; sealing with the same keys reproduces it', () => {
  const key = hex('422789e8e7ea0e8097f2dc885326ffeb9dd22b138eba26848d015a7517c1d253');
  const iv = hex('b1145f1d6a32ebb7');
  const wire = hex('48000000 00000001 2a2a03a5d4201e72ea65c7b3cd71ece9 94665521dddd1a7f813f0354f8d13fb7');
  assert.equal(wire.length, 40);
  const server = new AeadDataChannel({ cipher: 'AES-256-GCM', encKey: randomBytes(32), encIv: randomBytes(8), decKey: key, decIv: iv });
  const got = expectOpen(server.open(wire, 1234));
  assert.deepEqual(got.plain, PING);
  assert.equal(got.packetId, 1);
  const client = new AeadDataChannel({ cipher: 'AES-256-GCM', encKey: key, encIv: iv, decKey: randomBytes(32), decIv: randomBytes(8) });
  assert.deepEqual(client.sealV2(0, 0, PING), wire);
});

function pair(cipher: CipherName, opts: ConstructorParameters<typeof AeadDataChannel>[1] = {}) {
  const k = randomBytes(256);
  return { k, server: new AeadDataChannel(serverDataKeys(k, cipher), opts), client: new AeadDataChannel(clientDataKeys(k, cipher), opts) };
}

/** noble AEAD for the given direction's keys; noble appends the tag, OpenVPN puts it first. */
function noble(cipher: CipherName, key: Buffer, nonce: Buffer, aad: Buffer) {
  return cipher === 'CHACHA20-POLY1305' ? chacha20poly1305(key, nonce, aad) : gcm(key, nonce, aad);
}
const nonceOf = (pid: number, iv: Buffer) => { const n = Buffer.alloc(12); n.writeUInt32BE(pid); iv.copy(n, 4); return n; };
const SIZES = [0, 1, 15, 16, 17, 100, 1400, 1500, 4000];

for (const cipher of CIPHERS) {
  test(`${cipher}: sealV2Parts is sealV2 in two pieces (24-byte head, ciphertext) and takes the next packet id`, () => {
    const k = randomBytes(256);
    const a = new AeadDataChannel(serverDataKeys(k, cipher));
    const b = new AeadDataChannel(serverDataKeys(k, cipher));
    const client = new AeadDataChannel(clientDataKeys(k, cipher));
    for (const size of SIZES) {
      const plain = randomBytes(size);
      const [head, ct] = b.sealV2Parts(3, 0xabcdef, plain);
      assert.equal(head.length, DATA_V2_OVERHEAD);
      assert.equal(ct.length, size);
      const whole = Buffer.concat([head, ct]);
      assert.deepEqual(whole, a.sealV2(3, 0xabcdef, plain));
      assert.deepEqual(expectOpen(client.open(whole, 0)).plain, plain);
    }
    assert.equal(b.sendPacketId, 1 + SIZES.length);
  });
}

for (const cipher of CIPHERS) {
  test(`${cipher}: ours -> noble (V2 and V1) for several sizes`, () => {
    const k = randomBytes(256);
    const ours = new AeadDataChannel(serverDataKeys(k, cipher));
    const keys = serverDataKeys(k, cipher);
    for (const size of SIZES) {
      const plain = randomBytes(size);
      const v2 = ours.sealV2(3, 0xabcdef, plain);
      assert.equal(v2.length, size + DATA_V2_OVERHEAD);
      assert.deepEqual(v2.subarray(0, 4), hex('4babcdef'));
      const pid = v2.readUInt32BE(4);
      const tagged = Buffer.concat([v2.subarray(24), v2.subarray(8, 24)]);
      assert.deepEqual(Buffer.from(noble(cipher, keys.encKey, nonceOf(pid, keys.encIv), v2.subarray(0, 8)).decrypt(tagged)), plain);

      const v1 = ours.sealV1(2, plain);
      assert.equal(v1.length, size + DATA_V1_OVERHEAD);
      assert.equal(v1[0], 0x32);
      const pid1 = v1.readUInt32BE(1);
      assert.equal(pid1, pid + 1);
      const tagged1 = Buffer.concat([v1.subarray(21), v1.subarray(5, 21)]);
      assert.deepEqual(Buffer.from(noble(cipher, keys.encKey, nonceOf(pid1, keys.encIv), v1.subarray(1, 5)).decrypt(tagged1)), plain);
    }
  });

  test(`${cipher}: noble -> ours (V2 and V1) for several sizes`, () => {
    const k = randomBytes(256);
    const ours = new AeadDataChannel(serverDataKeys(k, cipher));
    const keys = serverDataKeys(k, cipher);   // the server decrypts with decKey/decIv
    let pid = 1;
    for (const size of SIZES) {
      const plain = randomBytes(size);
      const hdr = hex('48123456');
      const aad = Buffer.concat([hdr, Buffer.alloc(4)]);
      aad.writeUInt32BE(pid, 4);
      const sealed = noble(cipher, keys.decKey, nonceOf(pid, keys.decIv), aad).encrypt(plain);
      const wire = Buffer.concat([aad, sealed.subarray(sealed.length - 16), sealed.subarray(0, sealed.length - 16)]);
      const got = expectOpen(ours.open(wire, 0));
      assert.deepEqual(got.plain, plain);
      assert.equal(got.packetId, pid++);

      const pidBuf = Buffer.alloc(4);
      pidBuf.writeUInt32BE(pid);
      const sealed1 = noble(cipher, keys.decKey, nonceOf(pid, keys.decIv), pidBuf).encrypt(plain);
      const wire1 = Buffer.concat([Buffer.from([0x30]), pidBuf, sealed1.subarray(sealed1.length - 16),
        sealed1.subarray(0, sealed1.length - 16)]);
      const got1 = expectOpen(ours.open(wire1, 0));
      assert.deepEqual(got1.plain, plain);
      assert.equal(got1.packetId, pid++);
    }
  });

  test(`${cipher}: server <-> client round trip both directions`, () => {
    const { server, client } = pair(cipher);
    for (let i = 0; i < 50; i++) {
      const a = randomBytes(i * 31);
      assert.deepEqual(expectOpen(client.open(server.sealV2(0, 5, a), i)).plain, a);
      const b = randomBytes(i * 29);
      assert.deepEqual(expectOpen(server.open(i % 2 ? client.sealV1(0, b) : client.sealV2(0, 5, b), i)).plain, b);
    }
  });

  test(`${cipher}: tampering with any byte of a V2 packet fails and does not burn the packet id`, () => {
    const { server, client } = pair(cipher);
    const wire = server.sealV2(2, 77, randomBytes(40));
    for (let i = 0; i < wire.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(wire);
        bad[i] ^= bit;
        const r = client.open(bad, 0);
        assert.equal(r.ok, false, `byte ${i} bit ${bit}`);
        // A pid flipped to 0 is invalid before any crypto runs; every other change fails authentication.
        const want = bad.readUInt32BE(4) === 0 ? 'replay' : 'auth';
        if (i > 0) assert.equal(!r.ok && r.reason, want, `byte ${i} bit ${bit}`);
      }
    }
    assert.equal(client.open(wire.subarray(0, wire.length - 1), 0).ok, false);
    assert.equal(client.open(Buffer.concat([wire, Buffer.from([0])]), 0).ok, false);
    assert.ok(client.open(wire, 0).ok, 'the untouched packet still opens after the failures');
  });

  test(`${cipher}: V1 authenticates everything but the opcode byte`, () => {
    const { server, client } = pair(cipher);
    const wire = client.sealV1(1, randomBytes(20));
    for (let i = 1; i < wire.length; i++) {
      const bad = Buffer.from(wire);
      bad[i] ^= 0x10;
      const r = server.open(bad, 0);
      assert.equal(!r.ok && r.reason, 'auth', `byte ${i}`);
    }
    const otherKeyId = Buffer.from(wire);
    otherKeyId[0] ^= 0x03;  // key_id 1 -> 2: not covered by the V1 AAD (protocol doc 6.1)
    assert.ok(server.open(otherKeyId, 0).ok);
  });

  test(`${cipher}: wrong key fails with 'auth'`, () => {
    const a = pair(cipher), b = pair(cipher);
    const r = b.client.open(a.server.sealV2(0, 1, PING), 0);
    assert.equal(!r.ok && r.reason, 'auth');
  });
}

test('replay: a repeated packet is rejected; an old pid inside the window is accepted once', () => {
  const { server, client } = pair('AES-256-GCM');
  const wires = Array.from({ length: 80 }, (_, i) => server.sealV2(0, 1, Buffer.from([i])));
  // wires[i] has pid i + 1
  assert.ok(client.open(wires[0], 0).ok);
  assert.equal((client.open(wires[0], 0) as { reason: string }).reason, 'replay');
  assert.ok(client.open(wires[69], 0).ok);                                   // pid 70
  assert.deepEqual(expectOpen(client.open(wires[9], 0)).plain, Buffer.from([9]));   // pid 10: 70 - 10 = 60 < 64
  assert.equal((client.open(wires[9], 0) as { reason: string }).reason, 'replay');
  assert.ok(client.open(wires[6], 0).ok);                                    // pid 7: 63 behind
  assert.equal((client.open(wires[5], 0) as { reason: string }).reason, 'replay');  // pid 6: 64 behind
  assert.ok(client.open(wires[79], 0).ok);                                   // pid 80
  assert.equal((client.open(wires[15], 0) as { reason: string }).reason, 'replay'); // pid 16: 64 behind now
});

test('replay: the 15-second rule', () => {
  const { server, client } = pair('AES-128-GCM');
  const wires = Array.from({ length: 5 }, () => server.sealV2(0, 1, PING));
  assert.ok(client.open(wires[3], 1_000).ok);                           // pid 4 at t = 1 s
  assert.ok(client.open(wires[1], 16_000).ok);                          // pid 2, 15 s later: tolerated
  assert.equal((client.open(wires[0], 16_001) as { reason: string }).reason, 'replay'); // pid 1: too late
  assert.ok(client.open(wires[4], 16_001).ok);                          // newer pids are always fine
});

test('replay window size and seconds are configurable', () => {
  const { server, client } = pair('AES-256-GCM', { replayWindow: 4, replaySeconds: 1 });
  const wires = Array.from({ length: 10 }, () => server.sealV2(0, 1, PING));
  assert.ok(client.open(wires[9], 0).ok);       // pid 10
  assert.equal(client.open(wires[5], 0).ok, false);  // pid 6: 4 behind
  assert.ok(client.open(wires[6], 1000).ok);    // pid 7: 3 behind, 1 s later
  assert.equal(client.open(wires[7], 1001).ok, false); // pid 8: pid 10 is older than 1 s
});

test('short packets and unknown opcodes', () => {
  const { client } = pair('AES-256-GCM');
  assert.equal((client.open(Buffer.alloc(0), 0) as { reason: string }).reason, 'short');
  assert.equal((client.open(Buffer.from('48000000' + '00'.repeat(19), 'hex'), 0) as { reason: string }).reason, 'short');
  assert.equal((client.open(Buffer.from('30' + '00'.repeat(19), 'hex'), 0) as { reason: string }).reason, 'short');
  assert.equal((client.open(Buffer.from('20' + '00'.repeat(40), 'hex'), 0) as { reason: string }).reason, 'opcode');
  assert.equal((client.open(Buffer.from('38' + '00'.repeat(40), 'hex'), 0) as { reason: string }).reason, 'opcode');
  assert.equal((client.open(Buffer.from('48000000' + '00000000' + '00'.repeat(16), 'hex'), 0) as { reason: string }).reason, 'replay'); // pid 0
});

test('packet id exhaustion: 0xFFFFFFFF is the last id, then sealing throws; needsRekey from 0xFF000000', () => {
  const k = randomBytes(256);
  const early = new AeadDataChannel(serverDataKeys(k, 'AES-256-GCM'), { initialSendPacketId: 0xfeffffff });
  assert.equal(early.needsRekey, false);
  early.sealV2(0, 0, PING);
  assert.equal(early.needsRekey, true);
  const server = new AeadDataChannel(serverDataKeys(k, 'AES-256-GCM'), { initialSendPacketId: 0xfffffffe });
  const client = new AeadDataChannel(clientDataKeys(k, 'AES-256-GCM'));
  assert.equal(expectOpen(client.open(server.sealV2(0, 0, PING), 0)).packetId, 0xfffffffe);
  assert.equal(expectOpen(client.open(server.sealV1(0, PING), 0)).packetId, 0xffffffff);
  assert.throws(() => server.sealV2(0, 0, PING), /exhausted/);
  assert.throws(() => server.sealV1(0, PING), /exhausted/);
  assert.throws(() => new AeadDataChannel(serverDataKeys(k, 'AES-256-GCM'), { initialSendPacketId: 0 }));
});

test('constructor rejects keys of the wrong size', () => {
  const good: DataKeys = serverDataKeys(randomBytes(256), 'AES-128-GCM');
  assert.equal(good.encKey.length, CIPHER_KEY_LEN['AES-128-GCM']);
  assert.throws(() => new AeadDataChannel({ ...good, cipher: 'AES-256-GCM' }));
  assert.throws(() => new AeadDataChannel({ ...good, encIv: Buffer.alloc(12) }));
});

test('property: open() never throws on arbitrary input and never accepts forged packets', () => {
  const { server, client } = pair('CHACHA20-POLY1305');
  const aes = pair('AES-256-GCM');
  const valid = server.sealV2(0, 1, PING);
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 100 }),
    fc.tuple(fc.constantFrom(0x30, 0x48, 0x4f, 0x37), fc.uint8Array({ minLength: 20, maxLength: 60 }))
      .map(([op, b]) => { b[0] = op; return b; }),
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }))
      .map(([i, x]) => { const b = Buffer.from(valid); b[i] ^= x; return b; }),
  );
  fc.assert(fc.property(arb, fc.nat(), (bytes, now) => {
    const buf = Buffer.from(bytes);
    for (const dc of [client, aes.client]) {
      const r = dc.open(buf, now);
      if (r.ok) assert.fail(`forged packet accepted: ${buf.toString('hex')}`);
    }
  }), { numRuns: 2000 });
});
