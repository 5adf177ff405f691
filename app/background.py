"""Background work of the window that is not the engine's: file scans and header reads.

The engine has its own thread (the engine service); these short jobs must never wait behind a
reply it is writing, so each runs on a fresh daemon thread and is awaited on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


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
