"""python-engineio's HTTP options, seen on the wire: CORS, compression, cookies, limits."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from typing import Any

import anyio
import pytest

import engineio_sc

from .asgi_client import ASGIClient, Peer, open_sid, polling, served

pytestmark = pytest.mark.anyio

HANDSHAKE = "EIO=4&transport=polling"


def origin(value: str, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [("Host", "example.com"), ("Origin", value), *more]


# -- CORS -----------------------------------------------------------------------


async def test_same_origin_by_default() -> None:
    async with served() as (_, client):
        ok = await client.get(HANDSHAKE, headers=origin("http://example.com"))
        assert ok.status == 200
        assert ok.headers["access-control-allow-origin"] == "http://example.com"
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert ok.headers["vary"] == "Origin"
        refused = await client.get(HANDSHAKE, headers=origin("http://evil.com"))
        assert refused.status == 400
        assert refused.json() == {"code": 3, "message": "Origin not allowed"}
        assert "access-control-allow-origin" not in refused.headers
        wrong_scheme = await client.get(HANDSHAKE, headers=origin("https://example.com"))
        assert wrong_scheme.status == 400
        no_origin = await client.get(HANDSHAKE, headers=[("Host", "example.com")])
        assert no_origin.status == 200
        assert "access-control-allow-origin" not in no_origin.headers


def proxied(origin_value: str = "https://public.org") -> list[tuple[str, str]]:
    """A request as a proxy forwards it: the public origin in X-Forwarded-*."""
    return origin(
        origin_value,
        ("X-Forwarded-Proto", "https, http"),
        ("X-Forwarded-Host", "public.org"),
    )


async def test_same_origin_uses_the_real_scheme() -> None:
    async with served() as (_, client):
        direct_https = await client.get(
            HANDSHAKE, headers=origin("https://example.com"), secure=True
        )
        assert direct_https.status == 200
        # Forwarded headers add an origin; they never take the real one away.
        client.peer = ("203.0.113.7", 40000)
        real = await client.get(HANDSHAKE, headers=proxied("http://example.com"))
        assert real.status == 200


@pytest.mark.parametrize("peer", [("127.0.0.1", 40000), ("::1", 40000)])
async def test_forwarded_origin_trusted_from_loopback_by_default(peer: Peer) -> None:
    async with served() as (_, client):
        client.peer = peer
        response = await client.get(HANDSHAKE, headers=proxied())
        assert response.status == 200
        assert response.headers["access-control-allow-origin"] == "https://public.org"
        async with client.websocket("EIO=4&transport=websocket", proxied()) as ws:
            assert (await ws.receive() or "")[0] == "0"
            assert ws.accepted


@pytest.mark.parametrize("peer", [("203.0.113.7", 40000), ("127.0.0.9", 40000), None])
async def test_forwarded_origin_refused_from_other_peers_by_default(peer: Peer) -> None:
    async with served() as (_, client):
        client.peer = peer
        response = await client.get(HANDSHAKE, headers=proxied())
        assert response.status == 400
        assert response.json() == {"code": 3, "message": "Origin not allowed"}
        async with client.websocket("EIO=4&transport=websocket", proxied()) as ws:
            assert await ws.receive() is None
            assert not ws.accepted


@pytest.mark.parametrize(
    "allowed", ["10.0.0.0/8, 2001:db8::/32", ["10.0.0.0/8", "2001:db8::/32"], ("10.0.0.0/8",)]
)
async def test_forwarded_allow_ips_networks(allowed: str | list[str]) -> None:
    async with served(forwarded_allow_ips=allowed) as (_, client):
        for peer, status in [
            ("10.1.2.3", 200),
            ("::ffff:10.1.2.3", 200),  # an IPv4 peer on a dual-stack socket
            ("11.0.0.1", 400),
            ("127.0.0.1", 400),  # the default no longer applies
            ("2001:db8::5", 200 if "2001" in str(allowed) else 400),
        ]:
            client.peer = (peer, 40000)
            assert (await client.get(HANDSHAKE, headers=proxied())).status == status, peer


async def test_forwarded_allow_ips_star_trusts_every_peer() -> None:
    async with served(forwarded_allow_ips="*") as (_, client):
        for peer in [("203.0.113.7", 40000), ("fe80::1%eth0", 40000), None]:
            client.peer = peer
            assert (await client.get(HANDSHAKE, headers=proxied())).status == 200, peer


@pytest.mark.parametrize("allowed", ["", " , ", []])
async def test_forwarded_allow_ips_empty_trusts_no_peer(allowed: str | list[str]) -> None:
    async with served(forwarded_allow_ips=allowed) as (_, client):
        client.peer = ("127.0.0.1", 40000)
        assert (await client.get(HANDSHAKE, headers=proxied())).status == 400
        assert (await client.get(HANDSHAKE, headers=origin("http://example.com"))).status == 200


@pytest.mark.parametrize(
    "allowed", ["10.0.0.300", "127.0.0.1, localhost", ["10.0.0.0/33"], "::1/129", [5], None, b"*"]
)
def test_bad_forwarded_allow_ips(allowed: Any) -> None:
    with pytest.raises(ValueError, match="forwarded_allow_ips"):
        engineio_sc.AsyncServer(forwarded_allow_ips=allowed)


async def test_forwarded_headers_do_not_change_the_environ() -> None:
    environs: list[dict[str, Any]] = []
    async with served() as (server, client):
        server.on("connect", lambda sid, environ: environs.append(environ))
        client.peer = ("127.0.0.1", 40000)
        headers = [*proxied(), ("X-Forwarded-For", "198.51.100.1")]
        assert (await client.get(HANDSHAKE, headers=headers)).status == 200
    assert environs[0]["REMOTE_ADDR"] == "127.0.0.1"
    assert environs[0]["wsgi.url_scheme"] == "http"


@pytest.mark.parametrize(
    ("allowed", "good", "bad"),
    [
        ("*", ["http://a.com", "https://b.org"], []),
        (["http://x.com", "*"], ["http://a.com"], []),
        ("http://a.com", ["http://a.com"], ["http://b.com"]),
        (["http://a.com", "http://b.com"], ["http://a.com", "http://b.com"], ["http://c.com"]),
    ],
)
async def test_allowed_origins(allowed: Any, good: list[str], bad: list[str]) -> None:
    async with served(cors_allowed_origins=allowed) as (_, client):
        for value in good:
            response = await client.get(HANDSHAKE, headers=origin(value))
            assert response.status == 200
            assert response.headers["access-control-allow-origin"] == value
        for value in bad:
            assert (await client.get(HANDSHAKE, headers=origin(value))).status == 400


async def test_empty_list_turns_cors_off() -> None:
    async with served(cors_allowed_origins=[]) as (_, client):
        response = await client.get(HANDSHAKE, headers=origin("http://anything.com"))
        assert response.status == 200
        assert not [h for h in response.headers if h.startswith("access-control")]
        preflight = await client.request("OPTIONS", HANDSHAKE, headers=origin("http://x.com"))
        assert not [h for h in preflight.headers if h.startswith("access-control")]


async def test_callables_decide_once_per_request() -> None:
    calls: list[tuple[Any, ...]] = []

    def one(value: str) -> bool:
        calls.append((value,))
        return value.endswith(".good")

    def two(value: str, environ: dict[str, Any]) -> bool:
        calls.append((value, environ["REMOTE_ADDR"]))
        return value.endswith(".good")

    for check in (one, two):
        calls.clear()
        async with served(cors_allowed_origins=check) as (_, client):
            assert (await client.get(HANDSHAKE, headers=origin("http://a.good"))).status == 200
            assert (await client.get(HANDSHAKE, headers=origin("http://a.bad"))).status == 400
            assert (await client.get(HANDSHAKE, headers=[("Host", "x")])).status == 200
        assert len(calls) == 2
        assert calls[0][0] == "http://a.good"
        if check is two:
            assert calls[0][1] == "127.0.0.9"


async def test_credentials_off() -> None:
    async with served(cors_allowed_origins="*", cors_credentials=False) as (server, client):
        response = await client.get(HANDSHAKE, headers=origin("http://a.com"))
        assert "access-control-allow-credentials" not in response.headers
        assert server.cors_credentials is False


async def test_preflight() -> None:
    async with served(cors_allowed_origins="*") as (_, client):
        response = await client.request(
            "OPTIONS",
            "EIO=4&transport=polling&sid=whatever",
            headers=origin("http://a.com", ("Access-Control-Request-Headers", "content-type")),
        )
        assert response.status == 204
        assert response.headers["access-control-allow-methods"] == "OPTIONS, GET, POST"
        assert response.headers["access-control-allow-headers"] == "content-type"
        assert response.headers["access-control-allow-origin"] == "http://a.com"
        refused = await client.request(
            "OPTIONS",
            HANDSHAKE,
            headers=origin("http://a.com\x01"),
        )
        assert refused.status == 400


async def test_refused_origin_is_logged_and_refused_on_websocket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served(cors_allowed_origins="http://good.com") as (_, client):
        with caplog.at_level(logging.INFO, logger="engineio_sc.server"):
            async with client.websocket(
                "EIO=4&transport=websocket", headers=origin("http://evil.com")
            ) as ws:
                assert await ws.receive() is None
                assert ws.denied is not None
                assert ws.denied[0] == 400
            await client.get(HANDSHAKE, headers=origin("http://evil.com"))
    records = [r for r in caplog.records if "http://evil.com" in r.getMessage()]
    assert [r.levelno for r in records] == [logging.ERROR, logging.INFO]
    assert "further occurrences" in records[0].getMessage()


# -- compression ------------------------------------------------------------------


async def big_poll(client: ASGIClient, server: engineio_sc.AsyncServer, accept: str | None) -> Any:
    sid, _ = await client.handshake()
    await server.send(sid, "x" * 2000)
    headers = [("Accept-Encoding", accept)] if accept is not None else []
    return await client.get(polling(sid), headers=headers)


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("gzip, deflate", "gzip"),
        ("deflate, gzip", "gzip"),
        ("deflate;q=1, gzip;q=0.5", "deflate"),
        ("br, deflate;q=0.5, gzip", "gzip"),
        ("gzip;q=0, deflate", "deflate"),
        ("gzip;q=0", None),
        ("*", "gzip"),
        ("*;q=0.5, gzip;q=0", "deflate"),
        ("br", None),
        ("", None),
        (None, None),
    ],
)
async def test_compression_choice(accept: str | None, coding: str | None) -> None:
    async with served() as (server, client):
        response = await big_poll(client, server, accept)
        assert response.headers.get("content-encoding") == coding
        assert response.headers["vary"] == "Accept-Encoding"
        body = response.body
        if coding == "gzip":
            body = gzip.decompress(body)
        elif coding == "deflate":
            body = zlib.decompress(body)
        assert body.decode() == "4" + "x" * 2000


async def test_compression_threshold_and_switch() -> None:
    async with served(compression_threshold=3000) as (server, client):
        response = await big_poll(client, server, "gzip")
        assert "content-encoding" not in response.headers
        assert server.compression_threshold == 3000
    async with served(http_compression=False) as (server, client):
        response = await big_poll(client, server, "gzip")
        assert "content-encoding" not in response.headers
        assert server.http_compression is False


# -- cookies ----------------------------------------------------------------------


async def test_cookie_name() -> None:
    async with served(cookie="sticky") as (_, client):
        response = await client.get(HANDSHAKE)
        sid = open_sid(response.text)
        assert response.headers["set-cookie"] == f"sticky={sid}; Path=/; SameSite=Lax"
        async with client.websocket("EIO=4&transport=websocket") as ws:
            await ws.receive()
        assert ws.accept_headers["set-cookie"].startswith("sticky=")


async def test_cookie_attributes() -> None:
    cookie = {
        "name": "lb",
        "path": lambda: "/chat",
        "domain": "example.com",
        "secure": True,
        "httponly": True,
        "samesite": "None",
        "max_age": 3600,
    }
    async with served(cookie=cookie) as (_, client):
        response = await client.get(HANDSHAKE)
        sid = open_sid(response.text)
        header = response.headers["set-cookie"]
        parts = header.split("; ")
        assert parts[0] == f"lb={sid}"
        assert set(parts[1:]) == {
            "Path=/chat",
            "Domain=example.com",
            "Secure",
            "HttpOnly",
            "SameSite=None",
            "Max-Age=3600",
        }


@pytest.mark.parametrize(
    "cookie",
    [
        {"name": "io", "path": "/\r\nX-Injected: 1"},
        {"name": "io", "domain": "a.com; Secure"},
        {"name": "bad name"},
        {"name": "io", "colour": "blue"},
    ],
)
def test_cookie_injection_is_refused(cookie: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="cookie"):
        engineio_sc.AsyncServer(cookie=cookie)


async def test_no_cookie_by_default() -> None:
    async with served() as (_, client):
        assert "set-cookie" not in (await client.get(HANDSHAKE)).headers


# -- limits, handlers, json ------------------------------------------------------


async def test_no_packet_cap_and_chunked_body_counted() -> None:
    seen: list[str] = []
    done = anyio.Event()
    async with served(max_http_buffer_size=2000) as (server, client):

        @server.on("message")
        def message(sid: str, data: str) -> None:
            seen.append(data)
            if len(seen) == 100:
                done.set()

        sid, _ = await client.handshake()
        body = "\x1e".join(f"4{i}" for i in range(100))
        query = polling(sid)
        assert (await client.post(query, body, chunks=7)).status == 200
        await done.wait()
        assert seen == [str(i) for i in range(100)]
        assert (await client.post(query, "4" + "y" * 2000, chunks=9)).status == 413


async def test_async_handlers_false_runs_handler_inline() -> None:
    order: list[str] = []
    async with served(async_handlers=False) as (server, client):

        @server.on("message")
        async def message(sid: str, data: str) -> None:
            await anyio.sleep(0.01)
            order.append(data)

        sid, _ = await client.handshake()
        await client.post(polling(sid), "4a\x1e4b")
        order.append("answered")
    assert order == ["a", "b", "answered"]


async def test_json_module_is_per_server() -> None:
    class Shouty:
        @staticmethod
        def dumps(obj: Any, **kwargs: Any) -> str:
            return json.dumps(obj, **kwargs).upper()

        @staticmethod
        def loads(s: str | bytes, **kwargs: Any) -> Any:
            return json.loads(s, **kwargs)

    async with served(json=Shouty) as (loud, loud_client), served() as (plain, plain_client):
        sid, _ = await loud_client.handshake()
        await loud.send(sid, {"a": "b"})
        assert (await loud_client.get(polling(sid))).packets == ['4{"A":"B"}']
        sid, _ = await plain_client.handshake()
        await plain.send(sid, {"a": "b"})
        assert (await plain_client.get(polling(sid))).packets == ['4{"a":"b"}']


@pytest.mark.parametrize(("option", "level"), [(False, logging.ERROR), (True, logging.INFO)])
def test_logger_option(option: bool, level: int) -> None:
    logger = logging.getLogger("engineio_sc.server")
    logger.setLevel(logging.NOTSET)
    try:
        assert engineio_sc.AsyncServer(logger=option).logger.level == level
    finally:
        logger.setLevel(logging.NOTSET)


def test_logger_instance_is_used_as_given() -> None:
    mine = logging.getLogger("my.app")
    assert engineio_sc.AsyncServer(logger=mine).logger is mine


def test_unknown_options_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="engineio_sc.server"):
        engineio_sc.AsyncServer(engineio_logger=True)
    assert "engineio_logger" in caplog.text


async def test_monitor_clients_is_accepted_and_timeouts_still_fire() -> None:
    gone = anyio.Event()
    async with served(monitor_clients=False, ping_interval=0.1, ping_timeout=0.1) as (
        server,
        client,
    ):
        server.on("disconnect", lambda sid, reason: gone.set())
        assert server.monitor_clients is False
        await client.handshake()
        await gone.wait()


async def test_transports_polling_only_refuses_upgrade() -> None:
    async with served(transports=["polling"]) as (_, client):
        sid, info = await client.handshake()
        assert info["upgrades"] == []
        async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
            assert await ws.receive() is None
            assert ws.denied is not None
            assert json.loads(ws.denied[1])["code"] == 0


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="No valid transports"):
        engineio_sc.AsyncServer(transports=["carrier-pigeon"])
    with pytest.raises(ValueError, match="async_mode"):
        engineio_sc.AsyncServer(async_mode="eventlet")
    with pytest.raises(ValueError, match="ping_interval"):
        engineio_sc.AsyncServer(ping_interval=0)
    with pytest.raises(ValueError, match="json"):
        engineio_sc.AsyncServer(json=object())  # type: ignore[arg-type]
