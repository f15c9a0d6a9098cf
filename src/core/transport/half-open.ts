// Half-open connections: accepted, but not yet past their TLS handshake and authentication (sans-IO; `now` is an
// argument and never goes backwards between calls).
//   io: accept          → admit(key, addr, now) → a connection to close at once (the cap is full), or nothing
//   io: established     → delete(key)           (no longer half-open: max-clients governs it from here)
//   io: socket closed   → delete(key)
//   io: at nextDeadline() → expire(now) → the connections whose hand-window ran out: close them
//
// Two rules keep a slow attacker (slowloris: many connections, one byte now and then) from holding the door shut:
//
// 1. The hand-window is an absolute deadline counted from accept, as OpenVPN's is (the key state's must_negotiate
//    is set when the TCP instance is created). Bytes arriving do not extend it, so a connection that dribbles a
//    byte every second is closed at hand-window like an idle one.
//
// 2. Half-open connections have a cap of their own, and reaching it never refuses the new connection: it evicts
//    the oldest half-open connection of the source address that holds the most of them. Refusing the newcomer is
//    what locked every client out in issue 11 (a flood holding the cap refuses each legitimate client, for as long
//    as it keeps reconnecting). Evicting the globally oldest connection instead protects a client only from slow
//    floods: a flood that reconnects faster than cap-per-handshake-time evicts the client mid-handshake. Taking the
//    victim from the heaviest address means a flood from few addresses only ever evicts its own connections,
//    whatever its rate; a flood from many addresses with one connection each gets exactly "oldest first", where a
//    client that finishes its handshake before `cap` newer connections arrive survives. Ties between equally heavy
//    addresses go to the one whose oldest connection is oldest. An IPv6 "address" here is its /64 (sourceGroup):
//    one host usually holds a whole /64, so per-address counting would let it pose as 2^64 light addresses.
//
// Costs: admit, delete and expire are O(1) per connection, except an eviction while the heaviest addresses hold two
// or more connections each, which scans those addresses (at most cap / 2).

/** Half-open connections allowed at once when the config sets no other bound: a handshake in progress is a client
 *  about to count against max-clients, so max-clients of them lets every client reconnect at once (a server
 *  restart); the floor keeps a few concurrent handshakes for a tiny max-clients. */
export function halfOpenCapFor(maxClients: number): number {
  return Math.max(maxClients, HALF_OPEN_CAP_FLOOR);
}
export const HALF_OPEN_CAP_FLOOR = 16;

/** What the cap counts as one source: an IPv4 address (also written IPv4-mapped, ::ffff:a.b.c.d), or an IPv6
 *  address's /64 written as its first four groups ("2001:db8:0:1::/64"). Text that is neither stays as it is. */
export function sourceGroup(address: string): string {
  if (!address.includes(':')) return address;
  let a = address.toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const halves = a.split('::');
  if (halves.length > 2) return address;
  const split = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const head = split(halves[0]!);
  const tail = halves.length === 2 ? split(halves[1]!) : [];
  // A dotted IPv4 tail takes the room of two groups.
  const width = (g: string[]): number => g.length + (g.length > 0 && g[g.length - 1]!.includes('.') ? 1 : 0);
  const fill = halves.length === 2 ? 8 - width(head) - width(tail) : 0;
  if (fill < 0) return address;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail];
  if (groups.length === 7 && groups.slice(0, 5).every((g) => /^0+$/.test(g)) && groups[5] === 'ffff' && groups[6]!.includes('.')) {
    return groups[6]!;   // ::ffff:a.b.c.d
  }
  const prefix = groups.slice(0, 4).map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16).toString(16) : g));
  if (prefix.length < 4) return address;
  return `${prefix.join(':')}::/64`;
}

export interface HalfOpenOptions {
  /** hand-window in milliseconds: how long a connection may stay half-open from its admission. */
  windowMs: number;
  /** The most half-open connections at once (at least 1). */
  cap: number;
}

interface Entry<K> { readonly key: K; readonly addr: string; readonly deadline: number; readonly seq: number }

