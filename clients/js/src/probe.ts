/** What `GET /api/probe` says: the daemon is there, its version, whether `/api` wants a token. */
export interface ProbeResult {
  service: string;
  version: string;
  token_required: boolean;
}

/** The probe's URL for a daemon address given as ws(s):// or http(s)://. */
export function probeUrl(address: string): string {
  const url = new URL(address);
  if (url.protocol === "ws:") url.protocol = "http:";
  if (url.protocol === "wss:") url.protocol = "https:";
  url.pathname = "/api/probe";
  url.search = "";
  return url.toString();
}

/**
 * Asks the daemon's probe. In Chrome this is also what asks the Local Network Access permission
 * before a public page opens a socket to loopback. Resolves null when the daemon cannot be reached —
 * or, in a browser, when this page's origin is not allowed (CORS hides the answer).
 */
export async function probe(address = "ws://127.0.0.1:8733", timeoutMs = 3_000): Promise<ProbeResult | null> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(probeUrl(address), { signal: controller.signal });
    return response.ok ? ((await response.json()) as ProbeResult) : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
