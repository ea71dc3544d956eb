// Compiled (never run) by `npm run build`: the typed subscriptions must accept what the schemas say
// and reject what they do not. Each @ts-expect-error fails the build if its line stops being an error.
import WebSocket from "ws";
import { PasserelleClient, type CardEvent, type ScanEvent, type WebSocketConstructor } from "../src/index.js";

const client = new PasserelleClient({ token: "t", WebSocket });

client.on("scan", (scan) => {
  const typed: ScanEvent = scan;
  const gtin: string | null | undefined = scan.data.gtin;
  // @ts-expect-error a scan has no slot
  void scan.data.slot;
  void typed, gtin;
});

client.on("card", (card) => {
  const typed: CardEvent = card;
  // @ts-expect-error a card event is not a scan
  const wrong: ScanEvent = card;
  void typed, wrong;
});

// @ts-expect-error an event kind the schemas do not define
client.on("barcode", () => undefined);

const health: Promise<{ status: string }> = client.request<{ status: string }>("health");
void health;

// The browser's own WebSocket (lib.dom) fits the constructor type as `ws` does.
const browserWebSocket: WebSocketConstructor = globalThis.WebSocket;
void browserWebSocket;
