"""Which model answers the engine service's chats: one loaded on this computer (``LoadModel``), or a
remote OpenAI-compatible server's (``ConnectRemote``); and the state-tuning file new local chats
start from. A part of :class:`~engine.service.service.EngineService` (its commands on the engine
thread), apart so that the service's module stays about the thread and the conversations.

Switching is careful in the same way both ways: the new model is loaded, or the server asked for
its models on a helper thread, before the old one is let go; a failure leaves everything as it was.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError, said
from engine.service import commands as C
from engine.service.events import Event, Failed, ModelLoaded, ModelLoading, TuningChanged
from engine.service.failures import COMMAND_TITLES, describe
from engine.service.remote import LOCAL_ONLY, RemoteServer
from engine.service.views import ModelView
from engine.text.chat import template_for

# After a state-tuning file was refused: the second paragraph of its message.
UNCHANGED = said("The model ({loaded}) is unchanged; new chats start as before.")


class LocalModelNeeded(EngineError):
    """The command needs a model on this computer, and the chats use a remote server."""


@dataclass(frozen=True)
class Connected(C.Command):
    """A connection check has ended (queued by its helper thread): the server, or why not."""

    switch: int
    result: RemoteServer | BaseException
    seconds: float


class Backends:
    """The service's model commands. The attributes (set up by :class:`EngineService`):"""

    _model: object                  # the local Model (None: none, or a remote is used)
    _tokenizer: object
    _remote: RemoteServer | None    # the chats use this server instead of a local model
    _switch: int                    # model switches asked for: a late connection yields to a later one
    _tuning: tuple | None           # (State, path) new local conversations start from
    tuning_name: str | None
    model_view: ModelView | None    # the model, as clients see it
    _state_bytes: int | None        # one state of the local model (the service's sequence limit)

    def _loadmodel(self, request: int, cmd: C.LoadModel) -> Event:
        import engine
        from engine.errors import OutOfMemoryError
        from engine.text.tokenizer import tokenizer_for

        self._switch += 1
        self._finish_jobs()
        self._emit(ModelLoading(request, cmd.source))
        t0 = time.perf_counter()
        try:
            model = engine.load(cmd.source, device=cmd.device, precision=cmd.precision)
        except OutOfMemoryError:
            if self._model is None:
                raise
            self._drop_model()          # room for the new one: the old one cannot stay after all
            model = engine.load(cmd.source, device=cmd.device, precision=cmd.precision)
        tokenizer = tokenizer_for(model)
        self._drop_model()
        self.state_cache.clear()
        self._model, self._tokenizer = model, tokenizer
        self.model_view = ModelView.of(model, template_for(model, tokenizer))
        return ModelLoaded(request, self.model_view, time.perf_counter() - t0)

    def _drop_model(self) -> None:
        self._live.clear()
        self._model = self._tokenizer = self._remote = None
        self._state_bytes = None
        self._tuning, self.tuning_name = None, None
        self.model_view = None

    def _connectremote(self, request: int, cmd: C.ConnectRemote) -> None:
        """Ask the server for its models on a helper thread; :meth:`_connected` goes on from there."""
        self._switch += 1
        switch, t0 = self._switch, time.perf_counter()
        self._emit(ModelLoading(request, cmd.url))

        def check() -> None:
            try:
                result: RemoteServer | BaseException = RemoteServer.connect(cmd.url, cmd.api_key, cmd.model)
            except Exception as e:  # told by _connected, on the engine thread
                result = e
            self._queue.put((request, Connected(switch, result, time.perf_counter() - t0)))

        threading.Thread(target=check, name="remote-connect", daemon=True).start()

    def _connected(self, request: int, cmd: Connected) -> Event:
        title = COMMAND_TITLES[C.ConnectRemote]
        if isinstance(cmd.result, BaseException):
            return Failed(request, None, title, *describe(cmd.result)[1:])
        if cmd.switch != self._switch:
            return Failed(request, None, title, "Another model was chosen while the server was being asked; that "
                                                "one is used.")
        self._finish_jobs()
        self._drop_model()
        self.state_cache.clear()
        self._remote = cmd.result
        self.model_view = cmd.result.view()
        return ModelLoaded(request, self.model_view, cmd.seconds)

    def _applytuning(self, request: int, cmd: C.ApplyTuning) -> Event:
        from engine.models.state import State

        model = self._need_model("tuning")
        if cmd.path is None:
            self._tuning, self.tuning_name = None, None
            return TuningChanged(request, None)
        try:
            state = State.from_tuning_file(cmd.path, model, check_name=True)    # a saved state too
        except EngineError as e:     # the file's own message, then what it left as it was (two paragraphs)
            first = e.template if e.values else e.template.replace("{", "{{").replace("}", "}}")
            raise type(e)(first + "\n\n" + UNCHANGED, **e.values, loaded=model.info.describe()) from e
        self._tuning, self.tuning_name = (state, str(cmd.path)), Path(cmd.path).name
        return TuningChanged(request, self.tuning_name)

    def _need_model(self, feature: str | None = None):
        """The local model; a command that needs one while the chats use a remote server says why."""
        if self._remote is not None:
            raise LocalModelNeeded(LOCAL_ONLY.get(feature) or f"This needs a model on this computer; the chats use "
                                   f"the remote server at {self._remote.url} now.")
        if self._model is None:
            raise EngineError("No model is loaded; load one first.")
        return self._model

    def _need_backend(self) -> None:
        if self._remote is None:
            self._need_model()
