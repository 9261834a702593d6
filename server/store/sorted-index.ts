/** Ids kept sorted by (time, id): newest-first pages with a `before` cursor in O(log n + page). */
export class TimeIndex {
  private readonly entries: { at: number; id: string }[] = [];

  get size(): number {
    return this.entries.length;
  }

  insert(at: number, id: string): void {
    this.entries.splice(this.lowerBound(at, id), 0, { at, id });
  }

  remove(at: number, id: string): void {
    const i = this.lowerBound(at, id);
    const entry = this.entries[i];
    if (entry && entry.at === at && entry.id === id) this.entries.splice(i, 1);
  }

  /** Ids with time < before (all when undefined), newest first, at most `limit`. */
  newestFirst(limit: number, before?: number): string[] {
    let i = before === undefined ? this.entries.length : this.lowerBound(before, '');
    const out: string[] = [];
    while (i > 0 && out.length < limit) {
      i -= 1;
      const entry = this.entries[i];
      if (entry) out.push(entry.id);
    }
    return out;
  }

  private lowerBound(at: number, id: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid];
      if (e && (e.at < at || (e.at === at && e.id < id))) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
