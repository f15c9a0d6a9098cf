// Address pool for `server NET MASK` in topology subnet: the server takes .1, clients get the rest
// (network and broadcast addresses excluded). Addresses are uint32 numbers.
export class IpPool {
  readonly serverIp: number;
  readonly broadcast: number;
  private readonly used = new Set<number>();
  private readonly first: number;
  private readonly last: number;

  constructor(readonly network: number, readonly netmask: number) {
    this.network = (network & netmask) >>> 0;
    this.broadcast = (this.network | (~netmask >>> 0)) >>> 0;
    if (this.broadcast - this.network < 3) throw new Error('the server subnet is too small (need at least a /30)');
    this.serverIp = this.network + 1;
    this.first = this.network + 2;
    this.last = this.broadcast - 1;
  }

  get size(): number { return this.last - this.first + 1; }
  get inUse(): number { return this.used.size; }

  contains(ip: number): boolean { return ((ip & this.netmask) >>> 0) === this.network; }
  isClientAddress(ip: number): boolean { return ip >= this.first && ip <= this.last; }
  isFree(ip: number): boolean { return this.isClientAddress(ip) && !this.used.has(ip); }

  /** Takes `preferred` when it is free, otherwise the lowest free address that `avoid` does not reject (addresses
   *  remembered for other clients), otherwise the lowest free address; undefined when the pool is full. */
  allocate(preferred?: number, avoid?: (ip: number) => boolean): number | undefined {
    if (preferred !== undefined && this.isFree(preferred)) { this.used.add(preferred); return preferred; }
    if (this.used.size >= this.size) return undefined;
    if (avoid) {
      for (let ip = this.first; ip <= this.last; ip++) {
        if (!this.used.has(ip) && !avoid(ip)) { this.used.add(ip); return ip; }
      }
    }
    for (let ip = this.first; ip <= this.last; ip++) {
      if (!this.used.has(ip)) { this.used.add(ip); return ip; }
    }
    return undefined;
  }

  release(ip: number): void { this.used.delete(ip); }
}
