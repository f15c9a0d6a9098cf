// In-process microbenchmark of the server data path (issue 6). Every figure is server-side CPU per packet; the
// simulated client's own work (sealing its packets, opening the server's) is timed separately and left out.
//   up      client P_DATA_V2 → Conn.onData → Session.openData → DataChannel.open → Router.fromClient → counting uplink
//   down    IPv4 packet → Router.toClient → Conn.deliver → Session.sealData → DataChannel.sealV2 → counting send
//   build   as down, but the packet is first built by buildTcpPacket from a TcpRepr and payload views (NAT dispatch)
//   codec   the NAT's per-packet codec work without crypto: classify (checksum verify, parse) + buildTcpPacket
//   udp     as down, plus a real dgram send to a sink on 127.0.0.1 (default DNS lookup vs a synchronous one)
//   tcp     as down, plus the TCP transport framing (writeFramed) onto a loopback socket to a sink
//   nat-up  a simulated client uploads over one TCP connection through the real NAT uplink to a sink on 127.0.0.1
//   nat-down the sink sends; the NAT segments the reads into packets and the simulated client ACKs them
//           (in both NAT sections the server's packets are also sent on a UDP socket to the sink; PUMP=n sets how
//           many client packets arrive per event-loop turn, default 8)
// Sinks run in a child process so their CPU is not counted. Loopback only.
// Run it bundled as the server is (tsx adds per-closure __name() calls that cost real time on this path):
//   npx esbuild bench/datapath-micro.ts --bundle --platform=node --format=esm --target=node20 --outfile=/tmp/dpm.mjs
//   node /tmp/dpm.mjs [packets] [section,…]   (sections default to all; REPEAT=n runs each, default 3)
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { DataChannel } from '../src/core/crypto/data-channel.js';
import { Router } from '../src/core/router/router.js';
import { createNatUplink, type NatUplink } from '../src/io/nat-uplink.js';
import { classify } from '../src/core/uplink/nat/classify.js';
import type { Uplink } from '../src/core/uplink/uplink.js';
import { emitIpv4, ipFromString, PROTO_TCP, simpleIpv4 } from '../src/core/wire/ipv4.js';
import { buildTcpPacket, EMPTY, isError, parseTcpInIpv4, type TcpRepr } from '../src/core/wire/tcp.js';
import { Conn, type ConnHost } from '../src/server/conn.js';
import { Driver } from '../src/io/driver.js';
import { ASSIGN, sessionEstablished, sessionParams, T0 } from '../test/unit/fixtures/session-harness.js';

const N = Number(process.argv[2] ?? 100_000);
const SECTIONS = (process.argv[3] ?? 'up,down,build,codec,udp,tcp,nat-up,nat-down').split(',');
const REPEAT = Number(process.env.REPEAT ?? 3);
const PKT = 1400;           // IPv4 packet size in the tunnel
const MSS = PKT - 40;
const BATCH = 256;
/** Client packets delivered per event-loop turn in the NAT sections (libuv reads up to 32 datagrams per poll). */
const PUMP = Number(process.env.PUMP ?? 8);
const CLIENT_IP = ipFromString(ASSIGN.ip);
const SERVER_VIP = ipFromString(ASSIGN.gateway);
const SINK_IP = ipFromString('127.0.0.1');

const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system; };
const hr = (): number => performance.now() * 1000;  // µs
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

// ---- the server side: one established Session inside a real Conn, a Router --------------------------------------

interface Rig { conn: Conn; client: DataChannel; router: Router; sent: { n: number; bytes: number } }

type Wire = Buffer | readonly Buffer[];
const wireLen = (b: Wire): number => (Buffer.isBuffer(b) ? b.length : b.reduce((n, x) => n + x.length, 0));

