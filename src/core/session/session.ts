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
import type { DataChannel } from '../crypto/data-channel.js';
import { serverDataChannel } from '../crypto/data-channel-for.js';
import type { DigestName } from '../crypto/digests.js';
import { deriveKeyBlockPrf } from '../crypto/prf.js';
import type { ControlWrap } from './control-wrap.js';
import { Reliable, ACKS_PER_MESSAGE } from './reliable.js';
import {
  emitControl, isParseError, Op, parseControl, SESSION_ID_LEN,
} from '../wire/openvpn-packet.js';
import {
  type ClientKm2, emitServerKm2, IV_PROTO, newServerKm2, type ServerKm2, parseClientKm2, splitTextMessages, textMessage,
} from './key-method2.js';
import { negotiate, type Negotiated, type OccCrypto, occString, pushReplies } from './negotiate.js';
import { clientFraming } from './client-framing.js';
import { frame, unframe, type Framing } from '../compression/framing.js';

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
  /** data-ciphers-fallback: the cipher of a client that names none (no IV_CIPHERS, no IV_NCP, no OCC cipher). */
  dataCiphersFallback?: CipherName;
  /** The `auth` digest of CBC data channels (default SHA1). */
  auth?: DigestName;
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
  /** The server's compression framing (ServerConfig.compression); absent = none. */
  compression?: Framing | 'migrate';
  /** The config pushes a compression option (so every client frames as `compression`). */
  compressionPushed?: boolean;
  /**
   * `inactive SECONDS [BYTES]`: close the session when SECONDS pass without BYTES (default 0: any) of tunnel
   * payload in either direction; keepalives and OCC do not count (OpenVPN 2.6's register_activity).
   */
  inactive?: { seconds: number; bytes: number };
}

export interface TlsSecure {
  cn?: string; authorized: boolean; authError?: string; ekm: Buffer; clientAuthEku?: boolean;
  /** SHA-256 fingerprint of the client certificate (the identity a UDP float compares); none without a certificate. */
  certHash?: string;
  /** The client certificate's subject, serial and fingerprints (management ENV tls_id_0 etc.). */
  cert?: PeerCertInfo;
}
export interface PeerCertInfo {
  /** Subject fields in certificate order, e.g. [['O','Example'],['CN','client1']]. */
  subject: [string, string][];
  /** Serial number in hex digits. */
  serialHex: string;
  /** Fingerprints as colon-separated hex. */
  sha1: string;
  sha256: string;
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
  cert?: PeerCertInfo;
}
export interface Assignment {
  ip: string;
  /** The second word of the pushed "ifconfig IP X": netmask (topology subnet) or peer address (net30, p2p). */
  netmask: string;
  gateway: string;
  peerId: number;
  push: string[];
  /** Pushed before the ifconfig (topologyPush); absent: route-gateway GATEWAY, topology subnet. */
  topologyPush?: string[];
  /** The arguments of the pushed "ifconfig-ipv6 IP/BITS REMOTE", when the client gets an IPv6 address. */
  ifconfigIpv6?: string;
}
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
  | { t: 'closed'; kind: CloseKind; reason: string };

/** Why a session ended, as a bounded set (a /metrics label); the 'closed' output adds the words for the log. */
export type CloseKind =
  | 'hand-window' | 'ping-restart' | 'tls-error' | 'key-method' | 'refused' | 'client-exit' | 'server-shutdown'
  | 'killed' | 'replaced' | 'evicted' | 'link-closed' | 'inactive';

/** Why the session dropped a packet it was given, as a bounded set; `describe` has the words. */
export type DropReason =
  | 'control-unwrap' | 'control-malformed' | 'control-foreign-session' | 'control-foreign-ack' | 'control-unknown-key'
  | 'data-unknown-key' | 'data-short' | 'data-auth' | 'data-replay' | 'data-opcode' | 'data-framing' | 'data-decompress';

