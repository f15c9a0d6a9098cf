// A tls-crypt-v2 session's control wrap: tls-crypt with the client's own key Kc (openvpn-protocol.md §2.4). The
// client appends its WKc to P_CONTROL_HARD_RESET_CLIENT_V3 and P_CONTROL_WKC_V1; once the session has Kc, the WKc
// of a later (resent) one is cut off unread, as OpenVPN 2.6 does, and the packet is unwrapped like any other.
import { wkcStart } from '../crypto/tls-crypt-v2.js';
import { Op, opcodeOf } from '../wire/openvpn-packet.js';
import { type ControlWrap, tlsCryptWrap, type WrapOptions } from './control-wrap.js';

function withoutWkc(wire: Buffer): Buffer | undefined {
  if (wire.length < 1) return undefined;
  const op = opcodeOf(wire[0]!);
  if (op !== Op.HARD_RESET_CLIENT_V3 && op !== Op.CONTROL_WKC_V1) return wire;
  const start = wkcStart(wire);
  return start === undefined ? undefined : wire.subarray(0, start);
}

/** The server side of tls-crypt with Kc (256 bytes); its unwrap and peek take packets with or without a WKc. */
export function clientKeyWrap(kc: Buffer, opts: WrapOptions = {}): ControlWrap {
  const inner = tlsCryptWrap(kc, 'server', opts);
  return {
    overhead: inner.overhead,
    wrap: (plain, nowMs) => inner.wrap(plain, nowMs),
    unwrap(wire, nowMs) {
      const p = withoutWkc(wire);
      return p && inner.unwrap(p, nowMs);
    },
    peek(wire) {
      const p = withoutWkc(wire);
      return p && inner.peek(p);
    },
  };
}
