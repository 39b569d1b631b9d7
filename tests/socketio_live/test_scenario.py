"""engineio_sc.socketio on real servers, against the npm ``socket.io-client`` and
python-socketio's ``AsyncClient``: the full scenario (see app.py), over
polling, WebSocket and an upgrade, on Hypercorn (trio, asyncio) and uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx
import pytest

from ..live.conftest import Serve
from ..node_driver import MODES, Mode, StepReport, needs_npm, run_socketio_client
from .app import CHAT, HELLO, NAMES, REFUSED, REFUSED_DATA, TOKEN, ScenarioApp
from .player import PAYLOAD, run_player

pytestmark = pytest.mark.anyio

DEADLINE = 5.0
"""Seconds for the server to see the last client go, once the client is done."""
STEPS = [
    "refused",
    "connect",
    "whoami",
    "count",
    "join",
    "rooms",
    "received",
    "bytes",
    "survey",
    "call",
    "timeout",
    "later",
    "kicked",
    "left",
    "bye",
]
SERVER_DISCONNECT = "server disconnect"
CLIENT_DISCONNECT = "client disconnect"
"""The reasons the server's disconnect handlers get."""


@dataclass(frozen=True)
class ClientKind:
    """A client library, and the disconnect reasons it reports."""

    server_disconnect: str
    client_disconnect: str
    left: str | None
    """The reason of a socket that leaves one namespace (python-socketio's client
    has no API for it: the player sends the packet, no handler runs)."""


KINDS = {
    "node": ClientKind("io server disconnect", "io client disconnect", "io client disconnect"),
    "python": ClientKind(SERVER_DISCONNECT, CLIENT_DISCONNECT, None),
}


async def play(kind: str, url: str, mode: Mode) -> StepReport:
    if kind == "node":
        return await run_socketio_client(url, token=TOKEN, mode=mode, scenario="full")
    return await anyio.to_thread.run_sync(run_player, url, mode)


@pytest.mark.parametrize(
    "kind", ["python", pytest.param("node", marks=needs_npm("socket.io-client"))]
)
@pytest.mark.parametrize("mode_name", list(MODES))
async def test_scenario(
    serve: Serve, kind: str, mode_name: str, clean_logs: Callable[[], None]
) -> None:
    mode = MODES[mode_name]
    server = ScenarioApp()
    async with serve(server.app) as url:
        async with httpx.AsyncClient() as http:
            hello = await http.get(f"{url}/hello")
        report = await play(kind, url, mode)
        with anyio.fail_after(DEADLINE):
            await server.all_gone.wait()
        await server.sio.shutdown()

    assert report.end == {"step": "done", "ok": True}, report
    assert report.stderr == ""
    check(report, server, mode, KINDS[kind])
    assert (hello.status_code, hello.content) == (200, HELLO)
    assert server.lifespan == [
        "other lifespan.startup",
        "on_startup",
        "background task",
        "on_shutdown",
        "other lifespan.shutdown",
    ]
    clean_logs()


def check(report: StepReport, server: ScenarioApp, mode: Mode, kind: ClientKind) -> None:
    """What the client reported and the server saw agree with the scenario."""
    assert list(report.steps) == STEPS
    assert report.one("refused") == {"message": REFUSED, "data": REFUSED_DATA}

    connected = {c["name"]: c for c in report.steps["connect"]}
    assert list(connected) == list(NAMES)
    assert {c["transport"] for c in connected.values()} == {mode.final_transport}
    assert [c["welcome"] for c in connected.values()] == list(NAMES)
    root = {name: c["root"] for name, c in connected.items()}
    chat = {name: c["chat"] for name, c in connected.items()}
    assert len({*root.values(), *chat.values()}) == 2 * len(NAMES)
    assert server.auths == {
        (namespace, sids[name]): {"token": TOKEN, "name": name}
        for namespace, sids in (("/", root), (CHAT, chat))
        for name in NAMES
    }

    def whoami(name: str) -> dict[str, object]:
        return {
            "name": name,
            "count": 0,
            "client": name,
            "transport": mode.final_transport,
            "rooms": [root[name]],
        }

    assert {w["name"]: w["reply"] for w in report.steps["whoami"]} == {
        name: whoami(name) for name in NAMES
    }
    assert report.one("count") == {"replies": [1, 2]}

    assert report.one("join") == {
        "rooms": {
            "A": sorted([chat["A"], "red"]),
            "B": sorted([chat["B"], "red"]),
            "C": sorted([chat["C"], "blue"]),
        }
    }
    assert report.one("rooms") == {"left": [chat["B"]], "closed": [chat["A"]]}

    def said(*texts: str) -> list[dict[str, object]]:
        return [{"text": text, "from": "A", "utf8": {"hex": text.encode().hex()}} for text in texts]

    shouted = [{"text": "hi all", "from": "A"}]
    assert {r.pop("name"): r for r in report.steps["received"]} == {
        "A": {"shouted": [], "said": said("s2", "s3"), "rooms": [chat["A"]]},
        "B": {"shouted": shouted, "said": said("s1", "s2"), "rooms": [chat["B"]]},
        "C": {"shouted": shouted, "said": [], "rooms": sorted([chat["C"], "blue"])},
    }

    blob = {"hex": PAYLOAD.hex()}
    assert report.one("bytes") == {
        "ack": {"blob": blob},
        "event": [{"hex": PAYLOAD[::-1].hex()}, {"n": [blob, 1]}],
    }
    assert report.one("survey") == {"reply": list(NAMES)}
    assert report.one("call") == {"question": [21], "answer": [42, blob]}
    assert server.answers == [(42, PAYLOAD)]
    assert report.one("timeout") == {"reply": "timed out", "held": True}
    assert server.timeouts == 1
    assert report.one("later") == {"ack": True, "message": {"later": 7}}

    assert report.one("kicked") == {"reason": kind.server_disconnect, "whoami": whoami("C")}
    assert report.one("left") == {"reason": kind.left, "whoami": whoami("B")}
    bye = kind.client_disconnect
    assert report.one("bye") == {"reasons": {"A": [bye, bye], "B": [bye], "C": [bye]}}
    assert server.disconnects == {
        **{("/", root[name]): CLIENT_DISCONNECT for name in NAMES},
        (CHAT, chat["A"]): CLIENT_DISCONNECT,
        (CHAT, chat["B"]): CLIENT_DISCONNECT,
        (CHAT, chat["C"]): SERVER_DISCONNECT,
    }
