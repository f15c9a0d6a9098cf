// The data channel's outgoing packet ids (TLS mode: a 32-bit counter from 1, never reused; renegotiate before it
// runs out).
const PID_MAX = 0xffffffff;
/** OpenVPN renegotiates once the send counter reaches this (packet_id_close_to_wrapping). */
export const PID_REKEY_THRESHOLD = 0xff000000;

export class SendPacketId {
  private next: number;

  /** `first`: the first id to send (default 1); for test fixtures. */
  constructor(first = 1) {
    if (!Number.isInteger(first) || first < 1 || first > PID_MAX) throw new RangeError(`initial packet id ${first}`);
    this.next = first;
  }

  /** Next packet id to send. */
  get peek(): number { return this.next; }
  /** True once the caller should start a renegotiation (OpenVPN: send counter at 0xFF000000). */
  get needsRekey(): boolean { return this.next >= PID_REKEY_THRESHOLD; }

  /** The id for the packet being sealed; past 0xFFFFFFFF it throws: rekey well before. */
  take(): number {
    const pid = this.next;
    if (pid > PID_MAX) throw new Error('data channel packet id space exhausted; renegotiate');
    this.next = pid + 1;
    return pid;
  }
}
