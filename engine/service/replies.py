"""A reply being written: one job of the service, advanced one step (a token, a prompt chunk) at a time.

The job owns the persistence of its turn. The user's message is stored before the job exists
(see :meth:`EngineService._send`); the state after the prompt is stored as soon as the reply
begins; the reply's text is stored every second while it streams, so a crash loses at most a second
of it; at the end the reply and its state are stored together. Stopped (also by a quit), the
partial reply is stored and marked stopped; failed, it is stored without a state (its tokens are
the truth, and the next step rebuilds the state from them), the conversation as it now stands is
sent (:class:`ConversationChanged`), and the failure becomes an event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from engine.service.conversations import Live
from engine.service.events import (
    ConversationChanged,
    Event,
    Failed,
    Finished,
    MessageCreated,
    PromptProgress,
    Stats,
    Stopped,
    TextDelta,
)
from engine.service.failures import Told
from engine.service.jobs import Job
from engine.service.remote import WAITING
from engine.service.store import ConversationStore
from engine.service.views import ReplyStats
from engine.text.chat import Message, Progress, PromptRead, ReplyStarted

log = logging.getLogger(__name__)

SAVE_EVERY = 1.0        # seconds between saves of a streaming reply's text
STATS_EVERY = 0.5       # seconds between Stats events


class ReplyJob(Job):
    def __init__(self, live: Live, request: int | None, user: Message | None, progress: Iterator[Progress],
                 cancel: threading.Event, store: ConversationStore, emit: Callable[[Event], None],
                 finish: Callable[[Event], None], describe: Callable[[BaseException], Told]):
        super().__init__(progress)
        self.live, self.request, self.user, self.cancel = live, request, user, cancel
        self._store, self._emit, self._finish = store, emit, finish
        self._describe = describe
        self.reply: Message | None = None
        self._t0 = time.perf_counter()
        self._first: float | None = None
        self._new_tokens0 = 0
        self._pieces = 0                # text pieces streamed (a remote reply's count until the server's)
        self._saved_at = self._stats_at = self._t0
        live.busy = True

    @property
    def conversation(self) -> int:
        return self.live.id

    def _handle(self, item) -> bool:
        if item is WAITING:
            return True
        if isinstance(item, str):
            self._piece(item)
        elif isinstance(item, PromptRead):
            self._emit(PromptProgress(self.request, self.live.id, item.message_id, item.done, item.total))
        elif isinstance(item, ReplyStarted):
            self._started(item.message)
        return False

    # -- inside ------------------------------------------------------------------------------------

    def _started(self, reply: Message) -> None:
        self.reply = reply
        self._new_tokens0 = len(reply.tokens)
        self._save(with_reply_state=False)
        self._emit(MessageCreated(self.request, self.live.id, self.live.message_view(reply)))

    def _piece(self, text: str) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = now
        self._pieces += 1
        self._emit(TextDelta(self.request, self.live.id, self.reply.id, text))
        if now - self._stats_at >= STATS_EVERY:
            self._stats_at = now
            self._emit(Stats(self.request, self.live.id, self.reply.id, self._stats(now)))
        if now - self._saved_at >= SAVE_EVERY:       # a crash loses at most this much of the reply
            self._saved_at = now
            self._store.save_message(self.live.id, self.reply)

    def _stats(self, now: float) -> ReplyStats:
        reply = self.reply
        st = reply.stats
        new = len(reply.tokens) - self._new_tokens0
        if not reply.tokens:               # a remote reply: the server's count at the end, the pieces until then
            new = st.generated_tokens if st is not None else self._pieces
        total = len(reply.tokens) or new
        first = None if self._first is None else self._first - self._t0
        if st is not None:                 # the reply's generation has ended: its own figures
            return ReplyStats(total, new, now - self._t0, round(st.decode_tps, 2), st.prompt_tokens,
                              st.prefill_seconds, first, st.cached_tokens)
        decode = now - (self._first or now)
        return ReplyStats(total, new, now - self._t0, round(new / decode, 2) if decode > 0 else 0.0,
                          first_token_seconds=first)

    def _save(self, with_reply_state: bool) -> None:
        """Store the turn: every message whose state is only in memory (the prompt's, rebuilt ones)
        with its state, the user's message, and the reply (with its state at the end)."""
        live, session = self.live, self.live.session
        items: dict[int, tuple[Message, object]] = {}
        for mid in live.checkpoints.unsaved():
            if self.reply is None or mid != self.reply.id or with_reply_state:
                items[mid] = (session.messages[mid], live.checkpoints.get(mid))
        for msg in (self.user, self.reply):
            if msg is not None and msg.id not in items:
                items[msg.id] = (msg, None)
        stats = {}
        if with_reply_state and self.reply is not None:
            st = self._stats(time.perf_counter())
            live.stats[self.reply.id] = st
            stats[self.reply.id] = st.to_dict()
        self._store.save_messages(live.id, items.values(), stats=stats)
        for msg, state in items.values():
            if state is not None:
                live.checkpoints.saved(msg.id)

    def _end(self) -> None:
        live = self.live
        live.busy = False
        self._save(with_reply_state=True)
        if self.reply is None:          # stopped while the prompt was read: the user's message stays
            prompt = live.message_view(self.user) if self.user is not None else None
            self._finish(Stopped(self.request, live.id, None, prompt))
        elif self.reply.stop_reason == "cancelled":
            self._finish(Stopped(self.request, live.id, live.message_view(self.reply)))
        else:
            self._finish(Finished(self.request, live.id, live.message_view(self.reply)))

    def _fail(self, error: Exception) -> None:
        live = self.live
        live.busy = False
        told = self._describe(error)
        try:
            if self.reply is not None:      # the chat marked it "error" and dropped its state
                self._store.save_message(live.id, self.reply)
                self._emit(ConversationChanged(self.request, live.view()))     # the reply as it now stands
        except Exception:       # the failure to report is the first one
            log.exception("could not store the reply that failed")
        self._finish(Failed(self.request, live.id, *told))
