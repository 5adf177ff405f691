"""One completion over HTTP, from its turn in the queue to the last byte: an ASGI response.

It waits for a slot, submits the command, and answers from the events the bridge puts in its inbox:
a whole JSON reply, or a stream of server-sent events. The status line of a stream is sent with the
first event, so a request the engine refuses at once (a state that does not fit the model, an empty
prompt) still gets a proper error status; a failure after that is an ``error`` event followed by
``[DONE]``, which OpenAI's clients raise as an error.

Alongside, a task listens for the client going away. When it does, the exchange stops: the job is
stopped in the engine (within a token) and its slot freed when the job has ended.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from engine.server.bridge import CLOSED, GONE, Bridge, Ticket
from engine.server.protocol import ApiError, Parsed
from engine.server.reasoning import CONTENT, ReplySplitter, split_reply
from engine.server.records import Outcome, outcome_of
from engine.server.replies import DONE, Reply, sse
from engine.service.commands import Complete
from engine.service.events import CompletionDelta, CompletionFinished, Failed

STREAM_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                  (b"x-accel-buffering", b"no")]
# Failures a request caused (the engine's titles, engine/service/failures.py): 400, the others 500.
CLIENT_FAILURES = {"Empty message", "Wrong state file"}


def error_bytes(error: ApiError) -> bytes:
    return json.dumps(error.body(), ensure_ascii=False).encode()


async def send_error(send, error: ApiError) -> None:
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": error_bytes(error)})


def failure_error(failed: Failed) -> ApiError:
    if failed.title in CLIENT_FAILURES:
        return ApiError(400, failed.message, code="invalid_value")
    return ApiError(500, f"{failed.title}: {failed.message}", type="server_error", code="engine_error")


def stopped_error() -> ApiError:
    return ApiError(503, "The reply was stopped by the engine (the server is shutting down, the model is being "
                         "switched, or every reply was stopped).", type="server_error", code="stopped")


class CompletionResponse:
    """An ASGI response that runs ``command`` for a ticket the bridge admitted."""

    def __init__(self, bridge: Bridge, ticket: Ticket, parsed: Parsed, reply: Reply, command: Complete):
        self.bridge, self.ticket, self.parsed, self.reply, self.command = bridge, ticket, parsed, reply, command

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        self.outcome = outcome_of(scope) or Outcome()     # what the request log is told
        self.outcome.stream = self.parsed.stream
        watcher = asyncio.ensure_future(self._watch(receive))
        try:
            if await self._turn(send):
                if self.parsed.stream:
                    await self._stream(send)
                else:
                    await self._whole(send)
        finally:
            watcher.cancel()
            final = await self.bridge.finish(self.ticket)
            if self.outcome.left and self.outcome.done is None and isinstance(final, CompletionFinished):
                self.outcome.done = final       # the log counts what was written until the job stopped

    async def _watch(self, receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.ticket.inbox.put_nowait(GONE)
        self.bridge.stop(self.ticket)

    async def _turn(self, send) -> bool:
        """Wait for a slot (if queued) and start the job; False if there is nothing more to do."""
        if not self.ticket.has_slot:
            signal = await self.ticket.inbox.get()
            if signal == GONE:
                return False
            if signal == CLOSED:
                await send_error(send, ApiError(503, "The server is shutting down.", type="server_error",
                                                code="shutting_down"))
                return False
        try:
            self.bridge.start(self.ticket, self.command)
        except ApiError as e:
            await send_error(send, e)
            return False
        return True

    async def _whole(self, send) -> None:
        while True:
            event = await self.ticket.inbox.get()
            if event == GONE:
                self.outcome.left = True
                self.outcome.error = "The client left before the reply ended."
                return
            if isinstance(event, Failed):
                await send_error(send, failure_error(event))
                return
            if isinstance(event, CompletionFinished):
                break
        self.outcome.done = event
        if event.stop_reason == "cancelled":
            await send_error(send, stopped_error())
            return
        if self.parsed.chat:
            reasoning, content = split_reply(self.parsed.reply_prefix + event.text, self.parsed.strip_space)
        else:
            reasoning, content = "", event.text
        body = json.dumps(self.reply.body(event, reasoning, content), ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, send) -> None:
        reply = self.reply
        splitter = ReplySplitter(self.parsed.strip_space) if self.parsed.chat else None
        pending = splitter.push(self.parsed.reply_prefix) if splitter else []
        started = False
        while True:
            event = await self.ticket.inbox.get()
            if event == GONE:
                self.outcome.left = True
                self.outcome.error = "The client left before the reply ended."
                return
            if not started:
                if isinstance(event, Failed):
                    await send_error(send, failure_error(event))
                    return
                if isinstance(event, CompletionFinished) and event.stop_reason == "cancelled":
                    await send_error(send, stopped_error())
                    return
                await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
                started = True
                first = reply.first_chunk()
                if first:
                    await send({"type": "http.response.body", "body": first, "more_body": True})
            if isinstance(event, CompletionDelta):
                pieces = [*pending, *(splitter.push(event.text) if splitter else [(CONTENT, event.text)])]
                pending = []
                if pieces:
                    body = b"".join(reply.piece_chunk(p) for p in pieces)
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                continue
            if isinstance(event, CompletionFinished) and event.stop_reason != "cancelled":
                self.outcome.done = event
                pieces = [*pending, *(splitter.flush() if splitter else [])]
                body = b"".join(reply.piece_chunk(p) for p in pieces) + reply.last_chunks(event)
            else:
                error = failure_error(event) if isinstance(event, Failed) else stopped_error()
                self.outcome.error = error.message
                body = sse(error.body()) + DONE
            await send({"type": "http.response.body", "body": body})
            return


__all__ = ["CompletionResponse", "error_bytes", "send_error"]