export class HalfOpenTracker<K> {
  /** Admission order, which is also deadline order (now never decreases). */
  private readonly entries = new Map<K, Entry<K>>();
  /** Per source address, its half-open connections in admission order. */
  private readonly byAddr = new Map<string, Map<K, Entry<K>>>();
  /** Addresses by how many half-open connections they hold. */
  private readonly byCount = new Map<number, Set<string>>();
  private maxCount = 0;
  private seq = 0;
  private readonly windowMs: number;
  private readonly cap: number;

  constructor(opts: HalfOpenOptions) {
    if (!(opts.windowMs > 0)) throw new RangeError(`half-open window ${opts.windowMs} ms`);
    if (!(Number.isInteger(opts.cap) && opts.cap >= 1)) throw new RangeError(`half-open cap ${opts.cap}`);
    this.windowMs = opts.windowMs;
    this.cap = opts.cap;
  }

  /** Tracks a newly accepted connection from `addr`, due to settle by now + window. When the cap is already
   *  reached, one half-open connection leaves to make room and is returned: the caller closes it. Admitting a key
   *  that is already tracked is a programmer error. */
  admit(key: K, address: string, now: number): K | undefined {
    if (this.entries.has(key)) throw new Error('half-open connection admitted twice');
    const addr = sourceGroup(address);
    const victim = this.entries.size >= this.cap ? this.victim() : undefined;
    if (victim !== undefined) this.delete(victim);
    const e: Entry<K> = { key, addr, deadline: now + this.windowMs, seq: this.seq++ };
    this.entries.set(key, e);
    let mine = this.byAddr.get(addr);
    if (!mine) { mine = new Map(); this.byAddr.set(addr, mine); }
    this.move(addr, mine.size, mine.size + 1);
    mine.set(key, e);
    return victim;
  }

  /** Stops tracking a connection (it passed its handshake, or it closed). False if it was not tracked. */
  delete(key: K): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    this.entries.delete(key);
    const mine = this.byAddr.get(e.addr)!;
    mine.delete(key);
    this.move(e.addr, mine.size + 1, mine.size);
    if (mine.size === 0) this.byAddr.delete(e.addr);
    return true;
  }

  /** The connections whose hand-window ended at or before `now`, oldest first; they are no longer tracked. */
  expire(now: number): K[] {
    const out: K[] = [];
    for (const e of this.entries.values()) {
      if (e.deadline > now) break;
      out.push(e.key);
    }
    for (const k of out) this.delete(k);
    return out;
  }

  /** When expire() next has work; undefined when nothing is half-open. */
  nextDeadline(): number | undefined {
    for (const e of this.entries.values()) return e.deadline;
    return undefined;
  }

  has(key: K): boolean { return this.entries.has(key); }
  get size(): number { return this.entries.size; }
  /** Half-open connections from one address (for tests and metrics). */
  countFrom(addr: string): number { return this.byAddr.get(addr)?.size ?? 0; }

  /** The oldest connection of the heaviest address (ties: the address whose oldest connection is oldest). */
  private victim(): K | undefined {
    if (this.maxCount <= 1) {
      // Every address holds one connection: the oldest of them is the oldest overall.
      for (const e of this.entries.values()) return e.key;
      return undefined;
    }
    let best: Entry<K> | undefined;
    for (const addr of this.byCount.get(this.maxCount)!) {
      const first = this.byAddr.get(addr)!.values().next().value as Entry<K>;
      if (!best || first.seq < best.seq) best = first;
    }
    return best?.key;
  }

  /** Moves `addr` from the bucket of addresses holding `from` connections to the one holding `to` (0 = none). */
  private move(addr: string, from: number, to: number): void {
    if (from > 0) {
      const b = this.byCount.get(from)!;
      b.delete(addr);
      if (b.size === 0) this.byCount.delete(from);
    }
    if (to > 0) {
      let b = this.byCount.get(to);
      if (!b) { b = new Set(); this.byCount.set(to, b); }
      b.add(addr);
    }
    if (to > this.maxCount) this.maxCount = to;
    else if (from === this.maxCount && !this.byCount.has(from)) this.maxCount = to;
  }
}
