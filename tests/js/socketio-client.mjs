// Interop driver: plays the Socket.IO scenario of tests/socketio/ with the official
// npm `socket.io-client` against a python-socketio server, and reports each step
// as one JSON line.
//
// Setup (once):  cd tests/js && npm ci
//
// Usage:
//   node tests/js/socketio-client.mjs --url http://127.0.0.1:PORT --token TOKEN
//       [--transports polling,websocket]   transports to allow, in order (default polling,websocket)
//       [--expect-upgrade]                 wait for each connection's upgrade to WebSocket
//       [--timeout 10000]                  overall deadline in ms
//
// The scenario, with clients A and B (auth {token, name}) and C (a wrong token):
//   refused     C is refused: {"step":"refused","message":str,"data":any}
//   connect     A, then B: {"step":"connect","name":str,"id":str,"transport":str}
//   echo        A emits "echo" with an ack: {"step":"echo","reply":any}
//   broadcast   A and B join the room (acked), A emits "shout"; both get "shouted":
//               {"step":"broadcast","joined":[str,str],"received":{"A":any,"B":any}}
//   bytes       A emits "bytes" (a Buffer) with an ack; the server acks with the same
//               bytes and emits "bytes" with them reversed:
//               {"step":"bytes","ack":hex,"event":hex}
//   call        A emits "call_me" 21 with an ack; the server calls "question" on A,
//               which acks n * 2; the server acks with that answer:
//               {"step":"call","question":any,"answer":any}
//   kicked      B emits "kick_me"; the server disconnects it: {"step":"kicked","reason":str}
//   left        A disconnects; its manager's engine closes: {"step":"left","reason":str}
// and last {"step":"done","ok":true}, or {"step":"failed","ok":false,"error":str}.
// Exit status: 0 if ok, 1 otherwise.

import { parseArgs } from "node:util";
import { io } from "socket.io-client";

const ROOM = "room-1";
let finished = false;

function report(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

function finish(error = null) {
  if (finished) return;
  finished = true;
  const ok = error === null;
  const line = ok ? { step: "done", ok } : { step: "failed", ok, error: String(error) };
  process.exitCode = ok ? 0 : 1;
  process.stdout.write(JSON.stringify(line) + "\n", () => {
    // Every socket is closed by now when ok; never hang either way.
    setTimeout(() => process.exit(process.exitCode), ok ? 1000 : 0).unref();
  });
}

function next(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

function hex(data) {
  return Buffer.isBuffer(data) ? data.toString("hex") : `not a Buffer: ${typeof data}`;
}

function connect(url, options, auth) {
  const socket = io(url, { ...options, auth, forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(Object.assign(err, { socket })));
  });
}

async function upgraded(socket, expectUpgrade) {
  const engine = socket.io.engine;
  if (expectUpgrade && engine.transport.name !== "websocket") await next(engine, "upgrade");
  return engine.transport.name;
}

async function scenario(opts) {
  const options = {
    transports: opts.transports.split(",").map((t) => t.trim()).filter(Boolean),
  };
  const expectUpgrade = opts["expect-upgrade"];

  try {
    const refused = await connect(opts.url, options, { token: "wrong", name: "C" });
    refused.disconnect();
    throw new Error("a connection with a wrong token was accepted");
  } catch (err) {
    if (err.socket === undefined) throw err;
    report({ step: "refused", message: err.message, data: err.data ?? null });
  }

  const clients = {};
  for (const name of ["A", "B"]) {
    const socket = await connect(opts.url, options, { token: opts.token, name });
    clients[name] = socket;
    report({ step: "connect", name, id: socket.id, transport: await upgraded(socket, expectUpgrade) });
  }
  const { A, B } = clients;

  const reply = await A.emitWithAck("echo", { text: "héllo ✓", list: [1, 2.5, null, true] });
  report({ step: "echo", reply });

  const joined = await Promise.all([A.emitWithAck("join", ROOM), B.emitWithAck("join", ROOM)]);
  const shouted = Promise.all([next(A, "shouted"), next(B, "shouted")]);
  A.emit("shout", "hello room");
  const [[toA], [toB]] = await shouted;
  report({ step: "broadcast", joined, received: { A: toA, B: toB } });

  const bytesEvent = next(A, "bytes");
  const ack = await A.emitWithAck("bytes", Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]));
  const [event] = await bytesEvent;
  report({ step: "bytes", ack: hex(ack), event: hex(event) });

  let question = null;
  A.on("question", (n, callback) => {
    question = n;
    callback(n * 2);
  });
  const answer = await A.emitWithAck("call_me", 21);
  report({ step: "call", question, answer });

  const kicked = next(B, "disconnect");
  B.emit("kick_me");
  const [kickReason] = await kicked;
  report({ step: "kicked", reason: kickReason });

  const left = next(A, "disconnect");
  const engineClosed = next(A.io.engine, "close");
  A.disconnect();
  const [leftReason] = await left;
  await engineClosed;
  report({ step: "left", reason: leftReason });
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      url: { type: "string" },
      token: { type: "string" },
      transports: { type: "string", default: "polling,websocket" },
      "expect-upgrade": { type: "boolean", default: false },
      timeout: { type: "string", default: "10000" },
    },
  }));
  if (!opts.url || opts.token === undefined) throw new Error("--url and --token are required");
  if (!/^\d+$/.test(opts.timeout)) throw new Error("--timeout wants an integer");
} catch (err) {
  finish(`usage: ${err.message}`);
}

if (!finished) {
  const deadline = setTimeout(() => finish(`timeout after ${opts.timeout} ms`), Number(opts.timeout));
  scenario(opts).then(
    () => {
      clearTimeout(deadline);
      finish();
    },
    (err) => {
      clearTimeout(deadline);
      finish(err?.stack ?? err);
    },
  );
}
