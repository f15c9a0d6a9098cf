// Data-channel micro benchmark: seal (server) + open (client) of 1400-byte payloads per cipher.
// Run: node --import tsx bench/crypto-micro.ts [packets]
import { createCipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { clientDataKeys, AeadDataChannel, serverDataKeys } from '../src/core/crypto/data-channel.js';
import type { AeadCipherName as CipherName } from '../src/core/crypto/ciphers.js';
import { tlsCryptWrap } from '../src/core/session/control-wrap.js';

const N = Number(process.argv[2] ?? 100_000);
const SIZE = 1400;
const CIPHERS: CipherName[] = ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'];

function usPer(n: number, f: (i: number) => void): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Number(process.hrtime.bigint() - t) / n / 1000;
}

const plain = randomBytes(SIZE);
console.log(`node ${process.version}, openssl ${process.versions.openssl}, ${N} packets of ${SIZE} bytes`);
for (const cipher of CIPHERS) {
  const k = randomBytes(256);
  const server = new AeadDataChannel(serverDataKeys(k, cipher));
  const client = new AeadDataChannel(clientDataKeys(k, cipher));
  const warm = Array.from({ length: 5000 }, () => server.sealV2(0, 1, plain));
  for (const w of warm) if (!client.open(w, 0).ok) throw new Error('warm-up open failed');
  // Batches keep the working set small, as on the real data path (no 140 MB of retained packets).
  const BATCH = 256;
  const wires: Buffer[] = new Array(BATCH);
  let sealNs = 0n, openNs = 0n;
  for (let done = 0; done < N; done += BATCH) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) wires[i] = server.sealV2(0, 1, plain);
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) if (!client.open(wires[i], 0).ok) throw new Error('open failed');
    openNs += process.hrtime.bigint() - t1;
    sealNs += t1 - t0;
  }
  const packets = Math.ceil(N / BATCH) * BATCH;
  const seal = Number(sealNs) / packets / 1000;
  const open = Number(openNs) / packets / 1000;
  const both = seal + open;
  console.log(`${cipher.padEnd(18)} seal ${seal.toFixed(2)} us  open ${open.toFixed(2)} us  seal+open ${both.toFixed(2)} us`
    + `  (${(SIZE / both).toFixed(0)} MB/s one core, both directions)`);
}

// Reference points: the bare node:crypto floor (one cipher object per packet, no packet building), pure-JS
// AES-256-GCM (noble), and a tls-crypt control packet round trip.
{
  const key = createSecretKey(randomBytes(32)), nonce = randomBytes(12), aad = randomBytes(8);
  const us = usPer(N, () => {
    const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
    c.setAAD(aad); c.update(plain); c.final(); c.getAuthTag();
  });
  console.log(`bare node:crypto AES-256-GCM encrypt (floor for seal): ${us.toFixed(2)} us`);
}
{
  const key = randomBytes(32), nonce = randomBytes(12), aad = randomBytes(8);
  const n = Math.max(1000, Math.floor(N / 10));
  const us = usPer(n, () => { gcm(key, nonce, aad).encrypt(plain); });
  console.log(`noble AES-256-GCM encrypt only: ${us.toFixed(2)} us`);
}
{
  const key = randomBytes(256);
  const s = tlsCryptWrap(key, 'server'), c = tlsCryptWrap(key, 'client');
  const ctl = randomBytes(1222 - 40);
  const us = usPer(Math.floor(N / 10), () => { if (!c.unwrap(s.wrap(ctl, 0), 0)) throw new Error('unwrap failed'); });
  console.log(`tls-crypt wrap+unwrap of a 1222-byte control packet: ${us.toFixed(2)} us`);
}
