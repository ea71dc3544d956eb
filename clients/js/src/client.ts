import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
import { RecentIds } from "./dedupe.js";
import { ConnectError, NotConnectedError, RequestError, RequestTimeoutError } from "./errors.js";
import {
  asEvent,
  asResponse,
  kindOf,
  parseFrame,
  RESPONSE_PREFIX,
  type EventEnvelope,
  type EventKind,
  type Frame,
} from "./frames.js";
import type { EventMap } from "./generated/index.js";
import { probe } from "./probe.js";
import type { ResumeStorage } from "./storage.js";
import { newTransactionId, Subscribers, type CallbackErrorHandler } from "./subscribers.js";

/**
 * The part of the WebSocket API the client uses: the browser's, Node 22's, or the `ws` package's.
 * Their event classes differ, so the handlers take `any` (a narrower type would make one of the three
 * unassignable); the client reads only `data`, `code` and `message`, checking each.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** The daemon's address, e.g. "ws://127.0.0.1:8733" (http/https are accepted and mapped to ws/wss). */
  url?: string;
  token: string;
  /** Needed in Node < 22, which has no global WebSocket: e.g. `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Keeps the last delivered event id so a new client resumes from it. */
  storage?: ResumeStorage;
  /** Resume after this event id on the first connection (wins over the storage). */
  since?: string;
  backoff?: Partial<BackoffOptions>;
  /** A connection open this long resets the backoff; shorter ones (accepted, then dropped) do not. */
  stableAfterMs?: number;
  /** How many recent event ids are remembered to drop repeats. */
  dedupeWindow?: number;
  requestTimeoutMs?: number;
  /** Called when one of your callbacks throws or the storage fails (default: console.error). */
  onError?: CallbackErrorHandler;
}

export type ConnectionStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface ClientStats {
  framesReceived: number;
  eventsDelivered: number;
  duplicatesDropped: number;
  /** Frames that were not `{topic, payload}` JSON: counted, never thrown at the page. */
  malformedFrames: number;
  /** Callbacks that threw: reported through `onError`; the other callbacks still ran. */
  callbackErrors: number;
  /** Failed saves of the resume position: the events were delivered all the same. */
  storageErrors: number;
  connections: number;
}

interface PendingRequest {
  command: string;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;
const COMMAND_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export class PasserelleClient {
  private readonly options: ClientOptions;
  private readonly backoff: BackoffOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly recent: RecentIds;
  private readonly reportCallbackError: CallbackErrorHandler = (error, topic) => {
    this.stats.callbackErrors += 1;
    this.report(error, topic);
  };
  private readonly events = new Subscribers<EventEnvelope>(this.reportCallbackError);
  private readonly topics = new Subscribers<unknown>(this.reportCallbackError);
  private readonly statuses = new Subscribers<ConnectionStatus>(this.reportCallbackError);
  private readonly pending = new Map<string, PendingRequest>();
  private socket: WebSocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = false;
  private resumeFrom: string | null = null;
  private currentStatus: ConnectionStatus = "closed";
  readonly stats: ClientStats = {
    framesReceived: 0,
    eventsDelivered: 0,
    duplicatesDropped: 0,
    malformedFrames: 0,
    callbackErrors: 0,
    storageErrors: 0,
    connections: 0,
  };

  constructor(options: ClientOptions) {
    this.options = options;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) throw new TypeError("no global WebSocket here (Node < 22): pass options.WebSocket, e.g. from 'ws'");
    this.WebSocketImpl = impl;
    this.recent = new RecentIds(options.dedupeWindow ?? 10_000);
  }

  /** Id of the last event delivered to the callbacks; the next connection resumes after it. */
  get lastEventId(): string | null {
    return this.resumeFrom;
  }

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /**
   * Opens the first connection. Rejects with ConnectError when it fails (daemon down, token or
   * origin refused); once a connection has been open, later losses are retried with backoff.
   */
  async connect(): Promise<void> {
    if (this.socket || this.retryTimer) throw new ConnectError("already connected: call close() first");
    this.stopped = false;
    this.resumeFrom = this.options.since ?? (await this.options.storage?.load()) ?? this.resumeFrom;
    await new Promise<void>((resolve, reject) => this.open({ resolve, reject }));
  }

  /** Subscribes to one event kind; the callback gets the typed event. Returns the unsubscribe function. */
  on<K extends EventKind>(kind: K, callback: (event: EventMap[K], topic: string) => void): () => void {
    return this.events.add(kind, callback as (event: EventEnvelope, topic: string) => void);
  }

  /** Every event of every kind, including schemas newer than this build. */
  onEvent(callback: (event: EventEnvelope, topic: string) => void): () => void {
    return this.events.add("*", callback);
  }

  /** One topic below the base (e.g. "bridge/health", "<device>/availability"), or "*" for all frames. */
  onTopic(topic: string, callback: (payload: unknown, topic: string) => void): () => void {
    return this.topics.add(topic, callback);
  }

  onStatus(callback: (status: ConnectionStatus) => void): () => void {
    return this.statuses.add("*", callback);
  }

