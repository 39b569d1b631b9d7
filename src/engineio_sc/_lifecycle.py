"""The server's task group: how it opens, who hosts it, and how it shuts down.

A server's polling sessions and background tasks live in one task group. It is
opened by one of:

- ``async with server:``, in a program of one's own or in the ASGI lifespan of
  :class:`~engineio_sc.ASGIApp`;
- a framework's start-up hook (aiohttp, Sanic);
- the first request, when nothing else opened it (an ASGI application in front
  that does not relay the lifespan, such as python-socketio's, or a server run
  with the lifespan off). The group is then held by a *detached host*: a task
  of no request's (a system task on trio, a task of the event loop on asyncio),
  so that the ASGI server never waits for it while it drains its requests, and
  every request ends when its own work is done.

An ASGI server tells its application that it is stopping only through the
lifespan, and only once its connections are closed: uvicorn waits for every open
request first, and a long poll stays open until its next ping. So while the
lifespan or the detached host holds the group, the server also learns of
SIGTERM and SIGINT from the handler the ASGI server installed for them: it starts
its shutdown at once (every session gets what is queued and its close packet,
every held poll is answered), then passes the signal on.

Background tasks start in that group on trio. On asyncio they start in a native
``asyncio.TaskGroup`` held open inside it for as long as it is open: anyio's task
group gives each task it starts a cancel scope and a handle of its own, several
times what the task itself costs, and a python-socketio server starts one task
per event it receives. At shutdown that group is cancelled with the server's,
and cancels its tasks as asyncio does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import trio
import trio.lowlevel

from ._backend import on_asyncio
from ._heartbeats import Heartbeats
from ._reasons import DisconnectReason
from ._registry import SessionRegistry
from ._tasks import Cancellable, StartTask

__all__ = ["Lifecycle", "shutdown_signals"]

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


SignalHandler = Callable[[int, FrameType | None], Any]


@contextmanager
def shutdown_signals(on_signal: Callable[[], None]) -> Iterator[None]:
    """While inside, call ``on_signal()`` (from the event loop, soon) whenever
    SIGTERM or SIGINT arrives, before the handler that was installed for it.

    Only a handler that a program installed (a Python callable: the ASGI server's)
    is chained; a signal that is ignored or left to its default disposition is
    left alone, and so is everything outside the main thread. On the way out the
    previous handlers are put back (unless something replaced ours meanwhile).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    call_soon_threadsafe = _threadsafe_scheduler()
    installed: dict[signal.Signals, tuple[SignalHandler, SignalHandler]] = {}
    for signum in SHUTDOWN_SIGNALS:
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        handler = _chained(previous, lambda: call_soon_threadsafe(on_signal))
        signal.signal(signum, handler)
        installed[signum] = (handler, previous)
    try:
        yield
    finally:
        for signum, (handler, previous) in installed.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, previous)


def _not_running() -> RuntimeError:
    return RuntimeError(
        "the server is not running: use 'async with AsyncServer() as eio:' "
        "or serve it through ASGIApp"
    )


def _chained(previous: SignalHandler, first: Callable[[], None]) -> SignalHandler:
    def handler(number: int, frame: FrameType | None) -> Any:
        first()
        return previous(number, frame)

    return handler


def _threadsafe_scheduler() -> Callable[[Callable[[], None]], None]:
    """A way to run a callback in the running event loop from a signal handler;
    it does nothing once that loop has ended."""
    if on_asyncio():
        loop = asyncio.get_running_loop()

        def schedule(fn: Callable[[], None]) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(fn)

        return schedule
    token = trio.lowlevel.current_trio_token()

    def schedule_trio(fn: Callable[[], None]) -> None:
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(fn)

    return schedule_trio


