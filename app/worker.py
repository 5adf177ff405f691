"""The engine's thread: it owns the model and every tensor; the UI awaits results on asyncio.

Work goes in as callables on a queue and comes back as asyncio futures resolved with
``loop.call_soon_threadsafe``; streamed text pieces come back the same way, so the Qt thread never
runs a forward pass and never blocks. Cancel is cooperative: ``stop()`` sets the event that
``generate`` checks between tokens and prompt chunks.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class EngineWorker:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self.loop = loop or asyncio.get_event_loop()
        self.cancel = threading.Event()
        self._jobs: queue.Queue[tuple[Callable[[], Any], asyncio.Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn()`` on the engine thread; await the returned future for its result."""
        future: asyncio.Future[T] = self.loop.create_future()
        self._jobs.put((fn, future))
        return future

    def stream(self, make: Callable[[threading.Event], Iterator[str]],
               on_piece: Callable[[str], None]) -> asyncio.Future[None]:
        """Iterate ``make(cancel)`` on the engine thread, handing each piece to ``on_piece`` on
        the event loop. A fresh cancel event per stream: a late stop never hits the next one."""
        self.cancel = cancel = threading.Event()

        def run() -> None:
            for piece in make(cancel):
                self.loop.call_soon_threadsafe(on_piece, piece)

        return self.submit(run)

    def stop(self) -> None:
        self.cancel.set()

    def shutdown(self, timeout: float = 5.0) -> None:
        self.cancel.set()
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future = job
            try:
                result = fn()
            except BaseException as e:  # handed to the awaiting coroutine, which shows it
                log.debug("engine job failed", exc_info=True)
                self.loop.call_soon_threadsafe(_set_exception, future, e)
            else:
                self.loop.call_soon_threadsafe(_set_result, future, result)


def _set_result(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def in_thread(fn: Callable[[], T], loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Future[T]:
    """Run ``fn()`` on a fresh daemon thread (file scans, header reads): never on the engine's, which
    may be busy with a reply for seconds."""
    loop = loop or asyncio.get_event_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = fn()
        except BaseException as e:  # handed to the awaiting coroutine
            loop.call_soon_threadsafe(_set_exception, future, e)
        else:
            loop.call_soon_threadsafe(_set_result, future, result)

    threading.Thread(target=run, name="scan", daemon=True).start()
    return future
