// The UDP transport, sans-IO (the shape of quinn-proto's Endpoint::handle). Every datagram of the server's one UDP
// socket goes through handle(from, bytes, now), which returns exactly one event:
//   data         P_DATA_V2 for the session its peer-id names (P_DATA_V1: the session at its address); `moved` when
//                it came from another address than the session's: decrypt it, then call authenticated()
//   control      a control packet for the session at `from` whose client session id it carries
//   new-session  the client echoed our cookie: the caller creates the session and accept()s it
//   reply        bytes for `from` (the stateless cookie reset)
//   drop         a reason; the caller counts it (DropSummary) and nothing else happens
// The caller reports what happens to sessions: accept (created), established (TLS, key-method 2 and auth done),
// authenticated (a `moved` data packet decrypted: the float rule), closed. It also asks here for peer-ids, which
// are unique across UDP and TCP sessions (as in OpenVPN) but route only UDP data.
//
// The rules, as OpenVPN 2.6 servers apply them:
// - Stateless first contact (openvpn-protocol.md §4.5). A client reset, vetted with the shared responder wrap
//   (peek: no replay state), is answered with a HARD_RESET_SERVER_V2 whose session id is an HMAC cookie over the
//   client's address and session id; state is created only when a packet echoes that cookie. Reset replies have a
//   budget (a token bucket), so the server is never a reflector beyond it, and each source (an IPv4 address, an
//   IPv6 /64) may spend only a tenth of it, so a flood of valid-looking resets from one source (a config without
//   tls-auth/tls-crypt, or a leaked key) cannot starve the other clients' first packets.
// - tls-crypt-v2 (§2.4), as a 2.6 server with force-cookie: a client's HARD_RESET_CLIENT_V3 is answered the same
//   stateless way, sealed with the client key Kc from its WKc and asking (EARLY_NEG_FLAGS: RESEND_WKC) for the WKc
//   again in the client's next packet, P_CONTROL_WKC_V1, which then creates the session with Kc. A V3 reset from a
//   client without early negotiation (before 2.6) would need the key kept from its first packet: it is dropped.
// - Demux. Data by peer-id; control by address and then by the client session id in the packet, so a client's
//   restart (a new session id from the address of a live session) runs beside the live session instead of going to
//   it. The live session is replaced only when the new one is established, like OpenVPN's untrusted session that
//   becomes active after authenticating: a forged reset, even one that passes tls-auth, closes nothing.
// - Half-open sessions (created, not yet established) have a cap (HalfOpenTracker): reaching it evicts the busiest
//   address's oldest, so sessions that never finish cannot lock clients out. Each session closes itself at its
//   hand-window; the tracker only bounds how many exist.
// - Float (multi_process_float). Only an established session floats, only on a data packet that authenticated, and
//   not onto an address held by a session of another identity (cert hash): that packet is dropped. A session of the
//   same identity at the target address is closed.
import type { ControlWrap } from '../session/control-wrap.js';
import { emitControl, Op } from '../wire/openvpn-packet.js';
import { type FirstPacketDrop, type TlsCryptV2Keys, vetFirstPacket } from './first-packet.js';
import { HalfOpenTracker, sourceGroup } from './half-open.js';
import { CookieJar } from './udp-cookie.js';

export interface PeerAddr { readonly address: string; readonly port: number }

export type EndpointDrop =
  | FirstPacketDrop
  | 'truncated data packet'
  | 'data packet for an unknown peer id'
  | 'data packet from an unknown address'
  | 'reset replies over budget'
  | 'missing or stale cookie'
  | 'first packet failed the replay check'
  | 'tls-crypt-v2 client without early negotiation (before OpenVPN 2.6)'
  | 'float to an address held by another client';

