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
