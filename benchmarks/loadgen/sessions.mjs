// WebSocket sessions for the load scenarios: an Engine.IO session over ws (or a
// bare WebSocket when ctx.raw), the Socket.IO client on top of it, and opening
// and closing many of them. `ctx` is described in scenarios.mjs.

import { performance } from "node:perf_hooks";
import { WebSocket } from "ws";
import * as eio from "./eio.mjs";
import * as sio from "./sio.mjs";

const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30000 };
export const OPEN_TIMEOUT_MS = 30000;
export const PING_SLACK_MS = 1000; // a ping later than the announced interval by more than this is late

/** The options of one connection: each load-generator process connects from its own
 * loopback address (127.0.0.2, 127.0.0.3, ...), so that more sessions than one
 * address has ephemeral ports (about 28,000) can be open at once. */
function wsOptions(ctx) {
  return { ...WS_OPTIONS, localAddress: `127.0.0.${2 + (ctx.index % 250)}` };
}

function wsURL(ctx) {
  return `ws://127.0.0.1:${ctx.port}${eio.handshakePath("websocket", ctx.path)}`;
}

/** Run `fn` on every item with at most `limit` calls in flight. */
export async function pool(items, limit, fn) {
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
export class WsSession {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    this.ws = null;
    this.opened = false;
    this.closing = false;
    this.closed = false;
    this.pings = 0;
    this.pingInterval = null; // ms, from the open packet
    this.lastPingAt = 0; // when the last ping (or the open packet) came
    this.latePings = 0; // pings that came later than the interval allows
    this.maxPingGap = 0; // ms
    this.seq = 0;
    this.expected = null;
    this.sentAt = 0;
    this.onClosed = null;
  }

  /** Connect; resolves once the open packet (or, raw, the upgrade) has arrived. */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsURL(this.ctx), wsOptions(this.ctx));
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
        else {
          const open = eio.parseOpen(text);
          if (!open) settle(new Error(`first frame is not an open packet: ${text.slice(0, 40)}`));
          else {
            this.pingInterval = open.pingInterval;
            this.lastPingAt = performance.now();
            settle();
          }
        }
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
      const now = performance.now();
      const gap = now - this.lastPingAt;
      this.lastPingAt = now;
      this.maxPingGap = Math.max(this.maxPingGap, gap);
      if (this.pingInterval !== null && gap > this.pingInterval + PING_SLACK_MS) this.latePings += 1;
    } else if (type === eio.NOOP) return;
    else if (type === eio.CLOSE) this.ctx.stats.error("close packet from server", `client ${this.id}`);
    else this.ctx.stats.error("unexpected packet", text.slice(0, 40));
  }

  /** How late the next ping is already (ms; 0 while it is not due or without pings). */
  overdue(now) {
    if (this.pingInterval === null) return 0;
    return Math.max(0, now - this.lastPingAt - this.pingInterval - PING_SLACK_MS);
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
 * message's sequence number. Subclasses change what is done with the Socket.IO
 * packets that arrive once it is open (`onPacket`).
 */
export class SioSession extends WsSession {
  constructor(ctx, id) {
    super(ctx, id);
    this.replyTo = null; // while waiting for a reply: called with the next Socket.IO packet
  }

  async open() {
    await super.open();
    await this.exchange(eio.MESSAGE + sio.CONNECT, sio.CONNECT + "{", "Socket.IO connect");
  }

  /**
   * Send `frame` and wait for the next Socket.IO packet, which must start with
   * `prefix`; on a timeout or another packet, the session is cut and it rejects.
   */
  exchange(frame, prefix, what) {
    return new Promise((resolve, reject) => {
      const settle = (error) => {
        clearTimeout(timer);
        this.replyTo = null;
        if (!error) return resolve();
        this.closing = true; // cut by the client: not a close by the server
        this.ws.terminate();
        reject(error);
      };
      const timer = setTimeout(() => settle(new Error(`${what} timeout`)), OPEN_TIMEOUT_MS);
      this.replyTo = (payload) =>
        settle(payload.startsWith(prefix) ? null : new Error(`${what} refused: ${payload.slice(0, 60)}`));
      this.ws.send(frame);
    });
  }

  frame(message) {
    return eio.MESSAGE + sio.EVENT + this.seq + JSON.stringify(["echo", message]);
  }

  echoOf(message) {
    return sio.ACK + this.seq + JSON.stringify([message]);
  }

  onMessage(payload) {
    if (this.replyTo) this.replyTo(payload);
    else this.onPacket(payload);
  }

  /** A Socket.IO packet once open: here, the acknowledgement of an echo. */
  onPacket(payload) {
    super.onMessage(payload);
  }
}

/**
 * Open ctx.clients WebSocket sessions, counting the ones that fail; after
 * ctx.openDeadlineMs (if set) no new one is started and the rest count as not opened.
 */
export async function openSessions(ctx, Session = WsSession) {
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

export async function closeAll(sessions) {
  await Promise.all(sessions.map((session) => session.close()));
}