/** A session about to be created: the client echoed a valid cookie. Pass it to accept() with the new session. */
export interface Incoming {
  readonly from: PeerAddr;
  readonly clientSid: Buffer;
  /** Our cookie, which becomes the server's session id. */
  readonly cookie: Buffer;
  /** The session's own wrap; its replay window already holds the first packet's id. */
  readonly wrap: ControlWrap;
  /** The first packet, unwrapped: feed it to the session (handlePlainControl). */
  readonly first: Buffer;
  /** The client came with a tls-crypt-v2 key: `wrap` is tls-crypt with it. */
  readonly tlsCryptV2: boolean;
  /** Its key's metadata (type byte first), for tls-crypt-v2-verify. */
  readonly tlsCryptV2Metadata?: Buffer;
}

export type DatagramEvent<S> =
  | { t: 'data'; session: S; packet: Buffer; moved: boolean }
  | { t: 'control'; session: S; packet: Buffer }
  | { t: 'new-session'; incoming: Incoming }
  | { t: 'reply'; bytes: Buffer }
  | DropEvent;

/** Drop events are shared constants, one per reason: a flood's packets allocate no event. */
export interface DropEvent { readonly t: 'drop'; readonly reason: EndpointDrop }

const dropEvents = new Map<EndpointDrop, DropEvent>();
function drop(reason: EndpointDrop): DropEvent {
  let e = dropEvents.get(reason);
  if (!e) { e = Object.freeze({ t: 'drop', reason }); dropEvents.set(reason, e); }
  return e;
}

export type FloatResult<S> =
  | { t: 'stay' }
  /** The session's address is now the packet's; `closes` are sessions to close (the target address's holder). */
  | { t: 'floated'; closes: S[] }
  /** Drop the packet; the session stays where it was. */
  | { t: 'refused'; reason: EndpointDrop };

export interface UdpEndpointOptions {
  /** The stateless responder's wrap: peek() vets first packets, wrap() seals cookie resets. Undefined: the server
   *  has tls-crypt-v2 only. */
  responder: ControlWrap | undefined;
  /** A new session's own wrap (not tls-crypt-v2). */
  newWrap: () => ControlWrap;
  /** The server's tls-crypt-v2 key, when it has one. */
  tlsCryptV2?: TlsCryptV2Keys;
  /** Unix time in ms minus `now` (tls-crypt-v2-max-age compares Unix times). */
  unixOffsetMs?: number;
  /** hand-window in seconds: the cookie's lifetime and the half-open window. */
  handWindowSec: number;
  /** Half-open sessions allowed at once (halfOpenCapFor(max-clients)). */
  halfOpenCap: number;
  /** Cookie resets per second, burst the same (default 200). */
  resetRepliesPerSec?: number;
  /** The cookie HMAC key (default random). */
  cookieKey?: Buffer;
}

export const RESET_REPLIES_PER_SEC = 200;
/** The share of the reset-reply budget one source may use once less than half of the budget is left. */
const PER_SOURCE_SHARE = 0.1;
/** Sources whose share is tracked; past this the least recently seen is forgotten (and starts full again). */
const MAX_TRACKED_SOURCES = 4096;
/** Peer-ids are 24 bits; 0xffffff means "none" on the wire. */
const PEER_ID_LIMIT = 0xffffff;
/** The TLV of a cookie reset to a tls-crypt-v2 client: EARLY_NEG_FLAGS (1), 2 bytes, RESEND_WKC (1). */
const RESEND_WKC_TLV = Buffer.from([0, 1, 0, 2, 0, 1]);
const NO_PAYLOAD = Buffer.alloc(0);

interface Rec<S> {
  readonly s: S;
  addr: PeerAddr;
  readonly clientSid: Buffer;
  established: boolean;
  identity: string | undefined;
}

/** The sessions at one address: the live one, and a client restart that replaces it once established. */
interface Slot<S> { current?: Rec<S>; pending?: Rec<S> }

/** What the cookie covers: IPv6 in brackets, so that no address and port read as another. */
const addrKey = (a: PeerAddr): string => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);

