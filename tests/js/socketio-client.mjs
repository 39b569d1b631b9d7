// Interop driver: plays a Socket.IO scenario with the official npm `socket.io-client`
// against a Socket.IO server, and reports each step as one JSON line.
//
// Setup (once):  cd tests/js && npm ci
//
// Usage:
//   node tests/js/socketio-client.mjs --url http://127.0.0.1:PORT --token TOKEN
//       [--scenario basic|full]            which scenario (default basic)
//       [--transports polling,websocket]   transports to allow, in order (default polling,websocket)
//       [--expect-upgrade]                 wait for each connection's upgrade to WebSocket
//       [--timeout 10000]                  overall deadline in ms
//
// Bytes are reported as {"hex": str}, wherever they are in what was received.
//
// The basic scenario (tests/python_socketio/app.py), with clients A and B (auth
// {token, name}) and C (a wrong token):
//   refused     C is refused: {"step":"refused","message":str,"data":any}
//   connect     A, then B: {"step":"connect","name":str,"id":str,"transport":str}
//   echo        A emits "echo" with an ack: {"step":"echo","reply":any}
//   broadcast   A and B join the room (acked), A emits "shout"; both get "shouted":
//               {"step":"broadcast","joined":[str,str],"received":{"A":any,"B":any}}
//   bytes       A emits "bytes" (a Buffer) with an ack; the server acks with the same
//               bytes and emits "bytes" with them reversed:
//               {"step":"bytes","ack":bytes,"event":bytes}
//   call        A emits "call_me" 21 with an ack; the server calls "question" on A,
//               which acks n * 2; the server acks with that answer:
//               {"step":"call","question":any,"answer":any}
//   kicked      B emits "kick_me"; the server disconnects it: {"step":"kicked","reason":str}
//   left        A disconnects; its manager's engine closes: {"step":"left","reason":str}
//
// The full scenario (tests/socketio_live/app.py; tests/socketio_live/player.py plays
// it with python-socketio's client): clients A, B and C, each one Engine.IO
// connection (query client=NAME; C's at the path /alt/) with a socket in "/" and in
// "/chat" (auth {token, name}), and R (a wrong token, "/" only). Every ack is awaited
// before the next step. A client answers "vote" with its name and "question" n with
// n * 2 and the bytes it sends; it holds its ack of "hold" until "release" comes.
//   refused     R is refused: {"step":"refused","message":str,"data":any}
//   connect     A, B, C; the server emits "welcome" while "/" joins:
//               {"step":"connect","name":str,"root":id,"chat":id,"transport":str,
//                "welcome":any}
//   whoami      A, B, C emit "whoami" in "/": {"step":"whoami","name":str,"reply":any}
//   count       A emits "count" twice in "/": {"step":"count","replies":[any,any]}
//   join        in "/chat", A and B join "red", C joins "blue":
//               {"step":"join","rooms":{"A":any,"B":any,"C":any}}
//   rooms       A emits "shout" in "/"; in "/chat", A says s1 to "red" (skip_self), s2
//               to "red"; B leaves "red"; A says s3 to "red"; A closes "red"; A says
//               s4 to "red" (each "said" carries bytes):
//               {"step":"rooms","left":B's rooms,"closed":A's rooms}
//   received    A, B, C emit "rooms" in "/chat", then report the "shouted" ("/") and
//               "said" ("/chat") messages they got:
//               {"step":"received","name":str,"shouted":[any],"said":[any],"rooms":any}
//   bytes       A emits "bytes" {"blob": bytes} in "/chat"; the server acks with it and
//               emits "bytes" to A with two arguments:
//               {"step":"bytes","ack":any,"event":[any,any]}
//   survey      A emits "survey" in "/"; the server asks everyone "vote":
//               {"step":"survey","reply":any}
//   call        B emits "call_me" 21 in "/"; the server calls "question" on B:
//               {"step":"call","question":any,"answer":any}
//   timeout     C emits "call_late" in "/"; the server calls "hold" on C, gives up,
//               emits "release": {"step":"timeout","reply":any,"held":bool}
//   later       A emits "later" 7 in "/"; a background task sends A a "message":
//               {"step":"later","ack":any,"message":any}
//   kicked      C emits "kick_me" in "/chat" and is disconnected from "/chat"; it
//               emits "whoami" in "/": {"step":"kicked","reason":str,"whoami":any}
//   left        B disconnects from "/chat" and emits "whoami" in "/":
//               {"step":"left","reason":str,"whoami":any}
//   bye         A, B and C disconnect; each manager's engine closes:
//               {"step":"bye","reasons":{"A":[str,str],"B":[str],"C":[str]}} ("/" first)
//
// Either ends with {"step":"done","ok":true}, or {"step":"failed","ok":false,"error":str}.
// Exit status: 0 if ok, 1 otherwise.

import { parseArgs } from "node:util";
import { io, Manager } from "socket.io-client";

const ROOM = "room-1";
const CHAT = "/chat";
const ALT_PATH = "/alt/";
const PAYLOAD = Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]);
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

function hexify(value) {
  if (Buffer.isBuffer(value)) return { hex: value.toString("hex") };
  if (Array.isArray(value)) return value.map(hexify);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hexify(v)]));
  }
  return value;
}

function connect(url, options, auth) {
  return joined(io(url, { ...options, auth, forceNew: true, reconnection: false }));
}

