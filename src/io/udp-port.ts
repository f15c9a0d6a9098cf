// The UDP transport's socket, two ways. With our addon (src/native/udp) datagrams are read with recvmmsg into one
// preallocated ring and each is handed on in one reused buffer with one reused address object; sends leave with
// sendmmsg once per turn. node:dgram, the fallback, reads one datagram per syscall into a fresh 64 KiB buffer and
// could take in about half of an 80k packets/s flood, so the kernel queue overflowed and dropped a real client's
// handshake along with the flood.
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as net from 'node:net';
import type { PeerAddr } from '../core/transport/udp-endpoint.js';
import { findAddon, loadAddon } from './native-addon.js';
import { ipWords, isIpv4Mapped, plainAddress, socketAddress, wordsText } from './peer-address.js';

/** `msg` and `from` are valid only during the call (with the addon both are rewritten for the next datagram): copy
 *  what you keep. `now` is the clock's time when the datagram's batch was read. `from.address` is plain IPv4 for
 *  an IPv4 peer also on a dual-stack socket (peer-address.ts). */
export type OnDatagram = (msg: Buffer, from: PeerAddr, now: number) => void;

export interface UdpPortStats {
  /** Datagrams waiting for the socket to take them. */
  sendQueue: number;
  /** Datagrams the kernel refused (and that were skipped), or dropped because the send queue was full. */
  sendDropped: number;
  /** Datagrams longer than a receive slot, dropped. */
  truncated: number;
}

export interface UdpPort {
  /** 'native': udp.node's batched socket; 'node': node:dgram. */
  readonly kind: 'native' | 'node';
  readonly port: number;
  /** The socket's family: 6 is dual-stack unless it was opened ipv6Only. */
  readonly family: 4 | 6;
  /** Queues a datagram (one Buffer or the pieces of one); the queue leaves at the end of this turn. */
  send(bytes: Buffer | readonly Buffer[], to: PeerAddr): void;
  stats(): UdpPortStats;
  close(): Promise<void>;
}

export interface UdpPortOptions {
  /** An IPv4 or IPv6 literal. */
  host: string;
  port: number;
  /** An IPv6 socket takes IPv6 peers only (bind ipv6only); by default it is dual-stack, as OpenVPN's. */
  ipv6Only?: boolean;
  /** SO_RCVBUF and SO_SNDBUF. */
  bufBytes: number;
  /** The largest datagram taken in (the native socket's slot size; longer ones are dropped and counted). */
  maxDatagram: number;
  mode: 'auto' | 'native' | 'node';
  /** The clock (the driver's), read once per batch of datagrams. */
  now: () => number;
  onDatagram: OnDatagram;
  onError: (e: Error) => void;
}

export interface UdpAddon {
  open(host: string, port: number, bufBytes: number, v6only: boolean): { fd: number; port: number; family: 4 | 6 };
  startPoll(fd: number, ring: Buffer, meta: Buffer, slotBytes: number, onBatch: (count: number) => void,
    onWritable: () => void, onError: (e: Error) => void): { stop(): void; wantWritable(): void };
  sendBatch(fd: number, bufs: Buffer[], parts: Uint32Array, addrs: Uint32Array, ports: Uint32Array, count: number,
    stats: Uint32Array, family: 4 | 6): number;
  close(fd: number): void;
  /** One sd_notify datagram (systemd-notify.ts); older builds lack it. */
  notify?(socketPath: string, message: string): void;
  /** glibc's malloc_trim(0) (idle-memory.ts); older builds lack it. */
  mallocTrim?(): boolean;
}

/** The addon, or why not. Loaded once. */
let addon: { mod: UdpAddon; file: string } | { error: string } | undefined;

export function loadUdpAddon(): { mod: UdpAddon; file: string } | { error: string } {
  if (addon) return addon;
  const file = findAddon('udp');
  if (!file) return (addon = { error: 'udp.node not found (build it with ./build.sh addon)' });
  try {
    return (addon = { mod: loadAddon<UdpAddon>(file), file });
  } catch (e) {
    return (addon = { error: (e as Error).message });
  }
}

