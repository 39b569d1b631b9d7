// Engine.IO v4 wire format, the few pieces a client needs (no client library).
//
// Packets are one type digit followed by data: 0 open (JSON), 1 close, 2 ping,
// 3 pong, 4 message, 5 upgrade, 6 noop. Over polling, several packets travel in
// one HTTP body separated by the record separator \x1e.

export const OPEN = "0";
export const CLOSE = "1";
export const PING = "2";
export const PONG = "3";
export const MESSAGE = "4";
export const NOOP = "6";
export const SEPARATOR = "\x1e";

export const ENGINEIO_PATH = "/engine.io/";

/** The Engine.IO path and query of a new session on one transport (under `path`). */
export function handshakePath(transport, path = ENGINEIO_PATH) {
  return `${path}?EIO=4&transport=${transport}`;
}

/** The open packet's JSON (sid, pingInterval, ...), or null if `text` is not one. */
export function parseOpen(text) {
  if (!text.startsWith(OPEN)) return null;
  try {
    const open = JSON.parse(text.slice(1));
    return typeof open.sid === "string" ? open : null;
  } catch {
    return null;
  }
}

/** The packets of a polling payload. */
export function splitPayload(body) {
  return body.length === 0 ? [] : body.split(SEPARATOR);
}

/** A text message of exactly `size` characters, unique per client and sequence number. */
export function makeMessage(client, seq, size) {
  const head = `${client}:${seq}:`;
  return head.length >= size ? head.slice(0, size) : head + "x".repeat(size - head.length);
}
