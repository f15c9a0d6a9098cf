// createNatUplink in-process against real servers on 127.0.0.1: crafted client packets in, delivered packets out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createNatUplink, type NatUplink, type NatOptions } from '../../src/io/nat-uplink.js';
import { ipFromString, ipv4Dst, ipv4Src, ipv4Payload, PROTO_UDP, emitIpv4, simpleIpv4 } from '../../src/core/wire/ipv4.js';
import { buildTcpPacket, parseTcpInIpv4, EMPTY, type TcpRepr } from '../../src/core/wire/tcp.js';
import { buildUdpPacket, parseUdp } from '../../src/core/wire/udp.js';

const CLIENT = ipFromString('10.8.0.2');
const LOOP = ipFromString('127.0.0.1');

/** Collects delivered packets and lets a test wait for the next one matching a predicate. */
class Inbox {
  packets: Buffer[] = [];
  private waiters: { pred: (p: Buffer) => boolean; resolve: (p: Buffer) => void }[] = [];
  deliver = (p: Buffer): void => {
    const i = this.waiters.findIndex((w) => w.pred(p));
    if (i >= 0) { const [w] = this.waiters.splice(i, 1); w.resolve(p); return; }
    this.packets.push(p);
  };
  next(pred: (p: Buffer) => boolean, ms = 5000): Promise<Buffer> {
    const i = this.packets.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.packets.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (p: Buffer) => { clearTimeout(timer); resolve(p); } };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error('no matching packet delivered'));
      }, ms);
      this.waiters.push(w);
    });
  }
}

function tcpOf(p: Buffer): TcpRepr {
  const r = parseTcpInIpv4(p);
  assert.ok(!('error' in r), `delivered packet must parse with a valid checksum: ${'error' in r ? r.error : ''}`);
  return r;
}

const isTcpTo = (port: number) => (p: Buffer): boolean => {
  const r = parseTcpInIpv4(p);
  return !('error' in r) && r.dstPort === port;
};

/** A crafted client TCP connection: tracks seq/ack and reassembles what the NAT delivers. */
class FakeClient {
  seq = 100000;
  ack = 0;
  received: Buffer[] = [];
  constructor(readonly nat: NatUplink, readonly inbox: Inbox, readonly port: number, readonly dst: number, readonly dstPort: number) {}
  seg(over: Partial<TcpRepr>): void {
    const r: TcpRepr = {
      srcPort: this.port, dstPort: this.dstPort, seq: this.seq, ack: this.ack, control: 'none', psh: false,
      window: 65535, sackPermitted: false, payload: EMPTY, ...over,
    };
    this.nat.send(CLIENT, buildTcpPacket(CLIENT, this.dst, r));
  }
  next(ms?: number): Promise<TcpRepr> { return this.inbox.next(isTcpTo(this.port), ms).then(tcpOf); }
  async connect(): Promise<TcpRepr> {
    this.seg({ control: 'syn', ack: undefined, mss: 1400, wscale: 7, window: 65535 });
    const synAck = await this.next();
    assert.equal(synAck.control, 'syn');
    assert.equal(synAck.ack, this.seq + 1);
    this.seq += 1;
    this.ack = (synAck.seq + 1) >>> 0;
    this.seg({ window: 4096 });  // scaled by 2^7: 512 KiB
    return synAck;
  }
  /** Read segments until `n` payload bytes (or a FIN) arrived, ACKing each. */
  async readUntil(n: number): Promise<{ data: Buffer; fin: boolean }> {
    let got = 0;
    let fin = false;
    while (got < n && !fin) {
      const s = await this.next();
      if (s.seq === this.ack && s.payload.length > 0) {
        this.received.push(Buffer.from(s.payload));
        got += s.payload.length;
        this.ack = (this.ack + s.payload.length) >>> 0;
      }
      if (s.control === 'fin' && ((s.seq + s.payload.length) >>> 0) === this.ack) {
        fin = true;
        this.ack = (this.ack + 1) >>> 0;
      }
      this.seg({ window: 4096 });
    }
    return { data: Buffer.concat(this.received.splice(0)), fin };
  }
}

async function withNat(opts: NatOptions, fn: (nat: NatUplink, inbox: Inbox) => Promise<void>): Promise<void> {
  const inbox = new Inbox();
  const nat = createNatUplink(opts, inbox.deliver);
  try { await fn(nat, inbox); } finally { await nat.close(); }
}

