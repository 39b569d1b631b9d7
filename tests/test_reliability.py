"""Backpressure, nothing lost, and faults survived (in process, on virtual time under trio)."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

import engineio_sc
from engineio_sc.exceptions import QueueFullError, SocketIsClosedError

from .asgi_client import polling, served, session_ids

pytestmark = [pytest.mark.anyio, pytest.mark.virtual_time]


# -- backpressure -------------------------------------------------------------------


async def test_full_queue_makes_send_wait() -> None:
    async with served(max_queue_size=2, ping_interval=60) as (server, client):
        sid, _ = await client.handshake()
        await server.send(sid, "1")
        await server.send(sid, "2")
        sent = anyio.Event()

        async def third() -> None:
            await server.send(sid, "3")
            sent.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(third)
            await anyio.wait_all_tasks_blocked()
            assert not sent.is_set()
            assert server.statistics().sessions[0].queued == 2
            received = (await client.get(polling(sid))).packets
        assert sent.is_set()
        if len(received) < 3:  # the waiting send got in after this body was taken
            received += (await client.get(polling(sid))).packets
        assert received == ["41", "42", "43"]


async def test_full_queue_raises_when_asked() -> None:
    async with served(max_queue_size=1, queue_full="raise", ping_interval=60) as (server, client):
        sid, _ = await client.handshake()
        await server.send(sid, "kept")
        with pytest.raises(QueueFullError):
            await server.send(sid, "refused")
        assert (await client.get(polling(sid))).packets == ["4kept"]
        await server.send(sid, "room again")


async def test_full_queue_disconnects_slow_client_when_asked() -> None:
    reasons: list[str] = []
    async with served(max_queue_size=1, queue_full="disconnect", ping_interval=60) as (
        server,
        client,
    ):
        server.on("disconnect", lambda sid, reason: reasons.append(reason))
        sid, _ = await client.handshake()
        await server.send(sid, "1")
        with pytest.raises(SocketIsClosedError):
            await server.send(sid, "2")
        assert (await client.get(polling(sid))).json()["code"] == 1
    assert reasons == ["server disconnect"]


def test_queue_full_option_is_checked() -> None:
    with pytest.raises(ValueError, match="queue_full"):
        engineio_sc.AsyncServer(queue_full="drop")


async def test_poll_body_never_exceeds_max_payload() -> None:
    async with served(max_http_buffer_size=100, ping_interval=60) as (server, client):
        sid, _ = await client.handshake()
        for i in range(10):
            await server.send(sid, f"{i}" * 30)
        await server.send(sid, "é" * 60)  # 120 bytes alone: still sent, on its own
        received: list[str] = []
        while len(received) < 11:
            response = await client.get(polling(sid))
            assert len(response.body) <= 100 or len(response.packets) == 1
            received += response.packets
        assert received == ["4" + f"{i}" * 30 for i in range(10)] + ["4" + "é" * 60]


async def test_statistics() -> None:
    async with served(ping_interval=60) as (server, client):
        first, _ = await client.handshake()
        second, _ = await client.handshake()
        await client.post(polling(first), "4a\x1e4b")
        await server.send(second, "x")
        await server.send(second, "y")
        await anyio.wait_all_tasks_blocked()
        stats = server.statistics()
        assert stats.running
        assert (stats.sessions_opened, stats.sessions_closed) == (2, 0)
        assert (stats.queued, stats.max_queued) == (2, 2)
        assert (stats.messages_in, stats.messages_out) == (2, 2)
        by_sid = {s.sid: s for s in stats.sessions}
        assert by_sid[second].queued == 2
        assert by_sid[first].messages_in == 2
        assert by_sid[first].transport == "polling"
        assert by_sid[first].state == "open"
        await client.post(polling(first), "1")
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(5):
            while server.statistics().sessions_closed < 1:  # noqa: ASYNC110 - a sweep of 0.2 s
                await anyio.sleep(0.05)
        assert server.statistics().messages_in == 2


# -- faults -------------------------------------------------------------------------


async def test_client_vanishes_mid_upgrade() -> None:
    async with served(ping_interval=60) as (server, client):
        sid, _ = await client.handshake()
        async with client.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
            await ws.send("2probe")
            assert await ws.receive() == "3probe"
        await server.send(sid, "still polling")
        assert (await client.get(polling(sid))).packets == ["4still polling"]
        assert server.transport(sid) == "polling"


async def test_raising_handler_is_logged_and_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served(ping_interval=60) as (server, client):

        @server.on("message")
        async def message(sid: str, data: str) -> None:
            if data == "boom":
                raise RuntimeError("handler bug")
            await server.send(sid, data)

        sid, _ = await client.handshake()
        await client.post(polling(sid), "4boom\x1e4after")
        assert (await client.get(polling(sid))).packets == ["4after"]
    assert "message handler error" in caplog.text
    assert "handler bug" in caplog.text


async def test_blocked_handler_does_not_stop_heartbeats() -> None:
    async with served(ping_interval=0.2, ping_timeout=0.2) as (server, client):
        blocked = anyio.Event()

        @server.on("message")
        async def message(sid: str, data: str) -> None:
            blocked.set()
            await anyio.sleep_forever()

        stuck, _ = await client.handshake()
        other, _ = await client.handshake()
        await client.post(polling(stuck), "4block")
        await blocked.wait()
        for _ in range(3):
            for sid in (stuck, other):
                assert (await client.get(polling(sid))).packets == ["2"]
                assert (await client.post(polling(sid), "3")).status == 200
        assert server.statistics().sessions_opened == 2
        assert len(server.statistics().sessions) == 2


async def test_slow_disconnect_handler_delays_nobody() -> None:
    async with served(ping_interval=0.2, ping_timeout=0.2) as (server, client):
        timeouts: list[tuple[str, float]] = []
        start = anyio.current_time()

        @server.on("disconnect")
        async def disconnect(sid: str, reason: str) -> None:
            timeouts.append((sid, anyio.current_time() - start))
            if sid == slow:
                await anyio.sleep(30)

        slow, _ = await client.handshake()
        await client.post(polling(slow), "1")
        await anyio.wait_all_tasks_blocked()
        start = anyio.current_time()
        late, _ = await client.handshake()
        with anyio.fail_after(5):
            while len(timeouts) < 2:  # noqa: ASYNC110 - the second session's ping timeout
                await anyio.sleep(0.01)
        assert timeouts[1][0] == late
        assert timeouts[1][1] < 0.4 + 0.1


async def test_handler_cancelled_when_its_session_ends() -> None:
    async with served(ping_interval=60) as (server, client):
        running, cancelled = anyio.Event(), anyio.Event()

        @server.on("message")
        async def message(sid: str, data: str) -> None:
            running.set()
            try:
                await anyio.sleep_forever()
            finally:
                cancelled.set()

        sid, _ = await client.handshake()
        await client.post(polling(sid), "4work")
        await running.wait()
        await client.post(polling(sid), "1")
        with anyio.fail_after(5):
            await cancelled.wait()


async def test_shutdown_with_thousands_of_sessions_and_handlers() -> None:
    async with served(ping_interval=60, close_timeout=0.5) as (server, client):
        started = 0

        @server.on("message")
        async def message(sid: str, data: str) -> None:
            nonlocal started
            started += 1
            await anyio.sleep_forever()

        sids = [(await client.handshake())[0] for _ in range(2000)]
        for sid in sids[:1000]:
            await client.post(polling(sid), "4busy")
        await anyio.wait_all_tasks_blocked()
        assert started == 1000
        begin = anyio.current_time()
        with anyio.fail_after(10):
            await server.shutdown()
        assert anyio.current_time() - begin < 0.5 + 1.5  # the grace period, plus the work
        assert not server.running
        assert session_ids(server) == set()
        assert server.statistics().sessions_closed == 2000


async def test_handshake_flood_is_capped_and_others_unaffected() -> None:
    async with served(max_sessions=50, ping_interval=60) as (server, client):
        keeper, _ = await client.handshake()
        for _ in range(49):
            await client.handshake()
        refused = await client.get("EIO=4&transport=polling")
        assert refused.status == 503
        assert refused.json() == {"code": 3, "message": "Too many sessions"}
        await server.send(keeper, "still served")
        assert (await client.get(polling(keeper))).packets == ["4still served"]
        await client.post(polling(keeper), "1")
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(5):
            while len(session_ids(server)) >= 50:  # noqa: ASYNC110 - the closed session leaves
                await anyio.sleep(0.01)
        assert (await client.get("EIO=4&transport=polling")).status == 200


async def test_handler_sending_to_its_closed_session_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served(ping_interval=60) as (server, client):
        closed, sent = anyio.Event(), anyio.Event()

        @server.on("message")
        async def message(sid: str, data: str) -> None:
            await closed.wait()
            await server.send(sid, "too late")
            sent.set()

        sid, _ = await client.handshake()
        await client.post(polling(sid), "4hi")
        await client.post(polling(sid), "1")
        closed.set()
        await anyio.wait_all_tasks_blocked()
        assert sent.is_set()  # the handler did send, after its session closed
    assert "message handler error" not in caplog.text


async def test_concurrent_senders_keep_their_order_over_websocket() -> None:
    async with served(ping_interval=0.05, ping_timeout=5) as (server, client):
        async with client.websocket("EIO=4&transport=websocket") as ws:
            sid = await ws.opened()
            received: list[str] = []

            async def sender(name: str) -> None:
                for i in range(60):
                    await server.send(sid, f"{name}{i}")
                    if i % 7 == 0:
                        await anyio.lowlevel.checkpoint()

            async with anyio.create_task_group() as tg:
                for name in "abcde":
                    tg.start_soon(sender, name)
                while len(received) < 300:  # the client is slower than the senders
                    message = await ws.receive()
                    assert isinstance(message, str)
                    if message == "2":
                        await ws.send("3")
                    else:
                        received.append(message[1:])
                    if len(received) % 50 == 0:
                        await anyio.sleep(0.01)
        for name in "abcde":
            assert [m for m in received if m[0] == name] == [f"{name}{i}" for i in range(60)]


async def test_received_messages_queue_is_bounded() -> None:
    async with served(max_queue_size=2, ping_interval=60) as (server, client):
        release, all_handled = anyio.Event(), anyio.Event()
        handled: list[str] = []

        @server.on("message")
        async def message(sid: str, data: str) -> None:
            await release.wait()
            handled.append(data)
            if len(handled) == 6:
                all_handled.set()

        sid, _ = await client.handshake()
        answered = anyio.Event()

        async def post() -> None:
            await client.post(polling(sid), "\x1e".join(f"4{i}" for i in range(6)))
            answered.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(post)
            await anyio.wait_all_tasks_blocked()
            assert not answered.is_set()  # the reader waits for room: backpressure
            assert server.statistics().sessions[0].unhandled == 2
            release.set()
        await all_handled.wait()
        assert handled == [str(i) for i in range(6)]
