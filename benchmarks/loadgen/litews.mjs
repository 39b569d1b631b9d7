// A minimal WebSocket client over node:net for the new-sessions scenario, where
// a full client library costs more CPU per connection than the servers under
// test: it sends the upgrade request, waits for the 101 and (Engine.IO) the open
// packet's frame, sends a close frame and waits for the server to close the TCP
// connection. It checks the status and the open packet, not the accept key.

import net from "node:net";
import { performance } from "node:perf_hooks";

// A masked close frame, code 1000; the all-zero mask leaves the payload as is.
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
const TEXT = 0x1;

function upgradeRequest(port, path) {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "latin1",
  );
}

/** The first complete frame of `buffer` as {opcode, payload}, or null if incomplete. */
function parseFrame(buffer) {
  if (buffer.length < 2) return null;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return null;
  return { opcode: buffer[0] & 0x0f, payload: buffer.subarray(offset, offset + length).toString("utf8") };
}

/**
 * Open one session and close it. Resolves with the milliseconds from connecting
 * to the session being open (the open packet, or the 101 when `raw`), once the
 * server has closed the connection; rejects on any failure or after `timeoutMs`.
 */
export function openAndClose(port, path, raw, timeoutMs) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    let buffer = Buffer.alloc(0);
    let stage = "upgrade";
    let openedMs = null;
    const timer = setTimeout(() => fail(`timeout in stage ${stage}`), timeoutMs);
    function fail(message) {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(message));
    }
    function opened() {
      openedMs = performance.now() - start;
      stage = "closing";
      socket.write(CLOSE_FRAME);
    }
    function onUpgrade() {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const status = buffer.subarray(0, buffer.indexOf("\r\n")).toString("latin1");
      if (!status.startsWith("HTTP/1.1 101")) return fail(`upgrade refused: ${status}`);
      buffer = buffer.subarray(end + 4);
      if (raw) opened();
      else stage = "open";
    }
    function onOpenFrame() {
      const frame = parseFrame(buffer);
      if (frame === null) return;
      if (frame.opcode !== TEXT || !frame.payload.startsWith("0{")) return fail(`not an open packet: ${frame.payload.slice(0, 40)}`);
      opened();
    }
    socket.on("connect", () => socket.write(upgradeRequest(port, path)));
    socket.on("data", (chunk) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      if (stage === "upgrade") onUpgrade();
      if (stage === "open") onOpenFrame();
    });
    socket.on("error", (error) => fail(error.message));
    socket.on("close", () => {
      clearTimeout(timer);
      if (openedMs !== null) resolve(openedMs);
      else reject(new Error(`closed in stage ${stage}`));
    });
  });
}
