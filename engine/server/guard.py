"""Who may talk to the server: checks made before a request reaches an endpoint (plain ASGI, so a
refused request costs nothing and a stream passes through untouched).

- :class:`HostGuard`, outermost. Bound to this computer only, the server answers only requests
  addressed to ``localhost``, ``127.0.0.1`` or ``[::1]``: a web page cannot point a DNS name it
  controls at 127.0.0.1 and drive the server from the user's own browser (DNS rebinding). And a
  request that a web page sends (it carries an ``Origin`` header) is refused unless that origin was
  allowed (``allow_origins``, the ``serve`` command's ``--cors``): without it a page could still make
  the server work (and write named states) with requests whose answer it never reads.
- :class:`KeyGuard`, inside CORS (a browser's preflight carries no key): the API key, when there
  is one, as ``Authorization: Bearer KEY``; and the declared size of the body.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers

from engine.server.exchange import error_bytes
from engine.server.protocol import ApiError

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Hints:
    """What a refusal tells whoever runs the server to change, in the words of where they started
    it. The defaults speak to the window's user (its Server page has an API key and no list of web
    pages); ``python -m engine serve`` passes its flags. ``{origin}`` is the refused page's origin."""

    open_address: str = "set an API key to allow that, or serve on this computer only"
    web_page: str = ("the web pages a server allows cannot be set in the app; to allow this one, run the server as "
                     "python -m engine serve --cors {origin}")


DEFAULT_HINTS = Hints()


def is_local_host(host: str | None) -> bool:
    """A ``Host`` header naming this computer's loopback address, with or without a port."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket:
            return False
    else:
        name, colon, port = host.partition(":")
        rest = colon + port
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return False
    return name in LOCAL_NAMES


async def _refuse(send, error: ApiError, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": error_bytes(error)})


class HostGuard:
    def __init__(self, app, *, loopback: bool, allow_origins: Iterable[str] = (), hints: Hints = DEFAULT_HINTS):
        self.app, self.loopback, self.hints = app, loopback, hints
        self.allow_origins = frozenset(allow_origins)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host")
        if self.loopback and not is_local_host(host):
            return await _refuse(send, ApiError(
                403, f"Host '{host}' is refused: this server answers requests addressed to localhost, 127.0.0.1 "
                     "or [::1] only (protection against DNS rebinding).", type="permission_error",
                code="host_not_allowed"))
        origin = headers.get("origin")
        if origin is not None and origin not in self.allow_origins and "*" not in self.allow_origins:
            return await _refuse(send, ApiError(
                403, f"Requests from web pages ({origin}) are refused; {self.hints.web_page.format(origin=origin)}.",
                type="permission_error", code="origin_not_allowed"))
        await self.app(scope, receive, send)


class KeyGuard:
    def __init__(self, app, *, api_key: str | None, max_body_bytes: int):
        self.app, self.max_body_bytes = app, max_body_bytes
        self.api_key = api_key.encode() if api_key else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if self.api_key is not None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return await _refuse(send, ApiError(
                    401, "Missing API key: send it as 'Authorization: Bearer KEY'.", code="invalid_api_key"),
                    [(b"www-authenticate", b"Bearer")])
            if not hmac.compare_digest(token.strip().encode(), self.api_key):
                return await _refuse(send, ApiError(401, "Incorrect API key provided.", code="invalid_api_key"),
                                     [(b"www-authenticate", b"Bearer")])
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return await _refuse(send, ApiError(400, "Content-Length is not a number.", code="invalid_request"))
            if int(length) > self.max_body_bytes:
                return await _refuse(send, too_large(self.max_body_bytes))
        await self.app(scope, receive, send)


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is larger than this server accepts ({limit} bytes).",
                    code="request_too_large")


__all__ = ["DEFAULT_HINTS", "Hints", "HostGuard", "KeyGuard", "is_local_host", "too_large"]
