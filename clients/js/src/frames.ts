import { EVENT_SCHEMAS, type EventMap } from "./generated/index.js";

/** One WebSocket frame, in both directions: a topic below the station's base topic and its JSON. */
export interface Frame {
  topic: string;
  payload: unknown;
}

/** What every event payload has in common (the envelope of docs/mqtt.md). */
export interface EventEnvelope {
  schema: string;
  event_id: string;
}

/** The answer on `bridge/response/<cmd>`. */
export interface ResponsePayload {
  status: "ok" | "error";
  data?: unknown;
  error?: { code: string; message: string } | null;
  transaction?: unknown;
}

export type EventKind = keyof EventMap;

const kindBySchema = new Map<string, EventKind>(
  (Object.entries(EVENT_SCHEMAS) as [EventKind, string][]).map(([kind, schema]) => [schema, kind]),
);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The frame, or null when the text is not a `{topic, payload}` object. */
export function parseFrame(text: string): Frame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value.topic !== "string" || !("payload" in value)) return null;
  return { topic: value.topic, payload: value.payload };
}

export function asEvent(payload: unknown): EventEnvelope | null {
  if (!isObject(payload)) return null;
  const { schema, event_id: eventId } = payload;
  return typeof schema === "string" && typeof eventId === "string" ? (payload as unknown as EventEnvelope) : null;
}

/** The kind of a known schema ("passerelle.scan/1" → "scan"); null for a schema this build does not know. */
export function kindOf(schema: string): EventKind | null {
  return kindBySchema.get(schema) ?? null;
}

export const RESPONSE_PREFIX = "bridge/response/";

export function asResponse(payload: unknown): ResponsePayload | null {
  if (!isObject(payload) || (payload.status !== "ok" && payload.status !== "error")) return null;
  return payload as unknown as ResponsePayload;
}
