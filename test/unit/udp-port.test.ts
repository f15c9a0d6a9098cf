// The UDP transport's socket on loopback, both implementations: udp.node (recvmmsg into a ring, sendmmsg) and
// node:dgram. The peer is a plain dgram socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerAddr } from '../../src/core/transport/udp-endpoint.js';
import { loadUdpAddon, openNativeUdpPort, openUdpPort, type UdpPort, type UdpPortOptions } from '../../src/io/udp-port.js';
import { makeTestPki } from '../helpers/pki.js';

const addon = loadUdpAddon();
const skipNative = 'mod' in addon ? false : `udp.node did not load: ${addon.error}`;

interface Got { msg: Buffer; from: PeerAddr; now: number }

/** The clock is a counter: each datagram's `now` says which reading of the clock it came with. */
async function open(mode: 'native' | 'node', extra: Partial<UdpPortOptions> = {}): Promise<{ port: UdpPort; got: Got[]; readings: () => number }> {
  const got: Got[] = [];
  let readings = 0;
  const { port } = await openUdpPort({
    host: '127.0.0.1', port: 0, bufBytes: 1 << 20, maxDatagram: 2048, mode, now: () => ++readings,
    onDatagram: (msg, from, now) => got.push({ msg: Buffer.from(msg), from: { address: from.address, port: from.port }, now }),
    onError: (e) => { throw e; },
    ...extra,
  });
  return { port, got, readings: () => readings };
}

async function peer(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  return s;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const mode of ['native', 'node'] as const) {
  const skip = mode === 'native' ? skipNative : false;

  test(`${mode}: datagrams arrive whole, in order, with the sender's address and port`, { skip }, async () => {
    const { port, got, readings } = await open(mode);
    const p = await peer();
    try {
      assert.equal(port.kind, mode);
      assert.ok(port.port > 0);
      const sent = Array.from({ length: 300 }, (_, i) => Buffer.concat([Buffer.from([i >> 8, i & 255]), randomBytes(i % 1400)]));
      for (const b of sent) p.send(b, port.port, '127.0.0.1');
      await until('300 datagrams', () => got.length >= 300);
      assert.deepEqual(got.map((g) => g.msg), sent);
      for (const g of got) assert.deepEqual({ address: g.from.address, port: g.from.port }, { address: '127.0.0.1', port: p.address().port });
      for (let i = 1; i < got.length; i++) assert.ok(got[i]!.now >= got[i - 1]!.now, 'the clock never goes back');
      assert.ok(got.every((g) => g.now >= 1 && g.now <= readings()), 'each datagram carries a reading of the given clock');
      // 300 datagrams queued before the socket is read: the native socket reads the clock once per batch of up to 64.
      if (mode === 'native') assert.ok(readings() <= 300 / 2, `clock read ${readings()} times for 300 datagrams`);
    } finally {
      p.close();
      await port.close();
    }
  });

  test(`${mode}: send carries one Buffer or the pieces of one datagram, to the given peer, in order`, { skip }, async () => {
    const { port } = await open(mode);
    const p = await peer();
    const seen: Buffer[] = [];
    p.on('message', (m) => seen.push(m));
    try {
      const to = { address: '127.0.0.1', port: p.address().port };
      const want: Buffer[] = [];
      // More than one sendmmsg call's worth and more than the queue's first capacity.
      for (let i = 0; i < 700; i++) {
        const a = Buffer.from([i >> 8, i & 255]), b = randomBytes(i % 300);
        if (i % 2) port.send([a, b], to); else port.send(Buffer.concat([a, b]), to);
        want.push(Buffer.concat([a, b]));
      }
      await until('700 datagrams back', () => seen.length >= 700);
      assert.deepEqual(seen, want);
      assert.equal(port.stats().sendQueue, 0);
      assert.equal(port.stats().sendDropped, 0);
    } finally {
      p.close();
      await port.close();
    }
  });
}

test('native: a datagram longer than a slot is dropped and counted; the next one still arrives', { skip: skipNative }, async () => {
  const { port, got } = await open('native', { maxDatagram: 2048 });
  const p = await peer();
  try {
    p.send(randomBytes(3000), port.port, '127.0.0.1');
    p.send(Buffer.from('after'), port.port, '127.0.0.1');
    await until('the short datagram', () => got.length >= 1);
    assert.deepEqual(got.map((g) => g.msg.toString()), ['after']);
    assert.equal(port.stats().truncated, 1);
  } finally {
    p.close();
    await port.close();
  }
});