async function listen(server: net.Server | dgram.Socket): Promise<number> {
  if (server instanceof net.Server) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  }
  server.bind(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('TCP: handshake after connect, data both ways, FIN both ways, flow removed', async () => {
  let serverGot = '';
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => {
      serverGot += d.toString();
      if (serverGot === 'hello') { s.write('world'); }
    });
    s.on('end', () => s.end('bye'));
  });
  const port = await listen(server);
  try {
    await withNat({}, async (nat, inbox) => {
      const c = new FakeClient(nat, inbox, 40001, LOOP, port);
      const synAck = await c.connect();
      assert.equal(synAck.mss, 1460);
      assert.ok(synAck.wscale !== undefined, 'window scaling is answered when the client offers it');
      c.seg({ payload: Buffer.from('hello'), psh: true });
      c.seq += 5;
      const { data } = await c.readUntil(5);
      assert.equal(data.toString(), 'world');
      assert.equal(serverGot, 'hello');
      const io = nat.ioState();
      assert.equal(io.tcpFlows, 1);
      assert.equal(io.paused, 0);
      assert.equal(io.worst?.dst, `127.0.0.1:${port}`, 'the state dump names the flow that waits most');
      // Client half-closes; the server answers 'bye' and closes.
      c.seg({ control: 'fin' });
      c.seq += 1;
      const rest = await c.readUntil(3);
      assert.equal(rest.data.toString(), 'bye');
      const fin = rest.fin ? rest : await c.readUntil(1);
      assert.ok(fin.fin, 'server end becomes a FIN');
      // Our FIN was the last one and the client ACKed it: LAST-ACK → closed, the flow leaves the table.
      await eventually(() => nat.stats().flowsOpen === 0);
      const st = nat.stats();
      assert.equal(st.flowsClosed, 1);
      assert.equal(st.tcpFlows, 0);
      assert.equal(st.flowsCreated, 1);
      assert.ok(st.packetsOut > 0 && st.packetsIn > 0 && st.bytesIn > 0);
      assert.equal(nat.clientStats(CLIENT)?.flowsCreated, 1);
    });
  } finally { server.close(); }
});

test('TCP: refused connection resets the client', async () => {
  const tmp = net.createServer();
  const port = await listen(tmp);
  await new Promise<void>((r) => tmp.close(() => r()));
  await withNat({}, async (nat, inbox) => {
    const c = new FakeClient(nat, inbox, 40002, LOOP, port);
    c.seg({ control: 'syn', ack: undefined, mss: 1400 });
    const rst = await c.next();
    assert.equal(rst.control, 'rst');
    assert.equal(rst.ack, c.seq + 1);
    await eventually(() => nat.stats().flowsOpen === 0);
    assert.equal(nat.stats().flowsClosed, 1);
  });
});

test('TCP: 1 MiB download and upload arrive intact', async () => {
  const blob = Buffer.alloc(1 << 20);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + (i >> 11)) & 0xff;
  const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const uploaded: Buffer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => { /* nat.close() resets the download connection the client never closed */ });
    s.once('data', (d) => {
      if (d.toString().startsWith('GET')) { s.end(blob); return; }
      uploaded.push(d);
      s.on('data', (x) => uploaded.push(x));
      s.on('end', () => s.end('ok'));
    });
  });
  const port = await listen(server);
  try {
    await withNat({}, async (nat, inbox) => {
      const c = new FakeClient(nat, inbox, 40003, LOOP, port);
      await c.connect();
      c.seg({ payload: Buffer.from('GET'), psh: true });
      c.seq += 3;
      const got = await c.readUntil(blob.length);
      assert.equal(digest(got.data), digest(blob));

      const up = new FakeClient(nat, inbox, 40004, LOOP, port);
      const synAck = await up.connect();
      const mss = 1400;
      let sentUpTo = 0;
      let acked = 0;
      const base = up.seq;
      // A simple sender honouring the NAT's advertised window.
      let wnd = synAck.window;
      const shift = synAck.wscale ?? 0;
      while (acked < blob.length) {
        while (sentUpTo < blob.length && sentUpTo - acked < wnd) {
          const n = Math.min(mss, blob.length - sentUpTo, wnd - (sentUpTo - acked));
          up.seg({ seq: (base + sentUpTo) >>> 0, payload: blob.subarray(sentUpTo, sentUpTo + n) });
          sentUpTo += n;
        }
        const a = await up.next();
        if (a.ack !== undefined) {
          acked = Math.max(acked, ((a.ack - base) | 0));
          wnd = a.window << shift;
        }
      }
      up.seq = (base + blob.length) >>> 0;
      up.seg({ control: 'fin' });
      up.seq += 1;
      const reply = await up.readUntil(2);
      assert.equal(reply.data.toString(), 'ok');
      assert.equal(digest(Buffer.concat(uploaded)), digest(blob));
    });
  } finally { server.close(); }
});

