// The load scenarios. Each one is an object with the same life cycle, driven by
// loadgen.mjs: setup() (open what must be open), go() (start the traffic),
// measure() (start the measured window), stop() (end it: returns the figures),
// close() (close every session politely; returns what went wrong while closing).
//
// `ctx` is shared by all clients of one process: {port, raw, size, clients,
// idOffset, maxMessages, connectConcurrency, openDeadlineMs, closeTimeoutMs,
// stats, running}, and `path` when a scenario serves elsewhere than /engine.io/.
// `ctx.raw` means the bare WebSocket ceiling: no Engine.IO handshake, pings or
// packet types, the frames are the messages.

import http from "node:http";
import { performance } from "node:perf_hooks";
import { WebSocket } from "ws";
import * as eio from "./eio.mjs";
import * as sio from "./sio.mjs";
import { openAndClose } from "./litews.mjs";

const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30000 };
const OPEN_TIMEOUT_MS = 30000;
const HTTP_TIMEOUT_MS = 60000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function wsURL(ctx) {
  return `ws://127.0.0.1:${ctx.port}${eio.handshakePath("websocket", ctx.path)}`;
}

/** Run `fn` on every item with at most `limit` calls in flight. */
async function pool(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** One WebSocket session (Engine.IO, or a bare WebSocket when ctx.raw). */
class WsSession {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    this.ws = null;
    this.opened = false;
    this.closing = false;
    this.closed = false;
    this.pings = 0;
    this.seq = 0;
    this.expected = null;
    this.sentAt = 0;
    this.onClosed = null;
  }

  /** Connect; resolves once the open packet (or, raw, the upgrade) has arrived. */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsURL(this.ctx), WS_OPTIONS);
      this.ws = ws;
      let settled = false;
      const settle = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          ws.terminate();
          reject(error);
        } else {
          this.opened = true;
          resolve();
        }
      };
      const timer = setTimeout(() => settle(new Error("open timeout")), OPEN_TIMEOUT_MS);
      ws.on("open", () => {
        if (this.ctx.raw) settle();
      });
      ws.on("message", (data) => {
        const text = data.toString();
        if (this.opened) this.onFrame(text);
        else if (eio.parseOpen(text)) settle();
        else settle(new Error(`first frame is not an open packet: ${text.slice(0, 40)}`));
      });
      ws.on("error", (error) => {
        if (!settled) settle(error);
        else this.ctx.stats.error("websocket error", error.message);
      });
      ws.on("close", (code, reason) => this.handleClose(code, reason, settle));
    });
  }

  handleClose(code, reason, settle) {
    this.closed = true;
    if (!this.opened) settle(new Error(`closed before open (code ${code})`));
    else if (!this.closing) this.ctx.stats.unexpectedClose(this.id, code, reason.toString());
    if (this.onClosed) this.onClosed();
  }

  onFrame(text) {
    if (this.ctx.raw) {
      this.onMessage(text);
      return;
    }
    const type = text[0];
    if (type === eio.MESSAGE) this.onMessage(text.slice(1));
    else if (type === eio.PING && text.length === 1) {
      this.pings += 1;
      this.ws.send(eio.PONG);
    } else if (type === eio.NOOP) return;
    else if (type === eio.CLOSE) this.ctx.stats.error("close packet from server", `client ${this.id}`);
    else this.ctx.stats.error("unexpected packet", text.slice(0, 40));
  }

  /** The frame that carries `message`, and the payload that echoes it. */
  frame(message) {
    return this.ctx.raw ? message : eio.MESSAGE + message;
  }

  echoOf(message) {
    return message;
  }

  onMessage(payload) {
    if (this.expected === null || payload !== this.expected) {
      this.ctx.stats.mismatch(this.id, this.expected, payload);
      return;
    }
    this.ctx.stats.record(performance.now() - this.sentAt);
    this.expected = null;
    if (this.ctx.running) this.sendNext();
  }

  /** Send the next message (closed loop: called again when its echo arrives). */
  sendNext() {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.seq >= this.ctx.maxMessages) return;
    this.seq += 1;
    const message = eio.makeMessage(this.id, this.seq, this.ctx.size);
    this.expected = this.echoOf(message);
    this.sentAt = performance.now();
    this.ws.send(this.frame(message));
  }

  /** Close from the client side and wait (bounded) for the close to complete. */
  close() {
    this.closing = true;
    if (this.closed || this.ws === null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ctx.stats.error("close timeout", `client ${this.id}`);
        this.ws.terminate();
        resolve();
      }, this.ctx.closeTimeoutMs);
      this.onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.ws.close(1000);
    });
  }
}

/**
 * One Socket.IO client on an Engine.IO WebSocket session: it connects to the
 * main namespace (`40`, answered `40{"sid":...}`), then emits each message as an
 * `echo` event with an acknowledgement id (`42<id>["echo",message]`), which the
 * server's acknowledgement must carry back (`43<id>[message]`). The id is the
 * message's sequence number.
 */
class SioSession extends WsSession {
  constructor(ctx, id) {
    super(ctx, id);
    this.connecting = null; // while connecting: called with the first Socket.IO packet
  }

  async open() {
    await super.open();
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("Socket.IO connect timeout")), OPEN_TIMEOUT_MS);
      this.connecting = (payload) => {
        clearTimeout(timer);
        this.connecting = null;
        if (payload.startsWith(sio.CONNECT + "{")) resolve();
        else reject(new Error(`Socket.IO connect refused: ${payload.slice(0, 60)}`));
      };
      this.ws.send(eio.MESSAGE + sio.CONNECT);
    });
  }

  frame(message) {
    return eio.MESSAGE + sio.EVENT + this.seq + JSON.stringify(["echo", message]);
  }

  echoOf(message) {
    return sio.ACK + this.seq + JSON.stringify([message]);
  }

  onMessage(payload) {
    if (this.connecting) this.connecting(payload);
    else super.onMessage(payload);
  }
}

/**
 * Open ctx.clients WebSocket sessions, counting the ones that fail; after
 * ctx.openDeadlineMs (if set) no new one is started and the rest count as not opened.
 */
async function openSessions(ctx, Session = WsSession) {
  const sessions = Array.from({ length: ctx.clients }, (_, i) => new Session(ctx, ctx.idOffset + i));
  const open = [];
  const deadline = ctx.openDeadlineMs ? performance.now() + ctx.openDeadlineMs : Infinity;
  await pool(sessions, ctx.connectConcurrency, async (session) => {
    if (performance.now() > deadline) {
      ctx.stats.error("not opened before the setup deadline", `client ${session.id}`);
      return;
    }
    try {
      await session.open();
      open.push(session);
    } catch (error) {
      ctx.stats.error("open failed", error.message);
    }
  });
  return open;
}

async function closeAll(sessions) {
  await Promise.all(sessions.map((session) => session.close()));
}

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

/** Idle sessions: open them, answer pings, count the ones the server drops. */
export class Idle extends WsEcho {
  go() {}

  stop() {
    const alive = this.sessions.filter((s) => !s.closed);
    const pings = alive.map((s) => s.pings);
    return {
      open: alive.length,
      pings_total: pings.reduce((a, b) => a + b, 0),
      pings_min: pings.length ? Math.min(...pings) : null,
      pings_max: pings.length ? Math.max(...pings) : null,
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
  "poll-echo": PollEcho,
  sessions: Sessions,
  idle: Idle,
};
