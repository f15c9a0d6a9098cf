// The one peer of static-key mode (`secret`, `ifconfig LOCAL REMOTE`): no TLS, no session, one key for every packet.
//   openData(packet, link, now) ▶ authenticate + decrypt + replay (static-key-channel.ts) ▶ lock on / float ▶
//     unframe (compression) ▶ ping, OCC (answered: OCC_REPLY; EXIT: the peer is gone) or an IP packet
//   sealData(ip, now) ▶ frame ▶ seal, for the link the peer is on
//   tick(now) ▶ ping after `ping` s without sending, ping-restart after `pingRestart` s without an authenticated packet
// Lock-on and float (UDP): the first authenticated packet's link becomes the peer's; a later authenticated packet from
// another link moves the peer there. Nothing unauthenticated changes anything. `L` is the runtime's link (a UDP
// address, a TCP connection); `sameLink` says when two are one.
import { frame, unframe, type Framing } from '../compression/framing.js';
import type { CbcKeys } from '../crypto/cbc-hmac-codec.js';
import { StaticKeyChannel, type StaticKeyChannelOptions } from '../crypto/static-key-channel.js';
import type { SymmetricEngine } from '../crypto/symmetric.js';
import { OCC_MAGIC, PING_MAGIC } from './session.js';

const OCC_REQUEST = 0;
const OCC_REPLY = 1;
const OCC_EXIT = 6;
/** Room past tun-mtu a decompressed packet may take before it is refused. */
const DECOMPRESS_SLACK = 256;

export interface StaticKeyPeerParams<L> {
  keys: CbcKeys;
  framing: Framing;
  tunMtu: number;
  /** Seconds without sending before a ping goes out; 0 = never. */
  ping: number;
  /** Seconds without an authenticated packet before the peer counts as gone; 0 = never. */
  pingRestart: number;
  /** The options string answered to an OCC_REQUEST. */
  occOptions: string;
  /** The time field of our long packet ids (Unix seconds, from the io layer's wall clock). */
  sendTime: number;
  sameLink: (a: L, b: L) => boolean;
  replayWindow?: number;
  replaySeconds?: number;
  symmetric?: SymmetricEngine;
  randomIv?: (iv: Buffer) => void;
}

export type StaticDropReason = 'short' | 'auth' | 'replay' | 'framing' | 'decompress';

export type StaticDataResult =
  | { readonly kind: 'packet'; readonly ip: Buffer }
  | { readonly kind: 'keepalive' }
  | { readonly kind: 'occ' }
  | { readonly kind: 'drop'; readonly reason: StaticDropReason };

export type StaticPeerOutput<L> =
  /** A packet for the peer's current link. */
  | { t: 'send'; bytes: Buffer }
  /** The peer is on `link` now (first authenticated packet, or a float from `previous`). */
  | { t: 'locked'; link: L; previous?: L }
  /** The peer left (OCC EXIT) or went quiet (ping-restart): no link until it authenticates again. */
  | { t: 'lost'; reason: 'exit' | 'ping-restart' };

const KEEPALIVE: StaticDataResult = Object.freeze({ kind: 'keepalive' });
const OCC: StaticDataResult = Object.freeze({ kind: 'occ' });

