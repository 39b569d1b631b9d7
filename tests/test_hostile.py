"""Hostile input: each gets a clear error, and nothing else is disturbed."""

from __future__ import annotations

import string

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engineio_sc
from engineio_sc._http import ClientGone, read_body
from engineio_sc.exceptions import ContentTooLongError, ProtocolError
from engineio_sc.protocol import (
    Packet,
    PingTimedOut,
    SessionMachine,
    Transport,
    classify,
    decode_text,
)

from .asgi_client import live_sessions, polling, served, session_ids

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"x",
        b"4ok\x1e\x1e4lost",
        b"b!!!not base64",
        b"9",
        b"4ok\xff\xfe",
        b"\x1e" * 1000,
        b"2",
    ],
)
async def test_malformed_payload_closes_only_its_session(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async with served() as (server, client):
        victim, _ = await client.handshake()
        bystander, _ = await client.handshake()
        await server.send(bystander, "queued")
        response = await client.post(polling(victim), body)
        assert (response.status, response.json()) == (400, {"code": 3, "message": "Bad request"})
        assert (await client.get(polling(victim))).json()["code"] == 1
        assert (await client.get(polling(bystander))).packets == ["4queued"]
        assert (await client.post(polling(bystander), "4fine")).status == 200
    assert caplog.text.count("POST request refused") == 1


async def test_body_discard_ends_when_the_client_leaves() -> None:
    """A client that leaves while the rest of its over-long body is thrown away
    ends the discarding, without an error of its own."""
    parts = [b"4" * 8, b"x" * 8, b"y" * 8]

    async def next_part() -> bytes | None:
        if parts:
            return parts.pop(0)
        raise ClientGone("the client went away during the body")

    with pytest.raises(ContentTooLongError, match=r"^body over 10 bytes$"):
        await read_body(next_part, 10, 5.0)
    assert parts == []


async def test_harmless_packets_are_ignored() -> None:
    async with served() as (server, client):
        sid, _ = await client.handshake()
        for body in ("5", "6", "3", "0{}"):
            assert (await client.post(polling(sid), body)).status == 200
        assert server.transport(sid) == "polling"


async def test_binary_and_bad_text_frames_over_websocket() -> None:
    async with served() as (server, client):
        async with client.websocket("EIO=4&transport=websocket") as ws:
            await ws.receive()
            (session,) = live_sessions(server).values()
            await ws.send(b"\xff\x00 raw binary is a message")
            await ws.send("")
            assert await ws.receive() is None
            assert ws.close_code == 1002
        await session.done.wait()
        assert session_ids(server) == set()
        assert server.statistics().messages_in == 1


def test_sids_are_unguessable() -> None:
    server = engineio_sc.AsyncServer()
    sids = {server.generate_id() for _ in range(20_000)}
    assert len(sids) == 20_000
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert all(len(sid) == 20 and set(sid) <= alphabet for sid in sids)


async def test_guessed_sids_learn_nothing() -> None:
    async with served() as (_, client):
        real, _ = await client.handshake()
        for guess in (real[:-1] + ("A" if real[-1] != "A" else "B"), real.upper(), "a" * 5000):
            response = await client.get(polling(guess))
            assert response.status == 400
            assert response.json()["code"] in (0, 1, 5)


@pytest.mark.parametrize(
    "value",
    ["http://a.com\r\nX-Evil: 1", "http://a.com\x00", "http://ä.com", "null\t"],
)
async def test_origin_with_forbidden_characters_is_refused(value: str) -> None:
    async with served(cors_allowed_origins="*") as (_, client):
        response = await client.get("EIO=4&transport=polling", headers=[("Origin", value)])
        assert response.status == 400
        assert "access-control-allow-origin" not in response.headers


async def test_request_headers_are_not_echoed_when_unsafe() -> None:
    async with served(cors_allowed_origins="*") as (_, client):
        response = await client.request(
            "OPTIONS",
            "EIO=4&transport=polling",
            headers=[("Origin", "http://a.com"), ("Access-Control-Request-Headers", "a\x7fb")],
        )
        assert response.status == 204
        assert "access-control-allow-headers" not in response.headers


# -- fuzz ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "DELETE", "", "get"]),
    query=st.dictionaries(
        st.sampled_from(["EIO", "transport", "sid", "t", "j", "b64", "x"]),
        st.text(max_size=30),
        max_size=5,
    ),
    websocket=st.booleans(),
)
def test_classify_only_raises_protocol_errors(
    method: str, query: dict[str, str], websocket: bool
) -> None:
    try:
        classify(
            method,
            query,
            websocket=websocket,
            transports=(Transport.POLLING, Transport.WEBSOCKET),
            session_transport=lambda sid: Transport.POLLING if sid == "known" else None,
        )
    except ProtocolError as exc:
        status = exc.status
    else:
        status = 200
    assert status == 200 or 400 <= status < 500


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=30), st.lists(st.floats(0, 100), max_size=30))
def test_session_machine_only_raises_protocol_errors(frames: list[str], clock: list[float]) -> None:
    machine = SessionMachine(Transport.POLLING, ping_interval=1, ping_timeout=1)
    machine.accept(0)
    now = 0.0
    for i, frame in enumerate(frames):
        now += clock[i] if i < len(clock) else 0.5
        try:
            packet: Packet = decode_text(frame)
            machine.receive(packet, now)
            if frame == "2probe":
                machine.join()
                machine.probe(packet, now)
            elif frame == "5":
                machine.upgrade(packet)
        except ProtocolError:
            pass
        if isinstance(machine.on_timer(now), PingTimedOut):
            return  # the I/O layer closes the session here
        assert machine.deadline is None or machine.deadline > now


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bodies=st.lists(st.binary(max_size=64), min_size=1, max_size=6))
def test_fuzzed_posts_never_break_the_server(backend: str, bodies: list[bytes]) -> None:
    async def scenario() -> None:
        async with served() as (server, client):
            bystander, _ = await client.handshake()
            victim, _ = await client.handshake()
            for body in bodies:
                response = await client.post(polling(victim), body)
                assert response.status in (200, 400), response
                if response.status == 400 and response.body:
                    assert response.json()["code"] in (1, 3)
            await server.send(bystander, "intact")
            assert (await client.get(polling(bystander))).packets == ["4intact"]
            assert bystander in {s.sid for s in server.statistics().sessions}

    anyio.run(scenario, backend=backend)
