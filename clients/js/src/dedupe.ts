/**
 * The event ids delivered recently, oldest forgotten first. The daemon delivers at least once
 * (a resume from a stale position replays what was already seen), so callbacks must see each id once.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError("dedupe capacity must be positive");
  }

  /** True the first time an id is offered, false for a repeat. */
  admit(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // A Set iterates in insertion order: the first value is the oldest id.
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