function rig(send: (b: Wire) => void, uplink?: Uplink): Rig {
  const f = sessionEstablished();
  const router = new Router({ serverIp: SERVER_VIP, network: SERVER_VIP & 0xffffff00, netmask: 0xffffff00,
    clientToClient: true, mss: 0 }, uplink);
  const host: ConnHost = {
    tlsOptions: {} as ConnHost['tlsOptions'], router, driver: new Driver(),
    authorize: () => Promise.reject(new Error('unused')), established() {}, closed() {}, floated: () => true,
  };
  const sent = { n: 0, bytes: 0 };
  const conn = new Conn(host, 'udp', '127.0.0.1:1194', (b) => { sent.n++; sent.bytes += wireLen(b); send(b); },
    sessionParams(), Buffer.alloc(8, 1), T0);
  (conn as { session: unknown }).session = f.s;   // the fixture's established session instead of a fresh one
  conn.ip = CLIENT_IP;
  router.add(conn);
  return { conn, client: f.client, router, sent };
}

const sessNow = (): number => T0 + performance.now();

function ipPacket(src: number, dst: number, len: number): Buffer {
  const b = Buffer.alloc(len, 0xab);
  emitIpv4(simpleIpv4(src, dst, PROTO_TCP, len - 20), b, 0);
  return b;
}

// ---- sections ---------------------------------------------------------------------------------------------------

function up(): number {
  let got = 0;
  const r = rig(() => {}, { send: () => { got++; }, clientGone() {}, async close() {} });
  const plain = ipPacket(CLIENT_IP, SINK_IP, PKT);
  const wires: Buffer[] = new Array(BATCH);
  let us = 0;
  for (let done = 0; done < N; done += BATCH) {
    for (let i = 0; i < BATCH; i++) wires[i] = r.client.sealV2(0, ASSIGN.peerId, plain);
    const t = cpuUs();
    for (let i = 0; i < BATCH; i++) r.conn.onData(wires[i], sessNow());
    us += cpuUs() - t;
  }
  const n = Math.ceil(N / BATCH) * BATCH;
  if (got !== n) throw new Error(`up: ${got} of ${n} packets reached the uplink`);
  return us / n;
}

function down(): number {
  const r = rig(() => {});
  const p = ipPacket(SINK_IP, CLIENT_IP, PKT);
  const t = cpuUs();
  for (let i = 0; i < N; i++) r.router.toClient(p);
  const us = cpuUs() - t;
  if (r.sent.n !== N) throw new Error('down: packets lost');
  return us / N;
}

function build(): number {
  const r = rig(() => {});
  const chunk = Buffer.alloc(64 * 1024, 0xcd);
  const repr: TcpRepr = {
    srcPort: 5201, dstPort: 40000, seq: 1, ack: 1, control: 'none', psh: false, window: 2048, sackPermitted: false, payload: EMPTY,
  };
  const t = cpuUs();
  for (let i = 0; i < N; i++) {
    const off = (i * MSS) % (chunk.length - MSS);
    repr.seq = (repr.seq + MSS) >>> 0;
    r.router.toClient(buildTcpPacket(SINK_IP, CLIENT_IP, repr, [chunk.subarray(off, off + MSS)]));
  }
  const us = cpuUs() - t;
  if (r.sent.n !== N) throw new Error('build: packets lost');
  return us / N;
}

function codec(): number {
  const chunk = Buffer.alloc(64 * 1024, 0xcd);
  const repr: TcpRepr = {
    srcPort: 40000, dstPort: 5201, seq: 1, ack: 1, control: 'none', psh: false, window: 2048, sackPermitted: false, payload: EMPTY,
  };
  let ok = 0;
  const t = cpuUs();
  for (let i = 0; i < N; i++) {
    const off = (i * MSS) % (chunk.length - MSS);
    repr.seq = (repr.seq + MSS) >>> 0;
    if (classify(buildTcpPacket(CLIENT_IP, SINK_IP, repr, [chunk.subarray(off, off + MSS)])).kind === 'tcp') ok++;
  }
  const us = cpuUs() - t;
  if (ok !== N) throw new Error('codec: a built packet did not classify as TCP');
  return us / N;
}

