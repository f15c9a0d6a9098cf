// Conntrack-style flow table: an LRU (lru-cache) keyed by the flow hash, with a per-flow idle timeout (TTL), a
// global cap (the LRU's max: the least recently used flow is evicted) and a per-client quota. At quota, the
// client's oldest unassured flow (UDP never answered, TCP not yet established) makes room, like conntrack's
// early drop; when every flow of the client is assured the new flow is refused.
// Time is passed in by the caller (`now`, ms, monotonic); nothing here arms a timer: call sweep(now) regularly.
import { LRUCache } from 'lru-cache';
import { newFlowCounters, type FlowCounters } from './counters.js';
import { flowHash, sameKey, type FlowKey } from './flow-key.js';

export interface FlowEntry {
  readonly key: FlowKey;
  /** The tunnel address of the client the flow belongs to: key.clientIp, or its gateway's for a host behind it. */
  readonly owner: number;
  /** Set by the table on insert. */
  hash: number;
  /** An answer came back (UDP) / the handshake completed (TCP): protected from early drop. */
  assured: boolean;
}

export type RemoveReason = 'evicted' | 'expired' | 'closed';

export interface FlowTableOptions<F extends FlowEntry> {
  maxFlows: number;
  perClientFlows: number;
  /** Called once for every flow that leaves the table, after the table is consistent again. */
  onRemove: (flow: F, reason: RemoveReason) => void;
  seed?: number;
}

interface ClientFlows<F> {
  all: Set<F>;
  /** Insertion-ordered: the first is the oldest early-drop candidate. */
  unassured: Set<F>;
  counters: FlowCounters;
}

export type InsertResult = 'ok' | 'quota' | 'collision';

export class FlowTable<F extends FlowEntry> {
  private readonly cache: LRUCache<number, F>;
  private readonly clients = new Map<number, ClientFlows<F>>();
  private readonly seed: number;
  readonly total: FlowCounters = newFlowCounters();
  private clock = 0;
  /** Reason for the next dispose of reason 'delete' (explicit removals). */
  private deleting: RemoveReason = 'closed';

  constructor(private readonly opts: FlowTableOptions<F>) {
    this.seed = opts.seed ?? 0x9e3779b9;
    this.cache = new LRUCache<number, F>({
      max: opts.maxFlows,
      ttl: 1,  // every entry gets its own TTL on set(); this only switches TTL tracking on
      ttlResolution: 0,  // no cached clock (that would arm a timer)
      updateAgeOnGet: true,
      // lru-cache treats a start time of 0 as "no TTL": keep the clock it sees above zero.
      perf: { now: () => this.clock + 1 },
      disposeAfter: (flow, _key, reason) => {
        if (reason === 'set') return;  // same flow re-set with a new TTL
        this.forget(flow, reason === 'evict' ? 'evicted' : reason === 'expire' ? 'expired' : this.deleting);
      },
    });
  }

  get size(): number { return this.cache.size; }

  hashOf(key: FlowKey): number { return flowHash(key, this.seed); }

  /** The live flow for key (refreshing its idle timer), or undefined. */
  lookup(key: FlowKey, now: number): F | undefined {
    this.clock = now;
    const f = this.cache.get(this.hashOf(key));
    return f && sameKey(f.key, key) ? f : undefined;
  }

  /** Look up without refreshing the idle timer. */
  peek(key: FlowKey): F | undefined {
    const f = this.cache.peek(this.hashOf(key));
    return f && sameKey(f.key, key) ? f : undefined;
  }

  /** Add a new flow with idle timeout `ttl` (ms). May evict the client's oldest unassured flow to make room. */
  insert(flow: F, ttl: number, now: number): InsertResult {
    this.clock = now;
    flow.hash = this.hashOf(flow.key);
    // get(), not peek(): a stale entry under this hash is expired (and reported) now instead of being overwritten.
    if (this.cache.get(flow.hash)) return 'collision';  // same hash, different tuple (or the caller forgot lookup)
    const c = this.client(flow.owner);
    if (c.all.size >= this.opts.perClientFlows) {
      const victim = c.unassured.values().next();
      if (victim.done) return 'quota';
      this.remove(victim.value, 'evicted');
    }
    c.all.add(flow);
    if (!flow.assured) c.unassured.add(flow);
    c.counters.flowsCreated++;
    c.counters.flowsOpen++;
    this.total.flowsCreated++;
    this.total.flowsOpen++;
    this.cache.set(flow.hash, flow, { ttl });
    return 'ok';
  }

  /** Change a flow's idle timeout (e.g. a TCP state change) and refresh it. */
  setTtl(flow: F, ttl: number, now: number): void {
    this.clock = now;
    if (this.cache.peek(flow.hash) !== flow) return;
    this.cache.set(flow.hash, flow, { ttl });
  }

  /** Mark a flow assured (no longer an early-drop candidate). */
  assure(flow: F): void {
    if (flow.assured) return;
    flow.assured = true;
    this.clients.get(flow.owner)?.unassured.delete(flow);
  }

  remove(flow: F, reason: RemoveReason = 'closed'): void {
    // allowStale: a flow past its timeout that no sweep has met yet is still ours to remove.
    if (this.cache.peek(flow.hash, { allowStale: true }) !== flow) return;
    const prev = this.deleting;
    this.deleting = reason;
    this.cache.delete(flow.hash);
    this.deleting = prev;
  }

  /** Every flow of one client (a snapshot). */
  flowsOf(clientIp: number): F[] {
    const c = this.clients.get(clientIp);
    return c ? [...c.all] : [];
  }

  removeClient(clientIp: number): void {
    for (const f of this.flowsOf(clientIp)) this.remove(f, 'closed');
    this.clients.delete(clientIp);
  }

  /** Expire idle flows. */
  sweep(now: number): void {
    this.clock = now;
    this.cache.purgeStale();
  }

  /** All live flows (a snapshot). */
  flows(): F[] { return [...this.cache.values()]; }

  clientCounters(clientIp: number): FlowCounters | undefined { return this.clients.get(clientIp)?.counters; }

  /** Per-client counters, creating them (for traffic accounting before a flow exists). */
  countersFor(clientIp: number): FlowCounters { return this.client(clientIp).counters; }

  clientIps(): number[] { return [...this.clients.keys()]; }

  private client(ip: number): ClientFlows<F> {
    let c = this.clients.get(ip);
    if (!c) {
      c = { all: new Set(), unassured: new Set(), counters: newFlowCounters() };
      this.clients.set(ip, c);
    }
    return c;
  }

  private forget(flow: F, why: RemoveReason): void {
    const c = this.clients.get(flow.owner);
    if (c && c.all.delete(flow)) {
      c.unassured.delete(flow);
      c.counters.flowsOpen--;
      bump(c.counters, why);
    }
    this.total.flowsOpen--;
    bump(this.total, why);
    this.opts.onRemove(flow, why);
  }
}

function bump(c: FlowCounters, why: RemoveReason): void {
  if (why === 'evicted') c.flowsEvicted++;
  else if (why === 'expired') c.flowsExpired++;
  else c.flowsClosed++;
}
