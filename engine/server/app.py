"""The ASGI app: OpenAI's models, chat completions and completions endpoints over an engine service.

The server is a client of :class:`~engine.service.EngineService` like the window: it turns a
request into a :class:`~engine.service.commands.Complete` and its events into OpenAI's replies; the
model, the state cache and the named states are the service's. See ``docs/server.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.server.bridge import Bridge
from engine.server.exchange import CompletionResponse
from engine.server.guard import DEFAULT_HINTS, Hints, HostGuard, KeyGuard, too_large
from engine.server.protocol import ApiError, Limits, check_model, check_text, crash_error, parse_chat, parse_completion
from engine.server.records import RecordRequests, RequestRecord
from engine.server.replies import Reply
from engine.service import EngineService
from engine.service.commands import Complete
from engine.service.views import ModelView

MAX_BODY_BYTES = 4 * 2**20          # a long chat is well under 1 MB of JSON
MAX_TOKENS_CAP = 8192
MAX_RUNNING = 8
MAX_QUEUED = 32


def create_app(service: EngineService, *, api_key: str | None = None, allow_origins: tuple[str, ...] = (),
               max_body_bytes: int = MAX_BODY_BYTES, max_tokens_cap: int = MAX_TOKENS_CAP,
               max_running: int = MAX_RUNNING, max_queued: int = MAX_QUEUED, loopback: bool = True,
               on_request: Callable[[RequestRecord], None] | None = None, hints: Hints = DEFAULT_HINTS) -> Starlette:
    """The server's app over ``service`` (whose loaded model it serves).

    ``api_key``: required as ``Authorization: Bearer KEY`` when given. ``allow_origins``: web pages
    that may call the server (CORS; none by default, "*" for any). ``loopback``: the server is
    bound to this computer only, so the ``Host`` header must name it. ``max_running`` completions
    run at once and ``max_queued`` more wait; beyond that a request gets 429. A request's body may
    be at most ``max_body_bytes``, its reply at most ``max_tokens_cap`` tokens. ``on_request(record)``
    is called for every answered request, on the server's loop thread (see :mod:`engine.server.records`).
    ``hints``: what refusals tell whoever runs the server to change (the window's words by default)."""
    bridge = Bridge(service, max_running, max_queued)
    limits = Limits(max_tokens_cap)

    async def models(request: Request) -> JSONResponse:
        view = _served(service)
        return JSONResponse({"object": "list", "data": [_model_object(view, service)] if view else []})

    async def model(request: Request) -> JSONResponse:
        view = _served(service)
        name = request.path_params["name"]
        if view is None or name != view.name:
            raise ApiError(404, f"The model '{name}' does not exist here.", code="model_not_found", param="model")
        return JSONResponse(_model_object(view, service))

    async def chat_completions(request: Request) -> CompletionResponse:
        return await _completion(request, parse_chat)

    async def completions(request: Request) -> CompletionResponse:
        return await _completion(request, parse_completion)

    async def _completion(request: Request, parse) -> CompletionResponse:
        body = await _read_json(request, max_body_bytes)
        view = check_model(body, _served(service))
        parsed = parse(body, view, limits, service.named_states())
        bridge.attach()
        ticket = bridge.admit()
        command = Complete(prompt=parsed.prompt, sampler=parsed.sampler, max_tokens=parsed.max_tokens,
                           stop=parsed.stop, start=parsed.start, save_as=parsed.save_as)
        reply = Reply(parsed.chat, view.name, view.fingerprint, include_usage=parsed.include_usage)
        return CompletionResponse(bridge, ticket, parsed, reply, command)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        bridge.attach()
        try:
            yield
        finally:
            bridge.close()
            bridge.detach()

    routes = []
    for prefix in ("/v1", ""):
        routes += [Route(f"{prefix}/models", models, methods=["GET"]),
                   Route(f"{prefix}/models/{{name:path}}", model, methods=["GET"]),
                   Route(f"{prefix}/chat/completions", chat_completions, methods=["POST"]),
                   Route(f"{prefix}/completions", completions, methods=["POST"])]
    middleware = [Middleware(RecordRequests, on_request=on_request)] if on_request is not None else []
    middleware.append(Middleware(HostGuard, loopback=loopback, allow_origins=tuple(allow_origins), hints=hints))
    if allow_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(allow_origins), allow_methods=["GET", "POST"],
                                     allow_headers=["Authorization", "Content-Type"], max_age=600))
    middleware.append(Middleware(KeyGuard, api_key=api_key, max_body_bytes=max_body_bytes))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _crash})
    app.state.bridge = bridge
    return app


def _served(service: EngineService) -> ModelView | None:
    """The model the server answers with: the service's, if it runs on this computer (a window that
    uses a remote server has none to serve)."""
    view = service.model_view
    return None if view is None or view.is_remote else view


async def _read_json(request: Request, limit: int) -> Any:
    """The body as JSON, read no further than ``limit`` bytes (a chunked upload has no declared size),
    its strings valid Unicode."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large(limit)
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"The request body is not valid JSON ({e}).", code="invalid_json") from None
    except RecursionError:          # the parser recurses once per level of arrays and objects
        raise ApiError(400, "The request body is not valid JSON for this server (its arrays and objects are "
                            "nested too deeply).", code="invalid_json") from None
    check_text(body)
    return body


def _model_object(view: ModelView, service: EngineService) -> dict[str, Any]:
    try:
        created = int(os.stat(view.path).st_mtime)
    except OSError:
        created = 0
    return {"id": view.name, "object": "model", "created": created, "owned_by": "local",
            "rwkv": {"server": "rwkv-desktop", "description": view.description, "generation": view.generation,
                     "vocab_size": view.vocab_size, "template": view.template.name,
                     "states": service.named_states()}}


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = ApiError(404, f"Invalid URL ({request.method} {request.url.path}).", code="unknown_url")
    elif exc.status_code == 405:
        error = ApiError(405, f"{request.method} is not allowed on {request.url.path}.", code="method_not_allowed")
    else:
        error = ApiError(exc.status_code, str(exc.detail), code=None)
    return JSONResponse(error.body(), status_code=error.status, headers=exc.headers)


async def _crash(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(crash_error(exc).body(), status_code=500)


__all__ = ["MAX_BODY_BYTES", "MAX_QUEUED", "MAX_RUNNING", "MAX_TOKENS_CAP", "create_app"]
