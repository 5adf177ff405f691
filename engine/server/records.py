"""What happened to each request, for whoever runs the server: a :class:`RequestRecord` per request.

``create_app(service, on_request=fn)`` calls ``fn(record)`` once a request has been answered (the
whole body sent, a stream ended, or the client gone), on the server's event-loop thread. The window
shows them as its request log; ``fn`` must only hand the record over to its own thread (a queued Qt
signal) and return. Prompts and replies are never in a record, only counts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import ClientDisconnect

from engine.server.protocol import crash_error
from engine.service.events import CompletionFinished

log = logging.getLogger(__name__)
SCOPE_KEY = "rwkv_desktop.outcome"      # where an exchange leaves its outcome in the ASGI scope
ERROR_SNIFF_BYTES = 4096                # of an error's body, read for its message


@dataclass(frozen=True)
class RequestRecord:
    """One answered request. Token counts are None for requests that generated nothing; for a client
    that left (``client_left``) they are what its job wrote until it stopped, within a token of it."""

    time: float                     # when it arrived (seconds since the epoch)
    method: str
    endpoint: str                   # the path asked for, e.g. /v1/chat/completions
    status: int                     # the HTTP status sent (0: the client left before an answer began)
    seconds: float                  # until the answer ended
    stream: bool = False
    prompt_tokens: int | None = None
    cached_tokens: int | None = None    # of the prompt's tokens, read from the state cache
    completion_tokens: int | None = None
    tokens_per_s: float | None = None   # the reply's decode speed
    error: str | None = None        # the error's message, for a failed request
    client_left: bool = False       # the client went away before the answer ended (a stream: mid-way)


class Outcome:
    """Filled by the exchange that answers a completion (see :mod:`engine.server.exchange`)."""

    def __init__(self) -> None:
        self.done: CompletionFinished | None = None
        self.error: str | None = None
        self.stream = False
        self.left = False           # the client went away before the answer ended


def outcome_of(scope: dict) -> Outcome | None:
    return scope.get(SCOPE_KEY)


class RecordRequests:
    """ASGI middleware, outermost: times every HTTP request and reports it to ``on_request``."""

    def __init__(self, app, *, on_request: Callable[[RequestRecord], None]):
        self.app, self.on_request = app, on_request

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        arrived, t0 = time.time(), time.perf_counter()
        outcome = Outcome()
        scope[SCOPE_KEY] = outcome
        status = 0
        error_body = bytearray()

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400 and len(error_body) < ERROR_SNIFF_BYTES:
                error_body.extend(message.get("body", b"")[:ERROR_SNIFF_BYTES])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:    # it left while sending its body: nothing reaches it
            raise
        except Exception as e:
            # Starlette's outermost layer, outside this one, answers a failure with a 500 unless an
            # answer has begun: the log says what the client got.
            outcome.error = outcome.error or crash_error(e).message
            status = status or 500
            raise
        finally:
            self._report(scope, arrived, time.perf_counter() - t0, status, outcome, bytes(error_body))

    def _report(self, scope, arrived: float, seconds: float, status: int, outcome: Outcome, body: bytes) -> None:
        done = outcome.done
        error = outcome.error or (_error_message(body) if status >= 400 else None)
        fields = {}
        if done is not None:
            decode = done.seconds - done.prompt_seconds
            fields = {"prompt_tokens": done.prompt_tokens, "cached_tokens": done.cached_tokens,
                      "completion_tokens": done.completion_tokens,
                      "tokens_per_s": round(done.completion_tokens / decode, 2) if decode > 0 else 0.0}
        record = RequestRecord(arrived, scope.get("method", ""), scope.get("path", ""), status, seconds,
                               outcome.stream, error=error, client_left=outcome.left, **fields)
        try:
            self.on_request(record)
        except Exception:  # the log's failure must not fail the request
            log.exception("on_request failed")


def _error_message(body: bytes) -> str | None:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return None


__all__ = ["Outcome", "RecordRequests", "RequestRecord", "outcome_of"]
