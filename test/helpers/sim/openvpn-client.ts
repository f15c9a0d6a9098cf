// A scripted OpenVPN 2.6 client for the simulated handshake (vpn.ts), UDP only, one key state:
//   connect ─ HARD_RESET_CLIENT_V2 ─▶ (the server's stateless cookie reset) ─ CONTROL_V1 ClientHello acking it: the
//   echo ─▶ TLS over CONTROL_V1 (fake-tls.ts) ─▶ key-method 2 ─▶ PUSH_REPLY: ifconfig, peer-id, cipher ─▶ data
//   channel (P_DATA_V2), keepalive pings, explicit-exit-notify (OCC EXIT) when it leaves.
// Its control channel is the server's own reliability layer (src/core/session/reliable.ts) plus what OpenVPN 2.6
// adds on the client: every control packet also re-acknowledges the most recently acknowledged packet-ids
// (reliable.c's ack MRU, `copy_acks_to_mru`), so the echo that carries the cookie is repeated in each retransmitted
// packet until the server's session exists. A client that is not up within its hand-window starts over with a new
// session id, as OpenVPN's does (SIGUSR1). Retransmitted control packets are counted at the sender.
import assert from 'node:assert/strict';
import type { DataChannel } from '../../../src/core/crypto/data-channel.js';
import { clientDataChannel } from '../../../src/core/crypto/data-channel-for.js';
import type { CipherName } from '../../../src/core/crypto/ciphers.js';
import type { ControlWrap } from '../../../src/core/session/control-wrap.js';
import { emitClientKm2, splitTextMessages } from '../../../src/core/session/key-method2.js';
import { type Message, Reliable } from '../../../src/core/session/reliable.js';
import { OCC_MAGIC, PING_MAGIC } from '../../../src/core/session/session.js';
import type { PeerAddr } from '../../../src/core/transport/udp-endpoint.js';
import { ipFromString } from '../../../src/core/wire/ipv4.js';
import { emitControl, isDataOpcode, isParseError, Op, opcodeOf, parseControl } from '../../../src/core/wire/openvpn-packet.js';
import { clientKm2, type WrapKind } from '../../unit/fixtures/session-harness.js';
import { ClientIp } from './client-ip.js';
import { FakeTlsClient } from './fake-tls.js';
import type { Prng } from './prng.js';
import type { Party, Scheduler } from './scheduler.js';
import { clientWrap } from './server.js';

export interface SimClientOptions {
  /** The certificate's common name (the fake TLS carries it). */
  cn: string;
  wrap: WrapKind;
  /** tls-timeout, seconds: the first control retransmit. */
  tlsTimeout: number;
  /** hand-window, seconds: not up by then, the client starts over. */
  handWindow: number;
  /** How many OCC EXIT packets it sends when it leaves, one per second (explicit-exit-notify). */
  exitNotify: number;
}

export const SIM_CLIENT_DEFAULTS: SimClientOptions = { cn: 'alice', wrap: 'tls-crypt', tlsTimeout: 2, handWindow: 60, exitNotify: 3 };

export type ClientPhase = 'idle' | 'reset' | 'tls' | 'established' | 'refused' | 'gone';

export interface Pushed { ip: string; peerId: number; cipher: CipherName; options: string[] }

/** Largest TLS chunk in one CONTROL_V1 (OpenVPN fits a packet into its tls-mtu of 1250). */
const CHUNK = 1000;
const MRU = 8;
const OCC_EXIT = Buffer.concat([OCC_MAGIC, Buffer.from([6])]);

export class SimOpenVpnClient implements Party {
  phase: ClientPhase = 'idle';
  /** Where its datagrams come from (a NAT in front of it may change it: rebind). */
  addr: PeerAddr;
  readonly stats = {
    controlSent: 0, controlRetransmits: 0, controlIn: 0, controlDropped: 0, restarts: 0,
    dataSent: 0, dataIn: 0, dataOpenFailed: 0, pings: 0, noKey: 0,
  };
  /** When connect() was called, and when PUSH_REPLY made the tunnel usable. */
  connectedAt?: number;
  establishedAt?: number;
  pushed?: Pushed;
  /** The tunnel's IP side: TCP connections and UDP sockets. */
  readonly ip: ClientIp;
  /** The server's session id (our cookie). */
  serverSid?: Buffer;
  sid: Buffer;
  private readonly o: SimClientOptions;
  private wrap!: ControlWrap;
  private rel!: Reliable;
  private tls!: FakeTlsClient;
  private recent: number[] = [];
  private sentPids = new Set<number>();
  private pushParts: string[] = [];
  private serverKm2 = false;
  private data?: DataChannel;
  private restartAt?: number;
  private pingAt?: number;
  private exitAt?: number;
  private exitLeft = 0;
  private lastSent = 0;
  /** Its key-method-2 message (the harness's: OpenVPN 2.6 peer-info, TLS-EKM, request-push). */
  private readonly km2 = emitClientKm2(clientKm2());

