"""The engine service's remote backend: chats answered by an OpenAI-compatible server elsewhere.

A team can run one big server and point every desktop at it. The conversations stay on this
computer, in the same store as local ones; only the replies come from the server. A remote chat
keeps no states (the server has them, or has none), so every reply resends the history as OpenAI
messages, and regenerate, edit and branches work with any server. RWKV Desktop's own server
(recognised by its ``/models``) keeps the state after each history in its state cache, so a resent
chat costs it only the new turn, and it can also continue a reply and take the RWKV sampling
extras; features that need a model on this computer say why they are off (:data:`LOCAL_ONLY`).

:class:`RemoteChat` is the remote twin of :class:`engine.text.chat.ChatSession`: the same message
tree (:class:`engine.text.tree.MessageTree`) and the same progress items, so the service's reply
job streams, stores and stops it alike. The HTTP request runs on a helper thread
(:class:`engine.service.openai_http.ChatStream`); a step of the job only looks at what has arrived
and yields :data:`WAITING` when nothing has, so the engine thread never waits on the network.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import EmptyPromptError, EngineError
from engine.service.openai_http import (
    OPENAI,
    RWKV_DESKTOP,
    ChatStream,
    Ended,
    RemoteError,
    Started,
    host_of,
    list_models,
)
from engine.service.views import ModelView
from engine.text.chat import THINK_MODES, Progress, ReplyStarted, trained_to_think
from engine.text.generation import Cancel, Stats, is_cancelled
from engine.text.sampling import SamplerSettings
from engine.text.tree import Message, MessageTree

REMOTE_FINGERPRINT = "remote"       # every remote conversation's: any remote server can go on with one
FEATURES = ("continue", "think", "tuning", "save_state", "load_state", "precision")
LOCAL_ONLY = {
    "tuning": "State-tuning files change the state a chat starts from, and a remote server's states are its own; "
              "load a model on this computer to use one.",
    "save_state": "A remote server keeps its states to itself: there is no state here to save. Load a model on "
                  "this computer to save conversations with their states.",
    "load_state": "A saved conversation and state is read into a model on this computer; load one to open it.",
    "precision": "The server chooses where and in which precision its model runs.",
}
NOT_OURS = {
    "continue": "This server cannot be asked to continue a reply (RWKV Desktop's own server can); regenerate "
                "instead, or raise the reply length in the chat settings.",
    "think": "Think modes are RWKV-7 G1 prompts that only RWKV Desktop's server knows; other servers' models "
             "think (or not) by themselves.",
}


class _Waiting:
    def __repr__(self) -> str:
        return "WAITING"


WAITING = _Waiting()        # progress item: nothing has arrived yet (the step returns at once)


def mask(key: str | None) -> str:
    """An API key as it may be shown: its last four characters at most."""
    if not key:
        return "(none)"
    return "•" * 8 + (key[-4:] if len(key) >= 12 else "")


@dataclass(frozen=True)
class RemoteServer:
    """A server and the model of it that the chats use; ``connect`` checks both."""

    url: str
    model: str
    kind: str = OPENAI
    api_key: str | None = field(default=None, repr=False)

    @property
    def ours(self) -> bool:
        return self.kind == RWKV_DESKTOP

    @classmethod
    def connect(cls, url: str, api_key: str | None, model: str | None) -> RemoteServer:
        """The server at ``url`` with ``model`` (None or "": its only one), once ``GET /models`` has
        answered with it. Blocking: run it where waiting is fine."""
        listing = list_models(url, api_key)
        if not listing.models:
            raise RemoteError("The server at {host} lists no models (has it loaded one?).", host=host_of(listing.url))
        if not model:
            if len(listing.models) > 1:
                raise RemoteError("The server at {host} has {count} models; choose "
                                  "one of {models}.",
                                  host=host_of(listing.url), count=len(listing.models),
                                  models=", ".join(listing.models[:10]))
            model = listing.models[0]
        if model not in listing.models:
            raise RemoteError("The server at {host} has no model '{model}' (it lists "
                              "{models}).",
                              host=host_of(listing.url), model=model, models=", ".join(listing.models[:10]))
        return cls(listing.url, model, listing.kind, api_key or None)

    def view(self) -> ModelView:
        off = {**LOCAL_ONLY, **({} if self.ours else NOT_OURS)}
        if self.ours:
            description = ("RWKV Desktop's server: the history is resent with every message, and its state "
                           "cache reads only the new turn")
        else:
            description = "an OpenAI-compatible server: the whole history is resent, and read again, every turn"
        return ModelView(self.model, self.url, 0, 0, 0, 0, "remote", "", "", 0, REMOTE_FINGERPRINT, description, 0,
                         remote=self.url, server=self.kind, off=tuple((f, off[f]) for f in FEATURES if f in off),
                         thinks=trained_to_think(self.model, 7))     # known by name only: G0/G1 say RWKV-7

    def chat_body(self, messages: list[dict[str, str]], sampler: SamplerSettings, max_tokens: int,
                  think: str = "off") -> dict[str, Any]:
        """The request for a streamed reply: the conversation's settings in OpenAI's ranges, and for
        RWKV Desktop's server its extras (top-k, penalty decay, think mode, banned tokens)."""
        body: dict[str, Any] = {
            "model": self.model, "messages": messages, "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": max_tokens, "temperature": _clamp(sampler.temperature, 0.0, 2.0),
            "top_p": _clamp(sampler.top_p, 0.0, 1.0),
            "presence_penalty": _clamp(sampler.presence_penalty, -2.0, 2.0),
            "frequency_penalty": _clamp(sampler.frequency_penalty, -2.0, 2.0)}
        if sampler.seed is not None:
            body["seed"] = sampler.seed
        if self.ours:
            body["top_k"] = sampler.top_k
            body["penalty_decay"] = _clamp(sampler.penalty_decay, 1e-6, 1.0)
            if think != "off":
                body["think"] = think
            if sampler.banned_tokens:
                body["logit_bias"] = {str(t): -100 for t in sampler.banned_tokens}
        return body


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(max(float(value), lo), hi)


