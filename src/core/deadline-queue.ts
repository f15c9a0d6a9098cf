// Deadlines in one binary min-heap (the NAT's flows, the driver's machines), so one timer at the earliest serves them
// all. Entries are never removed: an item carries the deadline it is queued for, and an entry whose time no longer
// matches it is stale and skipped when it reaches the top. Parallel arrays, no object per entry.
export interface Deadlined {
  /** The deadline this item is queued for; Infinity when it is not queued. Only DeadlineQueue writes it. */
  queuedAt: number;
}

export class DeadlineQueue<T extends Deadlined> {
  private readonly ats: number[] = [];
  private readonly items: T[] = [];

  get size(): number { return this.ats.length; }

  /**
   * Make sure `item` is due no later than `at`. A deadline that is already queued earlier stays (waking early is
   * harmless: the owner finds nothing due and re-arms), so an item is pushed again only when it moves earlier.
   */
  arm(item: T, at: number): void {
    if (item.queuedAt <= at) return;
    item.queuedAt = at;
    this.push(at, item);
  }

  /** Forget the item's deadline (its heap entry, if any, goes stale). */
  disarm(item: T): void { item.queuedAt = Infinity; }

  /** The earliest live deadline, or undefined. Stale entries at the top are dropped on the way. */
  next(): number | undefined {
    this.dropStale();
    return this.ats.length > 0 ? this.ats[0] : undefined;
  }

  /** Remove and return the earliest item due at `now`, or undefined. The item is no longer queued. */
  popDue(now: number): T | undefined {
    this.dropStale();
    if (this.ats.length === 0 || this.ats[0]! > now) return undefined;
    const item = this.items[0]!;
    this.pop();
    item.queuedAt = Infinity;
    return item;
  }

  clear(): void {
    for (const it of this.items) it.queuedAt = Infinity;
    this.ats.length = 0;
    this.items.length = 0;
  }

  private dropStale(): void {
    while (this.ats.length > 0 && this.items[0]!.queuedAt !== this.ats[0]) this.pop();
  }

  private push(at: number, item: T): void {
    const ats = this.ats, items = this.items;
    let i = ats.length;
    ats.push(at);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ats[parent]! <= at) break;
      ats[i] = ats[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    ats[i] = at;
    items[i] = item;
  }

  private pop(): void {
    const ats = this.ats, items = this.items;
    const lastAt = ats.pop()!;
    const lastItem = items.pop()!;
    const n = ats.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && ats[r]! < ats[l]! ? r : l;
      if (ats[c]! >= lastAt) break;
      ats[i] = ats[c]!;
      items[i] = items[c]!;
      i = c;
    }
    ats[i] = lastAt;
    items[i] = lastItem;
  }
}
