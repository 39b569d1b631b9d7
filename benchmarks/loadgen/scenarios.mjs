// The load scenarios. Each one is an object with the same life cycle, driven by
// loadgen.mjs: setup() (open what must be open), go() (start the traffic),
// measure() (start the measured window), stop() (end it: returns the figures),
// close() (close every session politely; returns what went wrong while closing).
//
// `ctx` is shared by all clients of one process: {port, raw, size, clients,
// idOffset, maxMessages, connectConcurrency, openDeadlineMs, closeTimeoutMs,
// index, procs, hub, window, tickTimeoutMs, stats, running}, `path` when a
// scenario serves elsewhere than /engine.io/, and `ticks` in sio-fanout.
// `ctx.raw` means the bare WebSocket ceiling: no Engine.IO handshake, pings or
// packet types, the frames are the messages. The WebSocket sessions are in
// sessions.mjs, the Socket.IO broadcast fan-out in fanout.mjs.

import http from "node:http";
import { performance } from "node:perf_hooks";
import * as eio from "./eio.mjs";
import * as sio from "./sio.mjs";
import { openAndClose } from "./litews.mjs";
import { OPEN_TIMEOUT_MS, SioSession, WsSession, closeAll, openSessions, pool } from "./sessions.mjs";
import { SioFanout } from "./fanout.mjs";

const HTTP_TIMEOUT_MS = 60000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** WebSocket echo: every client sends a message, waits for its echo, sends the next. */
export class WsEcho {
  static Session = WsSession;

  constructor(ctx) {
    this.ctx = ctx;
    this.sessions = [];
  }

  async setup() {
    const start = performance.now();
    this.sessions = await openSessions(this.ctx, this.constructor.Session);
    return { open: this.sessions.length, open_s: (performance.now() - start) / 1000 };
  }

  go() {
    this.ctx.running = true;
    for (const session of this.sessions) session.sendNext();
  }

  stop() {
    this.ctx.running = false;
    return { open: this.sessions.filter((s) => !s.closed).length };
  }

  close() {
    return closeAll(this.sessions);
  }
}

/** Socket.IO echo over WebSocket: every client emits `echo` with an ack, waits for it, emits the next. */
export class SioEcho extends WsEcho {
  static Session = SioSession;

  constructor(ctx) {
    super(ctx);
    ctx.path = sio.PATH;
  }
}

/** Idle sessions: open them, answer pings, count the ones the server drops and the
 * pings that come late (after the announced interval, with a second's slack). */
export class Idle extends WsEcho {
  constructor(ctx) {
    super(ctx);
    this.pingsBefore = 0;
  }

  go() {}

  measure() {
    this.pingsBefore = this.sessions.reduce((sum, s) => sum + s.pings, 0);
  }

  stop() {
    const alive = this.sessions.filter((s) => !s.closed);
    const pings = alive.map((s) => s.pings);
    const total = this.sessions.reduce((sum, s) => sum + s.pings, 0);
    const now = performance.now();
    const overdue = alive.filter((s) => s.overdue(now) > 0).length;
    const gap = alive.reduce((max, s) => Math.max(max, s.maxPingGap), 0);
    return {
      open: alive.length,
      pings_total: pings.reduce((a, b) => a + b, 0),
      pings_window: total - this.pingsBefore,
      pings_min: pings.length ? Math.min(...pings) : null,
      pings_max: pings.length ? Math.max(...pings) : null,
      pings_late: this.sessions.reduce((sum, s) => sum + s.latePings, 0) + overdue,
      ping_gap_max_s: gap / 1000,
    };
  }
}

/** One HTTP request on the shared keep-alive agent: resolves {status, body}. */
function request(ctx, method, path, body = null) {
  return new Promise((resolve, reject) => {
    const headers = body === null ? {} : { "Content-Type": "text/plain;charset=UTF-8", "Content-Length": Buffer.byteLength(body) };
    const req = http.request({ host: "127.0.0.1", port: ctx.port, method, path, agent: ctx.agent, headers }, (res) => {
      const chunks = [];
      res.setEncoding("utf8");
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, body: chunks.join("") }));
      res.on("error", reject);
    });
    req.setTimeout(HTTP_TIMEOUT_MS, () => req.destroy(new Error(`${method} timeout`)));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