function joined(socket) {
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

async function basic(opts, options, expectUpgrade) {
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
  const ack = await A.emitWithAck("bytes", PAYLOAD);
  const [event] = await bytesEvent;
  report({ step: "bytes", ack: hexify(ack), event: hexify(event) });

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

// A client of the full scenario: one manager (one Engine.IO connection), at /alt/ for C.
function manager(opts, options, name) {
  const path = name === "C" ? ALT_PATH : "/socket.io";
  return new Manager(opts.url, { ...options, path, query: { client: name }, reconnection: false });
}

async function player(opts, options, name) {
  const io = manager(opts, options, name);
  const auth = { token: opts.token, name };
  const root = io.socket("/", { auth });
  const chat = io.socket(CHAT, { auth });
  const welcome = next(root, "welcome");
  await Promise.all([joined(root), joined(chat)]);
  const [welcomed] = await welcome;
  const p = { name, io, root, chat, welcomed, shouted: [], said: [], questions: [], held: false };
  let hold = null;
  root.on("shouted", (message) => p.shouted.push(message));
  chat.on("said", (message) => p.said.push(message));
  root.on("vote", (_question, callback) => callback(name));
  root.on("question", (n, callback) => {
    p.questions.push(n);
    callback(n * 2, PAYLOAD);
  });
  root.on("hold", (callback) => {
    p.held = true;
    hold = callback;
  });
  root.on("release", () => hold?.());
  return p;
}

async function full(opts, options, expectUpgrade) {
  try {
    await joined(manager(opts, options, "R").socket("/", { auth: { token: "wrong", name: "R" } }));
    throw new Error("a connection with a wrong token was accepted");
  } catch (err) {
    if (err.socket === undefined) throw err;
    report({ step: "refused", message: err.message, data: err.data ?? null });
  }

  const players = {};
  for (const name of ["A", "B", "C"]) {
    const p = await player(opts, options, name);
    players[name] = p;
    const transport = await upgraded(p.root, expectUpgrade);
    const { root, chat, welcomed: welcome } = p;
    report({ step: "connect", name, root: root.id, chat: chat.id, transport, welcome });
  }
  const { A, B, C } = players;
  for (const p of [A, B, C]) {
    report({ step: "whoami", name: p.name, reply: await p.root.emitWithAck("whoami") });
  }
  const counts = [await A.root.emitWithAck("count"), await A.root.emitWithAck("count")];
  report({ step: "count", replies: counts });

  const rooms = {};
  for (const [p, room] of [[A, "red"], [B, "red"], [C, "blue"]]) {
    rooms[p.name] = await p.chat.emitWithAck("join", room);
  }
  report({ step: "join", rooms });

  await A.root.emitWithAck("shout", "hi all");
  const say = (text, skipSelf) =>
    A.chat.emitWithAck("say", { text, room: "red", skip_self: skipSelf });
  await say("s1", true);
  await say("s2", false);
  const left = await B.chat.emitWithAck("leave", "red");
  await say("s3", false);
  const closed = await A.chat.emitWithAck("close", "red");
  await say("s4", false);
  report({ step: "rooms", left, closed });
  for (const p of [A, B, C]) {
    const rooms = await p.chat.emitWithAck("rooms");
    report({ step: "received", name: p.name, shouted: p.shouted, said: hexify(p.said), rooms });
  }

  const bytesEvent = next(A.chat, "bytes");
  const ack = await A.chat.emitWithAck("bytes", { blob: PAYLOAD });
  report({ step: "bytes", ack: hexify(ack), event: hexify(await bytesEvent) });

  report({ step: "survey", reply: await A.root.emitWithAck("survey") });
  const answer = await B.root.emitWithAck("call_me", 21);
  report({ step: "call", question: B.questions, answer: hexify(answer) });
  const reply = await C.root.emitWithAck("call_late");
  report({ step: "timeout", reply, held: C.held });

  const message = next(A.root, "message");
  const later = await A.root.emitWithAck("later", 7);
  report({ step: "later", ack: later, message: (await message)[0] });

  const kicked = next(C.chat, "disconnect");
  C.chat.emit("kick_me");
  const [kickReason] = await kicked;
  report({ step: "kicked", reason: kickReason, whoami: await C.root.emitWithAck("whoami") });

  const leaving = next(B.chat, "disconnect");
  B.chat.disconnect();
  const [leftReason] = await leaving;
  report({ step: "left", reason: leftReason, whoami: await B.root.emitWithAck("whoami") });

  const reasons = {};
  for (const p of [A, B, C]) {
    const sockets = [p.root, p.chat].filter((socket) => socket.connected);
    const gone = Promise.all(sockets.map((socket) => next(socket, "disconnect")));
    const engineClosed = next(p.io.engine, "close");
    for (const socket of sockets) socket.disconnect();
    reasons[p.name] = (await gone).map(([reason]) => reason);
    await engineClosed;
  }
  report({ step: "bye", reasons });
}

const SCENARIOS = { basic, full };

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      url: { type: "string" },
      token: { type: "string" },
      scenario: { type: "string", default: "basic" },
      transports: { type: "string", default: "polling,websocket" },
      "expect-upgrade": { type: "boolean", default: false },
      timeout: { type: "string", default: "10000" },
    },
  }));
  if (!opts.url || opts.token === undefined) throw new Error("--url and --token are required");
  if (!/^\d+$/.test(opts.timeout)) throw new Error("--timeout wants an integer");
  if (!Object.hasOwn(SCENARIOS, opts.scenario)) throw new Error(`no scenario ${opts.scenario}`);
} catch (err) {
  finish(`usage: ${err.message}`);
}

if (!finished) {
  const deadline = setTimeout(() => finish(`timeout after ${opts.timeout} ms`), Number(opts.timeout));
  const options = {
    transports: opts.transports.split(",").map((t) => t.trim()).filter(Boolean),
  };
  SCENARIOS[opts.scenario](opts, options, opts["expect-upgrade"]).then(
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
