// A client's first packet, before any session exists (openvpn-protocol.md §4.5), for UDP and TCP alike:
//   wire ─▶ opcode / key id checks ─▶ wrap.peek (tls-auth/tls-crypt verify, no replay state) ─▶ parse
//        ─▶ a client reset (both transports) or, on UDP only, the client's answer to our cookie reset
// One shared wrap vets every unauthenticated first packet: peek changes no state, so a forged packet costs one
// HMAC and leaves nothing behind. The packet goes through the new session's own wrap (unwrap, replay window) only
// once the session is created.
import type { ControlWrap } from '../session/control-wrap.js';
import { isParseError, keyIdOf, Op, opcodeOf, parseControl } from '../wire/openvpn-packet.js';

/** Why a first packet was refused (also the log and metrics reason). */
export type FirstPacketDrop =
  | 'empty packet'
  | 'first packet with a nonzero key id'
  | 'tls-crypt-v2 is not supported'
  | 'unexpected first packet'
  | 'packet failed tls-auth/tls-crypt verification'
  | 'malformed first packet'
  | 'client reset with a nonzero packet id';

export type FirstPacket =
  /** P_CONTROL_HARD_RESET_CLIENT_V2 with key id 0 and message packet-id 0. */
  | { kind: 'reset'; clientSid: Buffer }
  /** UDP: P_ACK_V1, P_CONTROL_V1 or P_CONTROL_WKC_V1 from a client without a session; `cookie` is the peer session
   *  id it acknowledges, which must be the cookie our stateless reset carried. */
  | { kind: 'echo'; clientSid: Buffer; cookie: Buffer | undefined };

const refusals = new Map<FirstPacketDrop, { readonly drop: FirstPacketDrop }>();
/** Refusals are shared constants, one per reason: a flood's packets allocate none. */
function refuse(reason: FirstPacketDrop): { readonly drop: FirstPacketDrop } {
  let r = refusals.get(reason);
  if (!r) { r = Object.freeze({ drop: reason }); refusals.set(reason, r); }
  return r;
}

/** Vets and parses a client's first packet with `wrap.peek`. `accept` 'reset' (TCP) takes only a client reset;
 *  'reset-or-echo' (UDP) also takes the packet that answers the stateless cookie reset. The session ids returned
 *  are views into `wire` or its decrypted copy: copy them to keep them past the packet. Never throws on peer input. */
export function vetFirstPacket(wire: Buffer, wrap: ControlWrap, accept: 'reset' | 'reset-or-echo'): FirstPacket | { readonly drop: FirstPacketDrop } {
  if (wire.length < 1) return refuse('empty packet');
  const op = opcodeOf(wire[0]);
  if (keyIdOf(wire[0]) !== 0) return refuse('first packet with a nonzero key id');
  if (op === Op.HARD_RESET_CLIENT_V3) return refuse('tls-crypt-v2 is not supported');
  const echo = op === Op.ACK_V1 || op === Op.CONTROL_V1 || op === Op.CONTROL_WKC_V1;
  if (op !== Op.HARD_RESET_CLIENT_V2 && !(echo && accept === 'reset-or-echo')) return refuse('unexpected first packet');
  const plain = wrap.peek(wire);
  if (!plain) return refuse('packet failed tls-auth/tls-crypt verification');
  const pkt = parseControl(plain);
  if (isParseError(pkt)) return refuse('malformed first packet');
  if (op === Op.HARD_RESET_CLIENT_V2) {
    if (pkt.packetId !== 0) return refuse('client reset with a nonzero packet id');
    return { kind: 'reset', clientSid: pkt.sessionId };
  }
  return { kind: 'echo', clientSid: pkt.sessionId, cookie: pkt.peerSessionId };
}