  /** Sends `bridge/request/<command>` and resolves with the response's `data`. */
  request<T = unknown>(command: string, payload: Record<string, unknown> = {}, timeoutMs?: number): Promise<T> {
    // The daemon answers a malformed command name on bridge/error without our transaction: refuse
    // it here rather than let it run into the timeout.
    if (!COMMAND_NAME.test(command)) {
      return Promise.reject(new RequestError(command, "malformed_request", "command names are [a-z0-9][a-z0-9_-]{0,63}"));
    }
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return Promise.reject(new NotConnectedError("not connected"));
    const transaction = newTransactionId();
    const limit = timeoutMs ?? this.options.requestTimeoutMs ?? 5_000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new RequestTimeoutError(command, limit));
      }, limit);
      this.pending.set(transaction, { command, resolve: resolve as (data: unknown) => void, reject, timer });
      const frame: Frame = { topic: `bridge/request/${command}`, payload: { ...payload, transaction } };
      socket.send(JSON.stringify(frame));
    });
  }

  /** Drops the connection and opens a new one, resuming after `since` (default: the last delivered id). */
  reconnect(options: { since?: string } = {}): void {
    if (options.since !== undefined) this.resumeFrom = options.since;
    this.socket?.close(1000, "reconnect");
  }

  close(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket?.close(1000, "client closed");
    this.socket = null;
    this.setStatus("closed");
  }

  private url(): string {
    const base = new URL(this.options.url ?? "ws://127.0.0.1:8733");
    if (base.protocol === "http:") base.protocol = "ws:";
    if (base.protocol === "https:") base.protocol = "wss:";
    base.pathname = "/api";
    base.search = "";
    base.searchParams.set("token", this.options.token);
    if (this.resumeFrom) base.searchParams.set("since", this.resumeFrom);
    return base.toString();
  }

  private open(first?: { resolve: () => void; reject: (error: Error) => void }): void {
    this.setStatus(first ? "connecting" : "reconnecting");
    const socket = new this.WebSocketImpl(this.url());
    this.socket = socket;
    let opened = false;
    let openedAt = 0;
    let failure = "";
    socket.onopen = () => {
      opened = true;
      openedAt = Date.now();
      this.stats.connections += 1;
      this.setStatus("open");
      first?.resolve();
    };
    socket.onmessage = (event: { data: unknown }) => this.receive(event.data);
    socket.onerror = (event: unknown) => {
      // Browsers hide the HTTP status of a refused upgrade; Node's `ws` puts it in the message.
      const message = (event as { message?: unknown }).message;
      failure = typeof message === "string" ? message : "connection failed";
    };
    socket.onclose = (event: { code: number }) => {
      if (this.socket === socket) this.socket = null;
      this.failPending(`connection closed (${event.code})`);
      if (!opened && first) {
        this.stopped = true;
        this.setStatus("closed");
        void this.explainRefusal(failure, event.code).then((reason) => first.reject(new ConnectError(reason)));
        return;
      }
      if (this.stopped) return;
      if (opened && Date.now() - openedAt >= (this.options.stableAfterMs ?? 5_000)) this.attempt = 0;
      this.scheduleReconnect();
    };
  }

  /** Browsers hide why an upgrade failed; the probe tells a stopped daemon from a refusal. */
  private async explainRefusal(failure: string, code: number): Promise<string> {
    if (failure.includes("401")) return `${failure}: wrong token`;
    if (failure.includes("403")) return `${failure}: this origin is not in web.allowed_origins`;
    const answer = await probe(this.options.url ?? "ws://127.0.0.1:8733");
    if (answer) return `refused by Passerelle ${answer.version}: wrong token (${code})`;
    return `daemon not reachable, or this page's origin is not allowed (${failure || code})`;
  }

  private scheduleReconnect(): void {
    this.setStatus("reconnecting");
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  private receive(data: unknown): void {
    this.stats.framesReceived += 1;
    const frame = parseFrame(typeof data === "string" ? data : String(data));
    if (!frame) {
      this.stats.malformedFrames += 1;
      return;
    }
    if (frame.topic.startsWith(RESPONSE_PREFIX)) {
      const response = asResponse(frame.payload);
      const pending = typeof response?.transaction === "string" ? this.pending.get(response.transaction) : undefined;
      if (response && pending && typeof response.transaction === "string") {
        this.pending.delete(response.transaction);
        clearTimeout(pending.timer);
        if (response.status === "ok") pending.resolve(response.data);
        else pending.reject(new RequestError(pending.command, response.error?.code ?? "unknown", response.error?.message ?? ""));
      }
    }
    const event = asEvent(frame.payload);
    if (event) {
      if (!this.recent.admit(event.event_id)) {
        this.stats.duplicatesDropped += 1;
        return;
      }
      this.resumeFrom = event.event_id;
      this.saveResumePoint(event.event_id);
      this.stats.eventsDelivered += 1;
      const kind = kindOf(event.schema);
      if (kind) this.events.emit(kind, event, frame.topic);
      this.events.emit("*", event, frame.topic);
    }
    this.topics.emit(frame.topic, frame.payload, frame.topic);
    this.topics.emit("*", frame.payload, frame.topic);
  }

  private saveResumePoint(eventId: string): void {
    const storage = this.options.storage;
    if (!storage) return;
    const failed = (error: unknown) => {
      this.stats.storageErrors += 1;
      this.report(error, "storage");
    };
    try {
      // A full localStorage or a failing async store must not hold back the event itself.
      void Promise.resolve(storage.save(eventId)).catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  private report(error: unknown, topic: string): void {
    if (this.options.onError) this.options.onError(error, topic);
    else console.error(`passerelle client: ${topic}:`, error);
  }

  private failPending(reason: string): void {
    for (const [transaction, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new NotConnectedError(`${pending.command}: ${reason}`));
      this.pending.delete(transaction);
    }
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.statuses.emit("*", status, "");
  }
}