test('TCP: server reset is propagated to the client as RST', async () => {
  const server = net.createServer((s) => { s.on('data', () => s.resetAndDestroy()); });
  const port = await listen(server);
  try {
    await withNat({}, async (nat, inbox) => {
      const c = new FakeClient(nat, inbox, 40005, LOOP, port);
      await c.connect();
      c.seg({ payload: Buffer.from('x') });
      let s = await c.next();
      while (s.control !== 'rst') s = await c.next();
      assert.equal(s.control, 'rst');
      await eventually(() => nat.stats().flowsOpen === 0);
    });
  } finally { server.close(); }
});

test('TCP: client RST resets the server connection', async () => {
  let serverSaw = '';
  const closed = new Promise<void>((resolve) => {
    const server = net.createServer((s) => {
      s.on('error', (e: NodeJS.ErrnoException) => { serverSaw = e.code ?? 'error'; });
      s.on('close', () => { server.close(); resolve(); });
    });
    void listen(server).then((port) => withNat({}, async (nat, inbox) => {
      const c = new FakeClient(nat, inbox, 40006, LOOP, port);
      await c.connect();
      c.seg({ control: 'rst', ack: undefined });
      await closed;
      await eventually(() => nat.stats().flowsOpen === 0);
    }));
  });
  await closed;
  assert.equal(serverSaw, 'ECONNRESET');
});

test('TCP: segment for no flow gets a RST; bad checksum is dropped and counted', async () => {
  await withNat({}, async (nat, inbox) => {
    const c = new FakeClient(nat, inbox, 40007, LOOP, 9);
    c.seg({ ack: 555, payload: Buffer.from('zz') });
    const rst = await c.next();
    assert.equal(rst.control, 'rst');
    assert.equal(rst.seq, 555);
    const p = buildTcpPacket(CLIENT, LOOP, {
      srcPort: 40008, dstPort: 9, seq: 1, ack: undefined, control: 'syn', psh: false, window: 100,
      sackPermitted: false, payload: EMPTY,
    });
    p[p.length - 1] ^= 0xff;  // no payload: this flips a checksum byte
    nat.send(CLIENT, p);
    assert.equal(nat.stats().drops['tcp-checksum'], 1);
    assert.equal(nat.stats().flowsCreated, 0);
  });
});

test('UDP: request/response through a dgram flow, reply comes back to the client port', async () => {
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  const port = await listen(echo);
  try {
    await withNat({}, async (nat, inbox) => {
      nat.send(CLIENT, buildUdpPacket(CLIENT, LOOP, { srcPort: 5353, dstPort: port, payload: Buffer.from('ping') }));
      const p = await inbox.next((x) => x[9] === PROTO_UDP);
      assert.equal(ipv4Src(p), LOOP);
      assert.equal(ipv4Dst(p), CLIENT);
      const u = parseUdp(ipv4Payload(p), LOOP, CLIENT);
      assert.ok(!('error' in u));
      assert.equal(u.srcPort, port);
      assert.equal(u.dstPort, 5353);
      assert.equal(u.payload.toString(), 'echo:ping');
      assert.equal(nat.stats().udpFlows, 1);
      nat.clientGone(CLIENT);
      assert.equal(nat.stats().flowsOpen, 0);
      assert.equal(nat.clientStats(CLIENT), undefined);
    });
  } finally { echo.close(); }
});

