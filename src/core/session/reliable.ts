// Reliability layer of one key state (openvpn-protocol.md §3): per-message ACKs, retransmit with
// exponential backoff, fast retransmit after 3 higher ACKs, in-order delivery within a 12-packet window.
// Sans-IO: the caller passes `now` and turns the returned Transmits into control packets.
import { Op } from '../wire/openvpn-packet.js';

export const RECV_WINDOW = 12;      // TLS_RELIABLE_N_REC_BUFFERS
export const SEND_WINDOW = 6;       // TLS_RELIABLE_N_SEND_BUFFERS
const ACK_QUEUE_MAX = 8;
export const ACKS_PER_MESSAGE = 4;  // piggy-backed on a P_CONTROL_V1 / reset
const ACKS_PER_ACK_PACKET = 8;      // in a P_ACK_V1

export interface Message { opcode: number; packetId: number; payload: Buffer }
/** One packet to put on the wire. packetId is undefined for P_ACK_V1. */
export interface Transmit { opcode: number; packetId?: number; payload: Buffer; acks: number[] }

interface Outgoing extends Message { sentAt: number; nextAt: number; timeout: number; higherAcks: number }

export class Reliable {
  private nextExpected: number;
  private readonly held = new Map<number, Message>();
  private ackQueue: number[] = [];
  private ackSince = 0;                         // when the oldest queued ACK was queued
  private nextPid: number;
  private readonly unacked: Outgoing[] = [];   // ordered by packetId

  constructor(private readonly initialTimeoutMs: number, start = { recv: 0, send: 0 }) {
    this.nextExpected = start.recv;
    this.nextPid = start.send;
  }

  /**
   * Takes the acks and the message of a received control packet; returns the messages that are now
   * deliverable in order. Duplicates are acknowledged again; packets beyond the window are dropped unacked.
   */
  receive(opcode: number, packetId: number | undefined, acks: number[], payload: Buffer, now: number): Message[] {
    this.processAcks(acks, now);
    if (opcode === Op.ACK_V1 || packetId === undefined) return [];
    const ahead = (packetId - this.nextExpected) >>> 0;
    if (packetId < this.nextExpected) { this.queueAck(packetId, now); return []; }
    if (ahead >= RECV_WINDOW) return [];
    this.queueAck(packetId, now);
    if (!this.held.has(packetId)) this.held.set(packetId, { opcode, packetId, payload: Buffer.from(payload) });
    const out: Message[] = [];
    for (let m = this.held.get(this.nextExpected); m; m = this.held.get(this.nextExpected)) {
      this.held.delete(this.nextExpected);
      this.nextExpected++;
      out.push(m);
    }
    return out;
  }

  /** Queues a new reliable message; returns its packet-id. */
  send(opcode: number, payload: Buffer): number {
    const packetId = this.nextPid++;
    this.unacked.push({ opcode, packetId, payload, sentAt: -1, nextAt: 0, timeout: this.initialTimeoutMs, higherAcks: 0 });
    return packetId;
  }

  /**
   * Everything due at `now`: first sends, retransmissions and pending ACKs (up to 4 ride on each message). With
   * `standaloneAcks` false, ACKs that found no message to ride on stay queued, due (nextDeadline()) from when the
   * first of them was queued.
   */
  poll(now: number, standaloneAcks = true): Transmit[] {
    const out: Transmit[] = [];
    const windowEnd = this.unacked.length > 0 ? this.unacked[0].packetId + SEND_WINDOW : Infinity;
    for (const m of this.unacked) {
      if (m.packetId >= windowEnd) break;
      if (m.nextAt > now) continue;
      if (m.sentAt >= 0) m.timeout *= 2;   // retransmission: back off
      m.sentAt = now;
      m.nextAt = now + m.timeout;
      out.push({ opcode: m.opcode, packetId: m.packetId, payload: m.payload, acks: this.takeAcks(ACKS_PER_MESSAGE) });
    }
    while (standaloneAcks && this.ackQueue.length > 0) {
      out.push({ opcode: Op.ACK_V1, payload: EMPTY, acks: this.takeAcks(ACKS_PER_ACK_PACKET) });
    }
    return out;
  }

  nextDeadline(): number | undefined {
    if (this.ackQueue.length > 0) return this.ackSince;
    let t: number | undefined;
    const windowEnd = this.unacked.length > 0 ? this.unacked[0].packetId + SEND_WINDOW : Infinity;
    for (const m of this.unacked) {
      if (m.packetId >= windowEnd) break;
      if (t === undefined || m.nextAt < t) t = m.nextAt;
    }
    return t;
  }

  /** True when every message sent so far has been acknowledged. */
  get idle(): boolean { return this.unacked.length === 0; }
  get pendingAcks(): number { return this.ackQueue.length; }

  private processAcks(acks: number[], now: number): void {
    if (acks.length === 0 || this.unacked.length === 0) return;
    let maxAcked = -1;
    for (const a of acks) {
      const i = this.unacked.findIndex((m) => m.packetId === a);
      if (i >= 0) { this.unacked.splice(i, 1); if (a > maxAcked) maxAcked = a; }
    }
    for (const m of this.unacked) {
      if (m.packetId < maxAcked && m.sentAt >= 0 && ++m.higherAcks === 3) m.nextAt = now;
    }
  }

  private queueAck(pid: number, now: number): void {
    if (this.ackQueue.includes(pid)) return;
    if (this.ackQueue.length === 0) this.ackSince = now;
    if (this.ackQueue.length < ACK_QUEUE_MAX) this.ackQueue.push(pid);
  }

  private takeAcks(n: number): number[] {
    return this.ackQueue.splice(0, n);
  }
}

const EMPTY = Buffer.alloc(0);