test('native: the buffer handed to onDatagram is reused for the next datagram (callers copy what they keep)', { skip: skipNative }, async () => {
  const views: Buffer[] = [];
  const { port } = await open('native', { onDatagram: (msg) => views.push(msg) });
  const p = await peer();
  try {
    p.send(Buffer.from('first'), port.port, '127.0.0.1');
    await until('one datagram', () => views.length >= 1);
    p.send(Buffer.from('xyzzy'), port.port, '127.0.0.1');
    await until('two datagrams', () => views.length >= 2);
    assert.equal(views[0]!.buffer, views[1]!.buffer, 'both are views of one buffer');
    assert.equal(views[0]!.toString(), 'xyzzy', 'the second datagram overwrote the first');
  } finally {
    p.close();
    await port.close();
  }
});

test('native: replies queued while a batch is handed on leave in one sendmmsg before the batch returns, without a tick', { skip: skipNative }, async () => {
  assert.ok('mod' in addon);
  const real = addon.mod;
  const log: string[] = [];
  const watched = {
    ...real,
    startPoll: (...a: Parameters<typeof real.startPoll>): ReturnType<typeof real.startPoll> => {
      const onBatch = a[4];
      a[4] = (count) => {
        log.push(`batch ${count}`);
        onBatch(count);
        log.push('batch returned');
        process.nextTick(() => log.push('tick'));
      };
      return real.startPoll(...a);
    },
    sendBatch: (...a: Parameters<typeof real.sendBatch>): number => { log.push(`sendBatch ${a[5]}`); return real.sendBatch(...a); },
  };
  const port: UdpPort = openNativeUdpPort(watched, {
    host: '127.0.0.1', port: 0, bufBytes: 1 << 20, maxDatagram: 2048, mode: 'native', now: () => performance.now(),
    onDatagram: (msg, from) => { port.send(Buffer.from(msg), from); port.send(Buffer.from(msg), from); },
    onError: (e) => { throw e; },
  });
  const p = await peer();
  const echoed: string[] = [];
  p.on('message', (m) => echoed.push(m.toString()));
  try {
    p.send(Buffer.from('ping'), port.port, '127.0.0.1');
    await until('two echoes', () => echoed.length >= 2);
    assert.deepEqual(echoed, ['ping', 'ping']);
    const batch = log.indexOf('batch 1');
    assert.ok(batch >= 0, log.join(', '));
    assert.deepEqual(log.slice(batch, batch + 3), ['batch 1', 'sendBatch 2', 'batch returned']);
    await until('the tick after the batch', () => log.includes('tick'));
    assert.equal(log.filter((l) => l.startsWith('sendBatch')).length, 1, 'nothing was left for a tick to send');
  } finally {
    p.close();
    await port.close();
  }
});

test('native: when the socket takes only part of the queue, the rest waits for writable and leaves in order', { skip: skipNative }, async () => {
  // The real addon, except that sendBatch takes at most 5 datagrams per call the first few times: what the kernel
  // does when the socket buffer is full (EAGAIN after a few).
  assert.ok('mod' in addon);
  const real = addon.mod;
  let partial = 4, calls = 0;
  const stingy = {
    ...real,
    sendBatch: (...a: Parameters<typeof real.sendBatch>): number => {
      calls++;
      if (partial > 0) { partial--; a[5] = Math.min(a[5], 5); }
      return real.sendBatch(...a);
    },
  };
  const port = openNativeUdpPort(stingy, {
    host: '127.0.0.1', port: 0, bufBytes: 1 << 20, maxDatagram: 2048, mode: 'native', now: () => performance.now(), onDatagram: () => {}, onError: (e) => { throw e; },
  });
  const p = await peer();
  const seen: number[] = [];
  p.on('message', (m) => seen.push(m.readUInt16BE(0)));
  try {
    const to = { address: '127.0.0.1', port: p.address().port };
    for (let i = 0; i < 40; i++) port.send(i % 2 ? [Buffer.from([0, i]), Buffer.from('x')] : Buffer.from([0, i]), to);
    await until('40 datagrams back', () => seen.length >= 40);
    assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i));
    assert.ok(calls >= 5, `sendBatch was called ${calls} times`);
    assert.equal(port.stats().sendQueue, 0);
  } finally {
    p.close();
    await port.close();
  }
});

test('native: an address that is not an IP literal is refused at open; a port in use is an error naming it', { skip: skipNative }, async () => {
  await assert.rejects(open('native', { host: 'localhost' }), /not an IPv4 or IPv6 address/);
  const { port } = await open('native');
  try {
    await assert.rejects(open('native', { port: port.port }), new RegExp(`bind 127\\.0\\.0\\.1:${port.port}: Address already in use`));
  } finally {
    await port.close();
  }
});