/** Down path onto a real UDP socket; measured as process CPU over the whole run (sends finish asynchronously). */
async function udp(port: number, mode: 'default' | 'sync' | 'batched'): Promise<number> {
  const sock = dgram.createSocket({
    type: 'udp4', sendBufferSize: 4 << 20,
    ...(mode !== 'default' ? { lookup: ((_h: string, _o: unknown, cb: (e: null, a: string, f: number) => void) => cb(null, '127.0.0.1', 4)) as never } : {}),
  });
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
  // batched: sends queued during the turn go out back to back on the next tick (one tick per turn, not per packet).
  const q: Wire[] = [];
  const flushQ = (): void => { for (const b of q) sock.send(b, port, '127.0.0.1'); q.length = 0; };
  const send = mode === 'batched'
    ? (b: Wire) => { if (q.push(b) === 1) process.nextTick(flushQ); }
    : (b: Wire) => sock.send(b, port, '127.0.0.1');
  const r = rig(send);
  const p = ipPacket(SINK_IP, CLIENT_IP, PKT);
  await turn();
  const c0 = cpuUs();
  for (let done = 0; done < N; done += 64) {
    for (let i = 0; i < 64; i++) r.router.toClient(p);
    await turn();
  }
  await turn();
  const us = cpuUs() - c0;
  sock.close();
  return us / (Math.ceil(N / 64) * 64);
}

/** Down path onto a loopback TCP connection with OpenVPN's 2-byte framing. */
async function tcp(port: number): Promise<number> {
  const sock = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((res) => sock.once('connect', () => res()));
  const r = rig((b) => writeFramed(sock, b));
  const p = ipPacket(SINK_IP, CLIENT_IP, PKT);
  await turn();
  const c0 = cpuUs();
  for (let done = 0; done < N; done += 64) {
    for (let i = 0; i < 64; i++) r.router.toClient(p);
    // Back-pressure as a real peer would apply it: wait for the kernel to take the bytes.
    if (sock.writableNeedDrain) await new Promise((res) => sock.once('drain', res)); else await turn();
  }
  await new Promise<void>((res) => sock.end(res));
  const us = cpuUs() - c0;
  sock.destroy();
  return us / (Math.ceil(N / 64) * 64);
}

/** As server.ts frames packets for the TCP transport. */
function writeFramed(sock: net.Socket, bytes: Wire): void {
  if (sock.destroyed) return;
  const hdr = Buffer.allocUnsafe(2);
  hdr.writeUInt16BE(wireLen(bytes));
  sock.cork();
  sock.write(hdr);
  if (Buffer.isBuffer(bytes)) sock.write(bytes);
  else for (const b of bytes) sock.write(b);
  process.nextTick(() => sock.uncork());
}

// ---- a simulated TCP client inside the tunnel, for the NAT sections -----------------------------------------------

interface Client {
  r: Rig; nat: NatUplink; clientUs: number;
  /** The client's packets, sealed, waiting for the next event-loop turn (like datagrams in the socket buffer). */
  inbox: Buffer[];
  onSeg?: (seg: TcpRepr, len: number) => void;
}

/** The server's packets to the client also go out on a real UDP socket (to the sink), as the server sends them. */
let linkSock: dgram.Socket | undefined;
let linkPort = 0;

