// One direction of a simulated network path for datagrams, with seeded faults: loss, duplication, reordering
// (a packet held back by an extra delay), latency with jitter, an MTU above which datagrams are dropped, and a rate
// (datagrams leave one after another, so a burst arrives spread out, as on a real link, not all in one instant).
// A datagram may carry a tag that the receiver gets with it (the source address, on a path shared by many senders),
// and `onSend` sees every datagram as it is sent, before the faults (a capture at the sender).
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

export interface LinkKnobs {
  /** One-way delay in ms. */
  latency: number;
  /** Extra uniform delay in [0, jitter) ms per packet (reorders packets that are closer than that). */
  jitter: number;
  /** Probability that a datagram is lost. */
  loss: number;
  /** Probability that a datagram arrives twice. */
  duplicate: number;
  /** Probability that a datagram is held back by `reorderDelay` ms, so later ones overtake it. */
  reorder: number;
  reorderDelay: number;
  /** Datagrams longer than this are dropped (no fragmentation on the path). */
  mtu: number;
  /** Bytes per ms the link carries (Infinity: a burst arrives at one instant). */
  rate: number;
  /** The most queueing delay (ms) the link's buffer holds: a datagram that would wait longer is dropped (tail drop,
   *  counted as `overflow`). Absent: an unbounded buffer. */
  queueMs?: number;
}

export const CLEAN_LINK: LinkKnobs = { latency: 10, jitter: 0, loss: 0, duplicate: 0, reorder: 0, reorderDelay: 0,
  mtu: 1500, rate: Infinity };

export class Link<T = void> {
  readonly stats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, tooBig: 0, overflow: 0 };
  /** Sees each datagram as it is sent (before loss, MTU and delay). */
  onSend?: (bytes: Buffer, tag: T) => void;
  /** When the link finishes sending what it has (the serialization queue). */
  private busyUntil = 0;

  constructor(
    private readonly sim: Scheduler,
    private readonly rng: Prng,
    readonly knobs: LinkKnobs,
    private readonly receive: (bytes: Buffer, tag: T) => void,
  ) {}

  send(bytes: Buffer, tag: T): void {
    const k = this.knobs;
    this.stats.sent++;
    this.onSend?.(bytes, tag);
    if (bytes.length > k.mtu) { this.stats.tooBig++; return; }
    // Lost packets used the link too: they are lost on the way, not before it.
    const start = Math.max(this.sim.now, this.busyUntil);
    if (k.queueMs !== undefined && start - this.sim.now > k.queueMs) { this.stats.overflow++; return; }
    this.busyUntil = start + bytes.length / k.rate;
    const queued = this.busyUntil - this.sim.now;
    if (this.rng.chance(k.loss)) { this.stats.lost++; return; }
    const copies = this.rng.chance(k.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = queued + k.latency + (k.jitter > 0 ? this.rng.next() * k.jitter : 0);
      if (this.rng.chance(k.reorder)) { delay += k.reorderDelay; this.stats.reordered++; }
      // The receiver may keep or change what it gets (decryption in place): each copy is its own buffer.
      const b = Buffer.from(bytes);
      this.sim.after(delay, () => { this.stats.delivered++; this.receive(b, tag); });
    }
  }
}
