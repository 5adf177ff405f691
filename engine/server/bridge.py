"""The server's side of the engine service: requests in, their events routed back, a bounded queue.

The service calls its subscribers on the engine thread; the bridge only hands each completion event
to the server's asyncio loop (``call_soon_threadsafe``), where it is routed by request number into
the inbox of the HTTP exchange that asked. A request's final event comes through its future, which
the engine resolves after the last delta was delivered, so an inbox always sees the deltas first.

At most ``max_running`` completions are in the engine at once (each is a job the service steps in
turn: more at once only makes each slower) and ``max_queued`` more wait for a turn; beyond that a
request is refused at once (429), so a flood of requests cannot grow memory or latency without
bound. A slot is freed when the engine's job has ended, not when the client left: a client that
goes away has its job stopped (within a token) and the slot follows.

Everything here runs on the loop's thread except :meth:`Bridge._deliver` (engine thread) and
:meth:`Bridge.close_threadsafe` (any thread, a signal handler included).
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import Future

from engine.errors import EngineError
from engine.server.protocol import ApiError
from engine.service import EngineService
from engine.service.commands import Complete
from engine.service.events import CompletionDelta, Event

TURN, GONE, CLOSED = "turn", "gone", "closed"     # inbox signals beside the engine's events


class Ticket:
    """One admitted request: its inbox, and (once started) its request number in the engine."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.has_slot = False
        self.request: int | None = None
        self.ended = False              # its final event arrived (or it never started)


class Bridge:
    def __init__(self, service: EngineService, max_running: int, max_queued: int):
        if max_running < 1 or max_queued < 0:
            raise ValueError("max_running must be at least 1 and max_queued at least 0")
        self.service = service
        self.max_running, self.max_queued = max_running, max_queued
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe = None
        self._routes: dict[int, Ticket] = {}
        self._running = 0
        self._waiting: deque[Ticket] = deque()

    @property
    def running(self) -> int:
        """Requests holding a slot (their jobs are in the engine, or about to be)."""
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    # -- the loop --------------------------------------------------------------------------------------

    def attach(self) -> None:
        """Receive the service's events on the running loop (once per loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self.detach()
        self.closing = False
        self._loop = loop
        self._unsubscribe = self.service.subscribe(self._deliver)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None

    def _deliver(self, event: Event) -> None:
        """Engine thread: hand a completion's piece to the loop, nothing more."""
        if isinstance(event, CompletionDelta):
            self._to_loop(self._route, event.request, event)

    def _to_loop(self, fn, *args) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:            # the loop has closed: nobody is left to tell
            pass

    def _route(self, request: int, event: Event) -> None:
        ticket = self._routes.get(request)
        if ticket is None:
            return
        if not isinstance(event, CompletionDelta):
            del self._routes[request]
            ticket.ended = True
        ticket.inbox.put_nowait(event)

    # -- requests --------------------------------------------------------------------------------------

    def admit(self) -> Ticket:
        """A ticket with a slot, or a place in the queue; 429 when both are full, 503 when closing."""
        if self.closing:
            raise ApiError(503, "The server is shutting down.", type="server_error", code="shutting_down")
        if self._running + len(self._waiting) >= self.max_running + self.max_queued:
            raise ApiError(429, f"The server is busy: {self._running} requests are running and "
                                f"{len(self._waiting)} waiting. Try again shortly.",
                           type="rate_limit_error", code="rate_limit_exceeded")
        ticket = Ticket()
        if self._running < self.max_running:
            self._running += 1
            ticket.has_slot = True
        else:
            self._waiting.append(ticket)
        return ticket

    def start(self, ticket: Ticket, command: Complete) -> None:
        """Submit ``command`` for a ticket that has its slot."""
        assert ticket.has_slot
        if self.closing:
            ticket.ended = True
            raise ApiError(503, "The server is shutting down.", type="server_error", code="shutting_down")
        try:
            request, future = self.service.submit(command)
        except EngineError as e:        # the engine has shut down
            ticket.ended = True
            raise ApiError(503, str(e), type="server_error", code="engine_stopped") from None
        ticket.request = request
        self._routes[request] = ticket
        future.add_done_callback(lambda f: self._to_loop(self._final, request, f))

    def _final(self, request: int, future: Future) -> None:
        self._route(request, future.result())

    def stop(self, ticket: Ticket) -> None:
        if ticket.request is not None and not ticket.ended:
            self.service.stop_request(ticket.request)

    async def finish(self, ticket: Ticket) -> Event | None:
        """The exchange is over: stop its job if it still runs, wait for the end (a token), free the slot.
        Returns the job's final event if the exchange had not read it (a client that left), else None."""
        final = None
        try:
            if ticket.request is not None and not ticket.ended:
                self.stop(ticket)
            while ticket.request is not None and not (ticket.ended and ticket.inbox.empty()):
                event = await ticket.inbox.get()
                if not isinstance(event, (str, CompletionDelta)):     # (not a signal, not a piece)
                    final = event
        finally:
            self._release(ticket)
        return final

    def _release(self, ticket: Ticket) -> None:
        if ticket in self._waiting:
            self._waiting.remove(ticket)
        if not ticket.has_slot:
            return
        ticket.has_slot = False
        self._running -= 1
        if self._waiting and not self.closing:
            following = self._waiting.popleft()
            following.has_slot = True
            self._running += 1
            following.inbox.put_nowait(TURN)

    def close(self) -> None:
        """Refuse new requests, turn the waiting ones away and stop the running ones (each ends within a token)."""
        self.closing = True
        while self._waiting:
            self._waiting.popleft().inbox.put_nowait(CLOSED)
        for request in list(self._routes):
            self.service.stop_request(request)

    def close_threadsafe(self) -> None:
        """:meth:`close` from another thread or a signal handler."""
        self._to_loop(self.close)


__all__ = ["CLOSED", "GONE", "TURN", "Bridge", "Ticket"]
