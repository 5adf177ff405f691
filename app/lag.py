"""How long the event loop was kept from running: the measure of a window that never blocks."""

from __future__ import annotations

import asyncio
import time


class LagProbe:
    """Wakes every ``interval`` seconds and records how late each wake-up was."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> LagProbe:
        self.worst = 0.0
        self._task = asyncio.ensure_future(self._run())
        return self

    def stop(self) -> float:
        """Stop and return the worst lag seen, in seconds."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        return self.worst

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, time.perf_counter() - t - self.interval)
