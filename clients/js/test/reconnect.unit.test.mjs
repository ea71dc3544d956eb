// Reconnect logic against a tiny in-test WebSocket server (unit level only: the daemon tests cover
// the real endpoint). The server records each connection's query and drops the connection on demand.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, test } from "node:test";
import WebSocket, { WebSocketServer } from "ws";

import { ConnectError, memoryStorage, NotConnectedError, PasserelleClient } from "../dist/index.js";
import { waitFor } from "./station.mjs";

const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await once(server, "listening");
const url = `ws://127.0.0.1:${server.address().port}`;
const connections = [];
server.on("connection", (socket, request) => {
  const query = new URL(request.url, "http://x").searchParams;
  connections.push({ socket, token: query.get("token"), since: query.get("since"), at: Date.now() });
});
after(() => server.close());

const event = (id, raw) => JSON.stringify({
  topic: "scan",
  payload: { schema: "passerelle.scan/1", event_id: id, data: { raw } },
});

test("after a drop the client reconnects with backoff, resuming after the last delivered id", { timeout: 30_000 }, async (t) => {
  connections.length = 0;
  const storage = memoryStorage("stored-0");
  const client = new PasserelleClient({
    url,
    token: "secret",
    WebSocket,
    storage,
    backoff: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0 },
  });
  t.after(() => client.close());
  const raws = [];
  client.on("scan", (e) => raws.push(e.data.raw));
  const statuses = [];
  client.onStatus((s) => statuses.push(s));
  await client.connect();
  assert.equal(connections[0].token, "secret");
  assert.equal(connections[0].since, "stored-0", "the first connection resumes from the storage");

  connections[0].socket.send(event("id-1", "A"));
  connections[0].socket.send(event("id-2", "B"));
  await waitFor(() => raws.length === 2, 2_000, "two events");
  assert.equal(await storage.load(), "id-2");
  const pending = client.request("ping", {}, 5_000);
  connections[0].socket.terminate();
  await assert.rejects(pending, NotConnectedError, "a request in flight fails when its connection drops");

  await waitFor(() => connections.length === 2, 2_000, "the reconnection");
  assert.equal(connections[1].since, "id-2");
  // Connections dropped right after opening, in a row, back off: 100 ms, 200 ms, then 400 ms.
  server.once("connection", (socket) => socket.terminate());
  connections[1].socket.terminate();
  await waitFor(() => connections.length === 4, 3_000, "two more attempts");
  const gap = connections[3].at - connections[2].at;
  assert.ok(gap >= 380, `third retry after ${gap} ms`);
  assert.equal(connections[3].since, "id-2");
  await waitFor(() => client.status === "open", 2_000, "open again");
  client.close();
  assert.deepEqual(raws, ["A", "B"]);
  assert.deepEqual(statuses.slice(0, 3), ["connecting", "open", "reconnecting"]);
  assert.equal(statuses.at(-1), "closed");
});

test("a malformed frame is counted and the next one is still delivered", { timeout: 30_000 }, async (t) => {
  connections.length = 0;
  const client = new PasserelleClient({ url, token: "t", WebSocket });
  t.after(() => client.close());
  const raws = [];
  client.on("scan", (e) => raws.push(e.data.raw));
  await client.connect();
  connections[0].socket.send("{not json");
  connections[0].socket.send(JSON.stringify({ nope: 1 }));
  connections[0].socket.send(event("id-9", "C"));
  await waitFor(() => raws.length === 1, 2_000, "the good frame");
  assert.equal(client.stats.malformedFrames, 2);
  client.close();
});

test("a daemon that is not there is a ConnectError that says so", { timeout: 30_000 }, async () => {
  const closed = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(closed, "listening");
  const { port } = closed.address();
  await new Promise((resolve) => closed.close(resolve));
  const client = new PasserelleClient({ url: `ws://127.0.0.1:${port}`, token: "t", WebSocket });
  await assert.rejects(client.connect(), (error) => {
    assert.ok(error instanceof ConnectError);
    assert.match(error.message, /daemon not reachable/);
    return true;
  });
  assert.equal(client.status, "closed");
});

test("a throwing callback or a failing storage costs only itself", { timeout: 30_000 }, async (t) => {
  connections.length = 0;
  const reported = [];
  const client = new PasserelleClient({
    url,
    token: "t",
    WebSocket,
    storage: {
      load: () => null,
      save: () => {
        throw new Error("QuotaExceededError");
      },
    },
    onError: (error, topic) => reported.push(`${topic}: ${error.message}`),
  });
  t.after(() => client.close());
  const raws = [];
  client.on("scan", () => {
    throw new Error("page bug");
  });
  client.on("scan", (e) => raws.push(e.data.raw));
  await client.connect();
  await assert.rejects(client.connect(), ConnectError, "a second connect() is refused, not a second socket");
  connections[0].socket.send(event("id-20", "D"));
  connections[0].socket.send(event("id-21", "E"));
  await waitFor(() => raws.length === 2, 2_000, "both events past the throwing callback");
  assert.equal(client.stats.callbackErrors, 2);
  assert.equal(client.stats.storageErrors, 2);
  assert.deepEqual(reported.sort(), [
    "scan: page bug",
    "scan: page bug",
    "storage: QuotaExceededError",
    "storage: QuotaExceededError",
  ]);
  assert.equal(client.lastEventId, "id-21", "resume still follows the delivered events");
});
