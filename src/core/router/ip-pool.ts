// Client addresses of `server NET MASK` in each topology, as OpenVPN 2.6 hands them out. The server takes NET+1.
//   subnet  one address each from NET+2 … broadcast-1; pushed "ifconfig IP NETMASK"
//   net30   one /30 each from NET+4 (NET+0 … NET+3 is the server's): the client takes its second host address, the
//           first is its peer; pushed "ifconfig IP PEER"; the last /30 stays free below a /29, as 2.6 does
//   p2p     one address each from NET+4 … broadcast-4 (/29: broadcast); pushed "ifconfig IP NET+1"
// An explicit range (ifconfig-pool START END) replaces the default one. Addresses are uint32 numbers.
export type Topology = 'subnet' | 'net30' | 'p2p';

export interface PoolOptions {
  topology?: Topology;
  /** ifconfig-pool START END; null = no dynamic pool (server … nopool): addresses come from ifconfig-push only. */
  range?: { start: number; end: number } | null;
  /** At most this many slots (an IPv6 pool beside this one has room for no more: 2.6 uses the smaller size). */
  maxSlots?: number;
}

export class IpPool {
  readonly serverIp: number;
  readonly broadcast: number;
  readonly topology: Topology;
  private readonly used = new Set<number>();
  private readonly first: number;
  private readonly last: number;
  private readonly step: number;

  constructor(readonly network: number, readonly netmask: number, opts: PoolOptions = {}) {
    this.network = (network & netmask) >>> 0;
    this.broadcast = (this.network | (~netmask >>> 0)) >>> 0;
    this.topology = opts.topology ?? 'subnet';
    if (this.broadcast - this.network < 3) throw new Error('the server subnet is too small (need at least a /30)');
    if (this.topology !== 'subnet' && this.broadcast - this.network < 7) throw new Error(`topology ${this.topology} needs at least a /29`);
    this.serverIp = this.network + 1;
    this.step = this.topology === 'net30' ? 4 : 1;
    const reserve = this.broadcast - this.network === 7 ? 0 : 4;
    let start = this.topology === 'subnet' ? this.network + 2 : this.network + 4;
    let end = this.topology === 'subnet' ? this.broadcast - 1 : this.broadcast - reserve;
    if (opts.range === null) { start = 1; end = 0; }
    else if (opts.range) ({ start, end } = opts.range);
    if (this.topology === 'net30' && opts.range !== null) {
      // Slots are whole /30s: the client address of each is its base + 2.
      start = ((start & ~3) >>> 0) + 2;
      end = ((end & ~3) >>> 0) + 2;
    }
    if (opts.maxSlots !== undefined && end >= start) end = Math.min(end, start + (opts.maxSlots - 1) * this.step);
    this.first = start;
    this.last = end;
  }

  get size(): number { return this.last < this.first ? 0 : Math.floor((this.last - this.first) / this.step) + 1; }
  get inUse(): number { return this.used.size; }

  contains(ip: number): boolean { return ((ip & this.netmask) >>> 0) === this.network; }
  /** An address the dynamic pool hands out. */
  isClientAddress(ip: number): boolean {
    return ip >= this.first && ip <= this.last && (ip - this.first) % this.step === 0;
  }
  /** The slot of a dynamic pool address (its IPv6 address is the IPv6 pool's slot of the same number). */
  indexOf(ip: number): number { return (ip - this.first) / this.step; }
  isFree(ip: number): boolean { return this.isClientAddress(ip) && !this.used.has(this.key(ip)); }

  /**
   * Whether `ip` may be given to a client by ifconfig-push: inside the server's network, not its network, broadcast
   * or own addresses (net30 and p2p: NET … NET+3), a host address of its /30 in net30, and not in use.
   */
  isAssignable(ip: number): boolean {
    if (!this.contains(ip) || ip === this.network || ip === this.broadcast || ip === this.serverIp) return false;
    if (this.topology !== 'subnet' && ip < this.network + 4) return false;
    if (this.topology === 'net30' && (ip & 3) !== 1 && (ip & 3) !== 2) return false;
    return !this.used.has(this.key(ip));
  }

  /** Takes `preferred` when it is free, otherwise the lowest free address that `avoid` does not reject (addresses
   *  remembered for other clients), otherwise the lowest free address; undefined when the pool is full. */
  allocate(preferred?: number, avoid?: (ip: number) => boolean): number | undefined {
    if (preferred !== undefined && this.isFree(preferred)) return this.take(preferred);
    if (avoid) {
      for (let ip = this.first; ip <= this.last; ip += this.step) {
        if (!this.used.has(this.key(ip)) && !avoid(ip)) return this.take(ip);
      }
    }
    for (let ip = this.first; ip <= this.last; ip += this.step) {
      if (!this.used.has(this.key(ip))) return this.take(ip);
    }
    return undefined;
  }

  /** Marks an ifconfig-push address in use (see isAssignable). */
  assign(ip: number): number { return this.take(ip); }

  release(ip: number): void { this.used.delete(this.key(ip)); }

  /** The second word of the client's pushed "ifconfig IP X": its netmask (subnet) or its peer address. */
  ifconfigPeer(ip: number, pushedMask = this.netmask): number {
    if (this.topology === 'subnet') return pushedMask;
    if (this.topology === 'p2p') return this.serverIp;
    return (ip & 3) === 2 ? ip - 1 : ip + 1;
  }

  /** The address ifconfig-pool-persist stores for a client: 2.6 writes a net30 client's /30 base, else the address. */
  persistedAddress(ip: number): number { return this.topology === 'net30' ? (ip & ~3) >>> 0 : ip; }
  /** The client address a stored one stands for (any address of a /30 names it in net30). */
  fromPersisted(addr: number): number { return this.topology === 'net30' ? ((addr & ~3) >>> 0) + 2 : addr; }

  private key(ip: number): number { return this.topology === 'net30' ? (ip & ~3) >>> 0 : ip; }
  private take(ip: number): number { this.used.add(this.key(ip)); return ip; }
}