/** Opens the socket; 'auto' takes the addon when it loads and says in `fallback` why it did not. */
export async function openUdpPort(o: UdpPortOptions): Promise<{ port: UdpPort; fallback?: string }> {
  if (o.mode !== 'node') {
    const a = loadUdpAddon();
    if ('mod' in a) return { port: openNativeUdpPort(a.mod, o) };
    if (o.mode === 'native') throw new Error(`udp-socket native: ${a.error}`);
    return { port: await openDgramPort(o), fallback: a.error };
  }
  return { port: await openDgramPort(o) };
}

/** The native socket over a given addon (tests wrap the real one). */
export function openNativeUdpPort(mod: UdpAddon, o: UdpPortOptions): UdpPort { return new NativeUdpPort(mod, o); }

const RING_SLOTS = 64;
const META_WORDS = 8;
const TRUNCATED = 1;
/** Source address strings are remembered in a direct-mapped table by address (its 4 words), and only an address
 *  seen twice in a row at its slot gets in: a flood from many spoofed addresses then allocates only strings that
 *  die young (a cached string that a flood replaces every few milliseconds would survive a scavenge each time). */
const ADDRESS_SLOTS = 256;
const IP_CACHE_MAX = 8192;
/** Datagrams held while the socket is full; past this new ones are dropped, as a full socket would. */
const SEND_QUEUE_MAX = 16384;

class NativeUdpPort implements UdpPort {
  readonly kind = 'native' as const;
  readonly port: number;
  readonly family: 4 | 6;
  private readonly fd: number;
  /** The receive ring's slots, then one more: the scratch slot that each datagram is copied to. */
  private readonly slots: Buffer;
  private readonly scratchOff: number;
  private readonly slotBytes: number;
  private readonly meta: Uint32Array;
  private readonly poller: { stop(): void; wantWritable(): void };
  /** Per slot: 4 address words and a fifth that is 1 when the slot holds an address. */
  private readonly addressKeys = new Uint32Array(ADDRESS_SLOTS * 5);
  private readonly seenKeys = new Uint32Array(ADDRESS_SLOTS * 5);
  private readonly addresses: string[] = new Array<string>(ADDRESS_SLOTS).fill('');
  /** The one PeerAddr handed to onDatagram, rewritten for each datagram, and the views of the scratch slot, one per
   *  length: a datagram that is dropped allocates nothing at all. */
  private readonly from = { address: '', port: 0 };
  private readonly views: Buffer[] = [];
  /** Destination words by address text. */
  private readonly ips = new Map<string, Uint32Array>();
  private truncated = 0;
  private dropped = 0;
  private closed = false;
  // The send queue: datagram i is the next parts[i] Buffers of bufs, to addrs[i]:ports[i].
  private bufs: Buffer[] = [];
  private parts = new Uint32Array(256);
  private addrs = new Uint32Array(256 * 4);
  private ports = new Uint32Array(256);
  private queued = 0;
  private flushQueued = false;
  private waitingWritable = false;
  /** While a batch is handed on: its replies leave with one sendmmsg when it ends, without a tick. */
  private inBatch = false;
  private readonly sendStats = new Uint32Array(2);

  constructor(private readonly addon: UdpAddon, private readonly o: UdpPortOptions) {
    const s = addon.open(o.host, o.port, o.bufBytes, o.ipv6Only ?? false);
    this.fd = s.fd;
    this.port = s.port;
    this.family = s.family;
    this.slotBytes = Math.ceil(Math.max(2048, o.maxDatagram) / 64) * 64;
    this.scratchOff = RING_SLOTS * this.slotBytes;
    this.slots = Buffer.alloc(this.scratchOff + this.slotBytes);
    const ring = this.slots.subarray(0, this.scratchOff);
    const metaBytes = Buffer.alloc(RING_SLOTS * META_WORDS * 4);
    this.meta = new Uint32Array(metaBytes.buffer, metaBytes.byteOffset, RING_SLOTS * META_WORDS);
    try {
      this.poller = addon.startPoll(this.fd, ring, metaBytes, this.slotBytes, this.onBatch, this.onWritable, o.onError);
    } catch (e) {
      addon.close(this.fd);
      throw e;
    }
  }