for (const mode of ['native', 'node'] as const) {
  const skip = mode === 'native' ? skipNative : false;

  test(`${mode}: an IPv4 socket drops and counts a send to an IPv6 peer or to text that is no address`, { skip }, async () => {
    const { port } = await open(mode);
    const p = await peer();
    const seen: string[] = [];
    p.on('message', (m) => seen.push(m.toString()));
    try {
      assert.equal(port.family, 4);
      port.send(Buffer.from('x'), { address: '::1', port: 9 });
      port.send(Buffer.from('y'), { address: 'not-an-address', port: 9 });
      port.send(Buffer.from('after'), { address: '127.0.0.1', port: p.address().port });
      await until('the IPv4 datagram', () => seen.length >= 1);
      assert.deepEqual(seen, ['after']);
      assert.equal(port.stats().sendDropped, 2);
    } finally {
      p.close();
      await port.close();
    }
  });

  test(`${mode}: an IPv6 socket on ::1 takes and answers IPv6 peers, their address in canonical text`, { skip }, async () => {
    const { port, got } = await open(mode, { host: '::1' });
    const p = dgram.createSocket('udp6');
    await new Promise<void>((res) => p.bind(0, '::1', res));
    const back: Buffer[] = [];
    p.on('message', (m) => back.push(m));
    try {
      assert.equal(port.family, 6);
      p.send(Buffer.from('hello'), port.port, '::1');
      await until('the datagram', () => got.length >= 1);
      assert.deepEqual(got[0]!.from, { address: '::1', port: p.address().port });
      // Any spelling of the address reaches the same peer.
      port.send(Buffer.from('one'), { address: '::1', port: p.address().port });
      port.send([Buffer.from('t'), Buffer.from('wo')], { address: '0:0:0:0:0:0:0:1', port: p.address().port });
      await until('two replies', () => back.length >= 2);
      assert.deepEqual(back.map(String), ['one', 'two']);
    } finally {
      p.close();
      await port.close();
    }
  });

  test(`${mode}: a dual-stack socket sees an IPv4 peer as plain IPv4 and answers it; ipv6Only refuses IPv4`, { skip }, async () => {
    // ::ffff:127.0.0.1 is the loopback address of a dual-stack socket that does not bind all addresses.
    const { port, got } = await open(mode, { host: '::ffff:127.0.0.1' });
    const p = await peer();
    const back: string[] = [];
    p.on('message', (m) => back.push(m.toString()));
    try {
      assert.equal(port.family, 6);
      p.send(Buffer.from('v4'), port.port, '127.0.0.1');
      await until('the datagram', () => got.length >= 1);
      assert.deepEqual(got[0]!.from, { address: '127.0.0.1', port: p.address().port });
      port.send(Buffer.from('back'), { address: '127.0.0.1', port: p.address().port });
      await until('the reply', () => back.length >= 1);
      assert.deepEqual(back, ['back']);
    } finally {
      p.close();
      await port.close();
    }
    await assert.rejects(open(mode, { host: '::ffff:127.0.0.1', ipv6Only: true }), /EINVAL|Invalid argument|address not available|EADDRNOTAVAIL/i);
  });
}

async function serveWithBogusAddon(mode: 'native' | 'auto'): Promise<{ status: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-udp-'));
  try {
    const pki = await makeTestPki(dir);
    const bogus = join(dir, 'udp.node');
    writeFileSync(bogus, 'not an ELF file');
    const cfg = join(dir, 'server.conf');
    const port = 20000 + Math.floor(Math.random() * 20000);
    writeFileSync(cfg, `port ${port}\nproto udp\nlocal 127.0.0.1\ndev tun\ntopology subnet\nserver 10.8.0.0 255.255.255.0\nca ${pki.ca.certPath}\ncert ${pki.server.certPath}\nkey ${pki.server.keyPath}\ndh none\nverb 4\nudp-socket ${mode}\n`);
    const main = join(import.meta.dirname, '..', '..', 'src', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--config', cfg], {
      env: { ...process.env, NANOVPN_UDP_ADDON: bogus }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (/Initialization Sequence Completed/.test(out)) child.kill('SIGTERM'); });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const status = await new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    clearTimeout(timer);
    return { status, out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('serve with udp-socket native and an addon that does not load stops with a clear error', async () => {
  const r = await serveWithBogusAddon('native');
  assert.notEqual(r.status, 0);
  assert.match(r.out, /udp-socket native: .*(invalid ELF|file too short|udp\.node)/);
  assert.doesNotMatch(r.out, /Initialization Sequence Completed/);
});

test('serve with udp-socket auto and an addon that does not load says why and serves with node:dgram', async () => {
  const r = await serveWithBogusAddon('auto');
  assert.match(r.out, /INFO udp-socket: the native addon is not available, using node:dgram reason=.*(invalid ELF|file too short)/);
  assert.match(r.out, /listening proto=udp .*socket=node/);
  assert.match(r.out, /Initialization Sequence Completed/);
});
