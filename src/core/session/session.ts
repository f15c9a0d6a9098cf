// One client's OpenVPN session, server side, sans-IO (openvpn-protocol.md §3-§8).
//
//   link bytes ──handleControl──▶ unwrap ▶ parse ▶ key state (reliable) ▶ TLS commands (Output 'tls-*')
//   TLS events ──handleTls──────▶ key-method-2 / text messages ▶ auth request (Output 'auth')
//   auth result ─handleAuth─────▶ data keys, PUSH_REPLY, 'established'
//   data packets ─openData / sealData─▶ IP packets (hot path: direct calls, no Output objects)
//   tick(now) ▶ retransmits, pings, ping-restart, hand-window, renegotiation, lame-duck expiry
//
// The caller drains poll() after every call and arms one timer at nextDeadline(). ACKs of received control packets
// wait for the TLS records those packets make (ServerHello, key-method 2, PUSH_REPLY) and ride on them, as OpenVPN's
// do; one that finds no record is due at once (nextDeadline() is already past) and leaves alone at tick().
import { randomBytes } from 'node:crypto';
import type { CipherName } from '../crypto/ciphers.js';
import { DataChannel, serverDataKeys } from '../crypto/data-channel.js';
import { deriveKeyBlockPrf } from '../crypto/prf.js';
import type { ControlWrap } from './control-wrap.js';
import { Reliable, ACKS_PER_MESSAGE } from './reliable.js';
import {
  emitControl, isParseError, Op, parseControl, SESSION_ID_LEN,
} from '../wire/openvpn-packet.js';
import {
  type ClientKm2, emitServerKm2, newServerKm2, parseClientKm2, splitTextMessages, textMessage,
} from './key-method2.js';
import { negotiate, type Negotiated, occString, pushReplies } from './negotiate.js';

export const PING_MAGIC = Buffer.from('2a187bf3641eb4cb07ed2d0a981fc748', 'hex');
export const OCC_MAGIC = Buffer.from('287f346bd4ef7a812d56b8d3afc5459c', 'hex');
const OCC_EXIT = 6;
const KEY_STATES_MAX = 3;
const PACKET_ID_REKEY = 0xff000000;
const TLS_MTU = 1250;
const UDP_IPV4_OVERHEAD = 28;

export interface SessionParams {
  proto: 'udp' | 'tcp';
  wrap: ControlWrap;
  tlsAuth: boolean;
  dataCiphers: CipherName[];
  keepalive?: { interval: number; timeout: number };
  /** reneg-sec in seconds; 0 = off. */
  renegSec: number;
  /**
   * A uniformly random uint32 drawn by the caller once per session (core draws no randomness). As OpenVPN 2.6's
   * server does (init.c do_init_crypto_tls: `get_random() % max(reneg_sec / 10, 1)`), the session renegotiates
   * `renegSec - renegRandom % max(floor(renegSec / 10), 1)` seconds after each key is established: 90-100 % of
   * reneg-sec in whole seconds, so reneg-sec < 20 gets no jitter. Absent: exactly renegSec.
   */
  renegRandom?: number;
  handWindow: number;
  tlsTimeout: number;
  tranWindow: number;
  tunMtu: number;
  push: string[];
}

export interface TlsSecure {
  cn?: string; authorized: boolean; authError?: string; ekm: Buffer; clientAuthEku?: boolean;
  /** SHA-256 fingerprint of the client certificate (the identity a UDP float compares); none without a certificate. */
  certHash?: string;
}
export type TlsEvent =
  | { kind: 'ciphertext'; bytes: Buffer }
  | { kind: 'plaintext'; bytes: Buffer }
  | { kind: 'secure'; info: TlsSecure }
  | { kind: 'error'; message: string };

