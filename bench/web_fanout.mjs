// Many browser clients at once: 100 WebSocket clients (the TypeScript client over `ws`, in one Node
// process) while scans arrive at 50 events/s. Every client must get every event exactly once;
// latency is from the scan's last byte on the pty (wall clock) to each client's callback.
// Target: p99 < 20 ms.
//
//     node bench/web_fanout.mjs [--clients 100] [--rate 50] [--seconds 10]
import { PasserelleClient } from "../clients/js/dist/index.js";
import { Station, WebSocket, waitFor } from "../clients/js/test/station.mjs";
import { option, percentile, summary } from "./stats.mjs";

const clientCount = option("clients", 100);
const rate = option("rate", 50);
const seconds = option("seconds", 10);
const total = Math.round(rate * seconds);

const station = await Station.start({ mqttTiming: true });
const clients = [];
try {
  const idle = await station.usage();
  const received = [];
  for (let i = 0; i < clientCount; i++) {
    const client = new PasserelleClient({ url: station.url, token: station.token, WebSocket });
    const mine = new Map();
    client.on("scan", (event) => mine.set(event.data.raw, performance.timeOrigin + performance.now()));
    received.push(mine);
    clients.push(client);
  }
  await Promise.all(clients.map((client) => client.connect()));
  const texts = Array.from({ length: total }, (_, i) => `FANOUT-${String(i).padStart(6, "0")}`);
  const before = await station.usage();
  const started = performance.now();
  const { sent_at: sentAt } = await station.scanMany(texts, rate);
  await waitFor(() => received.every((mine) => mine.size >= total), 60_000, "every client to get every scan");
  const after = await station.usage();
  const busy = (after.cpuSeconds - before.cpuSeconds) / ((performance.now() - started) / 1000);
  const latencies = [];
  for (const mine of received) texts.forEach((text, i) => latencies.push(mine.get(text) - sentAt[i] * 1000));
  const dropped = clients.reduce((sum, client) => sum + client.stats.duplicatesDropped, 0);
  const reconnects = clients.reduce((sum, client) => sum + client.stats.connections - 1, 0);
  const sentBy = new Map(texts.map((text, i) => [text, sentAt[i] * 1000]));
  const mqttMs = station.mqtt.filter((m) => sentBy.has(m.raw)).map((m) => m.at * 1000 - sentBy.get(m.raw));
  const p99 = percentile(latencies, 0.99);
  console.log(`${clientCount} clients, ${total} scans at ${rate}/s: ${latencies.length} deliveries`);
  console.log(`every client got every scan: yes; repeats dropped: ${dropped}; reconnections: ${reconnects}`);
  console.log(`daemon RSS idle, web API on, no client: ${(idle.rssBytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`daemon CPU while scanning: ${(busy * 100).toFixed(0)} % of one core; RSS ${(after.rssBytes / 2 ** 20).toFixed(1)} MiB`);
  // The same scans at one MQTT subscriber: what the pipeline before the fan-out costs.
  console.log(`scan → MQTT subscriber: ${summary(mqttMs)}`);
  // One client's view: the rest of the spread is the 100 clients taking turns in this one Node process.
  const firstClient = texts.map((text, i) => received[0].get(text) - sentAt[i] * 1000);
  console.log(`scan → first client's callback: ${summary(firstClient)}`);
  console.log(`scan → client callback: ${summary(latencies)} (target p99 < 20 ms) ${p99 < 20 ? "met" : "NOT MET"}`);
} finally {
  for (const client of clients) client.close();
  await station.stop();
}