test('UDP: per-client quota bounds the flow count, oldest unanswered flows are evicted', async () => {
  await withNat({ perClientFlows: 16, maxFlows: 64 }, async (nat) => {
    for (let i = 0; i < 200; i++) {
      nat.send(CLIENT, buildUdpPacket(CLIENT, LOOP, { srcPort: 10000 + i, dstPort: 9, payload: Buffer.from('x') }));
    }
    const st = nat.stats();
    assert.equal(st.flowsOpen, 16);
    assert.equal(st.flowsCreated, 200);
    assert.equal(st.flowsEvicted, 184);
  });
});

test('ICMP echo to the Internet is dropped silently and counted', async () => {
  await withNat({}, async (nat, inbox) => {
    const icmp = Buffer.from([8, 0, 0xf7, 0xfe, 0, 1, 0, 0]);  // echo request id 1 seq 0, checksum filled
    const p = Buffer.alloc(20 + icmp.length);
    emitIpv4(simpleIpv4(CLIENT, ipFromString('192.0.2.1'), 1, icmp.length), p, 0);
    icmp.copy(p, 20);
    nat.send(CLIENT, p);
    assert.equal(nat.stats().drops.icmp, 1);
    assert.equal(inbox.packets.length, 0);
  });
});

test('TCP: a SYN flood from one client is held to its quota (oldest half-open flows evicted)', async () => {
  let accepted = 0;
  const server = net.createServer((s) => { accepted++; s.on('error', () => {}); });
  const port = await listen(server);
  try {
    await withNat({ perClientFlows: 16 }, async (nat, inbox) => {
      for (let i = 0; i < 200; i++) {
        nat.send(CLIENT, buildTcpPacket(CLIENT, LOOP, {
          srcPort: 20000 + i, dstPort: port, seq: i * 1000, ack: undefined, control: 'syn', psh: false,
          window: 65535, sackPermitted: false, payload: EMPTY, mss: 1400,
        }));
      }
      const st = nat.stats();
      assert.equal(st.flowsCreated, 200);
      assert.equal(st.flowsOpen, 16);
      assert.equal(st.flowsEvicted, 184);
      assert.equal(st.tcpFlows, 16);
      // Only flows that survived can complete a handshake.
      await eventually(() => inbox.packets.filter((p) => tcpOf(p).control === 'syn').length === 16);
    });
  } finally { server.close(); }
  assert.ok(accepted <= 200);
});

test('UDP: a reply bigger than the MTU reaches the client as valid fragments', async () => {
  const { Reassembler } = await import('../../src/core/uplink/nat/reassembly.js');
  const echo = dgram.createSocket('udp4');
  const big = Buffer.alloc(4000);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  echo.on('message', (_m, r) => echo.send(big, r.port, r.address));
  const port = await listen(echo);
  try {
    await withNat({ mtu: 1400 }, async (nat, inbox) => {
      nat.send(CLIENT, buildUdpPacket(CLIENT, LOOP, { srcPort: 6000, dstPort: port, payload: Buffer.from('q') }));
      const r = new Reassembler();
      let whole: Buffer | undefined;
      while (!whole) {
        const f = await inbox.next((x) => x[9] === PROTO_UDP);
        assert.ok(f.length <= 1400);
        whole = r.add(f, 0);
      }
      const u = parseUdp(ipv4Payload(whole), LOOP, CLIENT);
      assert.ok(!('error' in u));
      assert.deepEqual(u.payload, big);
    });
  } finally { echo.close(); }
});

test('TCP: a new SYN on a 4-tuple in TIME-WAIT opens a new connection', async () => {
  const server = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.end('hi'); });
  const port = await listen(server);
  try {
    await withNat({}, async (nat, inbox) => {
      const c = new FakeClient(nat, inbox, 40010, LOOP, port);
      await c.connect();
      const r = await c.readUntil(2);
      const fin = r.fin ? r : await c.readUntil(1);
      assert.ok(fin.fin, 'server closed first');
      c.seg({ control: 'fin' });  // our FIN after theirs: the NAT goes FIN-WAIT-2 → TIME-WAIT
      c.seq += 1;
      const lastAck = await c.next();
      assert.equal(lastAck.ack, c.seq);
      assert.equal(nat.stats().flowsOpen, 1, 'the flow waits in TIME-WAIT');
      const again = new FakeClient(nat, inbox, 40010, LOOP, port);
      again.seq = c.seq + 100000;
      await again.connect();
      assert.equal(nat.stats().flowsCreated, 2);
      assert.equal(nat.stats().flowsOpen, 1);
    });
  } finally { server.close(); }
});
