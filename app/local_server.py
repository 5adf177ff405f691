"""The window's local OpenAI-compatible server: the loaded model served to other apps while the
window keeps chatting (both are clients of the one engine service).

:class:`LocalServer` belongs to :class:`app.state.AppState`; the Server page draws it. Its settings
are preferences (``server_enabled``, ``server_port``, ``server_key``, ``server_lan``), so a server
that was on starts again at the next launch. It is remembered as on only once it has started: a start
that fails (a port in use, an open address without a key), at the switch or at launch, is said and
leaves it off. The server runs on a thread of its own (:class:`engine.server.ServerThread`); its
request log arrives there, on the server's loop thread, and crosses to the Qt thread through a queued
signal before anything here touches it.
"""

from __future__ import annotations

import socket
from collections import deque
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal

from engine.errors import EngineError

from .background import in_thread
from .i18n import error_text

if TYPE_CHECKING:
    from engine.server import RequestRecord, ServerThread

    from .state import AppState

DEFAULT_PORT = 8000
LOG_SIZE = 500          # requests kept for the log


class _Relay(QObject):
    """Carries request records from the server's thread to the Qt thread."""

    record = Signal(object)


class LocalServer(QObject):
    changed = Signal()                  # started, stopped, failed, or its settings changed
    requestLogged = Signal(object)      # a RequestRecord, on the Qt thread

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.records: deque[RequestRecord] = deque(maxlen=LOG_SIZE)
        self.error = ""                 # why the last start failed
        self._thread: ServerThread | None = None
        self._relay = _Relay()
        self._relay.record.connect(self._logged, Qt.QueuedConnection)

    # -- what views read ---------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return bool(self.state.settings.get("server_enabled", False))

    @property
    def port(self) -> int:
        return int(self.state.settings.get("server_port", DEFAULT_PORT))

    @property
    def api_key(self) -> str:
        return str(self.state.settings.get("server_key", ""))

    @property
    def lan(self) -> bool:
        return bool(self.state.settings.get("server_lan", False))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.running

    @property
    def url(self) -> str:
        """The address to give other apps (on the network: this computer's address there)."""
        if self._thread is None:
            return ""
        if not self.lan:
            return self._thread.url
        return f"http://{_lan_address()}:{self._thread.port}/v1"

    # -- intent ------------------------------------------------------------------------------------

    def configure(self, port: int | None = None, api_key: str | None = None, lan: bool | None = None) -> None:
        """New settings (used from the next start)."""
        for key, value in (("server_port", port), ("server_key", api_key), ("server_lan", lan)):
            if value is not None:
                self.state.set_preference(key, value)
        self.changed.emit()

    async def set_enabled(self, on: bool) -> bool:
        """Turn the server on or off (remembered for the next launch); False, with a message, if it
        could not start (then it is remembered as off)."""
        if not on:
            self.state.set_preference("server_enabled", False)
            return await self.stop()
        started = await self.start()
        self.state.set_preference("server_enabled", started)
        return started

    async def start(self) -> bool:
        await self.stop()
        host = "0.0.0.0" if self.lan else "127.0.0.1"
        key, port = self.api_key or None, self.port

        def start() -> ServerThread:         # (uvicorn and starlette are imported once a server starts)
            from engine.server import ServerThread

            return ServerThread(self.state.service, host, port, api_key=key, on_request=self._relay.record.emit).start()

        try:
            self._thread = await in_thread(start)
        except (EngineError, OSError, RuntimeError) as e:   # a port in use, an open address without a key
            self.error = error_text(e) if isinstance(e, EngineError) else \
                self.tr("The server could not start: {error}").format(error=e)
            self.state.set_preference("server_enabled", False)  # not started by itself again (the launch's try)
            self.changed.emit()
            self.state.failed.emit(self.tr("Could not start the local server"), self.error, False)
            return False
        self.error = ""
        self.state.status.emit(self.tr("Serving at {url}").format(url=self.url), 5000)
        self.changed.emit()
        return True

    async def stop(self) -> bool:
        thread, self._thread = self._thread, None
        if thread is not None:
            self.changed.emit()
            await in_thread(thread.stop)        # replies end within a token, connections close
            self.changed.emit()
        return True

    def stop_now(self) -> None:
        """Stop at once, blocking (quitting: before the engine shuts down)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()

    def _logged(self, record: RequestRecord) -> None:
        self.records.append(record)
        self.requestLogged.emit(record)


def _lan_address() -> str:
    """This computer's address on its network (no packet is sent: a UDP socket only picks a route)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()
