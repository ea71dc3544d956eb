/**
 * Where the client keeps the id of the last event it delivered, so a reloaded page or a restarted
 * process resumes from there (`since=`) instead of missing what happened meanwhile.
 */
export interface ResumeStorage {
  load(): string | null | undefined | Promise<string | null | undefined>;
  save(eventId: string): void | Promise<void>;
}

/** Keeps nothing beyond the process: resume works across reconnects, not across reloads. */
export function memoryStorage(initial?: string): ResumeStorage {
  let last = initial ?? null;
  return {
    load: () => last,
    save: (eventId) => {
      last = eventId;
    },
  };
}

interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The browser's localStorage (or any object with getItem/setItem) under one key. */
export function webStorage(key = "passerelle.lastEventId", store?: KeyValueStore): ResumeStorage {
  const target = store ?? (globalThis as { localStorage?: KeyValueStore }).localStorage;
  if (!target) throw new TypeError("no localStorage here: pass a store");
  return {
    load: () => target.getItem(key),
    save: (eventId) => target.setItem(key, eventId),
  };
}
