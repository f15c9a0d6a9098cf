// A client's first packet, before any session exists (openvpn-protocol.md §4.5, §2.4), for UDP and TCP alike:
//   wire ─▶ opcode / key id checks ─▶ verify (no replay state) ─▶ parse
//        ─▶ a client reset (both transports) or, on UDP only, the client's answer to our cookie reset
// Verification is wrap.peek for tls-auth / tls-crypt / plain packets. A tls-crypt-v2 packet (HARD_RESET_CLIENT_V3,
// CONTROL_WKC_V1) first has its trailing WKc opened with the server key (WkcOpener: a forged WKc allocates
// nothing), then the packet is peeked with a wrap of the client key Kc found inside, which lives only for this call.
// Neither changes any state, so a forged packet leaves nothing behind. The packet goes through the new session's
// own wrap (unwrap, replay window) only once the session is created.
import { type ClientKey, metadataTimestamp, wkcStart, type WkcOpener } from '../crypto/tls-crypt-v2.js';
import type { ControlWrap } from '../session/control-wrap.js';
import { isParseError, keyIdOf, Op, opcodeOf, parseControl } from '../wire/openvpn-packet.js';

/** Why a first packet was refused (also the log and metrics reason). */
export type FirstPacketDrop =
  | 'empty packet'
  | 'first packet with a nonzero key id'
  | 'tls-crypt-v2 is not configured'
  | 'client without tls-crypt-v2 (the server requires it)'
  | 'tls-crypt-v2 client key failed verification'
  | 'tls-crypt-v2 client key too old or without a timestamp'
  | 'unexpected first packet'
  | 'packet failed tls-auth/tls-crypt verification'
  | 'malformed first packet'
  | 'client reset with a nonzero packet id';

/** The server's tls-crypt-v2 side. */
export interface TlsCryptV2Keys {
  opener: WkcOpener;
  /** Server-side tls-crypt with a client's Kc (clientKeyWrap): for the session, or for the cookie reset. */
  wrapFor(kc: Buffer, use: 'session' | 'reply'): ControlWrap;
  /** tls-crypt-v2-max-age in days: older keys, and keys without a timestamp, are refused. */
  maxAgeDays?: number;
}

export type FirstPacket =
  /** P_CONTROL_HARD_RESET_CLIENT_V2 (or V3) with key id 0 and message packet-id 0. */
  | { kind: 'reset'; clientSid: Buffer; tlsCryptV2?: TlsCryptV2Reset }
  /** UDP: P_ACK_V1, P_CONTROL_V1 or P_CONTROL_WKC_V1 from a client without a session; `cookie` is the peer session
   *  id it acknowledges, which must be the cookie our stateless reset carried. */
  | { kind: 'echo'; clientSid: Buffer; cookie: Buffer | undefined; clientKey?: ClientKey };

export interface TlsCryptV2Reset {
  clientKey: ClientKey;
  /** The replay packet-id says the client does early negotiation (2.6+): it resends its WKc on request. */
  earlyNegotiation: boolean;
}

const refusals = new Map<FirstPacketDrop, { readonly drop: FirstPacketDrop }>();
/** Refusals are shared constants, one per reason: a flood's packets allocate none. */
function refuse(reason: FirstPacketDrop): { readonly drop: FirstPacketDrop } {
  let r = refusals.get(reason);
  if (!r) { r = Object.freeze({ drop: reason }); refusals.set(reason, r); }
  return r;
}

const SECONDS_PER_DAY = 86400;
/** The replay packet-id's top byte has these bits set when early negotiation TLVs may follow (EARLY_NEG_START). */
const EARLY_NEG_BITS = 0x0f;
const REPLAY_PID_OFFSET = 9;

/** Vets and parses a client's first packet. `wrap` verifies tls-auth / tls-crypt / plain packets (undefined: the
 *  server has tls-crypt-v2 only); `v2` tls-crypt-v2 packets; `unixSec` is the time tls-crypt-v2-max-age compares.
 *  `accept` 'reset' (TCP) takes only a client reset; 'reset-or-echo' (UDP) also takes the packet that answers the
 *  stateless cookie reset. The session ids returned are views into `wire` or its decrypted copy: copy them to keep
 *  them past the packet. Never throws on peer input. */
export function vetFirstPacket(
  wire: Buffer, wrap: ControlWrap | undefined, accept: 'reset' | 'reset-or-echo', v2?: TlsCryptV2Keys, unixSec = 0,
): FirstPacket | { readonly drop: FirstPacketDrop } {
  if (wire.length < 1) return refuse('empty packet');
  const op = opcodeOf(wire[0]);
  if (keyIdOf(wire[0]) !== 0) return refuse('first packet with a nonzero key id');
  const reset = op === Op.HARD_RESET_CLIENT_V2 || op === Op.HARD_RESET_CLIENT_V3;
  const echo = op === Op.ACK_V1 || op === Op.CONTROL_V1 || op === Op.CONTROL_WKC_V1;
  if (!reset && !(echo && accept === 'reset-or-echo')) return refuse('unexpected first packet');
  let plain: Buffer | undefined;
  let clientKey: ClientKey | undefined;
  if (op === Op.HARD_RESET_CLIENT_V3 || op === Op.CONTROL_WKC_V1) {
    if (!v2) return refuse('tls-crypt-v2 is not configured');
    const start = wkcStart(wire);
    clientKey = start === undefined ? undefined : v2.opener.open(wire, start);
    if (!clientKey) return refuse('tls-crypt-v2 client key failed verification');
    if (v2.maxAgeDays !== undefined) {
      const born = metadataTimestamp(clientKey.metadata);
      if (born === undefined || unixSec - born > v2.maxAgeDays * SECONDS_PER_DAY) return refuse('tls-crypt-v2 client key too old or without a timestamp');
    }
    plain = v2.wrapFor(clientKey.kc, 'reply').peek(wire);
  } else {
    if (!wrap) return refuse('client without tls-crypt-v2 (the server requires it)');
    plain = wrap.peek(wire);
  }
  if (!plain) return refuse('packet failed tls-auth/tls-crypt verification');
  const pkt = parseControl(plain);
  if (isParseError(pkt)) return refuse('malformed first packet');
  if (reset) {
    if (pkt.packetId !== 0) return refuse('client reset with a nonzero packet id');
    if (!clientKey) return { kind: 'reset', clientSid: pkt.sessionId };
    const earlyNegotiation = ((wire[REPLAY_PID_OFFSET]! & EARLY_NEG_BITS) === EARLY_NEG_BITS);
    return { kind: 'reset', clientSid: pkt.sessionId, tlsCryptV2: { clientKey, earlyNegotiation } };
  }
  if (!clientKey) return { kind: 'echo', clientSid: pkt.sessionId, cookie: pkt.peerSessionId };
  return { kind: 'echo', clientSid: pkt.sessionId, cookie: pkt.peerSessionId, clientKey };
}
