export interface BackoffOptions {
  /** First delay after a lost connection. */
  initialMs: number;
  /** Ceiling, so a station back after a long outage is found within this time. */
  maxMs: number;
  factor: number;
  /** Fraction of the delay randomised, so many pages do not reconnect in the same instant. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.2 };

/** Delay before reconnect attempt number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, attempt));
  const spread = base * options.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}
