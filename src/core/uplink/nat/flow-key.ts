// A flow is (protocol, client address, client port, destination address, destination port). The table is keyed
// by a 52-bit hash of that tuple (a number, no per-packet string); the entry keeps the tuple to detect collisions.
export interface FlowKey {
  proto: number;
  clientIp: number;
  clientPort: number;
  dstIp: number;
  dstPort: number;
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
    && a.dstIp === b.dstIp && a.dstPort === b.dstPort;
}