/** One Engine.IO long-polling session. */
class PollSession {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    this.path = null;
    this.alive = false;
    this.seq = 0;
  }

  async open() {
    const reply = await request(this.ctx, "GET", eio.handshakePath("polling"));
    const open = reply.status === 200 ? eio.parseOpen(eio.splitPayload(reply.body)[0] ?? "") : null;
    if (open === null) throw new Error(`handshake: ${reply.status} ${reply.body.slice(0, 60)}`);
    this.path = `${eio.handshakePath("polling")}&sid=${encodeURIComponent(open.sid)}`;
    this.alive = true;
  }

  async post(packet) {
    const reply = await request(this.ctx, "POST", this.path, packet);
    if (reply.status !== 200) throw new Error(`POST ${reply.status} ${reply.body.slice(0, 60)}`);
  }

  /** One GET: returns whether it carried `wanted`, answering a ping if there was one. */
  async poll(wanted) {
    const reply = await request(this.ctx, "GET", this.path);
    if (reply.status !== 200) throw new Error(`GET ${reply.status} ${reply.body.slice(0, 60)}`);
    let found = false;
    let pinged = false;
    for (const packet of eio.splitPayload(reply.body)) {
      if (packet === wanted) found = true;
      else if (packet === eio.PING) pinged = true;
      else if (packet === eio.CLOSE) throw new Error("close packet from server");
      else if (packet !== eio.NOOP) this.ctx.stats.mismatch(this.id, wanted, packet);
    }
    if (pinged) await this.post(eio.PONG);
    return found;
  }

  /** The closed loop: POST a message, GET until its echo arrives, repeat. */
  async run() {
    try {
      while (this.ctx.running && this.seq < this.ctx.maxMessages) {
        this.seq += 1;
        const wanted = eio.MESSAGE + eio.makeMessage(this.id, this.seq, this.ctx.size);
        const start = performance.now();
        await this.post(wanted);
        while (!(await this.poll(wanted)));
        this.ctx.stats.record(performance.now() - start);
      }
    } catch (error) {
      this.alive = false;
      this.ctx.stats.error("polling", error.message);
    }
  }

  async close() {
    if (!this.alive) return;
    this.alive = false;
    try {
      await this.post(eio.CLOSE);
    } catch (error) {
      this.ctx.stats.error("polling close", error.message);
    }
  }
}

/** Polling echo: POST one message, GET until its echo arrives, repeat. */
export class PollEcho {
  constructor(ctx) {
    this.ctx = ctx;
    this.sessions = [];
    this.loops = [];
    ctx.agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  }

  async setup() {
    const sessions = Array.from({ length: this.ctx.clients }, (_, i) => new PollSession(this.ctx, this.ctx.idOffset + i));
    await pool(sessions, this.ctx.connectConcurrency, async (session) => {
      try {
        await session.open();
        this.sessions.push(session);
      } catch (error) {
        this.ctx.stats.error("open failed", error.message);
      }
    });
    return { open: this.sessions.length };
  }

  go() {
    this.ctx.running = true;
    this.loops = this.sessions.map((session) => session.run());
  }

  stop() {
    this.ctx.running = false;
    return { open: this.sessions.filter((s) => s.alive).length };
  }

  async close() {
    await Promise.race([Promise.all(this.loops), sleep(this.ctx.closeTimeoutMs)]);
    await Promise.all(this.sessions.map((session) => session.close()));
    this.ctx.agent.destroy();
  }
}

/** New sessions: each of ctx.clients loops opens a session, gets the open packet, closes it. */
export class Sessions {
  constructor(ctx) {
    this.ctx = ctx;
    this.loops = [];
  }

  async setup() {
    return { open: 0 };
  }

  async once() {
    try {
      const opened = await openAndClose(this.ctx.port, eio.handshakePath("websocket"), this.ctx.raw, OPEN_TIMEOUT_MS);
      this.ctx.stats.record(opened);
    } catch (error) {
      this.ctx.stats.error("open failed", error.message);
      await sleep(50); // a failing server must not turn this loop into a busy loop
    }
  }

  async loop() {
    for (let n = 0; this.ctx.running && n < this.ctx.maxMessages; n++) await this.once();
  }

  go() {
    this.ctx.running = true;
    this.loops = Array.from({ length: this.ctx.clients }, () => this.loop());
  }

  stop() {
    this.ctx.running = false;
    return { open: 0 };
  }

  async close() {
    await Promise.race([Promise.all(this.loops), sleep(this.ctx.closeTimeoutMs)]);
  }
}

export const SCENARIOS = {
  "ws-echo": WsEcho,
  "sio-echo": SioEcho,
  "sio-fanout": SioFanout,
  "poll-echo": PollEcho,
  sessions: Sessions,
  idle: Idle,
};