/** A token bucket: `rate` tokens a second, at most `rate` held. */
interface Bucket { readonly rate: number; tokens: number; at: number | undefined }

function refill(b: Bucket, now: number): void {
  if (b.at !== undefined) b.tokens = Math.min(b.rate, b.tokens + ((now - b.at) / 1000) * b.rate);
  b.at = now;
}

export class UdpEndpoint<S> {
  private readonly recs = new Map<S, Rec<S>>();
  /** Slots by address, then port: a lookup builds no key, so a packet that is dropped allocates nothing here. */
  private readonly byAddr = new Map<string, Map<number, Slot<S>>>();
  private slots = 0;
  private readonly peerIds = new Map<number, S>();
  private readonly peerIdOf = new Map<S, number>();
  private readonly udpByPeerId = new Map<number, Rec<S>>();
  private nextPeerId = 0;
  private readonly cookies: CookieJar;
  private readonly halfOpen: HalfOpenTracker<S>;
  private readonly budget: Bucket;
  /** Per-source buckets of the budget, least recently used first. */
  private readonly sourceBudgets = new Map<string, Bucket>();
  private readonly sourceRate: number;

  constructor(private readonly o: UdpEndpointOptions) {
    this.cookies = new CookieJar(o.handWindowSec, o.cookieKey);
    this.halfOpen = new HalfOpenTracker({ windowMs: o.handWindowSec * 1000, cap: o.halfOpenCap });
    const rate = o.resetRepliesPerSec ?? RESET_REPLIES_PER_SEC;
    this.budget = { rate, tokens: rate, at: undefined };
    this.sourceRate = Math.max(1, rate * PER_SOURCE_SHARE);
  }

  // ---- datagrams ----------------------------------------------------------------------------------------------

  /** One datagram from `from`. `now` is monotonic milliseconds and never goes backwards. Never throws on peer input. */
  handle(from: PeerAddr, msg: Buffer, now: number): DatagramEvent<S> {
    if (msg.length < 1) return drop('empty packet');
    const op = msg[0] >>> 3;
    if (op === Op.DATA_V2) {
      if (msg.length < 4) return drop('truncated data packet');
      const rec = this.udpByPeerId.get(msg.readUIntBE(1, 3));
      if (!rec) return drop('data packet for an unknown peer id');
      return { t: 'data', session: rec.s, packet: msg, moved: rec.addr.port !== from.port || rec.addr.address !== from.address };
    }
    const slot = this.slotAt(from);
    if (op === Op.DATA_V1) {
      if (!slot?.current) return drop('data packet from an unknown address');
      return { t: 'data', session: slot.current.s, packet: msg, moved: false };
    }
    if (slot && msg.length >= 9) {
      if (slot.pending && slot.pending.clientSid.compare(msg, 1, 9) === 0) return { t: 'control', session: slot.pending.s, packet: msg };
      if (slot.current && slot.current.clientSid.compare(msg, 1, 9) === 0) return { t: 'control', session: slot.current.s, packet: msg };
    }
    return this.firstContact(from, msg, now);
  }

