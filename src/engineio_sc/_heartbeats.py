"""One clock for the heartbeats of every session of a server: :class:`Heartbeats`.

Each session's heartbeat is a task of the session's group, which pings the
client and closes the session when a pong is late. It waits with no deadline of
its own: a session's deadline (the next ping, the pong's, a held poll's release)
is kept here, in one heap for the whole server, and one task of the server's
group wakes each heartbeat when its deadline comes.

A wait with a deadline per session would cost a timer per wait (a cancel scope
on trio, a loop timer on asyncio), made afresh each time a ping goes out or a
pong comes in, and kept for the whole interval. At tens of thousands of idle
sessions, those objects that live for a ping interval are what the garbage
collector's oldest generation fills with, and each of its collections walks
every object of the process. Here a pong costs a heap entry, and the heartbeat
wakes once per ping instead of twice.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Protocol

from ._backend import Wakeup, clock, wakeup_type

__all__ = ["Heartbeats", "Timed", "Timer"]

TICK = 0.005
"""Seconds: the clock wakes at most this often, taking every deadline that has come
(under load a heartbeat may be woken up to this late, never early)."""


class Timed(Protocol):
    """A session, as the clock sees it."""

    @property
    def deadline(self) -> float | None:
        """When its heartbeat must next wake, or ``None`` for never."""
        ...

    def deadline_passed(self) -> None:
        """Its deadline has come: wake its heartbeat."""
        ...


class Timer:
    """One session's place on the clock. The heap holds this, not the session, so
    that a session that has ended is not kept alive by the entries it left."""

    __slots__ = ("_heartbeats", "session")

    def __init__(self, heartbeats: Heartbeats, session: Timed) -> None:
        self._heartbeats = heartbeats
        self.session: Timed | None = session

    def schedule(self) -> None:
        """The session's deadline has moved: its heartbeat is woken when it comes."""
        session = self.session
        if session is not None:
            deadline = session.deadline
            if deadline is not None:
                self._heartbeats.push(deadline, self)

    def cancel(self) -> None:
        """The session has ended: its entries are dropped when their time comes."""
        self.session = None


class Heartbeats:
    """The deadlines of a server's sessions, and the task that keeps them.

    A session's :class:`Timer` is scheduled whenever its deadline moves; an entry
    left behind by a deadline that moved is dropped when its time comes.
    :meth:`run` runs in the server's task group for as long as it is open.
    """

    __slots__ = ("_heap", "_next", "_order", "_wake")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()  # ties keep the order they came in
        self._next = math.inf  # the deadline the clock waits for
        self._wake: Wakeup | None = None

    def timer(self, session: Timed) -> Timer:
        """A place on the clock for ``session``."""
        return Timer(self, session)

    def push(self, deadline: float, timer: Timer) -> None:
        """Wake ``timer``'s session at ``deadline`` (if it is still its deadline then)."""
        heapq.heappush(self._heap, (deadline, next(self._order), timer))
        if deadline < self._next and self._wake is not None:
            self._next = deadline
            self._wake.set()

    def __len__(self) -> int:
        return len(self._heap)

    async def run(self) -> None:
        """Wake each heartbeat when its deadline comes, until cancelled."""
        heap = self._heap
        now_of = clock()
        self._wake = wake = wakeup_type()()
        try:
            while True:
                now = now_of()
                while heap and heap[0][0] <= now:
                    session = heapq.heappop(heap)[2].session
                    if session is not None:
                        deadline = session.deadline
                        if deadline is not None and deadline <= now:
                            session.deadline_passed()
                self._next = heap[0][0] if heap else math.inf
                await wake.wait(max(self._next, now + TICK))
        finally:
            self._wake = None
            self._next = math.inf
