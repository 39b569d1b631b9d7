// Socket.IO broadcast fan-out (sio-fanout). Every client connects to the main
// namespace and joins the room of the broadcasts by emitting `join` with an
// acknowledgement (`421["join"]`, answered `431[...]`). One more client, the
// emitter, emits ticks: `42["fanout","<seq>:<sent>:xx…"]` (ctx.size characters,
// <sent> in microseconds), which the server broadcasts to the room as
// `42["tick","<the same>"]`. A tick is complete when every client has it; the
// emitter keeps ctx.window ticks in flight (sent, not complete), so the loop is
// closed and nothing queues without bound. A tick's latency is the time from
// its emit to its last client, on the machine's monotonic clock, which every
// process shares. A tick not complete after ctx.tickTimeoutMs is a failure, and
// the emitter goes on.
//
// With several processes (ctx.procs), process 0 holds the emitter and listens on
// the Unix socket ctx.hub; each other process connects to it once its clients
// are in the room (process 0 is ready when they all are), and writes
// `<seq> <µs>\n` when all its own clients have tick <seq> (<µs>: the latest of
// their latencies). At the close, once no tick is in flight, process 0 writes
// `drained\n`, and every process closes its sessions.

import fs from "node:fs";
import net from "node:net";
import readline from "node:readline";
import { performance } from "node:perf_hooks";
import * as eio from "./eio.mjs";
import * as sio from "./sio.mjs";
import { OPEN_TIMEOUT_MS, SioSession, closeAll, openSessions } from "./sessions.mjs";

const JOIN_ID = 1;
const DRAINED = "drained";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Microseconds on the monotonic clock, the same in every process of the machine. */
function nowUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

/** {seq, sentUs} of a `tick` event packet (`2["tick","<seq>:<sent>:xx…"]`), or null. */
function parseTick(payload, size) {
  if (!payload.startsWith(sio.EVENT + "[")) return null;
  let event;
  try {
    event = JSON.parse(payload.slice(1));
  } catch {
    return null;
  }
  if (!Array.isArray(event) || event.length !== 2 || event[0] !== "tick") return null;
  const text = event[1];
  if (typeof text !== "string" || text.length !== size) return null;
  const [seq, sentUs] = text.split(":", 2).map(Number);
  return Number.isInteger(seq) && seq > 0 && Number.isInteger(sentUs) ? { seq, sentUs } : null;
}

/** A client in the room: it joins once open, then takes every packet for a tick. */
class Receiver extends SioSession {
  constructor(ctx, id) {
    super(ctx, id);
    this.lastSeq = 0;
  }

  async open() {
    await super.open();
    const join = eio.MESSAGE + sio.EVENT + JOIN_ID + JSON.stringify(["join"]);
    await this.exchange(join, sio.ACK + JOIN_ID + "[", "join");
  }

  onPacket(payload) {
    const tick = parseTick(payload, this.ctx.size);
    if (tick === null) this.ctx.stats.mismatch(this.id, "a tick", payload);
    else this.ctx.ticks.receive(this, tick.seq, tick.sentUs);
  }
}

/** The client that asks for the broadcasts: it is in no room and expects nothing back. */
class Emitter extends SioSession {
  sendable() {
    return !this.closed && !this.closing;
  }

  emit(text) {
    this.ws.send(eio.MESSAGE + sio.EVENT + JSON.stringify(["fanout", text]));
  }

  onPacket(payload) {
    this.ctx.stats.error("unexpected packet", `to the emitter: ${payload.slice(0, 40)}`);
  }
}

/** This process's side of the ticks: how many of its clients still miss each one. */
class LocalTicks {
  constructor(ctx, onComplete) {
    this.ctx = ctx;
    this.receivers = [];
    this.pending = new Map(); // seq -> {missing, latencyUs}
    this.onComplete = onComplete; // (seq, latencyUs): every client of this process has it
  }

  receive(session, seq, sentUs) {
    const latencyUs = nowUs() - sentUs;
    const stats = this.ctx.stats;
    if (seq <= session.lastSeq) {
      stats.mismatch(session.id, `a tick after ${session.lastSeq}`, `tick ${seq}`);
      return;
    }
    const skipped = seq - session.lastSeq - 1;
    if (skipped) stats.error("tick missed", `client ${session.id}: ${skipped} before tick ${seq}`, skipped);
    session.lastSeq = seq;
    stats.deliver();
    let tick = this.pending.get(seq);
    if (tick === undefined) {
      tick = { missing: this.receivers.filter((s) => !s.closed).length, latencyUs: 0 };
      this.pending.set(seq, tick);
    }
    tick.latencyUs = Math.max(tick.latencyUs, latencyUs);
    tick.missing -= 1;
    if (tick.missing === 0) {
      this.pending.delete(seq);
      this.onComplete(seq, tick.latencyUs);
    }
  }
}

/** Process 0's view: the ticks in flight, each waiting for every process to have it. */
class Flight {
  constructor(ctx, emitter) {
    this.ctx = ctx;
    this.emitter = emitter;
    this.inFlight = new Map(); // seq -> {waiting (processes), latencyUs, timer}
    this.sent = 0;
    this.onDrained = null;
  }

  /** Emit ticks until ctx.window are in flight (while the traffic runs). */
  fill() {
    const ctx = this.ctx;
    while (ctx.running && this.inFlight.size < ctx.window && this.sent < ctx.maxMessages && this.emitter.sendable()) {
      const seq = ++this.sent;
      const timer = setTimeout(() => this.expire(seq), ctx.tickTimeoutMs);
      this.inFlight.set(seq, { waiting: ctx.procs, latencyUs: 0, timer });
      this.emitter.emit(eio.makeMessage(seq, nowUs(), ctx.size));
    }
  }

