"""What the engine service tells its clients: immutable events.

Every event names the request (the number :meth:`EngineService.submit` returned) it belongs to,
or None when nobody asked (a reply stopped by a quit). Conversation events name the conversation.
A request ends with exactly one *final* event, which also resolves the future ``submit`` returned:
:class:`Finished`, :class:`Stopped` or :class:`Failed` for a reply, :class:`Failed` or the
command's own result for the others (see :mod:`engine.service.commands`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.service.views import ConversationView, MessageView, ModelView, ReplyStats


@dataclass(frozen=True)
class Event:
    request: int | None


@dataclass(frozen=True)
class ModelLoading(Event):
    source: str


@dataclass(frozen=True)
class ModelLoaded(Event):
    model: ModelView
    seconds: float


@dataclass(frozen=True)
class TuningChanged(Event):
    """New conversations start from this state-tuning file now (None: the model's own state)."""

    name: str | None


@dataclass(frozen=True)
class ConversationOpened(Event):
    conversation: ConversationView
    restore_seconds: float          # to have the state at the end of the active branch at hand


@dataclass(frozen=True)
class ConversationChanged(Event):
    """The conversation's tree or fields changed (a branch switched, settings or title edited)."""

    conversation: ConversationView
    restore_seconds: float = 0.0


@dataclass(frozen=True)
class ConversationsChanged(Event):
    """The list of conversations changed (one created, renamed, deleted, restored, imported)."""


@dataclass(frozen=True)
class MessageCreated(Event):
    """A message exists and is stored (a user's before any work on it, a reply as it begins)."""

    conversation: int
    message: MessageView


@dataclass(frozen=True)
class PromptProgress(Event):
    conversation: int
    message: int
    done: int
    total: int


@dataclass(frozen=True)
class TextDelta(Event):
    conversation: int
    message: int
    text: str


@dataclass(frozen=True)
class Stats(Event):
    """Speed so far of the reply being written (a few times a second)."""

    conversation: int
    message: int
    stats: ReplyStats


@dataclass(frozen=True)
class Finished(Event):
    """The reply ended by itself (turn separator, end of text, length limit) and is stored."""

    conversation: int
    message: MessageView


@dataclass(frozen=True)
class Stopped(Event):
    """Stopped on request: the partial reply is stored (None: stopped before the reply began, and
    ``prompt`` is the user's message as it now stands: kept, but dropped from what the model read)."""

    conversation: int
    message: MessageView | None
    prompt: MessageView | None = None


@dataclass(frozen=True)
class Failed(Event):
    """Something went wrong; ``message`` says what, for the user (in English). Nothing stored was
    lost. ``kind``: the engine error's class name (e.g. ``OtherModelError``), for clients that say
    some failures otherwise; empty where no error class applies. ``template`` and ``values``: the
    message before its values were filled in, for a client that shows it translated
    (:class:`engine.errors.EngineError`); empty where the message is not from a template."""

    conversation: int | None
    title: str
    message: str
    kind: str = ""
    template: str = ""
    values: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Exported(Event):
    conversation: int
    path: str


@dataclass(frozen=True)
class StateSaved(Event):
    conversation: int
    path: str


@dataclass(frozen=True)
class CompletionDelta(Event):
    """A piece of a completion's text (a :class:`~engine.service.commands.Complete` request)."""

    text: str


@dataclass(frozen=True)
class CompletionFinished(Event):
    """A completion ended: by a stop string or the end of text (``stop``), its length limit
    (``length``), or a stop request (``cancelled``)."""

    text: str
    stop_reason: str
    prompt_tokens: int
    cached_tokens: int              # of the prompt's tokens, how many came from the state cache
    completion_tokens: int
    prompt_seconds: float
    seconds: float


@dataclass(frozen=True)
class Done(Event):
    """A command with no other result was carried out."""


__all__ = ["CompletionDelta", "CompletionFinished", "ConversationChanged", "ConversationOpened",
           "ConversationsChanged", "Done", "Event", "Exported", "Failed", "Finished", "MessageCreated",
           "ModelLoaded", "ModelLoading", "PromptProgress", "StateSaved", "Stats", "Stopped", "TextDelta",
           "TuningChanged"]
