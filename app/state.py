"""The application state: what the window shows, in one place, with Qt signals views subscribe to.

The engine service (:mod:`engine.service`) owns the model and the conversations on its own thread;
this object is its client on the Qt thread. It turns the user's intent into commands, and the
service's events (delivered across threads as a Qt signal) into its own fields and signals. Pages
read these fields and draw them; none of them keeps a model, a session or a tensor, and none of
them reaches another page.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, Signal

from engine.errors import EngineError
from engine.host import hardware, library
from engine.service import (
    ChatSettings,
    ConversationSummary,
    ConversationView,
    EngineService,
    Listing,
    ModelView,
    list_remote_models,
)
from engine.service import commands as C
from engine.service import events as E

from . import i18n, precision_probe
from .background import in_thread
from .local_server import LocalServer
from .settings import Settings


class _Bridge(QObject):
    """Carries events from the engine thread to the Qt thread (a queued signal)."""

    event = Signal(object)


KEEP_TUNINGS = 50      # models whose state-tuning file is remembered


class AppState(QObject):
    modelChanged = Signal()              # .model
    tuningChanged = Signal()             # .tuning
    busyChanged = Signal(bool)           # .busy: a reply is written in the open conversation, or a model loads
    conversationsChanged = Signal()      # the list (read it with .conversations())
    conversationChanged = Signal()       # .conversation was replaced (opened, new chat, its tree changed)
    messageChanged = Signal(int)         # one message of .conversation grew (streamed text) or got its stats
    chatSettingsChanged = Signal()       # .chat_settings / .system_prompt
    preferenceChanged = Signal(str)      # a key of .settings
    status = Signal(str, int)            # a message for the status bar, how long to show it (ms; 0: progress,
                                         # until the next message replaces it)
    failed = Signal(str, str, bool)      # title, message, whether it is the open conversation's reply
    completionDelta = Signal(str)        # a piece of the plain completion being written
    completionEnded = Signal(str, int, float)   # why it ended ("stop", "length", "cancelled", "failed"), tokens, s

    def __init__(self, service: EngineService, settings: Settings):
        super().__init__()
        self.service, self.settings = service, settings
        self.model: ModelView | None = None
        self.tuning: str | None = None
        self.conversation: ConversationView | None = None      # None: a new chat, not sent yet
        self.streaming: dict[int, str] = {}                    # message id -> text streamed since the snapshot
        self.draft_settings = ChatSettings()                   # what a new chat starts with
        self.draft_system = ""
        self.loading = ""                                      # the model being loaded
        self.devices: list[hardware.Device] | None = None      # what the window found (None: detect on use)
        self._replies: dict[int, int | None] = {}              # request -> its conversation (None: being created)
        # Requests this window made and whose failure it has not shown: only these fail in a dialog. The
        # local server's clients send requests through the same service, and theirs fail to them (and
        # into the server's log), never into the window.
        self._mine: set[int] = set()
        self._reading: set[int] = set()                         # replies whose prompt progress is on show
        self._completion: int | None = None                    # the plain completion's request, while it runs
        self._bridge = _Bridge()
        self._bridge.event.connect(self._on_event)
        self._unsubscribe = service.subscribe(self._bridge.event.emit)
        self._mine.add(service.submit(C.PurgeDeleted())[0])   # conversations deleted in an earlier run, past their undo
        self.server = LocalServer(self)                        # the local OpenAI-compatible server

    # -- what views read ---------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        if self.loading:
            return True
        current = self.conversation.id if self.conversation is not None else None
        return any(conv == current for conv in self._replies.values())

    @property
    def chat_settings(self) -> ChatSettings:
        return self.conversation.settings if self.conversation is not None else self.draft_settings

    @property
    def system_prompt(self) -> str:
        return self.conversation.system_prompt if self.conversation is not None else self.draft_system

    def conversations(self, search: str | None = None) -> list[ConversationSummary]:
        return self.service.conversations(search)

    def text_of(self, message_id: int) -> str:
        """A message's text as far as it has streamed."""
        base = self.conversation.message(message_id).text if self.conversation and message_id in self.conversation \
            else ""
        return base + self.streaming.get(message_id, "")

    # -- intent ------------------------------------------------------------------------------------

    async def load_model(self, source: str, device: str = "cpu", precision: str = "auto") -> bool:
        """Load ``source``; replies are stopped and stored first. False (with a message) if it failed.
        ``precision`` "auto" (kept as the preference) loads in what the hardware picker's star says for
        this model on ``device`` (:func:`precision_probe.auto_precision`)."""
        prefs = {"backend": "local", "model": source, "device": device, "precision": precision}
        if precision == "auto":
            precision = await self._auto_precision(source, device)
        return await self._switch(C.LoadModel(source, device, precision), Path(source).name, prefs)

    async def _auto_precision(self, source: str, device_id: str) -> str:
        devices = self.devices if self.devices is not None else await in_thread(hardware.detect)
        device = next((d for d in devices if d.id == device_id), None)
        if device is None:
            return "auto"
        try:
            info = await in_thread(lambda: library.inspect_file(library.model_path(source)))
        except (EngineError, OSError):
            return "auto"           # loading it will say what is wrong
        return precision_probe.auto_precision(self.settings, device, info)

    async def list_remote_models(self, url: str, api_key: str | None) -> Listing:
        """What a remote server offers (raises :class:`engine.service.RemoteError` with the reason)."""
        return await in_thread(lambda: list_remote_models(url, api_key or None))

    async def connect_remote(self, url: str, api_key: str | None, model: str | None) -> bool:
        """Chat with ``model`` on the OpenAI-compatible server at ``url`` from now on (remembered, key
        included, for the next launch); False, with a message, if the server cannot be used."""
        prefs = {"backend": "remote", "remote_url": url.strip(), "remote_key": api_key or "", "remote_model": model}
        if self._own_server(url):
            self.failed.emit(self.tr("Could not connect"),
                             self.tr("{0} is this app's own server: chatting through it would unload the model it "
                                     "serves, and it would then have none. Load a model here instead, or give "
                                     "another computer's server.").format(url.strip()), False)
            return False
        return await self._switch(C.ConnectRemote(url, api_key or None, model), url.strip(), prefs)

    def _own_server(self, url: str) -> bool:
        """Whether ``url`` reaches the local server this window runs."""
        if not self.server.running:
            return False
        try:
            parts = urlsplit(url.strip() if "//" in url else "http://" + url.strip())
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return False
        ours = {"127.0.0.1", "localhost", "::1", "0.0.0.0", urlsplit(self.server.url).hostname}
        return port == self.server.port and (parts.hostname or "").lower() in ours

    async def _switch(self, command: C.Command, label: str, prefs: dict) -> bool:
        self.loading = label
        self.busyChanged.emit(True)
        self.status.emit((self.tr("Connecting to {0}…") if isinstance(command, C.ConnectRemote) else
                          self.tr("Loading {0}…")).format(label), 0)
        try:
            event = await self._ask(command)
        finally:
            self.loading = ""
        if not isinstance(event, E.ModelLoaded):      # not "Loading…" forever: the dialog says why
            self.status.emit(self.tr("Could not load {0}").format(label), 10000)
        if isinstance(event, E.ModelLoaded):
            current, previous = self.conversation, self.model
            self.model, self.tuning = event.model, None
            if not event.model.is_remote:
                precision_probe.remember(self, event.model.path, event.model.fingerprint)
            if isinstance(command, C.ConnectRemote):
                prefs["remote_url"], prefs["remote_model"] = event.model.remote, event.model.name
            for key, value in prefs.items():
                self.set_preference(key, value)
            self.modelChanged.emit()
            self.tuningChanged.emit()
            self.status.emit(self.tr("Connected to {0} in {1} s").format(event.model.remote, f"{event.seconds:.1f}")
                             if event.model.is_remote else
                             self.tr("Model loaded in {0} s").format(f"{event.seconds:.1f}"), 5000)
            self._show(None)
            if not event.model.is_remote:
                await self._reapply_tuning()
            if current is not None and current.model_fingerprint == event.model.fingerprint:
                await self.open(current.id)       # the same weights in another precision: go on
                self._say_what_changed(previous, event.model, current.title)
            elif current is not None:
                self.status.emit(self.tr("“{0}” was written with {1}: it stays in the list, for that model. "
                                         "New chats use {2}.").format(current.title, current.model_name,
                                                                      event.model.name), 15000)
        self.busyChanged.emit(self.busy)
        self.conversationsChanged.emit()
        return isinstance(event, E.ModelLoaded)

    def _say_what_changed(self, before: ModelView | None, now: ModelView, title: str) -> None:
        if before is None or before.is_remote or now.is_remote:
            return
        was, new = f"{before.device.upper()} {before.precision}", f"{now.device.upper()} {now.precision}"
        if was != new:
            self.status.emit(self.tr("Now {0} (was {1}): “{2}” goes on from its saved state").format(new, was, title),
                             15000)

    async def apply_tuning(self, path: str | None) -> bool:
        """New chats start from ``path``'s state (None: the model's own). Remembered for this model (by
        its fingerprint, in ``tunings``): it is applied again whenever the model loads, in any precision,
        until it is cleared."""
        event = await self._ask(C.ApplyTuning(path))
        if isinstance(event, E.TuningChanged):
            self.tuning = event.name
            self.tuningChanged.emit()
            self.status.emit(self.tr("New chats start from {0}").format(event.name) if event.name else
                             self.tr("State tuning off"), 5000)
            self.new_chat()
            if self.model is not None and not self.model.is_remote:
                tunings = dict(self.settings.get("tunings") or {})
                tunings.pop(self.model.fingerprint, None)
                if path is not None:
                    tunings[self.model.fingerprint] = str(Path(path).resolve())
                self.set_preference("tunings", dict(list(tunings.items())[-KEEP_TUNINGS:]))
        return isinstance(event, E.TuningChanged)

    async def _reapply_tuning(self) -> None:
        """The state-tuning file last applied to the model just loaded, if it is still there."""
        tunings = self.settings.get("tunings") or {}
        path = tunings.get(self.model.fingerprint) if isinstance(tunings, dict) else None
        if isinstance(path, str) and Path(path).is_file():
            await self.apply_tuning(path)

    def new_chat(self) -> None:
        self.draft_settings = self.conversation.settings if self.conversation is not None else self.draft_settings
        self._show(None)

    async def open(self, conv_id: int) -> bool:
        if self.conversation is not None and self.conversation.id == conv_id:
            return True
        event = await self._ask(C.OpenConversation(conv_id))
        if isinstance(event, E.ConversationOpened):
            self._show(event.conversation)
            self.set_preference("conversation", conv_id)
            if self.busy:                   # its reply is still being written: no state was resumed
                self.status.emit(self.tr("Generating…"), 0)
            elif self.model is not None and self.model.is_remote:
                self.status.emit("", 1)     # a remote server reads the history again: no state to say resumed
            else:
                self.status.emit(self.tr("Resumed from saved state in {0} ms — nothing re-read").format(
                    f"{event.restore_seconds * 1e3:.0f}"), 5000)
            return True
        return False

    def send(self, text: str, think: str | None = None) -> int | None:
        if self.model is None or self.busy or not text.strip():
            return None
        if self.conversation is None:
            target = C.NewConversation(self.draft_system, self.draft_settings)
            return self._reply(C.Send(target, text, think), None)
        return self._reply(C.Send(self.conversation.id, text, think), self.conversation.id)

    def edit(self, message_id: int, text: str, think: str | None = None) -> int | None:
        if self.conversation is None or self.busy:
            return None
        return self._reply(C.Edit(self.conversation.id, message_id, text, think), self.conversation.id)

    def regenerate(self, message_id: int | None = None) -> int | None:
        if self.conversation is None or self.busy:
            return None
        return self._reply(C.Regenerate(self.conversation.id, message_id), self.conversation.id)

    async def edit_reply(self, message_id: int, text: str) -> bool:
        """Reply ``message_id`` as the user wrote it, a new branch beside the model's."""
        if self.conversation is None or self.busy:
            return False
        event = await self._ask(C.EditReply(self.conversation.id, message_id, text))
        if isinstance(event, E.ConversationChanged) and self._current(event.conversation.id):
            self._show(event.conversation)
            self.status.emit(self.tr("Reply edited: the old one is the branch beside it"), 5000)
        return isinstance(event, E.ConversationChanged)

    async def delete_message(self, message_id: int) -> bool:
        """Delete a message and everything below it (every branch), for good."""
        if self.conversation is None or self.busy:
            return False
        event = await self._ask(C.DeleteMessage(self.conversation.id, message_id))
        if isinstance(event, E.ConversationChanged) and self._current(event.conversation.id):
            self._show(event.conversation)
            self.status.emit(self.tr("Message deleted"), 5000)
        return isinstance(event, E.ConversationChanged)

    @property
    def completing(self) -> bool:
        return self._completion is not None

    def complete(self, text: str) -> int | None:
        """Continue ``text`` as it is, with no chat template (the chat settings' sampler and length)."""
        if self.model is None or self.completing or not text.strip():
            return None
        settings = self.chat_settings
        request, _ = self.service.submit(C.Complete((text,), sampler=settings.sampler,
                                                    max_tokens=settings.max_tokens))
        self._completion = request
        return request

    def stop_completion(self) -> None:
        if self._completion is not None:
            self.service.stop_request(self._completion)

    def continue_reply(self) -> int | None:
        if self.conversation is None or self.busy:
            return None
        return self._reply(C.Continue(self.conversation.id), self.conversation.id)

    def stop(self) -> None:
        if self.conversation is not None:
            self.service.stop(self.conversation.id)
        elif None in self._replies.values():        # a new chat's first reply
            self.service.stop()

    async def stop_and_wait(self) -> None:
        """Stop the open conversation's reply and return once it is stored."""
        self.stop()
        while self.busy and not self.loading:
            await asyncio.sleep(0.01)

    async def switch_branch(self, message_id: int, step: int) -> None:
        if self.conversation is None or self.busy:
            return
        event = await self._ask(C.SwitchBranch(self.conversation.id, message_id, step))
        if isinstance(event, E.ConversationChanged):
            self._show(event.conversation)
            self.status.emit(self.tr("Branch restored from its saved state in {0} ms").format(
                f"{event.restore_seconds * 1e3:.0f}"), 5000)

    def update_chat(self, settings: ChatSettings | None = None, system_prompt: str | None = None) -> asyncio.Future:
        """New settings or system prompt for the open conversation (or, at once, for the next new chat);
        await the result to know the conversation has them."""
        if self.conversation is None:
            if settings is not None:
                self.draft_settings = settings
            if system_prompt is not None:
                self.draft_system = system_prompt.strip()
            self.chatSettingsChanged.emit()
            done = asyncio.get_event_loop().create_future()
            done.set_result(None)
            return done
        return asyncio.ensure_future(self._update(self.conversation.id, settings, system_prompt))

    async def _update(self, conv_id: int, settings: ChatSettings | None, system_prompt: str | None) -> None:
        event = await self._ask(C.UpdateConversation(conv_id, settings=settings, system_prompt=system_prompt))
        if isinstance(event, E.ConversationChanged) and self._current(event.conversation.id):
            self._show(event.conversation)

    async def rename(self, conv_id: int, title: str) -> None:
        await self._ask(C.UpdateConversation(conv_id, title=title))
        if self.conversation is not None and self.conversation.id == conv_id:
            self.conversation = dataclasses.replace(self.conversation, title=title.strip())

    async def delete(self, conv_id: int) -> None:
        await self._ask(C.DeleteConversation(conv_id))
        if self.conversation is not None and self.conversation.id == conv_id:
            self._show(None)

    async def restore(self, conv_id: int) -> None:
        await self._ask(C.RestoreConversation(conv_id))

    async def export(self, path: Path) -> bool:
        if self.conversation is None:
            return False
        event = await self._ask(C.Export(self.conversation.id, str(path)))
        if isinstance(event, E.Exported):
            self.status.emit(self.tr("Saved the conversation and its state to {0}").format(Path(path).name), 5000)
        return isinstance(event, E.Exported)

    async def export_text(self, path: Path, format: str) -> bool:
        """The open conversation as Markdown or JSON (text only, no state)."""
        if self.conversation is None:
            return False
        event = await self._ask(C.ExportText(self.conversation.id, str(path), format))
        if isinstance(event, E.Exported):
            self.status.emit(self.tr("Exported the conversation to {0}").format(Path(path).name), 5000)
        return isinstance(event, E.Exported)

    async def purge_deleted(self) -> None:
        """Remove deleted conversations (their text and states) from disk for good."""
        await self._ask(C.PurgeDeleted())

    async def import_(self, path: Path) -> bool:
        """Load a saved conversation and its state (a .rwkvchat) and open it: remembered as the open
        conversation, as one opened from the list is."""
        event = await self._ask(C.Import(str(path)))
        if isinstance(event, E.ConversationOpened):
            self._show(event.conversation)
            self.set_preference("conversation", event.conversation.id)
            self.status.emit(self.tr("Loaded “{0}” from {1}").format(event.conversation.title, Path(path).name),
                             5000)
            return True
        return False

    def set_preference(self, key: str, value) -> None:
        if self.settings.get(key) != value:
            self.settings.set(key, value)
            self.preferenceChanged.emit(key)

    def shutdown(self) -> None:
        """Stop the local server, then every reply (each is stored, marked stopped), and end the
        engine: what quitting does."""
        self.server.stop_now()
        self._unsubscribe()
        self.service.shutdown()

    # -- inside ------------------------------------------------------------------------------------

    def _reply(self, command: C.Command, conv: int | None) -> int:
        request, future = self.service.submit(command)
        self._mine.add(request)
        self._replies[request] = conv
        self.busyChanged.emit(True)
        self.status.emit(self.tr("Generating…"), 0)
        return request

    async def _ask(self, command: C.Command) -> E.Event:
        """Submit a command and wait for its final event (a failure is shown, then returned)."""
        request, future = self.service.submit(command)
        self._mine.add(request)
        event = await _wrap(future)
        if not isinstance(event, E.Failed):     # a failure leaves when its dialog is shown (_on_event)
            self._mine.discard(request)
        return event

    def _show(self, view: ConversationView | None) -> None:
        self.conversation = view
        self.streaming.clear()
        self.conversationChanged.emit()
        self.chatSettingsChanged.emit()
        self.busyChanged.emit(self.busy)

    def _current(self, conv: int | None) -> bool:
        return self.conversation is not None and conv == self.conversation.id

    def _on_event(self, event: E.Event) -> None:
        if self._completion is not None and event.request == self._completion:
            self._completion_event(event)
            return
        handler: Callable | None = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        if isinstance(event, E.Failed):
            reply = event.request in self._replies
            self._replies.pop(event.request, None)
            self._reading.discard(event.request)
            if event.request is None or event.request in self._mine:
                self._mine.discard(event.request)
                if event.kind == "OtherModelError":   # a chat of another model: said, not a dialog to dismiss
                    self.status.emit(_said(event), 15000)
                    self.conversationChanged.emit()     # the list shows again what is open
                else:
                    self.failed.emit(i18n.engine_text(event.title), _said(event),
                                     reply and self._current(event.conversation))
            self.busyChanged.emit(self.busy)
        elif isinstance(event, (E.Finished, E.Stopped)):
            self._mine.discard(event.request)
            self._reading.discard(event.request)
            self._replies.pop(event.request, None)
            self.busyChanged.emit(self.busy)
            self.conversationsChanged.emit()

    def _completion_event(self, event: E.Event) -> None:
        if isinstance(event, E.CompletionDelta):
            self.completionDelta.emit(event.text)
        elif isinstance(event, E.CompletionFinished):
            self._completion = None
            self.completionEnded.emit(event.stop_reason, event.completion_tokens, event.seconds)
        elif isinstance(event, E.Failed):
            self._completion = None
            self.failed.emit(i18n.engine_text(event.title), _said(event), False)
            self.completionEnded.emit("failed", 0, 0.0)

    def _opened(self, event: E.ConversationOpened) -> None:
        if self._replies.get(event.request, 0) is None:         # our new chat now exists
            self._replies[event.request] = event.conversation.id
            self._show(event.conversation)
            self.set_preference("conversation", event.conversation.id)

    def _created(self, event: E.MessageCreated) -> None:
        if self._current(event.conversation):
            self.conversation = self.conversation.with_message(event.message)
            self.conversationChanged.emit()

    def _delta(self, event: E.TextDelta) -> None:
        if event.request in self._reading:        # the prompt is read: its progress gives way
            self._reading.discard(event.request)
            if self._current(event.conversation):
                self.status.emit(self.tr("Generating…"), 0)
        if self._current(event.conversation):
            self.streaming[event.message] = self.streaming.get(event.message, "") + event.text
            self.messageChanged.emit(event.message)

    def _progress(self, event: E.PromptProgress) -> None:
        if self._current(event.conversation):
            self._reading.add(event.request)
            self.status.emit(self.tr("Reading the prompt… {0} of {1} tokens").format(f"{event.done:,}",
                                                                                      f"{event.total:,}"), 0)

    def _ended(self, event: E.Finished | E.Stopped) -> None:
        if not self._current(event.conversation):
            return
        if event.message is not None:
            self.streaming.pop(event.message.id, None)
            self.conversation = self.conversation.with_message(event.message)
            self.messageChanged.emit(event.message.id)
            st = event.message.stats
            if st is not None:
                stopped = self.tr(" — stopped") if isinstance(event, E.Stopped) else ""
                if st.prompt_tokens and st.prompt_seconds > st.seconds / 2:  # mostly reading: said apart
                    said = self.tr("{0} tokens in {1} s ({2} tokens/s), after reading {3} prompt tokens in "
                                   "{4} s").format(
                        st.new_tokens, f"{st.seconds - st.prompt_seconds:.1f}", f"{st.tokens_per_s:.1f}",
                        f"{st.prompt_tokens:,}", f"{st.prompt_seconds:.1f}")
                else:
                    said = self.tr("{0} tokens in {1} s ({2} tokens/s)").format(
                        st.new_tokens, f"{st.seconds:.1f}", f"{st.tokens_per_s:.1f}")
                self.status.emit(said + stopped, 15000)
        else:           # the prompt was dropped: the service says how the message stands now
            self.status.emit(self.tr("Stopped before the reply began"), 5000)

            if isinstance(event, E.Stopped) and event.prompt is not None:
                self.conversation = self.conversation.with_message(event.prompt)
            self.conversationChanged.emit()

    def _list_changed(self, event: E.ConversationsChanged) -> None:
        self.conversationsChanged.emit()

    def _reply_changed(self, event: E.ConversationChanged) -> None:
        """A reply of ours ended in a failure: the conversation as stored (the reply marked failed)."""
        if event.request in self._replies and self._current(event.conversation.id):
            self._show(event.conversation)


_HANDLERS: dict[type, Callable] = {
    E.ConversationOpened: AppState._opened,
    E.MessageCreated: AppState._created,
    E.TextDelta: AppState._delta,
    E.PromptProgress: AppState._progress,
    E.Finished: AppState._ended,
    E.Stopped: AppState._ended,
    E.ConversationsChanged: AppState._list_changed,
    E.ConversationChanged: AppState._reply_changed,
}


def _wrap(future: Future) -> asyncio.Future:
    return asyncio.wrap_future(future)


def _said(event: E.Failed) -> str:
    """A failure's message in the interface's language (its template translated, else as the engine said it)."""
    return i18n.engine_text(event.message, event.template, event.values)