class Lifecycle:
    """Opens, hosts and shuts down one server's task group.

    Args:
        registry: the server's sessions; the lifecycle says whether it accepts new
            ones.
        close_timeout: how long a shutdown waits for sessions to deliver what is
            queued to their clients.
        logger: the server's logger.
    """

    def __init__(
        self,
        registry: SessionRegistry,
        *,
        close_timeout: float,
        logger: logging.Logger,
    ) -> None:
        self._registry = registry
        self.heartbeats = Heartbeats()  # runs in the group, for every session
        self._close_timeout = close_timeout
        self._log = logger
        self._tg: anyio.abc.TaskGroup | None = None
        self._start_task: StartTask | None = None  # where background tasks start
        self._outer: anyio.abc.TaskGroup | None = None
        self._stop: anyio.Event | None = None
        self._stopped: anyio.Event | None = None
        self._asked: anyio.Event | None = None  # a signal asked for the shutdown
        self._hosting: anyio.Event | None = None  # set once the detached host is up
        self._detached: asyncio.Task[None] | None = None
        self._shut_down = False

    @property
    def running(self) -> bool:
        """Whether the task group is open."""
        return self._tg is not None

    def group(self) -> anyio.abc.TaskGroup:
        """The open task group.

        Raises:
            RuntimeError: the server is not running.
        """
        if self._tg is None:
            raise _not_running()
        return self._tg

    def start_background(self, coro: Coroutine[Any, Any, None], /, *, name: str) -> Cancellable:
        """Start ``coro`` as a background task named ``name``: in the native
        ``asyncio.TaskGroup`` on asyncio, in the server's task group on trio (and
        on asyncio once the shutdown has cancelled the native group).

        Raises:
            RuntimeError: the server is not running (``coro`` is closed).
        """
        start = self._start_task
        if start is None:
            coro.close()
            raise _not_running()
        return start(coro, name=name)

    # -- opening and closing ---------------------------------------------------

    async def open(self) -> None:
        """Open the task group (``async with server:``).

        Raises:
            RuntimeError: it is open already.
        """
        if self._outer is not None:
            raise RuntimeError("the server is already running")
        self._stop, self._stopped, self._asked = anyio.Event(), anyio.Event(), anyio.Event()
        self._shut_down = False
        outer = anyio.create_task_group()
        await outer.__aenter__()
        self._outer = outer
        try:
            await outer.start(self._run)
        except BaseException as exc:
            self._outer = None
            await outer.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        """Shut down and close the task group (leaving ``async with server:``)."""
        outer, self._outer = self._outer, None
        assert outer is not None
        try:
            with anyio.CancelScope(shield=True):
                await self.shutdown()
        except BaseException as error:
            # Cancelled from outside the shield (asyncio's native cancellation
            # pierces it): end what is left at once, then leave the group.
            self.abort()
            await outer.__aexit__(type(error), error, error.__traceback__)
            raise
        return await outer.__aexit__(exc_type, exc, tb)

    def abort(self) -> None:
        """End everything at once: nothing can reach the clients any more."""
        self._registry.accepting = False
        for session in self._registry.sessions():
            session.cancel()
        if self._stop is not None:
            self._stop.set()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        assert self._stop is not None
        assert self._stopped is not None
        try:
            async with anyio.create_task_group() as tg:
                if on_asyncio():
                    await tg.start(self._host_background_tasks, tg)
                else:
                    self._start_task = tg.create_task
                self._tg = tg
                self._registry.accepting = True
                tg.start_soon(self._shutdown_when_asked)
                tg.start_soon(self.heartbeats.run)
                task_status.started()
                await self._stop.wait()
                tg.cancel_scope.cancel()
        finally:
            self._tg = None
            self._start_task = None
            self._registry.accepting = False
            self._stopped.set()

    async def _host_background_tasks(
        self, tg: anyio.abc.TaskGroup, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        """On asyncio: holds open the native task group that background tasks
        start in, until the server's group ``tg`` is cancelled.

        Then later tasks start in ``tg`` (cancelled: they end at their first
        checkpoint, as any task started there), and every task started so far
        is let take its first step: asyncio ends a task cancelled before it
        without running a line of it, so its handle would never learn that it
        ended. The native group then cancels its tasks and waits for them,
        shielded: anyio would otherwise cancel this task again on every turn of
        the event loop until they end.
        """
        native = asyncio.TaskGroup()  # entered by hand: its exit is shielded, not its life
        await native.__aenter__()
        self._start_task = native.create_task
        task_status.started()
        try:
            await anyio.sleep_forever()
        except BaseException as exc:
            self._start_task = tg.create_task
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()
                await native.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def shutdown(self) -> None:
        """Close every session, cancel what is left, and return when nothing of
        the server runs any more (see :meth:`AsyncServer.shutdown`)."""
        if self._tg is None or self._stop is None or self._stopped is None:
            return
        self._registry.accepting = False
        self._shut_down = True
        self._log.info("shutting down")
        sessions = self._registry.sessions()
        for session in sessions:
            session.close(DisconnectReason.SERVER_DISCONNECT)
        with anyio.move_on_after(self._close_timeout):
            for session in sessions:
                await session.done.wait()
        # What is left is cancelled: sessions in the server's group with the group,
        # WebSocket sessions (which run in their requests' tasks) one by one.
        running = [session for session in sessions if session.cancel()]
        self._stop.set()
        await self._stopped.wait()
        for session in running:
            await session.done.wait()

    def begin_shutdown(self) -> None:
        """Start :meth:`shutdown` in the background (a signal came). Called from
        the event loop, in no task."""
        if self._asked is not None:
            self._asked.set()

    async def _shutdown_when_asked(self) -> None:
        """In the group for as long as it is open: starts the shutdown when
        :meth:`begin_shutdown` asks, in the outer group (it outlives the group)."""
        assert self._asked is not None
        await self._asked.wait()
        if self._outer is not None:
            self._log.info("stop signal: closing every session")
            self._outer.start_soon(self.shutdown)

    @contextmanager
    def shutdown_on_signals(self) -> Iterator[None]:
        """While inside, SIGTERM and SIGINT start the shutdown, then go on to
        the ASGI server's own handler (see :func:`shutdown_signals`)."""
        with shutdown_signals(self.begin_shutdown):
            yield

    # -- hosting -----------------------------------------------------------------

    def serve(self, handle: Callable[[], Awaitable[None]]) -> Awaitable[None]:
        """Run one request inside the task group, opening it if need be.

        When nothing opened the group, the first request starts the detached
        host. Once the group is open, the request is awaited as it is, with no
        frame of this method kept for as long as it runs (a WebSocket session's
        whole life).
        """
        if self._tg is not None or self._shut_down:  # after shutdown(): refused, not restarted
            return handle()
        return self._serve_hosted(handle)

    async def _serve_hosted(self, handle: Callable[[], Awaitable[None]]) -> None:
        if self._hosting is None:
            self._log.info("no lifespan opened the server: a task of its own hosts its group")
            self._hosting = hosting = anyio.Event()
            if on_asyncio():
                self._detached = asyncio.get_running_loop().create_task(
                    self._host(hosting), name="engineio_sc server"
                )
            else:
                trio.lowlevel.spawn_system_task(self._host, hosting, name="engineio_sc server")
        await self._hosting.wait()
        await handle()

    async def _host(self, hosting: anyio.Event) -> None:
        """The detached host: the group, open until the server shuts down, or
        until the event loop ends (then at once: no client can be reached)."""
        try:
            await self.open()
        except Exception:
            self._log.exception("the server could not start")
            self._shut_down = True
            hosting.set()
            return
        try:
            with self.shutdown_on_signals():
                hosting.set()
                assert self._stop is not None
                await self._stop.wait()
        except BaseException as exc:
            self.abort()
            await self.close(type(exc), exc, exc.__traceback__)
            raise
        await self.close(None, None, None)