class NoCheckpoints:
    """A remote conversation's checkpoints: none (the server has the states, or keeps none)."""

    def get(self, message_id: int) -> None:
        return None

    def put(self, message_id: int, state) -> None:
        pass

    def discard(self, message_id: int) -> None:
        pass

    def unsaved(self) -> list[int]:
        return []

    def saved(self, message_id: int) -> None:
        pass


class RemoteChat(MessageTree):
    """A conversation answered by a remote server: ``respond`` and ``extend`` yield what
    :class:`~engine.text.chat.ChatSession`'s do (:class:`ReplyStarted`, text pieces), and
    :data:`WAITING` while nothing has arrived. Messages carry no tokens and no states."""

    def __init__(self, server: RemoteServer, *, system: str | None = None, settings: SamplerSettings | None = None,
                 max_tokens: int = 1024, wake: Callable[[], None] = lambda: None):
        super().__init__()
        self.server, self.wake = server, wake
        self.settings = settings or SamplerSettings()
        self.max_tokens = max_tokens
        self._replies = itertools.count()
        if system and system.strip():
            self.add_system(system)

    @classmethod
    def restore(cls, server: RemoteServer, messages: Iterable[Message], **kw) -> RemoteChat:
        chat = cls(server, **kw)
        chat.restore_messages(messages)
        return chat

    def checkpoint(self, message_id: int, cancel: Cancel = None) -> None:
        """No state is kept here (see :class:`NoCheckpoints`)."""
        return None

    def history(self, last: Message) -> list[dict[str, str]]:
        """The path to ``last`` as OpenAI messages. A message stopped before it was answered, and a
        reply stopped before it said anything, are left out, as a local chat leaves them unread."""
        out = []
        for m in self.path(last.id):
            if m is not last and ((m.role == "user" and m.stop_reason == "cancelled")
                                  or (m.role == "assistant" and not m.text.strip())):
                continue
            out.append({"role": m.role if m.role in ("system", "assistant") else "user", "content": m.text})
        return out

    def respond(self, user_id: int, *, cancel: Cancel = None, max_tokens: int | None = None) -> Iterator[Progress]:
        """A new reply to user message ``user_id``. Stopped before the server began to answer, a
        message that was never answered is marked stopped (and left out of later histories)."""
        user = self.messages[user_id]
        yield from self._exchange(user, None, cancel, max_tokens)

    def extend(self, reply_id: int, *, cancel: Cancel = None, max_tokens: int | None = None) -> Iterator[Progress]:
        """Continue assistant message ``reply_id`` (RWKV Desktop's server continues a chat that ends
        with the assistant's message)."""
        msg = self.reply_to_continue(reply_id)
        reason = self.server.view().unavailable("continue")
        if reason:
            raise EngineError(reason)
        yield from self._exchange(msg, msg, cancel, max_tokens)

    # -- inside ------------------------------------------------------------------------------------

    def _segment(self, parent: Message, text: str, think: str) -> tuple[str, list[int]]:
        if think not in THINK_MODES:
            raise EngineError("Unknown think mode '{think}'; use one of {choices}.",
                              think=think, choices=", ".join(THINK_MODES))
        body = _normalise(text)
        if not body:
            raise EmptyPromptError("The message is empty.")
        return body, []

    def _system_segment(self, text: str) -> tuple[str, list[int]]:
        return _normalise(text), []

    def _reply_segment(self, user: Message, text: str) -> tuple[str, list[int]]:
        body = _normalise(text)
        if not body:
            raise EmptyPromptError("The reply is empty.")
        return body, []

    def _sampler(self) -> SamplerSettings:
        settings = self.settings
        if settings.seed is not None:   # reproducible chat, yet every regenerate draws anew
            settings = replace(settings, seed=settings.seed + next(self._replies))
        return settings

    def _exchange(self, last: Message, reply: Message | None, cancel: Cancel,
                  max_tokens: int | None) -> Iterator[Progress]:
        """Ask for the reply after ``last`` (into ``reply`` when it continues one) and stream it."""
        body = self.server.chat_body(self.history(last), self._sampler(), max_tokens or self.max_tokens,
                                     last.think if reply is None else "off")
        stream = ChatStream(self.server.url, self.server.api_key, body, self.wake)
        t0, first, pieces, ended, started = time.perf_counter(), None, 0, None, False
        outcome = "error"
        try:
            while not is_cancelled(cancel):
                item = stream.poll()
                if item is None:
                    yield WAITING
                elif isinstance(item, RemoteError):
                    raise item
                elif isinstance(item, Started):
                    if reply is None:
                        reply = self._new("assistant", "", last)
                        last.stop_reason = None
                    started = True
                    reply.complete, reply.stop_reason = False, "interrupted"
                    yield ReplyStarted(reply)
                elif isinstance(item, Ended):
                    ended = item
                    break
                else:
                    first = first or time.perf_counter()
                    pieces += 1
                    reply.text += item
                    yield item
            outcome = "ended" if ended is not None else "cancelled"
        except GeneratorExit:
            outcome = "cancelled"
            raise
        finally:
            stream.close()
            if started:
                _finish(reply, outcome, ended, t0, first, pieces)
            elif outcome == "cancelled" and last.role == "user" and not last.children:
                last.stop_reason = "cancelled"


def _finish(reply: Message, outcome: str, ended: Ended | None, t0: float, first: float | None, pieces: int) -> None:
    """The reply's end as a local chat records it: stop reason, completeness and how it was made."""
    now = time.perf_counter()
    usage = (ended.usage if ended is not None else None) or {}
    details = usage.get("prompt_tokens_details") or {}
    if outcome == "ended":
        reply.complete = ended.finish_reason != "length"
        reply.stop_reason = "length" if ended.finish_reason == "length" else "stop"
    else:
        reply.complete, reply.stop_reason = False, outcome
    first = first or now
    reply.stats = Stats(prompt_tokens=_int(usage.get("prompt_tokens")), prefill_seconds=first - t0,
                        generated_tokens=_int(usage.get("completion_tokens")) or pieces, decode_seconds=now - first,
                        first_token_seconds=first - t0, cached_tokens=_int(details.get("cached_tokens")))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _normalise(text: str) -> str:
    """A message as typed, trimmed, line ends normalised (blank lines kept: the server renders it)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


__all__ = ["FEATURES", "LOCAL_ONLY", "REMOTE_FINGERPRINT", "WAITING", "NoCheckpoints", "RemoteChat", "RemoteError",
           "RemoteServer", "mask"]
