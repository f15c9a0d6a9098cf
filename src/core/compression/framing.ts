// The compression framing of data-channel payloads (openvpn-protocol.md §6.4), one kind per OpenVPN setting:
//   lzo-stub  comp-lzo no                 0xFA before the packet
//   lzo       comp-lzo [yes|adaptive], compress lzo      0xFA, or 0x66 before LZO1X data
//   stub      compress, compress stub     0xFB in place of the first byte, which moves to the end
//   lz4       compress lz4                0xFB as stub, or 0x69 before LZ4 data (first byte moved the same way)
//   stub-v2   compress stub-v2            nothing, unless the packet starts with 0x50: then 0x50 0x00 before it
//   lz4-v2    compress lz4-v2             as stub-v2, or 0x50 0x01 before LZ4 data
// nanovpn never compresses what it sends (OpenVPN 2.6 does only under `allow-compression yes`), and it decompresses
// what a client compressed whenever the framing has an algorithm (2.6 does under `asym`, its default once a
// compression option is set).
import { lz4Decompress } from './lz4.js';
import { lzo1xDecompress } from './lzo1x.js';

export type Framing = 'none' | 'lzo-stub' | 'lzo' | 'stub' | 'lz4' | 'stub-v2' | 'lz4-v2';

const NO_COMPRESS = 0xfa;
const NO_COMPRESS_SWAP = 0xfb;
const LZO_COMPRESSED = 0x66;
const LZ4_COMPRESSED = 0x69;
const V2_INDICATOR = 0x50;
const V2_UNCOMPRESSED = 0x00;
const V2_LZ4 = 0x01;
const FA = Buffer.from([NO_COMPRESS]);

/** Why a payload could not be unframed: a header byte this framing never sends, or compressed data that is corrupt. */
export type UnframeError = 'framing' | 'decompress';

/** `payload` as this framing sends it (uncompressed). May return `payload` itself. */
export function frame(framing: Framing, payload: Buffer): Buffer {
  if (payload.length === 0) return payload;
  switch (framing) {
    case 'none': return payload;
    case 'lzo-stub': case 'lzo': return Buffer.concat([FA, payload]);
    case 'stub': case 'lz4': {
      const out = Buffer.allocUnsafe(payload.length + 1);
      payload.copy(out, 0);
      out[payload.length] = payload[0];
      out[0] = NO_COMPRESS_SWAP;
      return out;
    }
    case 'stub-v2': case 'lz4-v2': {
      if (payload[0] !== V2_INDICATOR) return payload;
      const out = Buffer.allocUnsafe(payload.length + 2);
      out[0] = V2_INDICATOR;
      out[1] = V2_UNCOMPRESSED;
      payload.copy(out, 2);
      return out;
    }
  }
}

/**
 * The packet inside a received payload, decompressed if the client compressed it (at most `max` bytes). The swapped
 * framings are undone in place: `payload` is the caller's to give up.
 */
export function unframe(framing: Framing, payload: Buffer, max: number): Buffer | UnframeError {
  const n = payload.length;
  if (n === 0 || framing === 'none') return payload;
  const head = payload[0];
  switch (framing) {
    case 'lzo-stub':
      return head === NO_COMPRESS ? payload.subarray(1) : 'framing';
    case 'lzo':
      if (head === NO_COMPRESS) return payload.subarray(1);
      if (head === LZO_COMPRESSED) return lzo1xDecompress(payload.subarray(1), max) ?? 'decompress';
      return 'framing';
    case 'stub': case 'lz4': {
      if (head !== NO_COMPRESS_SWAP && (framing === 'stub' || head !== LZ4_COMPRESSED)) return 'framing';
      payload[0] = payload[n - 1];
      const inner = payload.subarray(0, n - 1);
      if (head === NO_COMPRESS_SWAP) return inner;
      return lz4Decompress(inner, max) ?? 'decompress';
    }
    case 'stub-v2': case 'lz4-v2': {
      if (head !== V2_INDICATOR) return payload;
      if (n === 1) return payload.subarray(1);
      const kind = payload[1];
      if (kind === V2_UNCOMPRESSED) return payload.subarray(2);
      if (kind === V2_LZ4 && framing === 'lz4-v2') return lz4Decompress(payload.subarray(2), max) ?? 'decompress';
      return 'framing';
    }
  }
}

/** Whether the framing can carry compressed packets (needs `allow-compression` other than `no` in OpenVPN 2.6). */
export function hasAlgorithm(framing: Framing): boolean {
  return framing === 'lzo' || framing === 'lz4' || framing === 'lz4-v2';
}