  /** A packet that belongs to no session: the cookie reset, or a new session when the cookie comes back. */
  private firstContact(from: PeerAddr, msg: Buffer, now: number): DatagramEvent<S> {
    const v2 = this.o.tlsCryptV2;
    const v = vetFirstPacket(msg, this.o.responder, 'reset-or-echo', v2, Math.floor((now + (this.o.unixOffsetMs ?? 0)) / 1000));
    if ('drop' in v) return drop(v.drop);
    if (v.kind === 'reset') {
      const kc = v.tlsCryptV2?.clientKey.kc;
      if (v.tlsCryptV2 && !v.tlsCryptV2.earlyNegotiation) return drop('tls-crypt-v2 client without early negotiation (before OpenVPN 2.6)');
      if (!this.takeResetToken(from.address, now)) return drop('reset replies over budget');
      const reply = emitControl({
        opcode: Op.HARD_RESET_SERVER_V2, keyId: 0, sessionId: this.cookies.make(addrKey(from), v.clientSid, now), acks: [0],
        peerSessionId: v.clientSid, packetId: 0, payload: kc ? RESEND_WKC_TLV : NO_PAYLOAD,
      });
      const sealer = kc && v2 ? v2.wrapFor(kc, 'reply') : this.o.responder;
      if (!sealer) return drop('client without tls-crypt-v2 (the server requires it)');
      return { t: 'reply', bytes: sealer.wrap(reply, now) };
    }
    if (!v.cookie || !this.cookies.check(v.cookie, addrKey(from), v.clientSid, now)) return drop('missing or stale cookie');
    // The session exists from here: it gets its own wrap, and the first packet goes through it so that its replay
    // window holds this packet's id.
    const wrap = v.clientKey && v2 ? v2.wrapFor(v.clientKey.kc, 'session') : this.o.newWrap();
    const first = wrap.unwrap(msg, now);
    if (!first) return drop('first packet failed the replay check');
    return {
      t: 'new-session',
      incoming: {
        from: { address: from.address, port: from.port }, clientSid: Buffer.from(v.clientSid), cookie: Buffer.from(v.cookie), wrap, first,
        tlsCryptV2: v.clientKey !== undefined, tlsCryptV2Metadata: v.clientKey?.metadata,
      },
    };
  }

  /** A reply needs a token from the source's share and from the whole budget. */
  private takeResetToken(address: string, now: number): boolean {
    const src = sourceGroup(address);
    let mine = this.sourceBudgets.get(src);
    if (mine) this.sourceBudgets.delete(src);
    else {
      mine = { rate: this.sourceRate, tokens: this.sourceRate, at: undefined };
      if (this.sourceBudgets.size >= MAX_TRACKED_SOURCES) {
        const oldest = this.sourceBudgets.keys().next().value;
        if (oldest !== undefined) this.sourceBudgets.delete(oldest);
      }
    }
    this.sourceBudgets.set(src, mine);
    refill(mine, now);
    refill(this.budget, now);
    if (this.budget.tokens < 1) return false;
    // Shares matter only under contention: while half the budget is left anyone may take from it (100 clients behind
    // one NAT address restarting at once all get their replies), below that a source needs a token of its own, so a
    // source that floods cannot take the half kept for the others.
    if (this.budget.tokens < this.budget.rate / 2 && mine.tokens < 1) return false;
    mine.tokens = Math.max(0, mine.tokens - 1);
    this.budget.tokens--;
    return true;
  }

  // ---- sessions -----------------------------------------------------------------------------------------------

  /** Registers the session created for `inc`. Returns the sessions the caller closes now: `superseded`, a client
   *  restart at the same address that this newer restart replaces before it finished, and `evicted`, the half-open
   *  session that leaves at the cap. */
  accept(inc: Incoming, s: S, now: number): { superseded?: S; evicted?: S } {
    if (this.recs.has(s)) throw new Error('session accepted twice');
    const rec: Rec<S> = { s, addr: inc.from, clientSid: inc.clientSid, established: false, identity: undefined };
    this.recs.set(s, rec);
    const out: { superseded?: S; evicted?: S } = {};
    const slot = this.slotFor(inc.from);
    if (!slot.current) slot.current = rec;
    else {
      if (slot.pending) out.superseded = slot.pending.s;
      slot.pending = rec;
    }
    const evicted = this.halfOpen.admit(s, inc.from.address, now);
    if (evicted !== undefined && evicted !== out.superseded) out.evicted = evicted;
    return out;
  }

  /** The session finished its handshake and authentication. `identity` is what a float compares (the client
   *  certificate's hash; undefined without a certificate). Returns the session it replaced at its address (a
   *  client restart), which the caller closes. */
  established(s: S, identity: string | undefined): S | undefined {
    const rec = this.recs.get(s);
    if (!rec) return undefined;
    rec.established = true;
    rec.identity = identity;
    this.halfOpen.delete(s);
    const slot = this.slotAt(rec.addr);
    if (!slot || slot.pending !== rec) return undefined;
    const old = slot.current;
    slot.current = rec;
    slot.pending = undefined;
    return old?.s;
  }

