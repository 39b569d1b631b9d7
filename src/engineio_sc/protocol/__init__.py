"""The sans-IO Engine.IO v4 protocol core.

Bytes and typed requests in, packets and events out. Nothing here awaits, reads a
clock or imports an I/O library: the server, every transport and the tests share
it.
"""

from ._handshake import Handshake as Handshake
from ._handshake import OpenPacket as OpenPacket
from ._handshake import Poll as Poll
from ._handshake import Post as Post
from ._handshake import Preflight as Preflight
from ._handshake import Request as Request
from ._handshake import WebSocketJoin as WebSocketJoin
from ._handshake import classify as classify
from ._packets import Packet as Packet
from ._packets import PacketType as PacketType
from ._packets import decode_binary_frame as decode_binary_frame
from ._packets import decode_text as decode_text
from ._packets import encode_polling as encode_polling
from ._payload import SEPARATOR as SEPARATOR
from ._payload import PayloadBuilder as PayloadBuilder
from ._payload import decode_payload as decode_payload
from ._session import POLL_RELEASE_DELAY as POLL_RELEASE_DELAY
from ._session import ClientClosed as ClientClosed
from ._session import MessageReceived as MessageReceived
from ._session import PingDue as PingDue
from ._session import PingTimedOut as PingTimedOut
from ._session import PollReleased as PollReleased
from ._session import PollVerdict as PollVerdict
from ._session import SessionEvent as SessionEvent
from ._session import SessionMachine as SessionMachine
from ._state import TRANSITIONS as TRANSITIONS
from ._state import Input as Input
from ._state import SessionState as SessionState
from ._state import Transport as Transport
from ._state import transition as transition

__all__ = [
    "POLL_RELEASE_DELAY",
    "SEPARATOR",
    "TRANSITIONS",
    "ClientClosed",
    "Handshake",
    "Input",
    "MessageReceived",
    "OpenPacket",
    "Packet",
    "PacketType",
    "PayloadBuilder",
    "PingDue",
    "PingTimedOut",
    "Poll",
    "PollReleased",
    "PollVerdict",
    "Post",
    "Preflight",
    "Request",
    "SessionEvent",
    "SessionMachine",
    "SessionState",
    "Transport",
    "WebSocketJoin",
    "classify",
    "decode_binary_frame",
    "decode_payload",
    "decode_text",
    "encode_polling",
    "transition",
]
