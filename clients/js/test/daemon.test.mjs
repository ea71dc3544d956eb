// The client against a real daemon: `passerelle run` with a private Mosquitto, scans typed by the
// serial scanner simulator on a real pty, through the daemon's web API.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";

import { ConnectError, PasserelleClient, RequestError, RequestTimeoutError } from "../dist/index.js";
import { Station, waitFor } from "./station.mjs";

let station;
const clients = [];

function client(options = {}) {
  const created = new PasserelleClient({ url: station.url, token: station.token, WebSocket, ...options });
  clients.push(created);
  return created;
}

/** Every scan the client delivers, in order. */
function collectScans(target) {
  const scans = [];
  target.on("scan", (event) => scans.push(event));
  return scans;
}

before(
  async () => {
    station = await Station.start();
  },
  { timeout: 120_000 },
);

after(async () => {
  for (const c of clients) c.close();
  await station?.stop();
});

describe("against a real daemon", { concurrency: false, timeout: 180_000 }, () => {
  test("retained state first, then live scans arrive as typed scan events", async () => {
    const c = client();
    const retained = new Map();
    c.onTopic("*", (payload, topic) => retained.set(topic, payload));
    const scans = collectScans(c);
    await c.connect();
    await waitFor(() => retained.has("bridge/state"), 10_000, "bridge/state on connect");
    assert.deepEqual(retained.get("bridge/state"), { state: "online" });
    assert.equal(retained.get(`${station.scanner}/availability`)?.state, "online");

    await station.scan("]C010101234564");
    await waitFor(() => scans.length === 1, 10_000, "the scan");
    const [scan] = scans;
    assert.equal(scan.schema, "passerelle.scan/1");
    assert.equal(scan.device.id, station.scanner);
    assert.equal(scan.data.kind, "rpps");
    assert.equal(scan.data.identifier, "10101234564");
    assert.equal(c.lastEventId, scan.event_id);
  });

  test("a replay of events already delivered reaches the callbacks once", async () => {
    const c = client();
    const scans = collectScans(c);
    await c.connect();
    const texts = ["DEDUPE-1", "DEDUPE-2", "DEDUPE-3"];
    for (const text of texts) await station.scan(text);
    await waitFor(() => scans.length === 3, 10_000, "three scans");

    // Resume from the first one: the daemon's journal sends DEDUPE-2 and -3 again.
    c.reconnect({ since: scans[0].event_id });
    await waitFor(() => c.stats.connections === 2, 10_000, "the second connection");
    await station.scan("DEDUPE-4");
    await waitFor(() => scans.length === 4, 10_000, "the fourth scan");
    assert.deepEqual(
      scans.map((s) => s.data.raw),
      [...texts, "DEDUPE-4"],
    );
    assert.equal(c.stats.duplicatesDropped, 2);
  });

  test("the daemon restarts: the client reconnects and resumes with no gap and no repeat", async () => {
    // A long backoff keeps the client away while the scans below are made.
    const c = client({ backoff: { initialMs: 2500, maxMs: 2500, jitter: 0 } });
    const scans = collectScans(c);
    await c.connect();
    const before = ["GAP-1", "GAP-2"];
    for (const text of before) await station.scan(text);
    await waitFor(() => scans.length === 2, 10_000, "the first scans");

    await station.restart();
    // Scanned while the client waits out its backoff: only the journal can give them.
    const during = ["GAP-3", "GAP-4", "GAP-5"];
    for (const text of during) await station.scan(text);
    assert.equal(c.stats.connections, 1, "still disconnected when the scans were made");
    await waitFor(() => c.stats.connections === 2, 20_000, "the reconnection");
    const afterwards = ["GAP-6", "GAP-7"];
    for (const text of afterwards) await station.scan(text);
    await waitFor(() => scans.length >= 7, 10_000, "every scan").catch((error) => {
      throw new Error(`${error.message}; got ${scans.map((s) => s.data.raw)}`);
    });

    assert.deepEqual(
      scans.map((s) => s.data.raw),
      [...before, ...during, ...afterwards],
    );
    assert.equal(new Set(scans.map((s) => s.event_id)).size, 7);
    assert.equal(c.stats.duplicatesDropped, 0, "the daemon sent nothing twice at the seam");
  });

  test("request answers with its data, a daemon error is a RequestError, a hung daemon a timeout", async () => {
    const c = client();
    await c.connect();
    const health = await c.request("health");
    assert.ok(["green", "yellow", "red"].includes(health.state ?? health.status), JSON.stringify(health));

    await assert.rejects(c.request("no-such-command"), (error) => {
      assert.ok(error instanceof RequestError);
      assert.match(error.code, /\w+/);
      return true;
    });

    await station.freeze();
    try {
      const started = Date.now();
      await assert.rejects(c.request("ping", {}, 300), RequestTimeoutError);
      assert.ok(Date.now() - started < 2_000);
    } finally {
      await station.thaw();
    }
    await c.request("ping");
  });

  test("a wrong token is refused before the upgrade (HTTP 401)", async () => {
    const wrong = client({ token: "not-the-token" });
    await assert.rejects(wrong.connect(), (error) => {
      assert.ok(error instanceof ConnectError);
      assert.match(error.message, /401/);
      return true;
    });
    assert.equal(wrong.status, "closed");
    const response = await fetch(`${station.http}/api?token=not-the-token`);
    assert.equal(response.status, 401);
  });
});
