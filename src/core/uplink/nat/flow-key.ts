// A flow is (protocol, client address, client port, destination address, destination port). The table is keyed
// by a 52-bit hash of that tuple (a number, no per-packet string); the entry keeps the tuple to detect collisions.
// An IPv6 flow keeps its two addresses in `v6`; its clientIp and dstIp are 32-bit digests of them (fold6), so the
// hash and the IPv4 fast path stay the same.
export interface FlowKey {
  proto: number;
  clientIp: number;
  clientPort: number;
  dstIp: number;
  dstPort: number;
  /** IPv6 flows: the client's and the destination's addresses (16 bytes each). Undefined for IPv4. */
  v6?: { client: Buffer; dst: Buffer };
}

/** A 32-bit digest of an IPv6 address for the hash (the full addresses are compared by sameKey). */
export function fold6(a: Uint8Array, off = 0): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) h = mix(h, ((a[off + i] << 24) | (a[off + i + 1] << 16) | (a[off + i + 2] << 8) | a[off + i + 3]) >>> 0);
  return fmix(h);
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x5bd1e995);
  return (h ^ (h >>> 15)) >>> 0;
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Seeded (per table, random in production) so that clients cannot aim for collisions. */
export function flowHash(k: FlowKey, seed: number): number {
  const ports = ((k.clientPort << 16) | k.dstPort) >>> 0;
  let a = mix(seed ^ k.proto, k.clientIp);
  a = fmix(mix(mix(a, k.dstIp), ports));
  let b = mix(~seed ^ (k.proto << 8), ports);
  b = fmix(mix(mix(b, k.clientIp), k.dstIp));
  return (a & 0xfffff) * 0x100000000 + b;
}

export function sameKey(a: FlowKey, b: FlowKey): boolean {
  return a.proto === b.proto && a.clientIp === b.clientIp && a.clientPort === b.clientPort
    && a.dstIp === b.dstIp && a.dstPort === b.dstPort
    && (a.v6 === b.v6 || (a.v6 !== undefined && b.v6 !== undefined && a.v6.client.equals(b.v6.client) && a.v6.dst.equals(b.v6.dst)));
}
