// Real headless Chromium: the console served by the daemon, and a page from another origin using the
// client, against a real daemon fed by the scanner simulator.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { launchChromium, pageUrl, servePage } from "./browser.mjs";
import { Station } from "./station.mjs";

let station;
let browser;
let allowedPage;
let foreignPage;

before(
  async () => {
    allowedPage = await servePage();
    foreignPage = await servePage();
    station = await Station.start({ allowedOrigins: [allowedPage.origin] });
    browser = await launchChromium();
  },
  { timeout: 120_000 },
);

after(async () => {
  await browser?.close();
  await station?.stop();
  await allowedPage?.close();
  await foreignPage?.close();
});

describe("in headless Chromium", { concurrency: false, timeout: 180_000 }, () => {
  test("a page from an allowed origin receives a simulated scan through the client", async () => {
    const page = await browser.newPage();
    await page.goto(pageUrl(allowedPage, station));
    assert.equal(await page.evaluate(() => window.connected), "open");
    await station.scan("]C010101234564");
    await page.waitForFunction(() => window.scans.length === 1, null, { timeout: 10_000 });
    const [scan] = await page.evaluate(() => window.scans);
    assert.equal(scan.kind, "rpps");
    assert.equal(await page.textContent("#scans li"), "]C010101234564");
    await page.close();
  });

  test("a reloaded page resumes from localStorage: what was scanned while it was closed, once", async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    await first.goto(pageUrl(allowedPage, station, { persist: true }));
    assert.equal(await first.evaluate(() => window.connected), "open");
    await station.scan("RELOAD-1");
    await first.waitForFunction(() => window.scans.length === 1, null, { timeout: 10_000 });
    await first.close();

    await station.scan("RELOAD-2");
    await station.scan("RELOAD-3");
    const second = await context.newPage();
    await second.goto(pageUrl(allowedPage, station, { persist: true }));
    await second.waitForFunction(() => window.scans.length >= 2, null, { timeout: 10_000 });
    await station.scan("RELOAD-4");
    await second.waitForFunction(() => window.scans.length >= 3, null, { timeout: 10_000 });
    const raws = (await second.evaluate(() => window.scans)).map((scan) => scan.raw);
    assert.deepEqual(raws, ["RELOAD-2", "RELOAD-3", "RELOAD-4"]);
    await context.close();
  });

  test("a page from a foreign origin is refused", async () => {
    const page = await browser.newPage();
    await page.goto(pageUrl(foreignPage, station));
    const outcome = await page.evaluate(() => window.connected);
    assert.match(outcome, /^ConnectError: daemon not reachable, or this page's origin is not allowed/);
    await page.close();
    // The browser hides why; the same upgrade with that Origin, token right, says it: 403.
    const direct = await fetch(`${station.http}/api?token=${station.token}`, {
      headers: { origin: foreignPage.origin },
    });
    assert.equal(direct.status, 403);
  });

  test("a page from an allowed origin with a wrong token is told so (the probe answered)", async () => {
    const page = await browser.newPage();
    await page.goto(pageUrl(allowedPage, { ...station, token: "not-the-token" }));
    const outcome = await page.evaluate(() => window.connected);
    assert.match(outcome, /^ConnectError: refused by Passerelle .*: wrong token/);
    await page.close();
  });

  test("the probe answers the allowed origin's CORS request and not a foreign one", async () => {
    const page = await browser.newPage();
    await page.goto(pageUrl(allowedPage, station));
    const probe = await page.evaluate(async (url) => {
      const response = await fetch(`${url}/api/probe`);
      return { status: response.status, body: await response.json() };
    }, station.http);
    assert.equal(probe.status, 200);
    assert.equal(typeof probe.body.version, "string");

    const foreign = await browser.newPage();
    await foreign.goto(pageUrl(foreignPage, station));
    const refused = await foreign.evaluate(async (url) => {
      try {
        await fetch(`${url}/api/probe`);
        return "read";
      } catch (error) {
        return error.name;
      }
    }, station.http);
    assert.equal(refused, "TypeError", "CORS keeps a foreign page from reading the probe");

    // The preflight a public page's Local Network Access check sends first.
    const preflight = await fetch(`${station.http}/api/probe`, {
      method: "OPTIONS",
      headers: {
        origin: allowedPage.origin,
        "access-control-request-method": "GET",
        "access-control-request-private-network": "true",
      },
    });
    assert.equal(preflight.headers.get("access-control-allow-origin"), allowedPage.origin);
    assert.equal(preflight.headers.get("access-control-allow-private-network"), "true");
    await page.close();
    await foreign.close();
  });

  test("the console loads with its token; its scan self-test sees a simulated scan", async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const response = await page.goto(`${station.http}/?token=${station.token}`);
    assert.equal(response.status(), 200);
    await page.locator("#link.green").waitFor({ timeout: 10_000 });
    // Started from the keyboard, as an operator without a mouse would.
    await page.focus("#test-scan");
    await page.keyboard.press("Enter");
    await station.scan("]C010101234564");
    await page.locator("#selftest.green").waitFor({ timeout: 10_000 });
    const row = page.locator("#event-rows tr", { hasText: "passerelle.scan/1" }).first();
    assert.match(await row.textContent(), /rpps/);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
