// Interop driver: runs one session of the official npm `engine.io-client`
// against an Engine.IO server and reports what happened as one JSON line.
//
// Setup (once):  cd tests/js && npm ci
//
// Usage:
//   node tests/js/client.mjs --url http://127.0.0.1:PORT
//       [--path /engine.io/]               server path (default /engine.io/)
//       [--transports polling,websocket]   transports to allow, in order (default polling,websocket)
//       [--no-upgrade]                     do not try to upgrade polling -> websocket
//       [--expect-upgrade]                 wait for the 'upgrade' event before sending
//       [--send text:hello]                send a text message (repeatable, in order)
//       [--send bin:0102ff]                send a binary message given as hex (repeatable)
//       [--expect N]                       messages to wait for (default: number of --send)
//       [--wait-close]                     then wait for the server to close the session
//       [--close]                          then close from the client (also the default)
//       [--timeout 10000]                  overall deadline in ms
//
// Output (stdout, exactly one line):
//   {"ok": bool, "openTransport": str|null, "upgraded": bool, "finalTransport": str|null,
//    "messages": [{"type":"text","data":str} | {"type":"binary","hex":str}, ...],
//    "closeReason": str|null, "closeDescription": str|null, "error": str|null}
// Exit status: 0 if ok, 1 otherwise (timeout, 'error' event, bad arguments, or a
// close before the expected messages / upgrade arrived).

import { parseArgs } from "node:util";
import { Socket } from "engine.io-client";

const result = {
  ok: false,
  openTransport: null,
  upgraded: false,
  finalTransport: null,
  messages: [],
  closeReason: null,
  closeDescription: null,
  error: null,
};

let finished = false;
let deadline = null;

function finish(ok, error = null) {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  result.ok = ok;
  if (error !== null && result.error === null) result.error = error;
  process.exitCode = result.ok ? 0 : 1;
  process.stdout.write(JSON.stringify(result) + "\n", () => {
    if (!result.ok) process.exit(1);
    // Let pending I/O (e.g. the polling close packet) go out, but never hang.
    setTimeout(() => process.exit(0), 1000).unref();
  });
}

function describe(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (value instanceof Error) {
    const extra = value.description !== undefined ? ` (${describe(value.description)})` : "";
    return `${value.message}${extra}`;
  }
  if (typeof value === "object" && "description" in value) return describe(value.description);
  if (typeof value.message === "string") return value.message; // e.g. a ws ErrorEvent
  if (typeof value === "number") return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function toBytes(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function parseSend(item) {
  const sep = item.indexOf(":");
  const kind = sep < 0 ? "" : item.slice(0, sep);
  const payload = sep < 0 ? "" : item.slice(sep + 1);
  if (kind === "text") return payload;
  if (kind === "bin" && /^([0-9a-fA-F]{2})*$/.test(payload)) return Buffer.from(payload, "hex");
  throw new Error(`bad --send value ${JSON.stringify(item)} (want text:STR or bin:HEX)`);
}

let opts;
let sends;
try {
  ({ values: opts } = parseArgs({
    options: {
      url: { type: "string" },
      path: { type: "string", default: "/engine.io/" },
      transports: { type: "string", default: "polling,websocket" },
      "no-upgrade": { type: "boolean", default: false },
      "expect-upgrade": { type: "boolean", default: false },
      send: { type: "string", multiple: true, default: [] },
      expect: { type: "string" },
      "wait-close": { type: "boolean", default: false },
      close: { type: "boolean", default: false },
      timeout: { type: "string", default: "10000" },
    },
  }));
  if (!opts.url) throw new Error("--url is required");
  for (const name of ["expect", "timeout"]) {
    if (opts[name] !== undefined && !/^\d+$/.test(opts[name])) throw new Error(`--${name} wants an integer`);
  }
  sends = opts.send.map(parseSend);
} catch (err) {
  finish(false, `usage: ${err.message}`);
}

if (!finished) {
  const expected = opts.expect !== undefined ? Number(opts.expect) : sends.length;
  const timeoutMs = Number(opts.timeout);
  let closingOnPurpose = false;
  let sent = false;

  deadline = setTimeout(() => {
    finish(false, `timeout after ${timeoutMs} ms`);
  }, timeoutMs);

  const socket = new Socket(opts.url, {
    path: opts.path,
    transports: opts.transports.split(",").map((t) => t.trim()).filter(Boolean),
    upgrade: !opts["no-upgrade"],
  });

  const maybeDone = () => {
    if (!sent || result.messages.length < expected || closingOnPurpose) return;
    result.finalTransport = socket.transport?.name ?? result.finalTransport;
    closingOnPurpose = true;
    if (!opts["wait-close"]) socket.close(); // --close, or the default
  };

  const sendAll = () => {
    if (sent) return;
    sent = true;
    result.finalTransport = socket.transport.name;
    for (const item of sends) socket.send(item);
    maybeDone();
  };

  socket.on("open", () => {
    result.openTransport = socket.transport.name;
    result.finalTransport = socket.transport.name;
    if (!opts["expect-upgrade"] || result.upgraded) sendAll();
  });

  socket.on("upgrade", (transport) => {
    result.upgraded = true;
    result.finalTransport = transport.name;
    // Deferred: the client only clears its "upgrading" flag after this event,
    // and close() called while it is set would wait for another upgrade.
    if (opts["expect-upgrade"] && result.openTransport !== null) setImmediate(sendAll);
  });

  socket.on("message", (data) => {
    const bytes = typeof data === "string" ? null : toBytes(data);
    if (bytes === null) {
      result.messages.push({ type: "text", data: String(data) });
    } else {
      result.messages.push({ type: "binary", hex: bytes.toString("hex") });
    }
    maybeDone();
  });

  socket.on("error", (err) => {
    result.error = `error event: ${describe(err)}`;
    // The matching 'close' follows synchronously; give it a tick to be recorded.
    setImmediate(() => finish(false));
  });

  socket.on("close", (reason, description) => {
    result.closeReason = reason ?? null;
    result.closeDescription = describe(description);
    if (closingOnPurpose) {
      finish(true);
    } else if (!sent && opts["expect-upgrade"] && result.openTransport !== null) {
      finish(false, `closed before upgrade: ${reason}`);
    } else {
      finish(false, `closed after ${result.messages.length}/${expected} messages: ${reason}`);
    }
  });
}
