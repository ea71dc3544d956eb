// The browser tier's pieces: Debian's headless Chromium through playwright-core (never a browser
// download), and small http servers that give a test page an origin of its own.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

// A web page as a front-end developer would write it: the client from dist/, the daemon's address and
// token from the fragment (never sent to a server), every scan kept on window and shown in the page.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Passerelle test page</title></head>
<body><h1>Scans</h1><ul id="scans"></ul>
<script type="module">
import { PasserelleClient, webStorage } from "/dist/index.js";
const params = new URLSearchParams(location.hash.slice(1));
window.scans = [];
window.status = [];
const storage = params.has("persist") ? { storage: webStorage() } : {};
const client = new PasserelleClient({ url: params.get("url"), token: params.get("token"), ...storage });
client.onStatus((s) => window.status.push(s));
client.on("scan", (event) => {
  const received = performance.timeOrigin + performance.now();
  window.scans.push({ raw: event.data.raw, event_id: event.event_id, kind: event.data.kind, received });
  const item = document.createElement("li");
  item.textContent = event.data.raw;
  document.getElementById("scans").append(item);
});
window.client = client;
window.connected = client.connect().then(() => "open", (error) => error.name + ": " + error.message);
</script></body></html>`;

const TYPES = { ".js": "text/javascript", ".map": "application/json", ".html": "text/html" };

/** Serves the test page at / and the built client at /dist/ on a free loopback port. */
export async function servePage() {
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(PAGE);
      return;
    }
    const file = normalize(join(packageRoot, path));
    if (!path.startsWith("/dist/") || !file.startsWith(join(packageRoot, "dist"))) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      const type = TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
      response.writeHead(200, { "content-type": type }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The test page's URL for this station (address and token in the fragment; `persist`: the resume
 * point kept in localStorage). */
export function pageUrl(page, station, { persist = false } = {}) {
  const fragment = new URLSearchParams({ url: station.url, token: station.token });
  if (persist) fragment.set("persist", "1");
  return `${page.origin}/#${fragment}`;
}