  private readonly onBatch = (count: number): void => {
    const m = this.meta, slot = this.slotBytes, from = this.from, now = this.o.now();
    this.inBatch = true;
    try {
      this.deliverBatch(count, m, slot, from, now);
    } finally {
      this.inBatch = false;
    }
    if (this.queued > 0 && !this.waitingWritable) this.flush();
  };

  private deliverBatch(count: number, m: Uint32Array, slot: number, from: { address: string; port: number }, now: number): void {
    for (let i = 0; i < count && !this.closed; i++) {
      const w = i * META_WORDS;
      if (m[w + 2] & TRUNCATED) { this.truncated++; continue; }
      const off = i * slot, len = m[w];
      // copyWithin, not Buffer#copy, which makes a view of its source for each call.
      this.slots.copyWithin(this.scratchOff, off, off + len);
      from.address = this.addressOf(m, w + 4);
      from.port = m[w + 1];
      this.o.onDatagram(this.views[len] ??= this.slots.subarray(this.scratchOff, this.scratchOff + len), from, now);
    }
  }

  /** The address text of the 4 words at m[at]. */
  private addressOf(m: Uint32Array, at: number): string {
    const a0 = m[at]!, a1 = m[at + 1]!, a2 = m[at + 2]!, a3 = m[at + 3]!;
    const slot = (Math.imul(a3 ^ Math.imul(a2 ^ Math.imul(a1 ^ a0, 0x85ebca6b), 0xc2b2ae35), 0x9e3779b1) >>> 24) & (ADDRESS_SLOTS - 1);
    const k = slot * 5;
    if (keyIs(this.addressKeys, k, a0, a1, a2, a3)) return this.addresses[slot]!;
    const a = wordsText(m.subarray(at, at + 4));
    const seen = this.seenKeys;
    if (!keyIs(seen, k, a0, a1, a2, a3)) { seen[k] = a0; seen[k + 1] = a1; seen[k + 2] = a2; seen[k + 3] = a3; seen[k + 4] = 1; return a; }
    const keys = this.addressKeys;
    keys[k] = a0; keys[k + 1] = a1; keys[k + 2] = a2; keys[k + 3] = a3; keys[k + 4] = 1;
    this.addresses[slot] = a;
    return a;
  }

  private wordsOf(address: string): Uint32Array | undefined {
    let w = this.ips.get(address);
    if (w === undefined) {
      w = ipWords(address);
      // No IPv4 socket reaches an IPv6 peer.
      if (w === undefined || (this.family === 4 && !isIpv4Mapped(w))) return undefined;
      if (this.ips.size >= IP_CACHE_MAX) this.ips.clear();
      this.ips.set(address, w);
    }
    return w;
  }

  send(bytes: Buffer | readonly Buffer[], to: PeerAddr): void {
    const w = this.wordsOf(to.address);
    if (this.closed || w === undefined || this.queued >= SEND_QUEUE_MAX) { this.dropped++; return; }
    if (this.queued === this.parts.length) this.grow();
    const i = this.queued++;
    if (Buffer.isBuffer(bytes)) { this.bufs.push(bytes); this.parts[i] = 1; }
    else { for (const b of bytes) this.bufs.push(b); this.parts[i] = bytes.length; }
    this.addrs.set(w, i * 4);
    this.ports[i] = to.port;
    if (!this.flushQueued && !this.waitingWritable && !this.inBatch) {
      this.flushQueued = true;
      process.nextTick(this.flush);
    }
  }