  /** A data packet of `s` from `from` (a `moved` data event) decrypted: may the session float there? */
  authenticated(s: S, from: PeerAddr): FloatResult<S> {
    const rec = this.recs.get(s);
    if (!rec || !rec.established) return { t: 'stay' };
    if (rec.addr.port === from.port && rec.addr.address === from.address) return { t: 'stay' };
    const holder = this.slotAt(from)?.current;
    const closes: S[] = [];
    if (holder && holder !== rec) {
      if (holder.identity !== rec.identity || !holder.established) return { t: 'refused', reason: 'float to an address held by another client' };
      closes.push(holder.s);
    }
    this.leaveSlot(rec);
    rec.addr = { address: from.address, port: from.port };
    this.slotFor(rec.addr).current = rec;
    return { t: 'floated', closes };
  }

  /** Forgets a closed session (UDP or TCP): its address, its peer-id, its half-open entry. */
  closed(s: S): void {
    const id = this.peerIdOf.get(s);
    if (id !== undefined) {
      this.peerIdOf.delete(s);
      this.peerIds.delete(id);
      this.udpByPeerId.delete(id);
    }
    this.halfOpen.delete(s);
    const rec = this.recs.get(s);
    if (!rec) return;
    this.recs.delete(s);
    this.leaveSlot(rec);
  }

  /** A peer-id for `s`, unique among live sessions; a UDP session's DATA_V2 packets route by it from now on. */
  allocatePeerId(s: S): number {
    const had = this.peerIdOf.get(s);
    if (had !== undefined) return had;
    for (let i = 0; i < PEER_ID_LIMIT; i++) {
      const id = (this.nextPeerId + i) % PEER_ID_LIMIT;
      if (this.peerIds.has(id)) continue;
      this.nextPeerId = id + 1;
      this.peerIds.set(id, s);
      this.peerIdOf.set(s, id);
      const rec = this.recs.get(s);
      if (rec) this.udpByPeerId.set(id, rec);
      return id;
    }
    throw new Error('out of peer ids');
  }

  // ---- getters ------------------------------------------------------------------------------------------------

  /** Where a UDP session's packets go. */
  addressOf(s: S): PeerAddr | undefined { return this.recs.get(s)?.addr; }
  /** The live session at an address (not a restart in progress). */
  sessionAt(from: PeerAddr): S | undefined { return this.slotAt(from)?.current?.s; }
  /** UDP sessions, live or half-open. */
  get size(): number { return this.recs.size; }
  get halfOpenCount(): number { return this.halfOpen.size; }
  /** Addresses with a session (for bounds checks). */
  get addressCount(): number { return this.slots; }

  private slotAt(a: PeerAddr): Slot<S> | undefined { return this.byAddr.get(a.address)?.get(a.port); }

  private slotFor(a: PeerAddr): Slot<S> {
    let ports = this.byAddr.get(a.address);
    if (!ports) { ports = new Map(); this.byAddr.set(a.address, ports); }
    let slot = ports.get(a.port);
    if (!slot) { slot = {}; ports.set(a.port, slot); this.slots++; }
    return slot;
  }

  private leaveSlot(rec: Rec<S>): void {
    const ports = this.byAddr.get(rec.addr.address);
    const slot = ports?.get(rec.addr.port);
    if (!ports || !slot) return;
    if (slot.current === rec) { slot.current = slot.pending; slot.pending = undefined; }
    else if (slot.pending === rec) slot.pending = undefined;
    if (slot.current || slot.pending) return;
    ports.delete(rec.addr.port);
    this.slots--;
    if (ports.size === 0) this.byAddr.delete(rec.addr.address);
  }
}