const DROP_TEXT: Record<DropReason, string> = {
  'control-unwrap': 'control packet failed tls-auth/tls-crypt verification or replay check',
  'control-malformed': 'malformed control packet',
  'control-foreign-session': 'control packet with a foreign session id',
  'control-foreign-ack': 'control packet acknowledging a foreign session id',
  'control-unknown-key': 'control packet for an unknown key id',
  'data-unknown-key': 'data packet for an unknown key id',
  'data-short': 'data packet rejected (short)',
  'data-auth': 'data packet rejected (auth)',
  'data-replay': 'data packet rejected (replay)',
  'data-opcode': 'data packet rejected (opcode)',
  'data-framing': 'data packet with a compression header byte this framing never sends',
  'data-decompress': 'data packet whose compressed payload does not decompress',
};
export const describeDrop = (r: DropReason): string => DROP_TEXT[r];

/** Inputs that arrived in a state that has no use for them: counted, otherwise ignored. */
export type Unexpected = 'input-after-close' | 'tls-event-unknown-handle' | 'auth-unknown-handle' | 'auth-not-awaited';

/** What openData made of an authenticated packet that carries no IP packet, or why it dropped one. */
export type DataVerdict =
  | { readonly kind: 'keepalive' }
  | { readonly kind: 'occ' }
  | { readonly kind: 'drop'; readonly reason: DropReason };
const KEEPALIVE: DataVerdict = Object.freeze({ kind: 'keepalive' });
const OCC: DataVerdict = Object.freeze({ kind: 'occ' });
const DROP = Object.fromEntries(Object.keys(DROP_TEXT).map((r) => [r, Object.freeze({ kind: 'drop', reason: r })])) as
  Record<DropReason, DataVerdict>;

/** One key state's progress; each phase carries what it has gathered. */
type KeyPhase =
  | { phase: 'tls'; secure?: TlsSecure; km2?: ClientKm2 }      // TLS handshake and key-method 2 under way
  // The caller is authorizing the client. Deferred (authPending): the server's key-method 2 is out already, and the
  // key waits until `until` instead of the hand-window.
  | { phase: 'auth-wait'; secure: TlsSecure; km2: ClientKm2; serverKm2?: ServerKm2; until?: number }
  | { phase: 'active'; data: DataChannel }                     // data keys up
  | { phase: 'failed' };                                        // refused or broken: the session closes or drops it

interface KeyState {
  keyId: number;
  reliable: Reliable;
  tls: number;                 // TLS handle
  st: KeyPhase;
  createdAt: number;
  plain: Buffer;               // TLS plaintext not yet consumed
  expiresAt?: number;          // lame duck
}

/** The key data goes out with, and its channel. */
interface SendKey { key: KeyState; data: DataChannel }

/** The session's phase; data that exists only once the tunnel is up lives in 'established'. */
type SessionPhase =
  | { phase: 'handshake' }
  | { phase: 'established'; negotiated: Negotiated; assign?: Assignment; send: SendKey }
  | { phase: 'closed'; kind: CloseKind; reason: string; was?: { negotiated: Negotiated; assign?: Assignment } };

const isActive = (ks: KeyState): boolean => ks.st.phase === 'active';
/** When a key that is not active yet gives up: its hand-window, or a deferred authentication's own timeout. */
const keyDeadline = (ks: KeyState, handWindowSec: number): number =>
  ks.st.phase === 'auth-wait' && ks.st.until !== undefined ? ks.st.until : ks.createdAt + handWindowSec * 1000;
/** OpenVPN's limit for one control-channel message (PUSH_BUNDLE_SIZE). */
const PUSH_BUNDLE_SIZE = 1024;
/** Control-channel text a key may hold while its authentication is pending (repeated PUSH_REQUESTs are 13 bytes). */
const MAX_PENDING_TEXT = 16384;

let tlsHandles = 1;

export class Session {
  readonly serverSid: Buffer;
  readonly clientSid: Buffer;
  cn?: string;
  /** The client certificate's SHA-256 fingerprint, from the handshake that established the session. */
  certHash?: string;

