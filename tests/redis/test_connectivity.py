"""The listener's reconnection and the outage reports
(engineio_sc.socketio._redis: :class:`Connectivity`, :func:`stay_subscribed`), on
trio's virtual clock: one warning when an outage begins, one INFO line when it
ends, tries after 0.5, 1, 2, 4, then every 5 seconds, messages dropped meanwhile,
and a listener woken at once when a publish finds Redis back. And the callbacks
that wait for acks from other servers' clients (:class:`AckCallbacks`)."""

from __future__ import annotations

import logging

import anyio
import pytest
import trio.testing

from engineio_sc.socketio._bus import Link
from engineio_sc.socketio._clients import MAX_PENDING_ACKS, AckWaiter
from engineio_sc.socketio._redis import AckCallbacks, Connectivity, stay_subscribed

pytestmark = pytest.mark.anyio

NAME = "redis://bus"


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


@pytest.fixture
def link(caplog: pytest.LogCaptureFixture) -> Connectivity:
    caplog.set_level(logging.DEBUG, logger="bus")
    return Connectivity(Link(first_delay=0.5, max_delay=5), logging.getLogger("bus"), NAME)


def reports(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records]


class Redis:
    """Attempts to subscribe, each at a virtual time: those until ``up_at`` fail,
    the next succeeds and lasts until ``down`` is set, when it fails."""

    def __init__(self, link: Connectivity, up_at: float) -> None:
        self.link = link
        self.up_at = up_at
        self.attempts: list[float] = []
        self.down = anyio.Event()

    async def attempt(self) -> None:
        now = anyio.current_time()
        self.attempts.append(now)
        if now < self.up_at:
            raise ConnectionError("refused")
        self.link.succeeded()
        await self.down.wait()
        self.down = anyio.Event()
        raise ExceptionGroup("a task group", [ConnectionError("lost")])


async def test_an_outage_is_reported_once_and_retried_with_backoff(
    link: Connectivity, caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis(link, up_at=20)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stay_subscribed, redis.attempt, link)
        await anyio.sleep(0.2)
        assert not link.may_send()  # dropped: the next try is at 0.5
        await anyio.sleep(1)
        assert not link.may_send()
        await anyio.sleep(30)
        assert link.may_send()
        tg.cancel_scope.cancel()
    assert redis.attempts == [0, 0.5, 1.5, 3.5, 7.5, 12.5, 17.5, 22.5]
    assert reports(caplog) == [
        (
            "WARNING",
            f"Redis at {NAME} is unreachable (ConnectionError: refused): until it is back, "
            "messages to other servers are dropped; reconnecting",
        ),
        ("INFO", f"Redis at {NAME} is back after 22.5 s; 2 messages to other servers were dropped"),
    ]


async def test_a_lost_subscription_is_a_new_outage_from_the_first_delay(
    link: Connectivity, caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis(link, up_at=0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stay_subscribed, redis.attempt, link)
        await anyio.sleep(10)
        redis.down.set()  # lost at 10: the next try at 10.5 succeeds
        await anyio.sleep(10)
        tg.cancel_scope.cancel()
    assert redis.attempts == [0, 10.5]
    levels = [level for level, _ in reports(caplog)]
    assert levels == ["WARNING", "INFO"]
    assert "(ConnectionError: lost)" in reports(caplog)[0][1]
    assert "back after 0.5 s; 0 messages" in reports(caplog)[1][1]


async def test_a_publish_that_finds_redis_back_wakes_the_listener(
    link: Connectivity, caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis(link, up_at=9)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stay_subscribed, redis.attempt, link)
        await anyio.sleep(9)  # tries at 0, 0.5, 1.5, 3.5, 7.5; the next at 12.5
        assert redis.attempts == [0, 0.5, 1.5, 3.5, 7.5]
        assert not link.may_send()
        link.succeeded()  # a publish at 9 finds Redis back: the listener tries at once
        await anyio.sleep(1)
        tg.cancel_scope.cancel()
    assert redis.attempts == [0, 0.5, 1.5, 3.5, 7.5, 9]
    assert [level for level, _ in reports(caplog)] == ["WARNING", "INFO"]
    assert "back after 9.0 s; 1 messages" in reports(caplog)[1][1]


async def test_a_subscription_that_ends_is_a_failure(
    link: Connectivity, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[float] = []

    async def ends() -> None:
        attempts.append(anyio.current_time())

    with anyio.move_on_after(2):
        await stay_subscribed(ends, link)
    assert attempts == [0, 0.5, 1.5]
    assert "(ConnectionError: the subscription ended)" in reports(caplog)[0][1]


# -- callbacks that wait for other servers' acks ------------------------------------


def test_callbacks_wait_for_final_answers_within_a_bound() -> None:
    callbacks = AckCallbacks(logging.getLogger("bus"))
    room, one = print, AckWaiter()
    room_id, one_id = callbacks.add(room), callbacks.add(one)
    assert callbacks.take(room_id, final=False) is room  # a room's: kept for the others
    assert callbacks.take(room_id, final=False) is room
    assert callbacks.take(one_id, final=True) is one  # one client's: answered once
    assert callbacks.take(one_id, final=True) is None
    callbacks.forget(room)
    assert callbacks.take(room_id, final=False) is None


async def test_a_call_pushed_out_of_the_callbacks_ends_at_once() -> None:
    callbacks = AckCallbacks(logging.getLogger("bus"))
    waiter = AckWaiter()
    first = callbacks.add(waiter)
    for _ in range(MAX_PENDING_ACKS):
        callbacks.add(print)
    assert callbacks.take(first, final=True) is None
    with pytest.raises(TimeoutError, match="went away"):
        await waiter.wait(timeout=None)
