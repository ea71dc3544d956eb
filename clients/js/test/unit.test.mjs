// Unit tests of the client's pure logic (no socket): backoff, dedupe window, frame parsing.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  backoffDelay,
  DEFAULT_BACKOFF,
  memoryStorage,
  PasserelleClient,
  RecentIds,
  RequestError,
} from "../dist/index.js";
import { parseFrame, kindOf, asEvent } from "../dist/frames.js";

test("backoff doubles from the initial delay up to the ceiling, jitter within its fraction", () => {
  const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };
  assert.deepEqual(
    [0, 1, 2, 3, 10, 50].map((n) => backoffDelay(n, noJitter)),
    [250, 500, 1000, 2000, 10_000, 10_000],
  );
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, () => 0), 200);
  assert.equal(backoffDelay(0, DEFAULT_BACKOFF, () => 1), 300);
});

test("the dedupe window admits an id once and forgets the oldest beyond its capacity", () => {
  const recent = new RecentIds(2);
  assert.equal(recent.admit("a"), true);
  assert.equal(recent.admit("a"), false);
  assert.equal(recent.admit("b"), true);
  assert.equal(recent.admit("c"), true);
  assert.equal(recent.size, 2);
  assert.equal(recent.admit("a"), true, "a was the oldest and has been forgotten");
  assert.equal(recent.admit("c"), false);
});

test("frames: only {topic, payload} JSON is a frame; events are known by schema and event_id", () => {
  assert.equal(parseFrame("not json"), null);
  assert.equal(parseFrame('{"payload": 1}'), null);
  assert.equal(parseFrame("[1]"), null);
  assert.deepEqual(parseFrame('{"topic": "bridge/state", "payload": {"state": "online"}}'), {
    topic: "bridge/state",
    payload: { state: "online" },
  });
  assert.equal(asEvent({ state: "online" }), null);
  assert.equal(kindOf("passerelle.scan/1"), "scan");
  assert.equal(kindOf("passerelle.observance.day/1"), "observance.day");
  assert.equal(kindOf("passerelle.scan/99"), null);
});

test("without a global WebSocket the constructor says to inject one", () => {
  const saved = globalThis.WebSocket;
  try {
    delete globalThis.WebSocket;
    assert.throws(() => new PasserelleClient({ token: "t" }), /pass options\.WebSocket/);
  } finally {
    if (saved) globalThis.WebSocket = saved;
  }
});

test("memory storage keeps the last id", async () => {
  const storage = memoryStorage("x");
  assert.equal(await storage.load(), "x");
  await storage.save("y");
  assert.equal(await storage.load(), "y");
});

test("a command name the daemon would refuse fails at once, without a socket", async () => {
  const client = new PasserelleClient({ token: "t", WebSocket: class {} });
  await assert.rejects(client.request("Not A Command"), (error) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.code, "malformed_request");
    return true;
  });
});