  private grow(): void {
    const n = this.parts.length * 2;
    const widen = (a: Uint32Array<ArrayBuffer>, per = 1): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(n * per);
      b.set(a);
      return b;
    };
    this.parts = widen(this.parts);
    this.addrs = widen(this.addrs, 4);
    this.ports = widen(this.ports);
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.closed || this.queued === 0) return;
    const before = this.sendStats[0];
    let done: number;
    try {
      done = this.addon.sendBatch(this.fd, this.bufs, this.parts, this.addrs, this.ports, this.queued, this.sendStats, this.family);
    } catch (e) {
      this.dropQueue();
      this.o.onError(e as Error);
      return;
    }
    this.dropped += this.sendStats[0] - before;
    if (done === this.queued) { this.bufs.length = 0; this.queued = 0; return; }
    let pieces = 0;
    for (let i = 0; i < done; i++) pieces += this.parts[i];
    this.bufs.splice(0, pieces);
    this.parts.copyWithin(0, done, this.queued);
    this.addrs.copyWithin(0, done * 4, this.queued * 4);
    this.ports.copyWithin(0, done, this.queued);
    this.queued -= done;
    this.waitingWritable = true;
    this.poller.wantWritable();
  };

  private readonly onWritable = (): void => {
    this.waitingWritable = false;
    this.flush();
  };

  private dropQueue(): void {
    this.dropped += this.queued;
    this.bufs.length = 0;
    this.queued = 0;
  }

  stats(): UdpPortStats { return { sendQueue: this.queued, sendDropped: this.dropped, truncated: this.truncated }; }

  close(): Promise<void> {
    if (!this.closed) {
      this.flush();
      this.closed = true;
      this.dropQueue();
      this.poller.stop();
      this.addon.close(this.fd);
    }
    return Promise.resolve();
  }
}

const keyIs = (keys: Uint32Array, k: number, a0: number, a1: number, a2: number, a3: number): boolean =>
  keys[k + 4] === 1 && keys[k] === a0 && keys[k + 1] === a1 && keys[k + 2] === a2 && keys[k + 3] === a3;

/** dgram's address lookup: the server only sends to the IP literals it received from, answered synchronously. */
const literalLookup = ((address: string, family: number, cb: (e: Error | null, a: string, f: number) => void): void => {
  const f = net.isIP(address);
  if (f) cb(null, address, f);
  else dns.lookup(address, family, cb);
}) as unknown as typeof dns.lookup;

async function openDgramPort(o: UdpPortOptions): Promise<UdpPort> {
  const family = net.isIPv6(o.host) ? 6 : 4;
  const sock = dgram.createSocket({
    type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 && (o.ipv6Only ?? false),
    recvBufferSize: o.bufBytes, sendBufferSize: o.bufBytes, lookup: literalLookup,
  });
  sock.on('message', (msg, rinfo) => {
    // libuv prints IPv6 as RFC 5952 text already: only an IPv4-mapped address needs a change.
    const from = family === 6 && rinfo.address.startsWith('::ffff:') ? { address: plainAddress(rinfo.address), port: rinfo.port } : rinfo;
    o.onDatagram(msg, from, o.now());
  });
  await new Promise<void>((res, rej) => { sock.once('error', rej); sock.bind(o.port, o.host, () => { sock.off('error', rej); res(); }); });
  sock.on('error', o.onError);
  // Sends queued during one turn leave back to back on the next tick: one tick per turn rather than dgram's
  // per-packet lookup tick, and the seals of a burst are not interleaved with sendmsg calls (bench/datapath-micro.ts udp).
  const queue: (Buffer | readonly Buffer[])[] = [];
  const ports: number[] = [];
  const addrs: string[] = [];
  let dropped = 0;
  let closed = false;
  const flush = (): void => {
    try {
      for (let i = 0; i < queue.length; i++) sock.send(queue[i], ports[i], addrs[i]);
    } catch {
      dropped += queue.length;   // the socket closed during shutdown
    } finally {
      queue.length = 0;
      ports.length = 0;
      addrs.length = 0;
    }
  };
  return {
    kind: 'node',
    port: sock.address().port,
    family,
    send(bytes, to) {
      const address = socketAddress(to.address, family);
      if (closed || address === undefined) { dropped++; return; }
      if (queue.push(bytes) === 1) process.nextTick(flush);
      ports.push(to.port);
      addrs.push(address);
    },
    stats: () => ({ sendQueue: sock.getSendQueueCount(), sendDropped: dropped, truncated: 0 }),
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((res) => sock.close(() => res()));
    },
  };
}