  /** One process has tick `seq` at all its clients, the last one `latencyUs` after its emit. */
  complete(seq, latencyUs) {
    const tick = this.inFlight.get(seq);
    if (tick === undefined) return; // expired
    tick.latencyUs = Math.max(tick.latencyUs, latencyUs);
    tick.waiting -= 1;
    if (tick.waiting > 0) return;
    clearTimeout(tick.timer);
    this.inFlight.delete(seq);
    this.ctx.stats.record(tick.latencyUs / 1000);
    this.settled();
  }

  expire(seq) {
    const { waiting } = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    const after = `${this.ctx.tickTimeoutMs / 1000} s`;
    this.ctx.stats.error("tick not received by every client", `tick ${seq}: ${waiting} of ${this.ctx.procs} processes waiting after ${after}`);
    this.settled();
  }

  settled() {
    if (this.inFlight.size === 0 && this.onDrained) this.onDrained();
    this.fill();
  }

  /** Resolves once no tick is in flight (each one ends within ctx.tickTimeoutMs). */
  drain() {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }
}

/** Process 0's end of the link between processes: a Unix socket server. */
class Hub {
  constructor(onLine) {
    this.sockets = [];
    this.joined = () => {};
    this.server = net.createServer((socket) => {
      socket.on("error", () => {}); // a process that fails fails its own run
      readline.createInterface({ input: socket }).on("line", onLine);
      this.sockets.push(socket);
      this.joined();
    });
  }

  listen(path) {
    fs.rmSync(path, { force: true });
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(path, resolve);
    });
  }

  /** Resolves once `count` other processes are connected; rejects after `timeoutMs`. */
  peers(count, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.sockets.length} of ${count} other processes connected`)), timeoutMs);
      this.joined = () => {
        if (this.sockets.length < count) return;
        clearTimeout(timer);
        resolve();
      };
      this.joined();
    });
  }

  tell(line) {
    for (const socket of this.sockets) socket.write(line + "\n");
  }

  close() {
    for (const socket of this.sockets) socket.end();
    this.server.close();
  }
}

/** Another process's end: connected to process 0's hub (retried while process 0 starts). */
class Link {
  static async connect(path, timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        return new Link(
          await new Promise((resolve, reject) => {
            const socket = net.connect(path, () => resolve(socket));
            socket.once("error", reject);
          }),
        );
      } catch (error) {
        if (performance.now() > deadline) throw new Error(`no load-generator hub at ${path}: ${error.message}`);
        await sleep(50);
      }
    }
  }

  constructor(socket) {
    this.socket = socket;
    socket.on("error", () => {}); // process 0 gone: its ticks expire, the run fails
    this.drained = new Promise((resolve) => {
      readline.createInterface({ input: socket }).on("line", (line) => line === DRAINED && resolve());
      socket.on("close", resolve);
    });
  }

  complete(seq, latencyUs) {
    this.socket.write(`${seq} ${latencyUs}\n`);
  }

  close() {
    this.socket.end();
  }
}

/** Broadcast fan-out: ticks emitted to a room of ctx.clients, ctx.window in flight. */
export class SioFanout {
  constructor(ctx) {
    ctx.path = sio.PATH;
    this.ctx = ctx;
    this.receivers = [];
    this.emitter = null; // process 0
    this.flight = null; // process 0
    this.hub = null; // process 0, when there are several
    this.link = null; // the other processes
    ctx.ticks = new LocalTicks(ctx, (seq, latencyUs) => (this.flight ?? this.link).complete(seq, latencyUs));
  }

  async setup() {
    const ctx = this.ctx;
    const start = performance.now();
    if (ctx.index === 0 && ctx.procs > 1) {
      this.hub = new Hub((line) => this.flight.complete(...line.split(" ").map(Number)));
      await this.hub.listen(ctx.hub);
    }
    this.receivers = await openSessions(ctx, Receiver);
    ctx.ticks.receivers = this.receivers;
    if (ctx.index > 0) this.link = await Link.connect(ctx.hub, OPEN_TIMEOUT_MS); // its clients are in
    else {
      this.emitter = new Emitter(ctx, "emitter");
      await this.emitter.open().catch((error) => {
        throw new Error(`the emitter did not open: ${error.message}`);
      });
      this.flight = new Flight(ctx, this.emitter);
      await this.hub?.peers(ctx.procs - 1, OPEN_TIMEOUT_MS);
    }
    return { open: this.receivers.length, open_s: (performance.now() - start) / 1000 };
  }

  go() {
    this.ctx.running = true;
    this.flight?.fill();
  }

  stop() {
    this.ctx.running = false;
    return {
      count: this.ctx.stats.delivered,
      open: this.receivers.filter((s) => !s.closed).length,
      ticks_sent: this.flight?.sent,
    };
  }

  async close() {
    if (this.flight) {
      await this.flight.drain();
      this.hub?.tell(DRAINED);
    } else if (this.link) {
      await Promise.race([this.link.drained, sleep(this.ctx.tickTimeoutMs + 5000)]);
    }
    await closeAll(this.emitter ? [this.emitter, ...this.receivers] : this.receivers);
    this.hub?.close();
    this.link?.close();
  }
}