  constructor(
    private readonly sim: Scheduler,
    private readonly rng: Prng,
    addr: PeerAddr,
    private readonly transmit: (bytes: Buffer, from: PeerAddr) => void,
    o: Partial<SimClientOptions> = {},
  ) {
    this.o = { ...SIM_CLIENT_DEFAULTS, ...o };
    this.addr = addr;
    this.sid = this.bytes(8);
    this.ip = new ClientIp(sim, rng, 0, (ip) => this.sendIp(ip));
  }

  get established(): boolean { return this.phase === 'established'; }
  get cn(): string { return this.o.cn; }

  /** Starts the handshake: a HARD_RESET_CLIENT_V2. */
  connect(now: number): void {
    assert.ok(this.phase === 'idle', `connect in ${this.phase}`);
    this.connectedAt = now;
    this.start(now);
  }

  /** The NAT in front of the client picked another source address (or port). */
  rebind(addr: PeerAddr): void { this.addr = addr; }

  /** explicit-exit-notify: OCC EXIT now and once a second until `exitNotify` were sent; then the client is gone. */
  exit(now: number): void {
    assert.ok(this.established, `exit in ${this.phase}`);
    this.exitLeft = this.o.exitNotify;
    this.sendExit(now);
  }

  /** An IPv4 packet into the tunnel. */
  sendIp(ip: Buffer): void {
    if (!this.data || !this.pushed || this.phase !== 'established') { this.stats.noKey++; return; }
    this.sendData(ip, this.sim.now);
  }

  /** A datagram from the server. */
  receive(wire: Buffer, now: number): void {
    if (this.phase === 'idle' || this.phase === 'gone' || wire.length === 0) return;
    if (isDataOpcode(opcodeOf(wire[0]!))) { this.receiveData(wire, now); return; }
    const plain = this.wrap.unwrap(wire, now);
    if (!plain) { this.stats.controlDropped++; return; }
    const p = parseControl(plain);
    if (isParseError(p) || p.keyId !== 0 || (p.peerSessionId && !p.peerSessionId.equals(this.sid))) { this.stats.controlDropped++; return; }
    if (!this.serverSid) {
      if (p.opcode !== Op.HARD_RESET_SERVER_V2) { this.stats.controlDropped++; return; }
      this.serverSid = Buffer.from(p.sessionId);
    } else if (!p.sessionId.equals(this.serverSid)) { this.stats.controlDropped++; return; }
    this.stats.controlIn++;
    const msgs = this.rel.receive(p.opcode, p.packetId, p.acks, p.payload, now);
    if (p.packetId !== undefined) this.noteRecent(p.packetId);
    for (const m of msgs) this.message(m, now);
    this.flush(now);
  }

  // ---- Party --------------------------------------------------------------------------------------------------

  nextDeadline(): number | undefined {
    if (this.phase === 'idle' || this.phase === 'gone') return undefined;
    let t = Infinity;
    const at = (v: number | undefined) => { if (v !== undefined && v < t) t = v; };
    at(this.rel.nextDeadline());
    at(this.restartAt);
    at(this.pingAt);
    at(this.exitAt);
    return t === Infinity ? undefined : t;
  }