  stats = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, renegotiations: 0, drops: 0 };
  /** Inputs that came in a state with no use for them, by kind. */
  readonly unexpected: Partial<Record<Unexpected, number>> = {};

  private st: SessionPhase = { phase: 'handshake' };
  /** The outcome of cipher negotiation, kept from the first key's authorization until the session is established. */
  private pendingNegotiated?: { negotiated: Negotiated; assign?: Assignment };
  private readonly out: Output[] = [];
  private keys: KeyState[] = [];
  private switchTo?: { key: KeyState; data: DataChannel; at: number };
  private lastRecv: number;
  private lastSent: number;
  private pushRequested = false;
  private closeAt?: number;
  private pendingClose?: { kind: CloseKind; reason: string };
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

  /** The tunnel came up (it stays true once the session closes: the close is a disconnect, not a refusal). */
  get established(): boolean { return this.st.phase === 'established' || (this.st.phase === 'closed' && this.st.was !== undefined); }
  get closed(): boolean { return this.st.phase === 'closed'; }
  get closeKind(): CloseKind | undefined { return this.st.phase === 'closed' ? this.st.kind : undefined; }
  get closeReason(): string | undefined { return this.st.phase === 'closed' ? this.st.reason : undefined; }
  get negotiated(): Negotiated | undefined {
    const st = this.st;
    return st.phase === 'established' ? st.negotiated : st.phase === 'closed' ? st.was?.negotiated : this.pendingNegotiated?.negotiated;
  }
  get assign(): Assignment | undefined {
    const st = this.st;
    return st.phase === 'established' ? st.assign : st.phase === 'closed' ? st.was?.assign : undefined;
  }
  private get sendKey(): KeyState | undefined { return this.st.phase === 'established' ? this.st.send.key : undefined; }

  // ---- inputs -------------------------------------------------------------------------------------------

  /** A control packet from the link, still wrapped (tls-auth / tls-crypt / plain). */
  handleControl(wire: Buffer, now: number): void {
    if (this.closed) { this.unexpectedInput('input-after-close'); return; }
    const plain = this.p.wrap.unwrap(wire, now);
    if (!plain) { this.dropped('control-unwrap'); return; }
    this.handlePlainControl(plain, now);
  }

  /** A control packet that was already unwrapped (the UDP cookie path verifies before the session exists). */
  handlePlainControl(plain: Buffer, now: number): void {
    if (this.closed) { this.unexpectedInput('input-after-close'); return; }
    const pkt = parseControl(plain);
    if (isParseError(pkt)) { this.dropped('control-malformed'); return; }
    if (!pkt.sessionId.equals(this.clientSid)) { this.dropped('control-foreign-session'); return; }
    if (pkt.peerSessionId && !pkt.peerSessionId.equals(this.serverSid)) { this.dropped('control-foreign-ack'); return; }
    this.stats.bytesIn += wireLen(plain, this.p.wrap);
    let ks = this.keys.find((k) => k.keyId === pkt.keyId);
    if (!ks) {
      if (pkt.opcode !== Op.SOFT_RESET_V1 || !this.canRenegotiate(pkt.keyId)) { this.dropped('control-unknown-key'); return; }
      ks = this.startRenegotiation(pkt.keyId, now, false);
    }
    this.lastRecv = now;
    const msgs = ks.reliable.receive(pkt.opcode, pkt.packetId, pkt.acks, pkt.payload, now);
    for (const m of msgs) {
      if ((m.opcode === Op.CONTROL_V1 || m.opcode === Op.CONTROL_WKC_V1) && m.payload.length > 0 && ks.st.phase !== 'failed') {
        this.out.push({ t: 'tls-feed', handle: ks.tls, bytes: m.payload });
      }
    }
    this.flush(now);
  }

  handleTls(handle: number, ev: TlsEvent, now: number): void {
    if (this.closed) { this.unexpectedInput('input-after-close'); return; }
    const ks = this.keys.find((k) => k.tls === handle);
    if (!ks) { this.unexpectedInput('tls-event-unknown-handle'); return; }
    switch (ev.kind) {
      case 'ciphertext':
        for (let off = 0; off < ev.bytes.length; off += this.maxPayload) {
          ks.reliable.send(Op.CONTROL_V1, ev.bytes.subarray(off, Math.min(ev.bytes.length, off + this.maxPayload)));
        }
        break;
      case 'secure':
        if (ks.st.phase === 'tls') ks.st.secure = ev.info;
        if (ks.keyId === 0) this.cn = ev.info.cn;
        break;
      case 'plaintext':
        ks.plain = ks.plain.length ? Buffer.concat([ks.plain, ev.bytes]) : ev.bytes;
        this.consumePlaintext(ks, now);
        break;
      case 'error':
        this.failKey(ks, 'tls-error', `TLS error: ${ev.message}`, now);
        break;
    }
    const st = ks.st;
    if (st.phase === 'tls' && st.secure && st.km2) {
      const { secure, km2 } = st;
      ks.st = { phase: 'auth-wait', secure, km2 };
      this.out.push({
        t: 'auth', handle: ks.tls,
        request: {
          keyId: ks.keyId, first: ks.keyId === 0 && !this.established, cn: secure.cn,
          certAuthorized: secure.authorized, certError: secure.authError, certClientAuth: secure.clientAuthEku,
          username: km2.username, password: km2.password, peerInfo: km2.peerInfo, cert: secure.cert,
        },
      });
    }
    this.flush(now);
  }

  handleAuth(handle: number, result: AuthResult, now: number): void {
    if (this.closed) { this.unexpectedInput('input-after-close'); return; }
    const ks = this.keys.find((k) => k.tls === handle);
    if (!ks) { this.unexpectedInput('auth-unknown-handle'); return; }
    const st = ks.st;
    if (st.phase !== 'auth-wait') { this.unexpectedInput('auth-not-awaited'); return; }
    const { km2, secure } = st;
    if (!result.ok) {
      this.refuse(ks, result.reason, result.clientMessage, now);
      return;
    }
    let n = this.negotiated;
    if (!n) {
      const r = this.negotiateFor(km2);
      if ('error' in r) { this.refuse(ks, r.error, 'Data channel cipher negotiation failed (no shared cipher)', now); return; }
      n = r;
      this.pendingNegotiated = { negotiated: n, assign: result.assign };
    }
    let serverKm2 = st.serverKm2;
    if (serverKm2) {
      // A deferred authentication: the client has been repeating PUSH_REQUEST while it waited; that is one request.
      const { messages, rest } = splitTextMessages(ks.plain);
      if (messages.includes('PUSH_REQUEST')) this.pushRequested = true;
      const others = messages.filter((m) => m !== 'PUSH_REQUEST');
      ks.plain = others.length ? Buffer.concat([...others.map((m) => textMessage(m)), rest]) : rest;
    } else {
      serverKm2 = newServerKm2(occString(this.p.proto, this.p.tlsAuth, this.p.tunMtu, n.framing, this.occCrypto()));
      this.out.push({ t: 'tls-write', handle: ks.tls, bytes: emitServerKm2(serverKm2) });
    }
    const block = n.ekm ? secure.ekm : deriveKeyBlockPrf({
      clientPreMaster: km2.preMaster, clientRandom1: km2.random1, clientRandom2: km2.random2,
      serverRandom1: serverKm2.random1, serverRandom2: serverKm2.random2,
      clientSid: this.clientSid, serverSid: this.serverSid,
    });
    const data = serverDataChannel(block, n.cipher, this.p.auth ?? 'SHA1');
    block.fill(0);
    ks.st = { phase: 'active', data };
    if (this.st.phase === 'handshake') {
      this.st = { phase: 'established', negotiated: n, assign: this.pendingNegotiated?.assign, send: { key: ks, data } };
      this.pendingNegotiated = undefined;
      // Keepalive clocks start when the tunnel is up, not when the handshake began.
      this.lastRecv = now;
      this.lastSent = now;
      if (this.p.inactive) this.inactiveAt = now + this.p.inactive.seconds * 1000;
      this.scheduleReneg(now);
      this.certHash = secure.certHash;
      this.out.push({ t: 'established', cn: this.cn, cipher: n.cipher, ekm: n.ekm });
      if (n.requestPush || this.pushRequested) this.sendPush(ks);
    } else {
      const delay = Math.min(this.p.handWindow, this.p.renegSec > 0 ? this.p.renegSec / 2 : this.p.handWindow) * 1000;
      this.switchTo = { key: ks, data, at: now + delay };
      this.stats.renegotiations++;
      // OpenVPN counts reneg-sec from the new key's establishment (ssl.c should_trigger_renegotiation:
      // ks->established + renegotiate_seconds), not from when the send key moves over to it.
      this.scheduleReneg(now);
    }
    // Text messages may have arrived together with the key-method-2 message.
    this.consumePlaintext(ks, now);
    this.flush(now);
  }

  /**
   * Deferred authentication (management client-pending-auth): sends the server's key-method 2 now, then
   * AUTH_PENDING (with ",timeout N" when the client's IV_PROTO has the keyword bit) and INFO_PRE,EXTRA, and lets the
   * key wait TIMEOUT seconds, capped as OpenVPN 2.6 caps it (max(reneg-sec/2, hand-window) since the key began).
   * False when the key is not waiting for a decision or EXTRA is too long for one control message.
   */
  authPending(keyId: number, extra: string, timeoutSec: number, now: number): boolean {
    if (this.closed) return false;
    const ks = this.keys.find((k) => k.keyId === keyId && k.st.phase === 'auth-wait');
    const st = ks?.st;
    if (!ks || st?.phase !== 'auth-wait') return false;
    if (extra.length + 1 + 'INFO_PRE,'.length + 1 > PUSH_BUNDLE_SIZE || /[\x00-\x1f]/.test(extra)) return false;
    const maxSec = Math.max(Math.floor(this.p.renegSec / 2), this.p.handWindow) - Math.floor((now - ks.createdAt) / 1000);
    const timeout = Math.max(0, Math.min(maxSec, timeoutSec));
    if (!st.serverKm2) {
      const r = this.negotiated ?? this.negotiateFor(st.km2);
      st.serverKm2 = newServerKm2(occString(this.p.proto, this.p.tlsAuth, this.p.tunMtu, 'error' in r ? 'none' : r.framing, this.occCrypto()));
      this.out.push({ t: 'tls-write', handle: ks.tls, bytes: emitServerKm2(st.serverKm2) });
    }
    const proto = Number.parseInt(st.km2.peerInfo.get('IV_PROTO') ?? '0', 10) || 0;
    this.out.push({ t: 'tls-write', handle: ks.tls, bytes: textMessage(proto & IV_PROTO.AUTH_PENDING_KW ? `AUTH_PENDING,timeout ${timeout}` : 'AUTH_PENDING') });
    this.out.push({ t: 'tls-write', handle: ks.tls, bytes: textMessage(`INFO_PRE,${extra}`) });
    st.until = now + timeout * 1000;
    this.flush(now);
    return true;
  }

  private negotiateFor(km2: ClientKm2): Negotiated | { error: string } {
    const r = negotiate(this.p.dataCiphers, km2.options, km2.peerInfo, this.p.dataCiphersFallback);
    if ('error' in r) return r;
    return { ...r, ...clientFraming(this.p.compression ?? 'none', this.p.compressionPushed ?? false, km2.options, km2.peerInfo) };
  }

  tick(now: number): void {
    if (this.closed) return;
    if (this.closeAt !== undefined && now >= this.closeAt && this.pendingClose) {
      this.close(this.pendingClose.kind, this.pendingClose.reason);
      return;
    }
    const ka = this.p.keepalive;
    // Each rule compares `now` with the very sum nextDeadline() returns: `now - last >= interval` can be false at
    // that instant (the sum rounds), and a tick at the deadline would then do nothing while the deadline stays.
    if (this.established && ka && ka.timeout > 0 && now >= this.lastRecv + ka.timeout * 2000) {
      this.close('ping-restart', `ping-restart (no packet for ${ka.timeout * 2} s)`);
      return;
    }
    if (this.inactiveAt !== undefined && now >= this.inactiveAt) {
      this.close('inactive', `inactivity timeout (--inactive ${this.p.inactive!.seconds})`);
      return;
    }
    for (const ks of [...this.keys]) {
      // A refused key waits for its close (closeAt) so that AUTH_FAILED gets out.
      if (!isActive(ks) && ks.st.phase !== 'failed' && now >= keyDeadline(ks, this.p.handWindow)) {
        if (ks.st.phase === 'auth-wait' && (ks.st.serverKm2 || !this.established)) {
          // OpenVPN 2.6: an authentication not decided in time fails, and the client is told (AUTH_FAILED).
          this.refuse(ks, `authentication not decided within ${ks.st.until === undefined ? `hand-window ${this.p.handWindow} s` : 'the client-pending-auth timeout'}`, undefined, now);
          continue;
        }
        if (!this.established) { this.close('hand-window', `TLS handshake did not finish within ${this.p.handWindow} s`); return; }
        // A renegotiation that failed is tried again later; the current key stays in use meanwhile.
        this.dropKey(ks);
        if (this.renegMs > 0 && this.renegAt === undefined) this.renegAt = now + Math.min(this.renegMs, this.p.handWindow * 1000);
      } else if (ks.expiresAt !== undefined && now >= ks.expiresAt) {
        this.dropKey(ks);
      }
    }
    if (this.switchTo && now >= this.switchTo.at) this.switchSendKey(this.switchTo.key, this.switchTo.data, now);
    if (this.renegAt !== undefined && now >= this.renegAt && this.sendKey) {
      this.renegAt = undefined;
      // A renegotiation already under way reschedules when its key is established, or retries when it fails.
      if (this.keys.every(isActive)) {
        // The newest key is established; its switch delay only waits for traffic on it, so end it now.
        if (this.switchTo) this.switchSendKey(this.switchTo.key, this.switchTo.data, now);
        this.startRenegotiation(nextKeyId(this.newestKeyId()), now, true);
      }
    }
    if (this.established && ka && ka.interval > 0 && now >= this.lastSent + ka.interval * 1000 && this.sendKey) {
      const ping = this.sealData(PING_MAGIC, now);
      if (ping) this.out.push({ t: 'link', bytes: ping });
    }
    this.flush(now, true);
  }

  /** Server shutdown / management kill: tell the client (RESTART) and close soon after. */
  shutdown(now: number, message = 'RESTART', reason = 'server shutdown', kind: CloseKind = 'server-shutdown'): void {
    // Already told and closing: duplicate-cn kills every earlier session of a cn on each new login, and a second
    // RESTART would only cost a TLS record and a packet in the middle of that login.
    if (this.closed || this.pendingClose !== undefined) return;
    const send = this.sendKey;
    if (send && isActive(send)) {
      this.out.push({ t: 'tls-write', handle: send.tls, bytes: textMessage(message) });
      this.closeSoon(kind, reason, now, 1000);
      this.flush(now);
    } else {
      this.close(kind, reason);
    }
  }

  /** The transport went away (TCP connection closed), or the server ends the session without telling the client. */
  linkClosed(reason: string, kind: CloseKind = 'link-closed'): void { this.close(kind, reason); }

  // ---- data channel (hot path) ----------------------------------------------------------------------------

  /**
   * Decrypts a P_DATA_V1/V2 packet: the IP packet to route, or what else it was (keepalive, OCC) or why it was
   * dropped. Anything but a drop authenticated the sender. The verdicts are shared constants: nothing allocated.
   */
  openData(packet: Buffer, now: number): Buffer | DataVerdict {
    const keyId = packet[0] & 7;
    const ks = this.keyFor(keyId);
    const st = ks?.st;
    if (st?.phase !== 'active') return this.dropped('data-unknown-key');
    const r = st.data.open(packet, now);
    if (!r.ok) return this.dropped(`data-${r.reason}`);
    this.lastRecv = now;
    this.stats.bytesIn += packet.length;
    if (ks && this.switchTo?.key === ks) this.switchSendKey(ks, st.data, now);
    let payload = r.plain;
    const framing = this.st.phase === 'established' ? this.st.negotiated.framing : 'none';
    if (framing !== 'none') {
      const u = unframe(framing, payload, this.p.tunMtu + DECOMPRESS_SLACK);
      if (typeof u === 'string') return this.dropped(u === 'framing' ? 'data-framing' : 'data-decompress');
      payload = u;
    }
    if (payload.length === 16 && payload.equals(PING_MAGIC)) return KEEPALIVE;
    if (payload.length > 16 && payload.subarray(0, 16).equals(OCC_MAGIC)) {
      if (payload[16] === OCC_EXIT) this.closeSoon('client-exit', 'client exit (OCC EXIT)', now, 0);
      return OCC;
    }
    this.stats.packetsIn++;
    this.activity(payload.length, now);
    return payload;
  }

  /** sealData for the hot path: the packet as pieces to send with one gather write (P_DATA_V2: head and ciphertext,
   *  no copy); undefined if no data key is up. */
  sealDataParts(payload: Buffer, now: number): Buffer[] | undefined {
    const st = this.st;
    if (st.phase !== 'established') return undefined;
    if (!(st.negotiated.dataV2 && st.assign)) {
      const pkt = this.sealData(payload, now);
      return pkt && [pkt];
    }
    this.activity(payload.length, now);
    payload = frame(st.negotiated.framing, payload);
    const { key, data } = st.send;
    const parts = data.sealV2Parts(key.keyId, st.assign.peerId, payload);
    this.lastSent = now;
    this.stats.bytesOut += parts[0].length + parts[1].length;
    this.stats.packetsOut++;
    if (data.sendPacketId >= PACKET_ID_REKEY && (this.renegAt === undefined || this.renegAt > now)) this.renegAt = now;
    return parts;
  }

  /** Encrypts an IP packet (or ping) for this client; undefined if no data key is up. */
  sealData(payload: Buffer, now: number): Buffer | undefined {
    const st = this.st;
    if (st.phase !== 'established') return undefined;
    if (payload !== PING_MAGIC) this.activity(payload.length, now);
    payload = frame(st.negotiated.framing, payload);
    const { key, data } = st.send;
    const pkt = st.negotiated.dataV2 && st.assign
      ? data.sealV2(key.keyId, st.assign.peerId, payload)
      : data.sealV1(key.keyId, payload);
    this.lastSent = now;
    this.stats.bytesOut += pkt.length;
    this.stats.packetsOut++;
    if (data.sendPacketId >= PACKET_ID_REKEY && (this.renegAt === undefined || this.renegAt > now)) this.renegAt = now;
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
      if (!isActive(ks) && ks.st.phase !== 'failed') at(keyDeadline(ks, this.p.handWindow));
      at(ks.expiresAt);
    }
    at(this.closeAt);
    at(this.inactiveAt);
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
  lastDropReason?: DropReason;

  private inactiveAt?: number;
  private inactiveBytes = 0;

  /** Tunnel payload in or out (OpenVPN's register_activity): enough of it moves the inactivity deadline. */
  private activity(bytes: number, now: number): void {
    const ia = this.p.inactive;
    if (!ia || this.inactiveAt === undefined) return;
    this.inactiveBytes += bytes;
    if (this.inactiveBytes >= ia.bytes) {
      this.inactiveBytes = 0;
      this.inactiveAt = now + ia.seconds * 1000;
    }
  }

  private dropped(reason: DropReason): DataVerdict {
    this.stats.drops++;
    this.lastDropReason = reason;
    return DROP[reason];
  }

  private unexpectedInput(what: Unexpected): void {
    this.unexpected[what] = (this.unexpected[what] ?? 0) + 1;
  }

  private newKeyState(keyId: number, now: number, start: { recv: number; send: number }): KeyState {
    const ks: KeyState = {
      keyId, reliable: new Reliable(this.p.tlsTimeout * 1000, start), tls: tlsHandles++,
      st: { phase: 'tls' }, createdAt: now, plain: Buffer.alloc(0),
    };
    this.keys.push(ks);
    this.out.push({ t: 'tls-open', handle: ks.tls });
    return ks;
  }

  private canRenegotiate(keyId: number): boolean {
    return this.established && keyId === nextKeyId(this.newestKeyId()) && this.keys.every(isActive);
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

  private switchSendKey(ks: KeyState, data: DataChannel, now: number): void {
    if (this.st.phase !== 'established') return;
    const old = this.st.send.key;
    this.st.send = { key: ks, data };
    this.switchTo = undefined;
    if (old !== ks) old.expiresAt = now + this.p.tranWindow * 1000;
    for (const k of this.keys) if (k !== ks && k !== old && isActive(k)) this.dropKey(k);
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
    const st = ks.st;
    if (st.phase === 'tls' && !st.km2) {
      // OpenVPN writes its key-method-2 message with one SSL_write, so what arrived is all there is.
      const r = parseClientKm2(ks.plain, true);
      if (r === 'incomplete') return;
      if ('error' in r) { this.failKey(ks, 'key-method', r.error, now); return; }
      st.km2 = r.msg;
      ks.plain = ks.plain.subarray(r.consumed);
    }
    if (ks.st.phase === 'auth-wait' && ks.plain.length > MAX_PENDING_TEXT) {
      this.failKey(ks, 'key-method', 'too much control-channel text while the authentication is pending', now);
      return;
    }
    if (ks.st.phase !== 'active') return;   // text messages wait until the key is up
    const { messages, rest } = splitTextMessages(ks.plain);
    ks.plain = rest;
    for (const m of messages) this.handleText(ks, m, now);
  }

  private handleText(ks: KeyState, msg: string, now: number): void {
    if (msg === 'PUSH_REQUEST') {
      this.pushRequested = true;
      if (this.established && this.sendKey) this.sendPush(ks);
    } else if (msg === 'EXIT') {
      this.closeSoon('client-exit', 'client exit (explicit-exit-notify)', now, 0);
    }
  }

  private sendPush(ks: KeyState): void {
    if (this.st.phase !== 'established') return;
    const { negotiated: n, assign: a } = this.st;
    if (!a) return;
    const ka = this.p.keepalive;
    for (const m of pushReplies(n, {
      configPush: a.push, clientIp: a.ip, netmask: a.netmask, gateway: a.gateway, peerId: a.peerId, topologyPush: a.topologyPush,
      ifconfigIpv6: a.ifconfigIpv6, ping: ka ? { interval: ka.interval, restart: ka.timeout } : undefined, tunMtu: this.p.tunMtu,
    })) {
      this.out.push({ t: 'tls-write', handle: ks.tls, bytes: textMessage(m) });
    }
  }

  private occCrypto(): OccCrypto {
    return { fallback: this.p.dataCiphersFallback, dataCiphers: this.p.dataCiphers, auth: this.p.auth ?? 'SHA1' };
  }

  private refuse(ks: KeyState, reason: string, clientMessage: string | undefined, now: number): void {
    // Finish the key-method-2 exchange (unless a deferred authentication did) so the client can read AUTH_FAILED, then close.
    if (ks.st.phase !== 'auth-wait' || !ks.st.serverKm2) {
      this.out.push({ t: 'tls-write', handle: ks.tls, bytes: emitServerKm2(newServerKm2(occString(this.p.proto, this.p.tlsAuth, this.p.tunMtu, 'none', this.occCrypto()))) });
    }
    this.out.push({ t: 'tls-write', handle: ks.tls, bytes: textMessage(clientMessage ? `AUTH_FAILED,${clientMessage}` : 'AUTH_FAILED') });
    ks.st = { phase: 'failed' };
    this.closeSoon('refused', `refused: ${reason}`, now, 2000);
    this.flush(now);
  }

  private failKey(ks: KeyState, kind: CloseKind, reason: string, now: number): void {
    ks.st = { phase: 'failed' };
    if (!this.established || ks === this.sendKey) this.closeSoon(kind, reason, now, 0);
    else this.dropKey(ks);
  }

  private dropKey(ks: KeyState): void {
    this.keys = this.keys.filter((k) => k !== ks);
    if (this.switchTo?.key === ks) this.switchTo = undefined;
    this.out.push({ t: 'tls-close', handle: ks.tls });
  }

  private closeSoon(kind: CloseKind, reason: string, now: number, delayMs: number): void {
    if (this.pendingClose) return;
    this.pendingClose = { kind, reason };
    this.closeAt = now + delayMs;
    if (delayMs === 0) this.close(kind, reason);
  }

  private close(kind: CloseKind, reason: string): void {
    const st = this.st;
    if (st.phase === 'closed') return;
    this.st = { phase: 'closed', kind, reason, was: st.phase === 'established' ? { negotiated: st.negotiated, assign: st.assign } : undefined };
    this.pendingNegotiated = undefined;
    for (const ks of this.keys) this.out.push({ t: 'tls-close', handle: ks.tls });
    this.keys = [];
    this.out.push({ t: 'closed', kind, reason });
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

/** Room past tun-mtu a decompressed packet may take before it is refused (OpenVPN's buffers have such headroom). */
const DECOMPRESS_SLACK = 256;

export function nextKeyId(k: number): number { return k >= 7 ? 1 : k + 1; }

/** reneg-sec after OpenVPN 2.6's server-side jitter (init.c do_init_crypto_tls), in whole seconds. */
export function effectiveRenegSec(renegSec: number, random = 0): number {
  if (renegSec <= 0) return 0;
  return renegSec - ((random >>> 0) % Math.max(Math.floor(renegSec / 10), 1));
}

function wireLen(plain: Buffer, wrap: ControlWrap): number { return plain.length + wrap.overhead; }