export class StaticKeyPeer<L> {
  private readonly channel: StaticKeyChannel;
  private current?: L;
  private lastRecv = 0;
  private lastSent = 0;
  private readonly out: StaticPeerOutput<L>[] = [];
  readonly stats = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, drops: 0 };

  constructor(private readonly p: StaticKeyPeerParams<L>) {
    const o: StaticKeyChannelOptions = {
      sendTime: p.sendTime, replayWindow: p.replayWindow, replaySeconds: p.replaySeconds, symmetric: p.symmetric, randomIv: p.randomIv,
    };
    this.channel = new StaticKeyChannel(p.keys, o);
  }

  /** The link the peer was last authenticated on, if any. */
  get link(): L | undefined { return this.current; }

  openData(packet: Buffer, link: L, now: number): StaticDataResult {
    const r = this.channel.open(packet, now);
    if (!r.ok) return this.dropped(r.reason);
    this.lastRecv = now;
    const previous = this.current;
    if (previous === undefined || !this.p.sameLink(previous, link)) {
      this.current = link;
      this.out.push(previous === undefined ? { t: 'locked', link } : { t: 'locked', link, previous });
    }
    this.stats.packetsIn++;
    this.stats.bytesIn += packet.length;
    // A peer counts its link as up once a packet of ours authenticates: answer the first one with a ping at once
    // rather than after `ping` seconds.
    if (previous === undefined) this.sendPing(now);
    let payload = r.plain;
    if (this.p.framing !== 'none') {
      const u = unframe(this.p.framing, payload, this.p.tunMtu + DECOMPRESS_SLACK);
      if (typeof u === 'string') return this.dropped(u);
      payload = u;
    }
    if (payload.length === 16 && payload.equals(PING_MAGIC)) return KEEPALIVE;
    if (payload.length > 16 && payload.subarray(0, 16).equals(OCC_MAGIC)) {
      this.occ(payload[16]!, now);
      return OCC;
    }
    return { kind: 'packet', ip: payload };
  }

  /** The packet that carries `payload` to the peer, or undefined while no peer is known (or the counter ran out). */
  sealData(payload: Buffer, now: number): Buffer | undefined {
    if (this.current === undefined) return undefined;
    const bytes = this.channel.seal(frame(this.p.framing, payload));
    if (!bytes) return undefined;
    this.lastSent = now;
    this.stats.packetsOut++;
    this.stats.bytesOut += bytes.length;
    return bytes;
  }

  /** An OCC EXIT for the peer (explicit-exit-notify on shutdown), if there is one. */
  exitNotice(now: number): Buffer | undefined {
    return this.sealData(Buffer.concat([OCC_MAGIC, Buffer.from([OCC_EXIT])]), now);
  }

  tick(now: number): void {
    if (this.current === undefined) return;
    const { ping, pingRestart } = this.p;
    if (pingRestart > 0 && now >= this.lastRecv + pingRestart * 1000) { this.lose('ping-restart'); return; }
    if (ping > 0 && now >= this.lastSent + ping * 1000) this.sendPing(now);
  }

  private sendPing(now: number): void {
    const bytes = this.sealData(PING_MAGIC, now);
    if (bytes) this.out.push({ t: 'send', bytes });
  }

  nextDeadline(): number | undefined {
    if (this.current === undefined) return undefined;
    const { ping, pingRestart } = this.p;
    let at: number | undefined;
    if (ping > 0) at = this.lastSent + ping * 1000;
    if (pingRestart > 0) at = Math.min(at ?? Infinity, this.lastRecv + pingRestart * 1000);
    return at;
  }

  poll(): StaticPeerOutput<L> | undefined { return this.out.shift(); }

  private occ(type: number, now: number): void {
    if (type === OCC_REQUEST) {
      const reply = Buffer.concat([OCC_MAGIC, Buffer.from([OCC_REPLY]), Buffer.from(this.p.occOptions + '\0', 'latin1')]);
      const bytes = this.sealData(reply, now);
      if (bytes) this.out.push({ t: 'send', bytes });
    } else if (type === OCC_EXIT) {
      this.lose('exit');
    }
  }

  /** Forgets the link. The replay window stays: a replayed old packet must not lock the peer onto another address
   *  (a peer that restarted sends a later time, which the window takes as a new epoch). */
  private lose(reason: 'exit' | 'ping-restart'): void {
    this.current = undefined;
    this.out.push({ t: 'lost', reason });
  }

  private dropped(reason: StaticDropReason): StaticDataResult {
    this.stats.drops++;
    return { kind: 'drop', reason };
  }
}