  timeout(now: number): void {
    if (this.phase === 'idle' || this.phase === 'gone') return;
    if (this.restartAt !== undefined && now >= this.restartAt) {
      this.stats.restarts++;
      this.start(now);
      return;
    }
    if (this.exitAt !== undefined && now >= this.exitAt && !this.sendExit(now)) return;
    if (this.pingAt !== undefined && now >= this.pingAt) {
      if (now - this.lastSent >= this.pingInterval()) this.sendData(PING_MAGIC, now);
      this.pingAt = this.lastSent + this.pingInterval();
    }
    this.flush(now);
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private start(now: number): void {
    if (this.stats.restarts > 0) this.sid = this.bytes(8);
    this.phase = 'reset';
    this.wrap = clientWrap(this.o.wrap, { replayTime: Math.floor(now / 1000) });
    this.rel = new Reliable(this.o.tlsTimeout * 1000);
    this.tls = new FakeTlsClient(this.o.cn, this.bytes(32));
    this.recent = [];
    this.sentPids = new Set();
    this.pushParts = [];
    this.serverKm2 = false;
    this.serverSid = undefined;
    this.restartAt = now + this.o.handWindow * 1000;
    this.rel.send(Op.HARD_RESET_CLIENT_V2, Buffer.alloc(0));
    this.flush(now);
  }

  private message(m: Message, now: number): void {
    if (m.opcode === Op.HARD_RESET_SERVER_V2) {
      if (this.phase !== 'reset') return;
      this.phase = 'tls';
      this.queueTls(this.tls.hello());
      return;
    }
    if (m.opcode !== Op.CONTROL_V1 || m.payload.length === 0) return;
    const { send, plain } = this.tls.receive(m.payload, this.km2);
    if (send) this.queueTls(send);
    for (const rec of plain) this.record(rec, now);
  }

  /** An application record from the server: its key-method-2 message, then text messages. */
  private record(rec: Buffer, now: number): void {
    if (!this.serverKm2) {
      assert.ok(rec.subarray(0, 5).equals(Buffer.from([0, 0, 0, 0, 2])), 'the first record is the server key-method-2 message');
      this.serverKm2 = true;
      return;
    }
    for (const msg of splitTextMessages(rec).messages) {
      if (msg.startsWith('AUTH_FAILED')) { this.phase = 'refused'; this.restartAt = undefined; continue; }
      if (!msg.startsWith('PUSH_REPLY,')) continue;
      const opts = msg.slice('PUSH_REPLY,'.length).split(',');
      const more = opts.includes('push-continuation 2');
      this.pushParts.push(...opts.filter((x) => !x.startsWith('push-continuation')));
      if (!more) this.up(now);
    }
  }

  /** PUSH_REPLY is complete: the data channel with the pushed cipher and peer-id, keys from TLS-EKM. */
  private up(now: number): void {
    if (this.phase === 'established') return;   // a second PUSH_REPLY (answer to a PUSH_REQUEST)
    const opts = this.pushParts;
    const get = (name: string): string | undefined => opts.find((x) => x.startsWith(`${name} `))?.slice(name.length + 1);
    const ifconfig = get('ifconfig')?.split(' ');
    const cipher = get('cipher') as CipherName | undefined;
    const peerId = get('peer-id');
    assert.ok(ifconfig && cipher && peerId !== undefined, `PUSH_REPLY without ifconfig, cipher or peer-id: ${opts.join(',')}`);
    assert.equal(get('key-derivation'), 'tls-ekm', 'the fake TLS exports keying material');
    this.pushed = { ip: ifconfig[0]!, peerId: Number(peerId), cipher, options: [...opts] };
    this.data = clientDataChannel(this.tls.ekm, cipher, 'SHA1');
    this.ip.ip = ipFromString(ifconfig[0]!);
    this.phase = 'established';
    this.establishedAt = now;
    this.restartAt = undefined;
    this.lastSent = now;
    this.pingAt = now + this.pingInterval();
  }

  private pingInterval(): number {
    const p = this.pushed?.options.find((x) => x.startsWith('ping '));
    return (p ? Number(p.slice(5)) : 10) * 1000;
  }

  private queueTls(bytes: Buffer): void {
    for (let off = 0; off < bytes.length; off += CHUNK) this.rel.send(Op.CONTROL_V1, bytes.subarray(off, off + CHUNK));
  }

  private noteRecent(pid: number): void {
    this.recent = [pid, ...this.recent.filter((x) => x !== pid)].slice(0, MRU);
  }

  /** Everything the reliability layer has due, each packet topped up with recent ACKs (OpenVPN's ack MRU). */
  private flush(now: number): void {
    for (const tx of this.rel.poll(now, true)) {
      const acks = [...tx.acks];
      const cap = tx.opcode === Op.ACK_V1 ? 8 : 4;
      for (const r of this.recent) { if (acks.length >= cap) break; if (!acks.includes(r)) acks.push(r); }
      if (tx.packetId !== undefined) {
        if (this.sentPids.has(tx.packetId)) this.stats.controlRetransmits++;
        else this.sentPids.add(tx.packetId);
      }
      const plain = emitControl({
        opcode: tx.opcode, keyId: 0, sessionId: this.sid, acks, peerSessionId: acks.length > 0 ? this.serverSid : undefined,
        packetId: tx.packetId, payload: tx.payload,
      });
      this.stats.controlSent++;
      this.transmit(this.wrap.wrap(plain, now), this.addr);
    }
  }

  private sendData(payload: Buffer, now: number): void {
    this.stats.dataSent++;
    this.lastSent = now;
    this.transmit(this.data!.sealV2(0, this.pushed!.peerId, payload), this.addr);
  }

  /** One OCC EXIT; false once the last is out and the client is gone. */
  private sendExit(now: number): boolean {
    this.sendData(OCC_EXIT, now);
    this.exitLeft--;
    this.exitAt = this.exitLeft > 0 ? now + 1000 : undefined;
    if (this.exitLeft > 0) return true;
    this.phase = 'gone';
    this.pingAt = undefined;
    return false;
  }

  private receiveData(wire: Buffer, now: number): void {
    if (!this.data) { this.stats.dataOpenFailed++; return; }
    const r = this.data.open(wire, now);
    if (!r.ok) { this.stats.dataOpenFailed++; return; }
    this.stats.dataIn++;
    if (r.plain.length === PING_MAGIC.length && r.plain.equals(PING_MAGIC)) { this.stats.pings++; return; }
    this.ip.receive(r.plain, now);
  }

  private bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.rng.u32() & 0xff;
    return b;
  }
}
