// The client TCP link's writer on a loopback connection: length prefixes, and when corked writes leave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { FramedTcpWriter } from '../../src/io/framed-tcp-writer.js';
import { TcpDeframer } from '../../src/core/transport/tcp-framing.js';

async function pair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const accepted = once(srv, 'connection');
  const a = net.connect(port, '127.0.0.1');
  await once(a, 'connect');
  const [b] = await accepted as [net.Socket];
  return { a, b, close: () => { a.destroy(); b.destroy(); srv.close(); } };
}

async function receive(sock: net.Socket, n: number): Promise<Buffer[]> {
  const d = new TcpDeframer();
  const out: Buffer[] = [];
  for await (const chunk of sock) {
    const p = d.push(chunk as Buffer);
    assert.ok(Array.isArray(p));
    out.push(...p);
    if (out.length >= n) break;
  }
  return out;
}

test('writes made during a read leave when the read callback returns, not a tick later', async () => {
  const { a, b, close } = await pair();
  try {
    const w = new FramedTcpWriter(a);
    let corkedInside = -1;
    w.duringRead(() => {
      w.write(Buffer.from('one'));
      w.write([Buffer.from('tw'), Buffer.from('o')]);
      corkedInside = a.writableCorked;
    });
    assert.equal(corkedInside, 1);
    assert.equal(a.writableCorked, 0, 'uncorked synchronously at the end of the read');
    const got = await receive(b, 2);
    assert.deepEqual(got.map(String), ['one', 'two']);
  } finally { close(); }
});

test('writes made outside a read are corked together and leave at the next tick', async () => {
  const { a, b, close } = await pair();
  try {
    const w = new FramedTcpWriter(a);
    w.write(Buffer.from('x'));
    w.write(Buffer.from('yz'));
    assert.equal(a.writableCorked, 1, 'one cork for both writes');
    await new Promise<void>((r) => process.nextTick(r));
    assert.equal(a.writableCorked, 0);
    const got = await receive(b, 2);
    assert.deepEqual(got.map(String), ['x', 'yz']);
  } finally { close(); }
});

test('a read callback that throws still flushes what it wrote', async () => {
  const { a, b, close } = await pair();
  try {
    const w = new FramedTcpWriter(a);
    assert.throws(() => w.duringRead(() => { w.write(Buffer.from('before')); throw new Error('boom'); }), /boom/);
    assert.equal(a.writableCorked, 0);
    const got = await receive(b, 1);
    assert.deepEqual(got.map(String), ['before']);
  } finally { close(); }
});

test('a destroyed socket takes no writes', async () => {
  const { a, close } = await pair();
  try {
    const w = new FramedTcpWriter(a);
    a.destroy();
    w.write(Buffer.from('lost'));
    assert.equal(a.writableCorked, 0);
  } finally { close(); }
});

test('tunnel data is dropped once the OS stops taking bytes and queueLimit packets wait; other packets still go', async () => {
  const { a, b, close } = await pair();
  try {
    b.pause();
    let dropped = 0;
    const w = new FramedTcpWriter(a, 4, () => { dropped++; });
    const payload = (i: number) => { const p = Buffer.alloc(1400, i & 0xff); p.writeUInt32BE(i); return p; };
    // A burst in one turn is not dropped while the OS still takes bytes: only bytes of earlier turns count.
    for (let i = 0; i < 100; i++) assert.equal(w.write(payload(i), true), true, `burst packet ${i}`);
    let sent = 100;
    let firstDrop = -1;
    for (let turn = 0; turn < 20_000 && firstDrop < 0; turn++) {
      await new Promise<void>((r) => setImmediate(r));
      for (let i = 0; i < 100; i++) {
        const queuedBefore = a.writableLength;
        if (w.write(payload(sent), true)) { sent++; continue; }
        firstDrop = sent;
        assert.ok(queuedBefore >= 4 * 1600, `dropped with ${queuedBefore} bytes waiting`);
        break;
      }
    }
    assert.ok(firstDrop > 0, 'the receiver never stopped taking bytes');
    assert.equal(dropped, 1);
    assert.equal(w.write(payload(-1 >>> 0), true), false, 'still full: dropped again');
    assert.equal(dropped, 2);
    assert.equal(w.write(Buffer.from('control')), true, 'a packet that is not droppable is queued');
    b.resume();
    const got = await receive(b, sent + 1);
    assert.equal(got.length, sent + 1);
    for (let i = 0; i < sent; i++) assert.equal(got[i].readUInt32BE(0), i, `packet ${i} in order`);
    assert.equal(String(got[sent]), 'control');
  } finally { close(); }
});