/** The client's copy of a packet sent in pieces, in a reused buffer (no garbage that would bill the server's GC). */
const scratch = Buffer.alloc(65536);
function gather(parts: readonly Buffer[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.copy(scratch, n);
  return scratch.subarray(0, n);
}

function natClient(): Client {
  const c: Client = { r: undefined as unknown as Rig, nat: undefined as unknown as NatUplink, clientUs: 0, inbox: [] };
  const r = rig((w) => {
    linkSock?.send(w, linkPort, '127.0.0.1');
    const t = hr();
    const wire = Buffer.isBuffer(w) ? w : gather(w);
    const o = r.client.open(wire, 0);
    if (!o.ok) throw new Error(`client could not open a server packet (${o.reason})`);
    const seg = parseTcpInIpv4(o.plain);
    c.clientUs += hr() - t;
    if (isError(seg)) throw new Error(seg.error);
    c.onSeg?.(seg, seg.payload.length);
  });
  c.r = r;
  c.nat = createNatUplink({ mss: MSS }, r.router.toClient);
  r.router.setUplink(c.nat);
  return c;
}

function clientSend(c: Client, repr: TcpRepr, data?: Buffer): void {
  const t = hr();
  const ip = buildTcpPacket(CLIENT_IP, SINK_IP, repr, data ? [data] : undefined);
  c.inbox.push(c.r.client.sealV2(0, ASSIGN.peerId, ip));
  c.clientUs += hr() - t;
}

/** Delivers the inbox to the server, up to 64 packets per event-loop turn (one UDP read burst). */
function pump(c: Client): void {
  const batch = c.inbox.splice(0, PUMP);
  for (const w of batch) c.r.conn.onData(w, sessNow());
}

async function handshake(c: Client, port: number, clientPort: number): Promise<{ iss: number; wscale: number }> {
  const isn = 1000;
  let synAck: TcpRepr | undefined;
  c.onSeg = (s) => { if (s.control === 'syn') synAck = s; };
  clientSend(c, {
    srcPort: clientPort, dstPort: port, seq: isn, ack: undefined, control: 'syn', psh: false, window: 65535,
    mss: MSS, wscale: 7, sackPermitted: false, payload: EMPTY,
  });
  pump(c);
  for (let i = 0; i < 1000 && !synAck; i++) await new Promise((r) => setTimeout(r, 2));
  if (!synAck) throw new Error('no SYN-ACK from the NAT');
  return { iss: synAck.seq, wscale: synAck.wscale ?? 0 };
}

async function natUp(port: number): Promise<{ us: number; mbps: number; extra: string }> {
  const c = natClient();
  const clientPort = 40000 + Math.floor(Math.random() * 20000);
  const { iss, wscale } = await handshake(c, port, clientPort);
  const seq0 = 1001;
  let acked = seq0, wnd = 65535;
  c.onSeg = (s) => { if (s.ack !== undefined && (s.ack - acked) > 0) acked = s.ack; wnd = s.window << wscale; };
  const seg = (seq: number, control: TcpRepr['control'] = 'none'): TcpRepr => ({
    srcPort: clientPort, dstPort: port, seq, ack: (iss + 1) >>> 0, control, psh: false, window: 65535, sackPermitted: false, payload: EMPTY,
  });
  clientSend(c, seg(seq0));
  const payload = Buffer.alloc(MSS, 0x5a);
  const total = N * MSS;
  let next = seq0;
  c.clientUs = 0;
  const sent0 = c.r.sent.n;
  const c0 = cpuUs(), t0 = hr();
  while (acked - seq0 < total) {
    // Window-limited sender: keeps at most the advertised window (capped at 512 KiB) in flight.
    while (next - seq0 < total && next - acked + MSS <= Math.min(wnd, 512 * 1024)) {
      clientSend(c, seg(next), payload);
      next += MSS;
    }
    pump(c);
    await turn();
    if (c.inbox.length === 0 && next - acked + MSS > Math.min(wnd, 512 * 1024)) await new Promise((r) => setTimeout(r, 0));
  }
  const wallUs = hr() - t0;
  const us = cpuUs() - c0 - c.clientUs;
  const acks = c.r.sent.n - sent0;
  clientSend(c, seg(next, 'rst'));
  pump(c);
  await c.nat.close();
  return { us: us / N, mbps: (total * 8) / wallUs, extra: `${(acks / N).toFixed(3)} ACKs/segment` };
}

async function natDown(port: number): Promise<{ us: number; mbps: number; extra: string }> {
  const c = natClient();
  const clientPort = 40000 + Math.floor(Math.random() * 20000);
  const { iss } = await handshake(c, port, clientPort);
  const seq0 = 1001;
  let rcvNxt = (iss + 1) >>> 0, segs = 0, bytes = 0, unacked = 0, sndNxt = seq0;
  const total = N * MSS;
  const ack = (): TcpRepr => ({
    srcPort: clientPort, dstPort: port, seq: sndNxt, ack: rcvNxt, control: 'none', psh: false, window: 8192, sackPermitted: false, payload: EMPTY,
  });
  // Delayed-ACK client (every second segment), window 8192 << 7 = 1 MiB.
  c.onSeg = (s, len) => {
    if (len === 0 || s.seq !== rcvNxt) return;
    rcvNxt = (rcvNxt + len) >>> 0; segs++; bytes += len;
    if (++unacked >= 2) { unacked = 0; clientSend(c, ack()); }
  };
  clientSend(c, ack());
  pump(c);
  c.clientUs = 0;
  const c0 = cpuUs(), t0 = hr();
  // The sink starts sending once it sees this connection's first byte.
  clientSend(c, { ...ack(), psh: true }, Buffer.from('G'));
  sndNxt++;
  pump(c);
  while (bytes < total) {
    pump(c);
    if (unacked > 0 && c.inbox.length === 0) { unacked = 0; clientSend(c, ack()); }
    await turn();
  }
  const wallUs = hr() - t0;
  const us = cpuUs() - c0 - c.clientUs;
  clientSend(c, { ...ack(), control: 'rst' });
  pump(c);
  await c.nat.close();
  return { us: us / segs, mbps: (bytes * 8) / wallUs, extra: `${(bytes / segs).toFixed(0)} bytes/segment` };
}

// ---- sink child process -----------------------------------------------------------------------------------------

const SINK = `
const net = require('node:net'), dgram = require('node:dgram');
const u = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 }); u.on('message', () => {});
const t = net.createServer((s) => s.on('data', () => {}).on('error', () => {}));
const src = net.createServer((s) => {
  const chunk = Buffer.alloc(65536, 0x33);
  let n = 0; const max = Number(process.argv[1]);
  const go = () => { while (n < max) { n += chunk.length; if (!s.write(chunk)) return; } s.end(); };
  s.once('data', () => { s.on('drain', go); go(); }); s.on('data', () => {}); s.on('error', () => {});
});
u.bind(0, '127.0.0.1', () => t.listen(0, '127.0.0.1', () => src.listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ udp: u.address().port, tcp: t.address().port, src: src.address().port })))));
`;

async function startSink(): Promise<{ child: ChildProcess; udp: number; tcp: number; src: number }> {
  const child = spawn(process.execPath, ['-e', SINK, String(N * MSS + 65536)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((res) => createInterface({ input: child.stdout! }).once('line', res));
  return { child, ...JSON.parse(line) };
}

// ---- main -------------------------------------------------------------------------------------------------------

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(2)} µs/pkt  (runs ${xs.map((x) => x.toFixed(2)).join(' ')})`;
};

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${N} packets of ${PKT} bytes per run, ${REPEAT} runs, load ${(await import('node:os')).loadavg()[0].toFixed(2)}`);
  const sink = await startSink();
  linkSock = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
  linkPort = sink.udp;
  await new Promise<void>((res) => linkSock!.bind(0, '127.0.0.1', res));
  try {
    const runs = async (name: string, f: () => number | Promise<number>) => {
      if (!SECTIONS.includes(name.split(' ')[0])) return;
      await f();  // warm-up
      const xs: number[] = [];
      for (let i = 0; i < REPEAT; i++) xs.push(await f());
      console.log(`${name.padEnd(28)} ${fmt(xs)}`);
    };
    await runs('up (decrypt→route)', up);
    await runs('down (route→encrypt)', down);
    await runs('build (buildTcp→encrypt)', build);
    await runs('codec (build+classify)', codec);
    if (SECTIONS.includes('udp')) {
      // A/B interleaved: the same socket path with and without a synchronous lookup.
      const modes = ['default', 'sync', 'batched'] as const;
      const xs = modes.map(() => [] as number[]);
      for (const m of modes) await udp(sink.udp, m);
      for (let i = 0; i < REPEAT; i++) for (let k = 0; k < modes.length; k++) xs[k].push(await udp(sink.udp, modes[k]));
      modes.forEach((m, k) => console.log(`${`udp send, ${m}`.padEnd(28)} ${fmt(xs[k])}`));
    }
    await runs('tcp (down + writeFramed)', () => tcp(sink.tcp));
    for (const [name, f] of [['nat-up', () => natUp(sink.tcp)], ['nat-down', () => natDown(sink.src)]] as const) {
      if (!SECTIONS.includes(name)) continue;
      await f();
      const xs: number[] = [], ms: number[] = [];
      let extra = '';
      for (let i = 0; i < REPEAT; i++) { const r = await f(); xs.push(r.us); ms.push(r.mbps); extra = r.extra; }
      console.log(`${name.padEnd(28)} ${fmt(xs)}  wall ${ms.map((m) => m.toFixed(0)).join('/')} Mbit/s, ${extra}`);
    }
  } finally {
    linkSock.close();
    sink.child.kill();
  }
}

await main();
