// Interop driver: clients of the official npm `socket.io-client` that a test drives
// one request at a time (tests/cluster/clients.py), rather than a scenario of its own.
//
// Setup (once):  cd tests/js && npm ci
//
// Usage: node tests/js/socketio-fleet.mjs
//
// Each line on stdin is a request {"id": int, "op": str, ...}; each gets one line on
// stdout, in the order they finish: {"id": int, "ok": true, ...} or
// {"id": int, "ok": false, "error": str}. Requests run concurrently. A client keeps
// its cookies, as a browser does (`withCredentials`: one cookie jar per Engine.IO
// connection, so a reconnection starts without cookies).
//
//   open       {client, url, transports: [str], reconnection: bool, upgrade: bool}
//              connect a new client named `client`; with `upgrade`, wait for its
//              upgrade to WebSocket: {"sid": str, "transport": str}
//   call       {client, event, args: [any]}: emit `event` and wait for the
//              server's ack: {"reply": any} (its first argument)
//   next       {client, event}: the arguments of the next `event` the client got
//              (waiting for it): {"args": [any]}; the client's "connect" (with its
//              sid), "disconnect" (with the reason) and "connect_error" (with the
//              message) count as events
//   answer     {client, event, reply}: from now on, ack every `event` with `reply`
//   transport  {client}: {"transport": str}, the current one
//   close      {client}: disconnect the client
//
// End of stdin closes every client and ends the process (exit status 0).

import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const ACK_TIMEOUT_MS = 10_000;
const clients = new Map();

function write(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

class Inbox {
  constructor() {
    this.queues = new Map();
  }

  queue(event) {
    if (!this.queues.has(event)) this.queues.set(event, { items: [], waiters: [] });
    return this.queues.get(event);
  }

  put(event, args) {
    const queue = this.queue(event);
    const waiter = queue.waiters.shift();
    if (waiter) waiter(args);
    else queue.items.push(args);
  }

  next(event) {
    const queue = this.queue(event);
    if (queue.items.length) return Promise.resolve(queue.items.shift());
    return new Promise((resolve) => queue.waiters.push(resolve));
  }
}

function client(name) {
  const entry = clients.get(name);
  if (!entry) throw new Error(`no client ${name}`);
  return entry;
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, resolve));
}

async function open({ client: name, url, transports, reconnection, upgrade }) {
  if (clients.has(name)) throw new Error(`client ${name} exists`);
  const socket = io(url, {
    transports,
    withCredentials: true,
    forceNew: true,
    reconnection,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
  });
  const inbox = new Inbox();
  clients.set(name, { socket, inbox });
  socket.on("connect", () => inbox.put("connect", [socket.id]));
  socket.on("disconnect", (reason) => inbox.put("disconnect", [reason]));
  socket.on("connect_error", (err) => inbox.put("connect_error", [err.message]));
  socket.onAny((event, ...args) => {
    inbox.put(event, args.filter((arg) => typeof arg !== "function"));
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    if (!reconnection) socket.once("connect_error", reject);
  });
  await inbox.next("connect"); // so that the next "connect" is a reconnection
  const engine = socket.io.engine;
  if (upgrade && engine.transport.name !== "websocket") await once(engine, "upgrade");
  return { sid: socket.id, transport: engine.transport.name };
}

async function call({ client: name, event, args }) {
  return { reply: await client(name).socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args) };
}

async function next({ client: name, event }) {
  return { args: await client(name).inbox.next(event) };
}

function answer({ client: name, event, reply }) {
  client(name).socket.on(event, (...args) => {
    const callback = args.at(-1);
    if (typeof callback === "function") callback(reply);
  });
  return {};
}

function transport({ client: name }) {
  return { transport: client(name).socket.io.engine.transport.name };
}

function close({ client: name }) {
  client(name).socket.disconnect();
  return {};
}

const OPS = { open, call, next, answer, transport, close };

async function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
    const op = OPS[request.op];
    if (!op) throw new Error(`no op ${request.op}`);
    write({ id: request.id, ok: true, ...(await op(request)) });
  } catch (err) {
    write({ id: request?.id ?? null, ok: false, error: String(err?.stack ?? err) });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  handle(line);
});
lines.on("close", () => {
  for (const { socket } of clients.values()) socket.disconnect();
  // Let the last packets go out, then end whatever the sockets still hold.
  setTimeout(() => process.exit(0), 200).unref();
});
