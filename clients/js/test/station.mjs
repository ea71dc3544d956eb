// A real station for a test file: spawns tests/web_launcher.py (private Mosquitto, `passerelle run`
// with the web API, a serial scanner simulator on a pty) and talks JSON lines with it.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export class Station {
  static async start({ allowedOrigins = [], mqttTiming = false, readyTimeoutMs = 60_000 } = {}) {
    const args = ["-m", "tests.web_launcher", ...allowedOrigins.flatMap((o) => ["--allowed-origin", o])];
    if (mqttTiming) args.push("--mqtt-timing");
    const child = spawn(join(repoRoot, ".venv", "bin", "python"), args, {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "inherit"],
    });
    const station = new Station(child);
    const ready = await station.next((m) => "ready" in m, readyTimeoutMs, "the station ready");
    Object.assign(station, ready.ready);
    return station;
  }

  constructor(child) {
    this.child = child;
    this.lines = [];
    this.mqtt = [];
    this.waiters = [];
    this.exited = false;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const message = JSON.parse(line);
      if ("mqtt" in message) this.mqtt.push(message.mqtt);
      else this.lines.push(message);
      for (const waiter of [...this.waiters]) waiter();
    });
    child.on("exit", () => {
      this.exited = true;
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  /** The next launcher line matching `predicate`, removed from the queue. */
  next(predicate, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.lines.findIndex(predicate);
        if (index >= 0) {
          done();
          resolve(this.lines.splice(index, 1)[0]);
        } else if (this.exited) {
          done();
          reject(new Error(`launcher exited while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  async command(message, timeoutMs = 60_000) {
    this.child.stdin.write(JSON.stringify(message) + "\n");
    const answer = await this.next((m) => "ok" in m, timeoutMs, `the answer to ${message.cmd}`);
    if (!answer.ok) throw new Error(`launcher: ${answer.error}\n${answer.log ?? ""}`);
    return answer;
  }

  scan(text) {
    return this.command({ cmd: "scan", text });
  }

  scanMany(texts, rate) {
    return this.command({ cmd: "scan_many", texts, rate }, 60_000 + (texts.length / rate) * 1000);
  }

  restart() {
    return this.command({ cmd: "restart" });
  }

  async stop() {
    if (this.exited) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    await once(this.child, "exit");
    clearTimeout(timer);
  }
}

/** Resolves when `predicate()` holds; polls, with a deadline (never a fixed sleep). */
export async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Station.prototype.freeze = function () {
  return this.command({ cmd: "freeze" });
};
Station.prototype.thaw = function () {
  return this.command({ cmd: "thaw" });
};

// Benchmarks outside this package reach `ws` through here (Node resolves it from this directory).
export { default as WebSocket } from "ws";

/** The daemon's CPU seconds so far and resident memory (bytes). */
Station.prototype.usage = async function () {
  const { cpu_seconds: cpuSeconds, rss_bytes: rssBytes } = await this.command({ cmd: "proc" });
  return { cpuSeconds, rssBytes };
};
