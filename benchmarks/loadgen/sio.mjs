// Socket.IO v5 wire format, the few pieces an emitting client needs (no client
// library). A Socket.IO packet travels as the data of an Engine.IO message:
// <type>[<ack id>][<JSON>], the namespace written only when it is not "/".
// Types used here: 0 CONNECT, 2 EVENT, 3 ACK.

export const PATH = "/socket.io/";
export const CONNECT = "0";
export const EVENT = "2";
export const ACK = "3";
