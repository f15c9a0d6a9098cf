// The IPv6 pool beside the IPv4 one, as OpenVPN 2.6 keeps it (pool.c): one pool of slots, the IPv4 address of slot
// i and its IPv6 address base+i handed out together. `server-ipv6 NET/BITS` sets base NET+0x1000 (NET+2 for a /112
// or longer), the server itself takes NET+1; `ifconfig-ipv6-pool BASE/BITS` gives the base itself. A base whose
// host part is all zero starts one higher. Prefixes of /112 and longer hold 2^(128-BITS) - base slots; a shorter
// one is never the smaller pool (2.6 counts it as 65536).
import { addToAddr, addrKey, inPrefix, type Ipv6Net } from '../wire/ipv6.js';

/** What 2.6 counts an IPv6 pool shorter than /112 as (IFCONFIG_POOL_MAX). */
const LARGE_POOL = 65536;

export class Ipv6Pool {
  /** The first client address (slot 0); undefined without a dynamic pool. */
  readonly base: Buffer | undefined;
  /** Slots the IPv6 side has room for (0 without a dynamic pool). */
  readonly size: number;
  /** Addresses given by ifconfig-ipv6-push (static), hex-keyed, with the client holding each. */
  private readonly statics = new Map<string, object>();

  /**
   * `server`: the server's address; `network`: its prefix, whose length is pushed with every pool address;
   * `pool`: the dynamic pool's first address and prefix (ifconfig-ipv6-pool), if any.
   */
  constructor(readonly server: Buffer, readonly network: Ipv6Net, pool?: Ipv6Net) {
    if (!pool) { this.base = undefined; this.size = 0; return; }
    let b: Buffer = Buffer.from(pool.addr);
    const host = Math.min(32, 128 - pool.bits);
    const low = host === 32 ? b.readUInt32BE(12) : b.readUInt32BE(12) & ((2 ** host) - 1);
    if (low === 0) b = addToAddr(b, 1);
    this.base = b;
    this.size = pool.bits >= 112 ? 2 ** (128 - pool.bits) - (low === 0 ? 1 : low) : LARGE_POOL;
  }

  get bits(): number { return this.network.bits; }
  get hasPool(): boolean { return this.base !== undefined; }

  /** The client address of slot `index` (the IPv4 pool's slot), or undefined beyond the IPv6 side. */
  addressAt(index: number): Buffer | undefined {
    return this.base && index >= 0 && index < this.size ? addToAddr(this.base, index) : undefined;
  }

  contains(a: Uint8Array): boolean { return inPrefix(a, 0, this.network); }

  /** Whether ifconfig-ipv6-push may give `a`: not the server's address, not another client's static one. */
  isAssignable(a: Buffer): boolean {
    return !a.equals(this.server) && !this.statics.has(addrKey(a));
  }

  assign(a: Buffer, owner: object): void { this.statics.set(addrKey(a), owner); }
  release(a: Buffer, owner: object): void {
    const k = addrKey(a);
    if (this.statics.get(k) === owner) this.statics.delete(k);
  }
}
