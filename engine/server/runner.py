"""Running the server: :func:`serve` blocks (the ``serve`` command), :class:`ServerThread` runs it in
the background (a window's "local server" switch, tests).

Both bind the socket themselves before uvicorn starts, so a port in use is an error at once in the
caller's thread and ``port=0`` gets a free port whose number is known. An address other than this
computer's loopback is refused without an API key: anyone on the network could otherwise use the
model and write named states. Stopping first stops every reply being written (each ends within a
token), so a stream never holds the server open.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from engine.errors import EngineError
from engine.server.app import create_app
from engine.server.guard import DEFAULT_HINTS, Hints
from engine.service import EngineService

log = logging.getLogger(__name__)
GRACE_SECONDS = 5                   # after a stop, for replies to end and connections to close


class ServerConfigError(EngineError):
    """The server cannot start as asked (an address open to the network without an API key...)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port)."""
    host = "127.0.0.1" if host == "localhost" else host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":         # (on Windows it would let another program take the port over)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServerConfigError("Cannot listen on {host}:{port}: {reason}.", host=host, port=port,
                                reason=e.strerror or e) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


class _Server(uvicorn.Server):
    """uvicorn's server, whose exit (Ctrl+C, SIGTERM, :meth:`ServerThread.stop`) first stops the
    replies. uvicorn would raise the signal again once it has stopped, which for SIGTERM ends the
    process before the caller can shut the engine down; here :func:`serve` just returns."""

    def __init__(self, config: uvicorn.Config, app):
        super().__init__(config)
        self.bridge = app.state.bridge

    def handle_exit(self, sig, frame) -> None:
        self.bridge.close_threadsafe()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True          # a second Ctrl+C: stop waiting for connections
        self.should_exit = True


def check_address(host: str, api_key: str | None, hints: Hints = DEFAULT_HINTS) -> None:
    """Refuse an address open to other computers without an API key."""
    if not is_loopback(host) and not api_key:
        raise ServerConfigError(f"Serving on {host} would let other computers use the model without an API key; "
                                f"{hints.open_address}.")


def _server(service: EngineService, host: str, api_key: str | None, log_level: str, options) -> _Server:
    check_address(host, api_key, options.get("hints", DEFAULT_HINTS))
    app = create_app(service, api_key=api_key, loopback=is_loopback(host), **options)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=GRACE_SECONDS, server_header=False)
    return _Server(config, app)


def serve(service: EngineService, host: str = "127.0.0.1", port: int = 8000, *, api_key: str | None = None,
          on_ready: Callable[[str], None] | None = None, log_level: str = "warning", **options) -> None:
    """Serve ``service`` until Ctrl+C (or SIGTERM); ``on_ready(url)`` once it listens. ``options``
    go to :func:`~engine.server.app.create_app`. The service is left running: the caller shuts it down."""
    server = _server(service, host, api_key, log_level, options)
    sock = bind(host, port)
    if on_ready is not None:
        on_ready(url_of(sock))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:       # a Ctrl+C before uvicorn took the signal over
        pass
    finally:
        sock.close()


class ServerThread:
    """The server in a thread of its own, with its own event loop::

        server = ServerThread(service, port=0).start()
        print(server.url)           # http://127.0.0.1:PORT/v1
        server.stop()
    """

    def __init__(self, service: EngineService, host: str = "127.0.0.1", port: int = 8000, *,
                 api_key: str | None = None, log_level: str = "warning", **options):
        self._server = _server(service, host, api_key, log_level, options)
        self._host, self._requested_port = host, port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def app(self):
        return self._server.config.app

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the server has not started")
        return self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        if self._sock is None:
            raise RuntimeError("the server has not started")
        return url_of(self._sock)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> ServerThread:
        """Listen, and return once the server answers (raises if it could not start)."""
        if self._thread is not None:
            raise RuntimeError("a ServerThread starts once; make a new one")
        self._sock = bind(self._host, self._requested_port)
        self._thread = threading.Thread(target=self._run, name="openai-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                self.stop()
                raise ServerConfigError("The server did not start in time.")
            time.sleep(0.01)
        if not self._server.started:
            self._sock.close()
            raise ServerConfigError("The server could not start: {error}", error=self._error or "see the log")
        return self

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as e:  # reported to start(): a thread cannot raise to anyone
            self._error = e
            log.exception("the server stopped with an error")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the replies being written, close the connections, end the thread."""
        if self._thread is None:
            return
        self._server.bridge.close_threadsafe()
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()


__all__ = ["ServerConfigError", "ServerThread", "bind", "check_address", "is_loopback", "serve"]
