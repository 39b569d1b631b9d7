// Engine.IO v4 load generator for the engineio_sc benchmarks. It speaks the
// protocol itself (ws for WebSocket frames, node:http for polling), so that what
// is measured is the server, not a client library.
//
// Setup (once):  cd benchmarks/loadgen && npm ci
//
// Usage:
//   node loadgen.mjs --scenario ws-echo|sio-echo|sio-fanout|poll-echo|sessions|idle --port PORT
//       [--clients N]            clients (sessions: concurrent loops)       default 100
//       [--raw]                  bare WebSocket: no handshake, pings or packet types (polling ignores it)
//       [--size 100]             message size in characters
//       [--id-offset 0]          first client id (unique across processes)
//       [--connect-concurrency 100]  sessions being opened at once during setup
//       [--open-deadline 0]      seconds: stop opening sessions after that (0: no limit)
//       [--close-timeout 20]     seconds a session may take to close before it is cut
//       [--max-messages 10000000]    per client: a bound on every loop (sio-fanout: on the ticks)
//       [--index 0] [--procs 1]  this process's place among the processes sharing the clients
//       [--hub PATH]             sio-fanout over several processes: the Unix socket where process 0
//                                learns that the others' clients have received a tick
//       [--window 1]             sio-fanout: ticks in flight (sent, not yet received by every client)
//       [--tick-timeout 10]      sio-fanout: seconds before a tick not received by every client fails
//       [--deadline 600]         seconds: the process exits (status 3) after that, whatever happens
//       [--controlled]           take commands from stdin (below) instead of timing itself
//       [--warmup 1] [--duration 5]  seconds, when not --controlled
//
// Output: one JSON object per line on stdout, each with an "event" field:
//   ready {open, open_s, failures}; measuring; result {elapsed_s, count, rate,
//   latency, failures, cpu_ms, ...}; closed {close_s, failures}. count is the round trips
//   (or sessions) of the window; for sio-fanout, the ticks received (one per client and tick),
//   latency then holding each tick's time to its last client (process 0 only). Under --controlled, stdin lines
//   "go", "measure", "stop", "close" drive the phases (end of input = close).

import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { SCENARIOS } from "./scenarios.mjs";
import { Stats } from "./stats.mjs";

const OPTIONS = {
  scenario: { type: "string" },
  port: { type: "string" },
  clients: { type: "string", default: "100" },
  raw: { type: "boolean", default: false },
  size: { type: "string", default: "100" },
  "id-offset": { type: "string", default: "0" },
  "connect-concurrency": { type: "string", default: "100" },
  "open-deadline": { type: "string", default: "0" },
  "close-timeout": { type: "string", default: "20" },
  "max-messages": { type: "string", default: "10000000" },
  index: { type: "string", default: "0" },
  procs: { type: "string", default: "1" },
  hub: { type: "string", default: "" },
  window: { type: "string", default: "1" },
  "tick-timeout": { type: "string", default: "10" },
  deadline: { type: "string", default: "600" },
  controlled: { type: "boolean", default: false },
  warmup: { type: "string", default: "1" },
  duration: { type: "string", default: "5" },
};

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function fail(message) {
  emit("fatal", { message });
  process.exit(2);
}

function makeContext(values) {
  if (!(values.scenario in SCENARIOS)) fail(`unknown --scenario ${values.scenario}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0) fail("--port is required");
  return {
    port,
    raw: values.raw,
    size: Number(values.size),
    clients: Number(values.clients),
    idOffset: Number(values["id-offset"]),
    connectConcurrency: Number(values["connect-concurrency"]),
    maxMessages: Number(values["max-messages"]),
    openDeadlineMs: Number(values["open-deadline"]) * 1000,
    closeTimeoutMs: Number(values["close-timeout"]) * 1000,
    index: Number(values.index),
    procs: Number(values.procs),
    hub: values.hub,
    window: Number(values.window),
    tickTimeoutMs: Number(values["tick-timeout"]) * 1000,
    stats: new Stats(),
    running: false,
  };
}

/** Drives one scenario through its phases and reports each one. */
class Driver {
  constructor(ctx, scenario) {
    this.ctx = ctx;
    this.scenario = scenario;
    this.windowStart = 0;
    this.cpuStart = null;
    this.phase = "new";
  }

  async setup() {
    const info = await this.scenario.setup();
    this.phase = "ready";
    emit("ready", { ...info, failures: this.ctx.stats.failures() });
  }

  go() {
    this.scenario.go();
    this.phase = "running";
  }

  measure() {
    this.scenario.measure?.();
    this.ctx.stats.resetWindow();
    this.windowStart = performance.now();
    this.cpuStart = process.cpuUsage();
    emit("measuring");
  }

  stop() {
    const elapsed = (performance.now() - this.windowStart) / 1000;
    const cpu = process.cpuUsage(this.cpuStart);
    const latency = this.ctx.stats.latency.toJSON();
    const { count = latency.count, ...info } = this.scenario.stop();
    this.phase = "stopped";
    emit("result", {
      ...info,
      elapsed_s: elapsed,
      count,
      rate: count / elapsed,
      latency,
      cpu_ms: (cpu.user + cpu.system) / 1000,
      failures: this.ctx.stats.failures(),
    });
  }

  async close() {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.ctx.running = false;
    const start = performance.now();
    await this.scenario.close();
    emit("closed", { close_s: (performance.now() - start) / 1000, failures: this.ctx.stats.failures() });
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runTimed(driver, warmup, duration) {
  await driver.setup();
  driver.go();
  await sleep(warmup * 1000);
  driver.measure();
  await sleep(duration * 1000);
  driver.stop();
  await driver.close();
}

function runControlled(driver) {
  const commands = { go: () => driver.go(), measure: () => driver.measure(), stop: () => driver.stop(), close: () => driver.close() };
  let chain = driver.setup().catch((error) => fail(`setup failed: ${error.message}`));
  const lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const command = commands[line.trim()];
    if (command) chain = chain.then(command);
    else emit("error", { message: `unknown command ${line.trim()}` });
  });
  return new Promise((resolve) => {
    lines.on("close", () => resolve(chain.then(() => driver.close())));
  });
}

async function main() {
  const { values } = parseArgs({ options: OPTIONS });
  const ctx = makeContext(values);
  const deadline = Number(values.deadline);
  setTimeout(() => fail(`deadline of ${deadline} s reached`), deadline * 1000).unref();
  const driver = new Driver(ctx, new SCENARIOS[values.scenario](ctx));
  if (values.controlled) await runControlled(driver);
  else await runTimed(driver, Number(values.warmup), Number(values.duration));
  process.exit(0);
}

main().catch((error) => fail(error.stack ?? String(error)));
