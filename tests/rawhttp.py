"""Raw HTTP/1.1 POSTs on an anyio TCP stream, written the way a plain socket
client writes them: the whole request first, the answer read afterwards.

httpx would not do: it reads the answer as soon as one comes, so it never sees
what a client that is still writing sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import anyio.abc


@dataclass
class Reply:
    """What came back on the connection, up to its end.

    Attributes:
        status: the response's status, or ``None`` if none was read.
        headers: the response's headers, names in lower case.
        end: how the server ended the connection: ``"eof"`` (closed in order)
            or ``"reset"``.
        written: bytes of the body the client wrote.
    """

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    end: str = "eof"
    written: int = 0


def _head(target: str, framing: str) -> bytes:
    return f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n\r\n".encode()


def chunked(body: bytes, size: int = 10_000) -> bytes:
    """``body`` in the chunked transfer coding, ``size`` bytes a chunk."""
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%b\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


async def _read_to_end(stream: anyio.abc.ByteStream, reply: Reply) -> None:
    data = b""
    try:
        while True:
            data += await stream.receive()
    except anyio.EndOfStream:
        reply.end = "eof"
    except anyio.BrokenResourceError:
        reply.end = "reset"
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1")
    if head:
        status_line, *lines = head.split("\r\n")
        reply.status = int(status_line.split()[1])
        for line in lines:
            name, _, value = line.partition(":")
            reply.headers[name.strip().lower()] = value.strip()


async def post_whole(port: int, target: str, body: bytes, *, chunk: bool = False) -> Reply:
    """POST ``body`` to ``target`` (with a ``Content-Length``, or chunked), all of
    it, then read until the server ends the connection."""
    framing = "Transfer-Encoding: chunked" if chunk else f"Content-Length: {len(body)}"
    request = _head(target, framing) + (chunked(body) if chunk else body)
    reply = Reply(None)
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(request)
        reply.written = len(body)
        await _read_to_end(stream, reply)
    return reply


async def post_endless(port: int, target: str, size: int, part: int = 65_536) -> Reply:
    """Announce a body of ``size`` bytes and write it as fast as the server
    takes it, while reading, until the server ends the connection."""
    reply = Reply(None)
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(_head(target, f"Content-Length: {size}"))
        async with anyio.create_task_group() as tg:

            async def write() -> None:
                block = b"x" * part
                while reply.written < size:
                    try:
                        await stream.send(block[: size - reply.written])
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        return  # the server closed the connection
                    reply.written += min(part, size - reply.written)

            tg.start_soon(write)
            await _read_to_end(stream, reply)
            tg.cancel_scope.cancel()
    return reply


async def post_stalled(port: int, target: str, size: int, sent: bytes) -> Reply:
    """Announce a body of ``size`` bytes, write only ``sent``, then read until
    the server ends the connection."""
    reply = Reply(None)
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(_head(target, f"Content-Length: {size}") + sent)
        reply.written = len(sent)
        await _read_to_end(stream, reply)
    return reply
