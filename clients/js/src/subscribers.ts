/** Where a failing callback is reported; the client counts it and carries on. */
export type CallbackErrorHandler = (error: unknown, topic: string) => void;

/** Callbacks by key. A callback that throws is reported and does not stop the others. */
export class Subscribers<T> {
  private readonly byKey = new Map<string, Set<(value: T, topic: string) => void>>();

  constructor(private readonly onError: CallbackErrorHandler) {}

  add(key: string, callback: (value: T, topic: string) => void): () => void {
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(callback);
    return () => set.delete(callback);
  }

  emit(key: string, value: T, topic: string): void {
    for (const callback of this.byKey.get(key) ?? []) {
      try {
        callback(value, topic);
      } catch (error) {
        // One page bug must not starve the other subscribers, nor the client's own bookkeeping.
        this.onError(error, topic);
      }
    }
  }
}

/** A request's transaction id: unique per client, nothing derived from patient data. */
export function newTransactionId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