export interface AuthRequest {
  keyId: number;
  first: boolean;
  cn?: string;
  certAuthorized: boolean;
  certError?: string;
  /** The client certificate carries extendedKeyUsage clientAuth (for 'remote-cert-tls client'). */
  certClientAuth?: boolean;
  username: string;
  password: string;
  peerInfo: Map<string, string>;
}
export interface Assignment { ip: string; netmask: string; gateway: string; peerId: number; push: string[] }
export type AuthResult = { ok: true; assign?: Assignment } | { ok: false; reason: string; clientMessage?: string };

export type Output =
  | { t: 'link'; bytes: Buffer }
  | { t: 'tls-open'; handle: number }
  | { t: 'tls-feed'; handle: number; bytes: Buffer }
  | { t: 'tls-write'; handle: number; bytes: Buffer }
  | { t: 'tls-close'; handle: number }
  | { t: 'auth'; handle: number; request: AuthRequest }
  | { t: 'established'; cn?: string; cipher: CipherName; ekm: boolean }
  | { t: 'rekeyed'; keyId: number }
  | { t: 'closed'; reason: string };

type Phase = 'tls' | 'auth-wait' | 'active' | 'failed';

interface KeyState {
  keyId: number;
  reliable: Reliable;
  tls: number;                 // TLS handle
  phase: Phase;
  createdAt: number;
  plain: Buffer;               // TLS plaintext not yet consumed
  km2?: ClientKm2;
  secure?: TlsSecure;
  data?: DataChannel;
  expiresAt?: number;          // lame duck
}

let tlsHandles = 1;

export class Session {
  readonly serverSid: Buffer;
  readonly clientSid: Buffer;
  cn?: string;
  /** The client certificate's SHA-256 fingerprint, from the handshake that established the session. */
  certHash?: string;
  negotiated?: Negotiated;
  assign?: Assignment;
  established = false;
  closed = false;
  closeReason?: string;

