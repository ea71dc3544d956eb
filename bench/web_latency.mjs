// Scan → client callback in headless Chromium, against scan → MQTT subscriber, in one run.
//
//     node bench/web_latency.mjs [--scans 200] [--rate 20]
//
// A real daemon (tests/web_launcher.py: private Mosquitto, `passerelle run`, serial scanner
// simulator on a pty). Each scan is timed from the moment its last byte is written to the pty (wall
// clock) to its arrival in a page's `client.on("scan")` callback (performance.timeOrigin + now) and at
// a plain MQTT subscriber in the launcher (time.time()). Target: browser p99 ≤ 1.5 × MQTT p99.
import { launchChromium, pageUrl, servePage } from "../clients/js/test/browser.mjs";
import { Station } from "../clients/js/test/station.mjs";
import { option, percentile, summary } from "./stats.mjs";

const scans = option("scans", 200);
const rate = option("rate", 20);

const page = await servePage();
const station = await Station.start({ allowedOrigins: [page.origin], mqttTiming: true });
const browser = await launchChromium();
try {
  const tab = await browser.newPage();
  await tab.goto(pageUrl(page, station));
  if ((await tab.evaluate(() => window.connected)) !== "open") throw new Error("the page could not connect");
  const texts = Array.from({ length: scans }, (_, i) => `LATENCY-${String(i).padStart(5, "0")}`);
  const { sent_at: sentAt } = await station.scanMany(texts, rate);
  await tab.waitForFunction((n) => window.scans.length >= n, scans, { timeout: 60_000 });
  const deadline = Date.now() + 30_000;
  while (station.mqtt.filter((m) => m.raw.startsWith("LATENCY-")).length < scans && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sentBy = new Map(texts.map((text, i) => [text, sentAt[i] * 1000]));
  const received = await tab.evaluate(() => window.scans);
  const browserMs = received.map((s) => s.received - sentBy.get(s.raw));
  const mqttMs = station.mqtt.filter((m) => sentBy.has(m.raw)).map((m) => m.at * 1000 - sentBy.get(m.raw));
  if (mqttMs.length !== scans) throw new Error(`MQTT subscriber got ${mqttMs.length} of ${scans} scans`);
  const ratio = percentile(browserMs, 0.99) / percentile(mqttMs, 0.99);
  console.log(`scans: ${scans} at ${rate}/s, Chromium ${browser.version()}`);
  console.log(`scan → MQTT subscriber:     ${summary(mqttMs)}`);
  console.log(`scan → Chromium callback:   ${summary(browserMs)}`);
  console.log(`p99 ratio browser / MQTT:   ${ratio.toFixed(2)} (target ≤ 1.5) ${ratio <= 1.5 ? "met" : "NOT MET"}`);
  // The medians move far less than the p99s on a busy machine: printed as the steadier comparison.
  const medianRatio = percentile(browserMs, 0.5) / percentile(mqttMs, 0.5);
  console.log(`p50 ratio browser / MQTT:   ${medianRatio.toFixed(2)}`);
} finally {
  await browser.close();
  await station.stop();
  await page.close();
}
