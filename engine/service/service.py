"""The engine service: one thread that owns the model, the tokenizer, every open conversation and
its states, and the conversation store.

Clients (the window, the CLI, the HTTP server) call :meth:`EngineService.submit` with a command
from :mod:`engine.service.commands` and get back a request number and a future; what happens is
told by immutable events (:mod:`engine.service.events`) handed to every subscriber, and the
request's final event resolves its future. Nothing mutable crosses threads: commands and events
are frozen, and the conversation views in events are copies.

The thread runs a small scheduler. Commands are handled in the order they come; replies are
*jobs* (:class:`~engine.service.replies.ReplyJob`) advanced one step at a time (one token, or one
chunk of a prompt), every running job in turn, with the queue checked between steps. So several
conversations can be written at once, a command waits at most one step, and :meth:`stop` (which
also acts at once from the caller's thread) takes effect within a token.

The chats may instead be answered by a remote OpenAI-compatible server
(:class:`~engine.commands.ConnectRemote`, :mod:`engine.service.remote`). Its replies are jobs too,
whose steps never wait on the network: a helper thread reads the HTTP stream and wakes the engine
thread when something arrives; while every job is waiting so, the thread sleeps until woken.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from engine.errors import EmptyPromptError, EngineError
from engine.models.checkpoint import model_name
from engine.service import commands as C
from engine.service import transcripts
from engine.service.backends import Backends, LocalModelNeeded
from engine.service.completions import CompletionJob
from engine.service.conversations import Live, new_live, new_remote_live, open_live, open_remote_live
from engine.service.events import (
    ConversationChanged,
    ConversationOpened,
    ConversationsChanged,
    Done,
    Event,
    Exported,
    Failed,
    MessageCreated,
    StateSaved,
)
from engine.service.failures import COMMAND_TITLES, describe
from engine.service.jobs import Batcher, Job
from engine.service.named_states import NamedStates, check_name
from engine.service.remote import REMOTE_FINGERPRINT, RemoteChat, RemoteServer
from engine.service.replies import ReplyJob
from engine.service.state_cache import StateCache
from engine.service.store import ConversationStore
from engine.service.views import ChatSettings, ConversationSummary, ModelView
from engine.text.chat import THINK_MODES, clean

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]
MAX_LIVE = 8            # conversations kept open (their sessions and a few states each) when idle
MAX_SEQUENCES = 16      # replies written at once; later ones wait their turn
SEQUENCE_MEMORY_MB = 1024   # at most this much in the running replies' states (a 7B state is 34 MiB)
IDLE_WAIT = 0.25        # seconds the thread sleeps while every job waits on a remote server (a wake ends it)
_WAKE = ("wake",)       # queued by helper threads (and stop) to end that sleep


class EngineService(Backends):
    """See the module docstring. ``data_dir`` holds ``conversations.sqlite3`` and ``states/``."""

    def __init__(self, data_dir: Path, *, keep_states: int = 3, state_cache_mb: int = 512,
                 tuning_dir: Path | None = None, name: str = "engine", max_sequences: int = MAX_SEQUENCES,
                 sequence_memory_mb: int = SEQUENCE_MEMORY_MB):
        """``state_cache_mb``: RAM for the states of recent completions (4x that on disk; 0: no cache).
        ``tuning_dir``: state-tuning files a completion may start from, by file name.
        ``max_sequences``: replies written at once (later ones wait their turn, in order), fewer
        where their states would need more than ``sequence_memory_mb`` (see :meth:`sequence_limit`)."""
        if max_sequences < 1 or sequence_memory_mb < 1:
            raise ValueError("max_sequences and sequence_memory_mb must be at least 1")
        self.max_sequences, self.sequence_memory = max_sequences, sequence_memory_mb * 2**20
        self.store = ConversationStore(Path(data_dir))
        self.keep_states = keep_states
        self.state_cache = StateCache(Path(data_dir) / "state-cache", state_cache_mb * 2**20)
        self.named = NamedStates(Path(data_dir) / "named-states", tuning_dir)
        self.model_view: ModelView | None = None     # the last loaded model, as clients see it
        self.tuning_name: str | None = None
        self._model = self._tokenizer = None
        self._state_bytes: int | None = None            # one state of the model (see sequence_limit)
        self._remote: RemoteServer | None = None        # the chats use this server instead of a local model
        self._switch = 0                                # model switches asked for: a late connection yields
        self._tuning = None                             # (State, path) for new conversations
        self._live: OrderedDict[int, Live] = OrderedDict()
        self._jobs: list[Job] = []
        self._batcher = Batcher()
        self._cancels: dict[int, threading.Event] = {}   # conversation -> its running reply's stop flag
        self._request_cancels: dict[int, threading.Event] = {}   # request -> its running completion's
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._futures: dict[int, Future] = {}
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- the client side (any thread) ------------------------------------------------------------

    def subscribe(self, deliver: Subscriber) -> Callable[[], None]:
        """Call ``deliver(event)`` for every event from now on; returns a function that unsubscribes.

        ``deliver`` runs on the engine thread: it must only hand the event over to its own thread
        (emit a Qt signal, ``loop.call_soon_threadsafe``, ``queue.put``) and return."""
        with self._lock:
            self._subscribers.append(deliver)

        def unsubscribe() -> None:
            with self._lock:
                if deliver in self._subscribers:
                    self._subscribers.remove(deliver)

        return unsubscribe

    def submit(self, command: C.Command) -> tuple[int, Future]:
        """Queue ``command``; returns its request number and a future for its final event."""
        request = next(self._ids)
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise EngineError("The engine has shut down.")
            self._futures[request] = future
        if isinstance(command, C.Stop):
            self.stop(command.conversation)
        self._queue.put((request, command))
        return request, future

    def call(self, command: C.Command, timeout: float | None = None) -> Event:
        """Submit and wait for the final event (scripts, tests, the CLI)."""
        return self.submit(command)[1].result(timeout)

    def stop(self, conversation: int | None = None) -> None:
        """Stop the reply being written in ``conversation`` (None: all, completions too) at once,
        from any thread."""
        with self._lock:
            flags = [*self._cancels.values(), *self._request_cancels.values()] if conversation is None else \
                [f for c, f in self._cancels.items() if c == conversation]
        for flag in flags:
            flag.set()
        self._wake()

    def stop_request(self, request: int) -> None:
        """Stop a completion (a client went away): its job ends within a token, from any thread."""
        with self._lock:
            flag = self._request_cancels.get(request)
        if flag is not None:
            flag.set()
            self._wake()

    def _wake(self) -> None:
        """End the engine thread's sleep while jobs wait on the network (any thread)."""
        self._queue.put(_WAKE)

    def named_states(self) -> list[str]:
        """Names a completion may start from: saved states, then state-tuning files (any thread)."""
        return self.named.names()

    def conversations(self, search: str | None = None) -> list[ConversationSummary]:
        """The conversation list, newest first (reads the database only: safe from any thread)."""
        return [ConversationSummary(c.id, c.title, c.updated, Path(c.model_path).name if c.model_fingerprint ==
                                    REMOTE_FINGERPRINT else model_name(c.model_path), c.model_fingerprint)
                for c in self.store.list(search)]

    def busy(self) -> bool:
        with self._lock:
            return bool(self._cancels or self._request_cancels)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every reply (each is stored, marked stopped), close the store, end the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.stop()
        self._queue.put(None)
        self._thread.join(timeout)

    # -- the engine thread -------------------------------------------------------------------------

    def _run(self) -> None:
        waiting = False                         # every job waited on something outside in its last step
        try:
            while True:
                block = not self._jobs or waiting
                while True:                     # every command waiting, blocking only when idle
                    try:
                        item = self._queue.get(block=block, timeout=IDLE_WAIT if self._jobs else None)
                    except queue.Empty:
                        break
                    block = False
                    if item is None:
                        return
                    if item is not _WAKE:
                        self._handle(*item)
                waiting = bool(self._jobs)
                admitted = self.sequence_limit()
                for n, job in enumerate(list(self._jobs)):  # then every reply being written, to its next
                    if job not in self._jobs or job.pending is not None:   # model call; ended, or waiting
                        continue
                    if n >= admitted and not job.cancel.is_set():   # its turn has not come (a stopped one
                        continue                                    # ends at once, though)
                    if not job.step():
                        self._forget(job)
                        waiting = False
                    elif not job.waiting:
                        waiting = False
                if self._model is not None and any(job.pending is not None for job in self._jobs):
                    self._batcher.run(self._model, self._jobs)     # their single-token calls as one batch
                    waiting = False
        finally:
            self._finish_jobs()
            self.store.close()
            with self._lock:
                pending = list(self._futures.items())
                self._futures.clear()
            for request, future in pending:
                if not future.done():
                    future.set_result(Failed(request, None, "Engine stopped", "The engine has shut down."))

    def _emit(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for deliver in subscribers:
            try:
                deliver(event)
            except Exception:  # a client's mistake must not stop the engine
                log.exception("an event subscriber failed")

    def _final(self, event: Event) -> None:
        """Send a request's last event and resolve its future with it."""
        self._emit(event)
        with self._lock:
            future = self._futures.pop(event.request, None)
        if future is not None and not future.done():
            future.set_result(event)

    def _handle(self, request: int, command: C.Command) -> None:
        handler = getattr(self, "_" + type(command).__name__.lower(), None)
        try:
            if handler is None:
                raise EngineError("The engine does not know the command {command}.", command=type(command).__name__)
            result = handler(request, command)
        except Exception as e:
            told = describe(e)
            told = told._replace(title=COMMAND_TITLES.get(type(command), told.title))
            conversation = getattr(command, "conversation", None)
            self._final(Failed(request, conversation if isinstance(conversation, int) else None, *told))
            return
        if result is not None:
            self._final(result)

    def sequence_limit(self) -> int:
        """How many replies are written at once: ``max_sequences``, fewer where their states (one
        per reply, held while it is written) would need more than ``sequence_memory_mb``."""
        if self._model is None:
            return self.max_sequences
        if self._state_bytes is None:
            self._state_bytes = max(1, self._model.new_state().nbytes)
        return max(1, min(self.max_sequences, self.sequence_memory // self._state_bytes))

    def _finish_jobs(self, conversation: int | None = None) -> None:
        """Stop and finish (store) the running replies: all (completions too), or ``conversation``'s."""
        for job in list(self._jobs):
            if conversation is None or job.conversation == conversation:
                job.cancel.set()
                job.run_to_end(self._model)
                self._forget(job)

    def _forget(self, job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        with self._lock:
            if job.conversation is None:
                self._request_cancels.pop(job.request, None)
            else:
                self._cancels.pop(job.conversation, None)

    # -- conversations -----------------------------------------------------------------------------

    def _live_conversation(self, conv_id: int) -> Live:
        live = self._live.get(conv_id)
        if live is None:
            if self._remote is not None:
                live = open_remote_live(self.store, conv_id, self._remote, self._wake)
            else:
                live = open_live(self.store, conv_id, self._need_model(), self._tokenizer, self.keep_states)
            self._live[conv_id] = live
            idle = [c for c, lv in self._live.items() if not lv.busy and c != conv_id]
            for c in idle[:max(0, len(self._live) - MAX_LIVE)]:
                del self._live[c]
        self._live.move_to_end(conv_id)
        return live

    def _openconversation(self, request: int, cmd: C.OpenConversation) -> Event:
        live = self._live_conversation(cmd.conversation)
        t0 = time.perf_counter()
        live.session.checkpoint(live.session.leaf())     # the state the next message starts from, at hand
        return ConversationOpened(request, live.view(), time.perf_counter() - t0)

    def _closeconversation(self, request: int, cmd: C.CloseConversation) -> Event:
        live = self._live.get(cmd.conversation)
        if live is not None and not live.busy:
            del self._live[cmd.conversation]
        return Done(request)

    def _updateconversation(self, request: int, cmd: C.UpdateConversation) -> Event:
        live = self._live_conversation(cmd.conversation)
        fields: dict[str, Any] = {}
        if cmd.title is not None and cmd.title.strip():
            live.title = fields["title"] = cmd.title.strip()
        if cmd.settings is not None:
            live.apply_settings(cmd.settings)
            fields["settings"] = cmd.settings.to_dict()
        if cmd.system_prompt is not None and cmd.system_prompt.strip() != live.system_prompt:
            if live.busy:
                raise EngineError("Wait for the reply to finish (or stop it) before changing the system prompt.")
            self._set_system_prompt(live, cmd.system_prompt.strip())
            fields["system_prompt"] = live.system_prompt
            fields["root_active"] = live.session.root.active_child
        if fields:
            self.store.update(live.id, **fields)
        if "title" in fields:
            self._emit(ConversationsChanged(request))
        return ConversationChanged(request, live.view())

    def _set_system_prompt(self, live: Live, text: str) -> None:
        """A conversation that has not begun takes the new prompt as it is; one that has gets a new
        branch from the beginning (see :class:`~engine.service.commands.UpdateConversation`)."""
        session = live.session
        first = session.messages.get(session.root.active_child) if session.root.active_child else None
        if first is not None and first.role == "system" and not first.children:
            session.root.children.remove(first.id)
            del session.messages[first.id]
            live.checkpoints.discard(first.id)
            self.store.delete_messages(live.id, [first.id])
            session.root.active_child = session.root.children[-1] if session.root.children else None
            first = None
        if text:
            msg = session.add_system(text)
            self.store.save_message(live.id, msg)
        elif first is not None:
            session.root.active_child = None    # a new, empty branch without a system prompt
        live.system_prompt = text

    def _switchbranch(self, request: int, cmd: C.SwitchBranch) -> Event:
        live = self._live_conversation(cmd.conversation)
        if live.busy:
            raise EngineError("Wait for the reply to finish (or stop it) before switching branch.")
        session = live.session
        session.switch_branch(cmd.message, cmd.step)
        t0 = time.perf_counter()
        session.checkpoint(session.leaf())
        seconds = time.perf_counter() - t0
        parent = session.messages[session.messages[cmd.message].parent]
        if parent.role == "root":
            self.store.update(live.id, root_active=parent.active_child)
        else:
            self.store.save_tree(live.id, [parent])
        return ConversationChanged(request, live.view(), seconds)

    def _deleteconversation(self, request: int, cmd: C.DeleteConversation) -> Event:
        self._finish_jobs(cmd.conversation)
        self._live.pop(cmd.conversation, None)
        self.store.delete(cmd.conversation)
        return ConversationsChanged(request)

    def _restoreconversation(self, request: int, cmd: C.RestoreConversation) -> Event:
        self.store.undelete(cmd.conversation)
        return ConversationsChanged(request)

    def _purgedeleted(self, request: int, cmd: C.PurgeDeleted) -> Event:
        self.store.purge_deleted()
        return Done(request)

    def _exporttext(self, request: int, cmd: C.ExportText) -> Event:
        transcripts.write(self._live_conversation(cmd.conversation).view(), Path(cmd.path), cmd.format)
        return Exported(request, cmd.conversation, cmd.path)

    def _deletemessage(self, request: int, cmd: C.DeleteMessage) -> Event:
        live = self._live_conversation(cmd.conversation)
        if live.busy:
            raise EngineError("Wait for the reply to finish (or stop it) before deleting a message.")
        session = live.session
        msg = session.messages.get(cmd.message)
        if msg is None or msg.role not in ("user", "assistant"):
            raise EngineError("Only your messages and the replies can be deleted; the system prompt is changed "
                              "in the chat settings.")
        parent = session.messages[msg.parent]
        removed = session.remove(msg.id)
        for mid in removed:
            live.checkpoints.discard(mid)
            live.stats.pop(mid, None)
        self.store.delete_messages(live.id, removed)
        self._store_choice(live, parent)
        return ConversationChanged(request, live.view())

    def _editreply(self, request: int, cmd: C.EditReply) -> Event:
        live = self._ready(cmd.conversation)
        if cmd.message not in live.session.messages:
            raise EngineError("There is no message {message} in this conversation.", message=cmd.message)
        reply = live.session.edit_reply(cmd.message, cmd.text)
        parent = live.session.messages[reply.parent]
        self.store.save_messages(live.id, [(reply, None)])
        self._store_choice(live, parent)
        return ConversationChanged(request, live.view())

    def _store_choice(self, live: Live, parent) -> None:
        """Store which child of ``parent`` is shown (the root's choice is a field of the conversation)."""
        if parent.role == "root":
            self.store.update(live.id, root_active=parent.active_child)
        else:
            self.store.save_tree(live.id, [parent])

    def _export(self, request: int, cmd: C.Export) -> Event:
        self._need_model("save_state")
        live = self._live_conversation(cmd.conversation)
        leaf = live.session.leaf()
        state = live.session.checkpoint(leaf)       # rebuilt if its file is gone
        self.store.export(live.id, Path(cmd.path), self._need_model(), state, leaf or None)
        return Exported(request, cmd.conversation, cmd.path)

    def _import(self, request: int, cmd: C.Import) -> Event:
        conv = self.store.import_(Path(cmd.path), self._need_model("load_state"))
        self._emit(ConversationsChanged(request))
        return self._openconversation(request, C.OpenConversation(conv.id))

    def _savestate(self, request: int, cmd: C.SaveState) -> Event:
        self._need_model("save_state")
        live = self._live_conversation(cmd.conversation)
        state = live.session.checkpoint(live.session.leaf())
        state.save(cmd.path, {"source": "RWKV Desktop", "conversation": live.id})
        return StateSaved(request, live.id, cmd.path)

    def _stop(self, request: int, cmd: C.Stop) -> Event:
        self.stop(cmd.conversation)      # (already done by submit; harmless twice)
        return Done(request)

    # -- replies -----------------------------------------------------------------------------------

    def _send(self, request: int, cmd: C.Send) -> None:
        self._need_backend()
        body = clean(cmd.text)
        if not body:
            raise EmptyPromptError("The message is empty.")
        if cmd.think is not None and cmd.think not in THINK_MODES:
            raise EngineError("Unknown think mode '{think}'; use one of {choices}.",
                              think=cmd.think, choices=", ".join(THINK_MODES))
        if isinstance(cmd.conversation, C.NewConversation):
            new = cmd.conversation
            title = (new.title or body.splitlines()[0])[:60]
            settings = new.settings or ChatSettings()
            if self._remote is not None:
                live = new_remote_live(self.store, self._remote, self._wake, title=title,
                                       system_prompt=new.system_prompt.strip(), settings=settings)
            else:
                live = new_live(self.store, self._need_model(), self._tokenizer, title=title,
                                system_prompt=new.system_prompt.strip(), settings=settings, tuning=self._tuning,
                                keep=self.keep_states)
            self._live[live.id] = live
            self._emit(ConversationsChanged(request))
            self._emit(ConversationOpened(request, live.view(), 0.0))
        else:
            live = self._ready(cmd.conversation)
        think = cmd.think or live.settings.think
        user = live.session.add_user(cmd.text, think=think)
        self._start_reply(request, live, user, lambda cancel: live.session.respond(user.id, cancel=cancel))

    def _edit(self, request: int, cmd: C.Edit) -> None:
        live = self._ready(cmd.conversation)
        user = live.session.edit_user(cmd.message, cmd.text, think=cmd.think)
        self._start_reply(request, live, user, lambda cancel: live.session.respond(user.id, cancel=cancel))

    def _regenerate(self, request: int, cmd: C.Regenerate) -> None:
        live = self._ready(cmd.conversation)
        user = live.session.user_to_answer(cmd.message)
        self._start_reply(request, live, user, lambda cancel: live.session.respond(user.id, cancel=cancel),
                          announce=False)

    def _continue(self, request: int, cmd: C.Continue) -> None:
        live = self._ready(cmd.conversation)
        session = live.session
        leaf = session.leaf()
        last = session.messages[leaf]
        if last.role != "assistant" or last.complete:
            raise EngineError("There is no unfinished reply to continue; send a message instead.")
        if isinstance(session, RemoteChat) and self.model_view.unavailable("continue"):
            raise EngineError(self.model_view.unavailable("continue"))
        self._start_reply(request, live, None, lambda cancel: session.extend(leaf, cancel=cancel), announce=False)

    def _ready(self, conv_id: int) -> Live:
        live = self._live_conversation(conv_id)
        if live.busy:
            raise EngineError("A reply is being written in this conversation; wait for it or stop it first.")
        return live

    def _start_reply(self, request: int, live: Live, user, make, announce: bool = True) -> None:
        """Store the user's message (before any work on it) and start the job that answers it."""
        session = live.session
        if user is not None and announce:
            parent = session.messages[user.parent]
            self.store.save_messages(live.id, [(m, None) for m in (parent, user) if m.role != "root"])
            if parent.role == "root":
                self.store.update(live.id, root_active=user.id)
            self._emit(MessageCreated(request, live.id, live.message_view(user)))
        cancel = threading.Event()
        job = ReplyJob(live, request, user, make(cancel), cancel, self.store, self._emit, self._final, describe)
        with self._lock:
            self._cancels[live.id] = cancel
        self._jobs.append(job)


    # -- completions (the HTTP server's requests) ----------------------------------------------------

    def _complete(self, request: int, cmd: C.Complete) -> None:
        if self._remote is not None:
            raise LocalModelNeeded("The window uses a remote server now; load a model on this computer to serve it.")
        model = self._need_model()
        if cmd.save_as is not None:
            check_name(cmd.save_as)
        start = self.named.load(cmd.start, model) if cmd.start is not None else model.new_state()
        cancel = threading.Event()
        job = CompletionJob(request, cmd, model, self._tokenizer, start, self.state_cache, cancel, self._emit,
                            self._final, describe, self.named.save)
        with self._lock:
            self._request_cancels[request] = cancel
        self._jobs.append(job)