  stats = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, renegotiations: 0, drops: 0 };

  private readonly out: Output[] = [];
  private keys: KeyState[] = [];
  private sendKey?: KeyState;
  private switchTo?: { key: KeyState; at: number };
  private lastRecv: number;
  private lastSent: number;
  private pushRequested = false;
  private closeAt?: number;
  private pendingClose?: string;
  private readonly maxPayload: number;
  /** When to start the next server-initiated renegotiation: the newest key's establishment + renegMs. */
  private renegAt?: number;
  /** Effective reneg-sec (with the per-session jitter) in ms; 0 = off. */
  private readonly renegMs: number;

  /**
   * Creates the session from the client's HARD_RESET_CLIENT_V2 (already unwrapped and parsed).
   * With `cookieSid`, the UDP stateless exchange already sent our reset: start at packet-ids 1.
   */
  constructor(private readonly p: SessionParams, clientSid: Buffer, now: number, cookieSid?: Buffer) {
    this.clientSid = Buffer.from(clientSid);
    this.serverSid = cookieSid ? Buffer.from(cookieSid) : randomBytes(SESSION_ID_LEN);
    this.lastRecv = now;
    this.lastSent = now;
    this.renegMs = effectiveRenegSec(p.renegSec, p.renegRandom) * 1000;
    const ackBlock = 1 + 4 * ACKS_PER_MESSAGE + SESSION_ID_LEN;
    this.maxPayload = TLS_MTU - UDP_IPV4_OVERHEAD - 1 - SESSION_ID_LEN - ackBlock - 4 - p.wrap.overhead;
    const ks = this.newKeyState(0, now, cookieSid ? { recv: 1, send: 1 } : { recv: 0, send: 0 });
    if (!cookieSid) {
      ks.reliable.receive(Op.HARD_RESET_CLIENT_V2, 0, [], Buffer.alloc(0), now);
      ks.reliable.send(Op.HARD_RESET_SERVER_V2, Buffer.alloc(0));
    }
    this.flush(now);
  }

  // ---- inputs -------------------------------------------------------------------------------------------

  /** A control packet from the link, still wrapped (tls-auth / tls-crypt / plain). */
  handleControl(wire: Buffer, now: number): void {
    if (this.closed) return;
    const plain = this.p.wrap.unwrap(wire, now);
    if (!plain) { this.dropped('control packet failed tls-auth/tls-crypt verification or replay check'); return; }
    this.handlePlainControl(plain, now);
  }

  /** A control packet that was already unwrapped (the UDP cookie path verifies before the session exists). */
  handlePlainControl(plain: Buffer, now: number): void {
    const pkt = parseControl(plain);
    if (isParseError(pkt)) { this.dropped('malformed control packet'); return; }
    if (!pkt.sessionId.equals(this.clientSid)) { this.dropped('control packet with a foreign session id'); return; }
    if (pkt.acks.length > 0 && !pkt.peerSessionId!.equals(this.serverSid)) { this.dropped('control packet acknowledging a foreign session id'); return; }
    this.stats.bytesIn += wireLen(plain, this.p.wrap);
    let ks = this.keys.find((k) => k.keyId === pkt.keyId);
    if (!ks) {
      if (pkt.opcode !== Op.SOFT_RESET_V1 || !this.canRenegotiate(pkt.keyId)) { this.dropped('control packet for an unknown key id'); return; }
      ks = this.startRenegotiation(pkt.keyId, now, false);
    }
    this.lastRecv = now;
    const msgs = ks.reliable.receive(pkt.opcode, pkt.packetId, pkt.acks, pkt.payload, now);
    for (const m of msgs) {
      if ((m.opcode === Op.CONTROL_V1 || m.opcode === Op.CONTROL_WKC_V1) && m.payload.length > 0 && ks.phase !== 'failed') {
        this.out.push({ t: 'tls-feed', handle: ks.tls, bytes: m.payload });
      }
    }
    this.flush(now);
  }

  handleTls(handle: number, ev: TlsEvent, now: number): void {
    const ks = this.keys.find((k) => k.tls === handle);
    if (!ks || this.closed) return;
    switch (ev.kind) {
      case 'ciphertext':
        for (let off = 0; off < ev.bytes.length; off += this.maxPayload) {
          ks.reliable.send(Op.CONTROL_V1, ev.bytes.subarray(off, Math.min(ev.bytes.length, off + this.maxPayload)));
        }
        break;
      case 'secure':
        ks.secure = ev.info;
        if (ks.keyId === 0) this.cn = ev.info.cn;
        break;
      case 'plaintext':
        ks.plain = ks.plain.length ? Buffer.concat([ks.plain, ev.bytes]) : ev.bytes;
        this.consumePlaintext(ks, now);
        break;
      case 'error':
        this.failKey(ks, `TLS error: ${ev.message}`, now);
        break;
    }
    if (ks.phase === 'tls' && ks.secure && ks.km2) {
      ks.phase = 'auth-wait';
      this.out.push({
        t: 'auth', handle: ks.tls,
        request: {
          keyId: ks.keyId, first: ks.keyId === 0 && !this.established, cn: ks.secure.cn,
          certAuthorized: ks.secure.authorized, certError: ks.secure.authError, certClientAuth: ks.secure.clientAuthEku,
          username: ks.km2.username, password: ks.km2.password, peerInfo: ks.km2.peerInfo,
        },
      });
    }
    this.flush(now);
  }

  handleAuth(handle: number, result: AuthResult, now: number): void {
    const ks = this.keys.find((k) => k.tls === handle);
    if (!ks || ks.phase !== 'auth-wait' || this.closed) return;
    const km2 = ks.km2!;
    if (!result.ok) {
      this.refuse(ks, result.reason, result.clientMessage, now);
      return;
    }
    if (!this.negotiated) {
      const n = negotiate(this.p.dataCiphers, km2.options, km2.peerInfo);
      if ('error' in n) { this.refuse(ks, n.error, undefined, now); return; }
      this.negotiated = n;
      this.assign = result.assign;
    }
    const n = this.negotiated;
    const serverKm2 = newServerKm2(occString(this.p.proto, this.p.tlsAuth, this.p.tunMtu));
    this.out.push({ t: 'tls-write', handle: ks.tls, bytes: emitServerKm2(serverKm2) });
    const block = n.ekm ? ks.secure!.ekm : deriveKeyBlockPrf({
      clientPreMaster: km2.preMaster, clientRandom1: km2.random1, clientRandom2: km2.random2,
      serverRandom1: serverKm2.random1, serverRandom2: serverKm2.random2,
      clientSid: this.clientSid, serverSid: this.serverSid,
    });
    ks.data = new DataChannel(serverDataKeys(block, n.cipher));
    block.fill(0);
    ks.phase = 'active';
    ks.plain = ks.plain.subarray(0);
    if (!this.established) {
      this.established = true;
      this.sendKey = ks;
      // Keepalive clocks start when the tunnel is up, not when the handshake began.
      this.lastRecv = now;
      this.lastSent = now;
      this.scheduleReneg(now);
      this.certHash = ks.secure?.certHash;
      this.out.push({ t: 'established', cn: this.cn, cipher: n.cipher, ekm: n.ekm });
      if (n.requestPush || this.pushRequested) this.sendPush(ks);
    } else {
      const delay = Math.min(this.p.handWindow, this.p.renegSec > 0 ? this.p.renegSec / 2 : this.p.handWindow) * 1000;
      this.switchTo = { key: ks, at: now + delay };
      this.stats.renegotiations++;
      // OpenVPN counts reneg-sec from the new key's establishment (ssl.c should_trigger_renegotiation:
      // ks->established + renegotiate_seconds), not from when the send key moves over to it.
      this.scheduleReneg(now);
    }
    // Text messages may have arrived together with the key-method-2 message.
    this.consumePlaintext(ks, now);
    this.flush(now);
  }

  tick(now: number): void {
    if (this.closed) return;
    if (this.closeAt !== undefined && now >= this.closeAt) { this.close(this.pendingClose ?? 'closed'); return; }
    const ka = this.p.keepalive;
    if (this.established && ka && ka.timeout > 0 && now - this.lastRecv >= ka.timeout * 2000) {
      this.close(`ping-restart (no packet for ${ka.timeout * 2} s)`);
      return;
    }
    for (const ks of [...this.keys]) {
      if (ks.phase !== 'active' && now - ks.createdAt >= this.p.handWindow * 1000) {
        if (!this.established) { this.close(`TLS handshake did not finish within ${this.p.handWindow} s`); return; }
        // A renegotiation that failed is tried again later; the current key stays in use meanwhile.
        this.dropKey(ks);
        if (this.renegMs > 0 && this.renegAt === undefined) this.renegAt = now + Math.min(this.renegMs, this.p.handWindow * 1000);
      } else if (ks.expiresAt !== undefined && now >= ks.expiresAt) {
        this.dropKey(ks);
      }
    }
    if (this.switchTo && now >= this.switchTo.at) this.switchSendKey(this.switchTo.key, now);
    if (this.renegAt !== undefined && now >= this.renegAt && this.sendKey) {
      this.renegAt = undefined;
      // A renegotiation already under way reschedules when its key is established, or retries when it fails.
      if (!this.keys.some((k) => k.phase !== 'active')) {
        // The newest key is established; its switch delay only waits for traffic on it, so end it now.
        if (this.switchTo) this.switchSendKey(this.switchTo.key, now);
        this.startRenegotiation(nextKeyId(this.newestKeyId()), now, true);
      }
    }
    if (this.established && ka && ka.interval > 0 && now - this.lastSent >= ka.interval * 1000 && this.sendKey) {
      const ping = this.sealData(PING_MAGIC, now);
      if (ping) this.out.push({ t: 'link', bytes: ping });
    }
    this.flush(now, true);
  }

  /** Server shutdown / management kill: tell the client (RESTART) and close soon after. */
  shutdown(now: number, message = 'RESTART', reason = 'server shutdown'): void {
    // Already told and closing: duplicate-cn kills every earlier session of a cn on each new login, and a second
    // RESTART would only cost a TLS record and a packet in the middle of that login.
    if (this.closed || this.pendingClose !== undefined) return;
    if (this.sendKey && this.sendKey.phase === 'active') {
      this.out.push({ t: 'tls-write', handle: this.sendKey.tls, bytes: textMessage(message) });
      this.closeSoon(reason, now, 1000);
      this.flush(now);
    } else {
      this.close(reason);
    }
  }

  /** The transport went away (TCP connection closed). */
  linkClosed(reason: string): void { this.close(reason); }

  // ---- data channel (hot path) ----------------------------------------------------------------------------

  /** Decrypts a P_DATA_V1/V2 packet; returns the IP packet to route, or undefined (ping, OCC, bad packet). */
  openData(packet: Buffer, now: number): Buffer | undefined {
    const keyId = packet[0] & 7;
    const ks = this.keyFor(keyId);
    if (!ks?.data) { this.dropped('data packet for an unknown key id'); return undefined; }
    const r = ks.data.open(packet, now);
    if (!r.ok) { this.dropped(`data packet rejected (${r.reason})`); return undefined; }
    this.lastRecv = now;
    this.stats.bytesIn += packet.length;
    if (this.switchTo?.key === ks) this.switchSendKey(ks, now);
    let payload = r.plain;
    if (payload.length > 0 && payload[0] === 0xfa) payload = payload.subarray(1);
    else if (payload.length > 1 && payload[0] === 0x50 && payload[1] === 0x00) payload = payload.subarray(2);
    if (payload.length === 16 && payload.equals(PING_MAGIC)) return undefined;
    if (payload.length > 16 && payload.subarray(0, 16).equals(OCC_MAGIC)) {
      if (payload[16] === OCC_EXIT) this.closeSoon('client exit (OCC EXIT)', now, 0);
      return undefined;
    }
    this.stats.packetsIn++;
    return payload;
  }

  /** sealData for the hot path: the packet as pieces to send with one gather write (P_DATA_V2: head and ciphertext,
   *  no copy); undefined if no data key is up. */
  sealDataParts(payload: Buffer, now: number): Buffer[] | undefined {
    const ks = this.sendKey;
    if (!ks?.data || this.closed) return undefined;
    if (!(this.negotiated?.dataV2 && this.assign)) {
      const pkt = this.sealData(payload, now);
      return pkt && [pkt];
    }
    if (this.negotiated.framing === 'comp-lzo') payload = Buffer.concat([FA, payload]);
    const parts = ks.data.sealV2Parts(ks.keyId, this.assign.peerId, payload);
    this.lastSent = now;
    this.stats.bytesOut += parts[0].length + parts[1].length;
    this.stats.packetsOut++;
    if (ks.data.sendPacketId >= PACKET_ID_REKEY && (this.renegAt === undefined || this.renegAt > now)) this.renegAt = now;
    return parts;
  }

  /** Encrypts an IP packet (or ping) for this client; undefined if no data key is up. */
  sealData(payload: Buffer, now: number): Buffer | undefined {
    const ks = this.sendKey;
    if (!ks?.data || this.closed) return undefined;
    if (this.negotiated?.framing === 'comp-lzo') payload = Buffer.concat([FA, payload]);
    const pkt = this.negotiated?.dataV2 && this.assign
      ? ks.data.sealV2(ks.keyId, this.assign.peerId, payload)
      : ks.data.sealV1(ks.keyId, payload);
    this.lastSent = now;
    this.stats.bytesOut += pkt.length;
    this.stats.packetsOut++;
    if (ks.data.sendPacketId >= PACKET_ID_REKEY && (this.renegAt === undefined || this.renegAt > now)) this.renegAt = now;
    return pkt;
  }

  // ---- outputs --------------------------------------------------------------------------------------------

  poll(): Output | undefined { return this.out.shift(); }

  nextDeadline(): number | undefined {
    if (this.closed) return undefined;
    let t = Infinity;
    const at = (v: number | undefined) => { if (v !== undefined && v < t) t = v; };
    for (const ks of this.keys) {
      at(ks.reliable.nextDeadline());
      if (ks.phase !== 'active') at(ks.createdAt + this.p.handWindow * 1000);
      at(ks.expiresAt);
    }
    at(this.closeAt);
    at(this.switchTo?.at);
    at(this.renegAt);
    const ka = this.p.keepalive;
    if (this.established && ka) {
      if (ka.interval > 0) at(this.lastSent + ka.interval * 1000);
      if (ka.timeout > 0) at(this.lastRecv + ka.timeout * 2000);
    }
    return t === Infinity ? undefined : t;
  }

  get keyIds(): number[] { return this.keys.map((k) => k.keyId); }
  get lastReceived(): number { return this.lastRecv; }

  // ---- internals ------------------------------------------------------------------------------------------

  /** Why the last packet was dropped (for a rate-limited log line in the I/O layer). */
  lastDropReason?: string;

  private dropped(reason: string): void {
    this.stats.drops++;
    this.lastDropReason = reason;
  }

  private newKeyState(keyId: number, now: number, start: { recv: number; send: number }): KeyState {
    const ks: KeyState = {
      keyId, reliable: new Reliable(this.p.tlsTimeout * 1000, start), tls: tlsHandles++,
      phase: 'tls', createdAt: now, plain: Buffer.alloc(0),
    };
    this.keys.push(ks);
    this.out.push({ t: 'tls-open', handle: ks.tls });
    return ks;
  }

  private canRenegotiate(keyId: number): boolean {
    return this.established && keyId === nextKeyId(this.newestKeyId()) && !this.keys.some((k) => k.phase !== 'active');
  }

  private newestKeyId(): number { return this.keys.length ? this.keys[this.keys.length - 1].keyId : 0; }

  private startRenegotiation(keyId: number, now: number, weStart: boolean): KeyState {
    while (this.keys.length >= KEY_STATES_MAX) {
      const victim = this.keys.find((k) => k !== this.sendKey);
      if (!victim) break;
      this.dropKey(victim);
    }
    const ks = this.newKeyState(keyId, now, { recv: 0, send: 0 });
    ks.reliable.send(Op.SOFT_RESET_V1, Buffer.alloc(0));
    if (weStart) this.flush(now);
    return ks;
  }

  private switchSendKey(ks: KeyState, now: number): void {
    const old = this.sendKey;
    this.sendKey = ks;
    this.switchTo = undefined;
    if (old && old !== ks) old.expiresAt = now + this.p.tranWindow * 1000;
    for (const k of this.keys) if (k !== ks && k !== old && k.phase === 'active') this.dropKey(k);
    this.out.push({ t: 'rekeyed', keyId: ks.keyId });
  }

  /** Called when a key is established: the next renegotiation is reneg-sec (with jitter) after it. */
  private scheduleReneg(now: number): void {
    if (this.renegMs > 0) this.renegAt = now + this.renegMs;
  }

  private keyFor(keyId: number): KeyState | undefined {
    if (this.sendKey?.keyId === keyId) return this.sendKey;
    return this.keys.find((k) => k.keyId === keyId);
  }

  private consumePlaintext(ks: KeyState, now: number): void {
    if (!ks.km2) {
      // OpenVPN writes its key-method-2 message with one SSL_write, so what arrived is all there is.
      const r = parseClientKm2(ks.plain, true);
      if (r === 'incomplete') return;
      if ('error' in r) { this.failKey(ks, r.error, now); return; }
      ks.km2 = r.msg;
      ks.plain = ks.plain.subarray(r.consumed);
    }
    if (ks.phase !== 'active') return;   // text messages wait until the key is up
    const { messages, rest } = splitTextMessages(ks.plain);
    ks.plain = rest;
    for (const m of messages) this.handleText(ks, m, now);
  }

  private handleText(ks: KeyState, msg: string, now: number): void {
    if (msg === 'PUSH_REQUEST') {
      this.pushRequested = true;
      if (this.established && this.sendKey) this.sendPush(ks);
    } else if (msg === 'EXIT') {
      this.closeSoon('client exit (explicit-exit-notify)', now, 0);
    }
  }

  private sendPush(ks: KeyState): void {
    const n = this.negotiated!;
    const a = this.assign;
    if (!a) return;
    const ka = this.p.keepalive;
    for (const m of pushReplies(n, {
      configPush: a.push, clientIp: a.ip, netmask: a.netmask, gateway: a.gateway, peerId: a.peerId,
      ping: ka ? { interval: ka.interval, restart: ka.timeout } : undefined, tunMtu: this.p.tunMtu,
    })) {
      this.out.push({ t: 'tls-write', handle: ks.tls, bytes: textMessage(m) });
    }
  }

  private refuse(ks: KeyState, reason: string, clientMessage: string | undefined, now: number): void {
    // Finish the key-method-2 exchange so the client can read AUTH_FAILED, then close.
    const serverKm2 = newServerKm2(occString(this.p.proto, this.p.tlsAuth, this.p.tunMtu));
    this.out.push({ t: 'tls-write', handle: ks.tls, bytes: emitServerKm2(serverKm2) });
    this.out.push({ t: 'tls-write', handle: ks.tls, bytes: textMessage(clientMessage ? `AUTH_FAILED,${clientMessage}` : 'AUTH_FAILED') });
    ks.phase = 'failed';
    this.closeSoon(`refused: ${reason}`, now, 2000);
    this.flush(now);
  }

  private failKey(ks: KeyState, reason: string, now: number): void {
    ks.phase = 'failed';
    if (!this.established || ks === this.sendKey) this.closeSoon(reason, now, 0);
    else this.dropKey(ks);
  }

  private dropKey(ks: KeyState): void {
    this.keys = this.keys.filter((k) => k !== ks);
    if (this.switchTo?.key === ks) this.switchTo = undefined;
    this.out.push({ t: 'tls-close', handle: ks.tls });
  }

  private closeSoon(reason: string, now: number, delayMs: number): void {
    if (this.pendingClose) return;
    this.pendingClose = reason;
    this.closeAt = now + delayMs;
    if (delayMs === 0) this.close(reason);
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    for (const ks of this.keys) this.out.push({ t: 'tls-close', handle: ks.tls });
    this.keys = [];
    this.sendKey = undefined;
    this.out.push({ t: 'closed', reason });
  }

  private flush(now: number, standaloneAcks = false): void {
    if (this.closed) return;
    for (const ks of this.keys) {
      for (const tx of ks.reliable.poll(now, standaloneAcks)) {
        const plain = emitControl({
          opcode: tx.opcode, keyId: ks.keyId, sessionId: this.serverSid, acks: tx.acks,
          peerSessionId: tx.acks.length ? this.clientSid : undefined, packetId: tx.packetId, payload: tx.payload,
        });
        const wire = this.p.wrap.wrap(plain, now);
        this.stats.bytesOut += wire.length;
        this.out.push({ t: 'link', bytes: wire });
      }
    }
  }
}

const FA = Buffer.from([0xfa]);

export function nextKeyId(k: number): number { return k >= 7 ? 1 : k + 1; }

/** reneg-sec after OpenVPN 2.6's server-side jitter (init.c do_init_crypto_tls), in whole seconds. */
export function effectiveRenegSec(renegSec: number, random = 0): number {
  if (renegSec <= 0) return 0;
  return renegSec - ((random >>> 0) % Math.max(Math.floor(renegSec / 10), 1));
}

function wireLen(plain: Buffer, wrap: ControlWrap): number { return plain.length + wrap.overhead; }
