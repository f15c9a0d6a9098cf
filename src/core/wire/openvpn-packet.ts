// OpenVPN control-packet codec (openvpn-protocol.md §1, §2.1). Works on the *plain* layout, i.e. after
// tls-auth / tls-crypt unwrapping:
//   op<<3|key_id (1) | own session id (8) | n_acks (1) | acks (4 each) | [peer session id (8) if n_acks>0]
//   | [message packet-id (4), absent in P_ACK_V1] | payload
export const Op = {
  HARD_RESET_CLIENT_V1: 1,
  HARD_RESET_SERVER_V1: 2,
  SOFT_RESET_V1: 3,
  CONTROL_V1: 4,
  ACK_V1: 5,
  DATA_V1: 6,
  HARD_RESET_CLIENT_V2: 7,
  HARD_RESET_SERVER_V2: 8,
  DATA_V2: 9,
  HARD_RESET_CLIENT_V3: 10,
  CONTROL_WKC_V1: 11,
} as const;
export type Opcode = (typeof Op)[keyof typeof Op];

export const SESSION_ID_LEN = 8;
export const MAX_ACKS = 8;

export interface ControlPacket {
  opcode: number;
  keyId: number;
  sessionId: Buffer;
  acks: number[];
  /** Present exactly when acks is non-empty: the session id of the side being acknowledged. */
  peerSessionId?: Buffer;
  /** Absent for P_ACK_V1. */
  packetId?: number;
  payload: Buffer;
}

export type ParseError = { error: string };

export function opcodeOf(firstByte: number): number { return firstByte >>> 3; }
export function keyIdOf(firstByte: number): number { return firstByte & 7; }
export function isDataOpcode(op: number): boolean { return op === Op.DATA_V1 || op === Op.DATA_V2; }
export function isControlOpcode(op: number): boolean { return op >= 3 && op <= 11 && !isDataOpcode(op); }

export function parseControl(buf: Buffer): ControlPacket | ParseError {
  if (buf.length < 1 + SESSION_ID_LEN + 1) return { error: 'short control packet' };
  const opcode = opcodeOf(buf[0]);
  if (!isControlOpcode(opcode)) return { error: `opcode ${opcode} is not a control opcode` };
  const keyId = keyIdOf(buf[0]);
  const sessionId = buf.subarray(1, 9);
  const nAcks = buf[9];
  if (nAcks > MAX_ACKS) return { error: `${nAcks} acks (max ${MAX_ACKS})` };
  let off = 10;
  const acks: number[] = [];
  let peerSessionId: Buffer | undefined;
  if (nAcks > 0) {
    if (buf.length < off + 4 * nAcks + SESSION_ID_LEN) return { error: 'truncated ack block' };
    for (let i = 0; i < nAcks; i++, off += 4) acks.push(buf.readUInt32BE(off));
    peerSessionId = buf.subarray(off, off + SESSION_ID_LEN);
    off += SESSION_ID_LEN;
  }
  let packetId: number | undefined;
  if (opcode !== Op.ACK_V1) {
    if (buf.length < off + 4) return { error: 'missing message packet-id' };
    packetId = buf.readUInt32BE(off);
    off += 4;
  }
  return { opcode, keyId, sessionId, acks, peerSessionId, packetId, payload: buf.subarray(off) };
}

export function controlLength(p: ControlPacket): number {
  return 10 + (p.acks.length > 0 ? 4 * p.acks.length + SESSION_ID_LEN : 0) +
    (p.opcode === Op.ACK_V1 ? 0 : 4) + p.payload.length;
}

export function emitControl(p: ControlPacket): Buffer {
  const out = Buffer.allocUnsafe(controlLength(p));
  out[0] = (p.opcode << 3) | (p.keyId & 7);
  p.sessionId.copy(out, 1, 0, SESSION_ID_LEN);
  out[9] = p.acks.length;
  let off = 10;
  if (p.acks.length > 0) {
    for (const a of p.acks) { out.writeUInt32BE(a >>> 0, off); off += 4; }
    if (!p.peerSessionId) throw new Error('emitControl: acks need peerSessionId');
    p.peerSessionId.copy(out, off, 0, SESSION_ID_LEN);
    off += SESSION_ID_LEN;
  }
  if (p.opcode !== Op.ACK_V1) { out.writeUInt32BE((p.packetId ?? 0) >>> 0, off); off += 4; }
  p.payload.copy(out, off);
  return out;
}

export function isParseError<T extends object>(v: T | ParseError): v is ParseError {
  return 'error' in v;
}
