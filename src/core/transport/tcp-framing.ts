// OpenVPN over TCP: every packet is preceded by its u16 length (openvpn-protocol.md §1).
// The deframer keeps the leftover bytes of a partial packet until the rest arrives.
export const MAX_TCP_PACKET = 8192;

export class TcpDeframer {
  private buf: Buffer = Buffer.alloc(0);

  /** Returns the complete packets in `chunk` (plus leftovers), or an error for an impossible length. */
  push(chunk: Buffer): Buffer[] | { error: string } {
    const data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const packets: Buffer[] = [];
    let off = 0;
    while (data.length - off >= 2) {
      const len = data.readUInt16BE(off);
      if (len === 0 || len > MAX_TCP_PACKET) return { error: `bad packet length ${len}` };
      if (data.length - off - 2 < len) break;
      packets.push(data.subarray(off + 2, off + 2 + len));
      off += 2 + len;
    }
    // Copy the tail so the (possibly large) chunk it came from can be freed.
    this.buf = off === data.length ? EMPTY : Buffer.from(data.subarray(off));
    return packets;
  }

  get buffered(): number { return this.buf.length; }
}

/** The u16 length that precedes a packet of `len` bytes on a TCP link. */
export function lengthPrefix(len: number): Buffer {
  const hdr = Buffer.allocUnsafe(2);
  hdr.writeUInt16BE(len, 0);
  return hdr;
}

/** One framed packet in a single buffer (tests, tools); the server writes prefix and pieces without copying. */
export function frame(packet: Buffer): Buffer {
  return Buffer.concat([lengthPrefix(packet.length), packet]);
}

const EMPTY = Buffer.alloc(0);
