"""How a failure is told to the user: a title and a message, from the error and the command it ended.

Titles and messages are English; :class:`Told` also carries the message's template and values
(:class:`engine.errors.EngineError`), so that the app can show it in the user's language.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from engine.errors import EngineError
from engine.service import commands as C

log = logging.getLogger("engine.service")


class Told(NamedTuple):
    """A failure as the user is told it, in the order of :class:`engine.service.events.Failed`'s
    fields after the conversation: ``Failed(request, conversation, *told)``."""

    title: str
    message: str
    kind: str = ""                          # the error's class name
    template: str = ""                      # the message before its values were filled in
    values: tuple[tuple[str, object], ...] = ()


def describe(error: BaseException) -> Told:
    """How a failure is told: the engine's own errors say what to do; anything else is a bug or a
    damaged file, and is logged with its traceback."""
    kind = type(error).__name__
    if isinstance(error, EngineError):
        return Told(_TITLES.get(kind, "Something went wrong"), str(error), kind, error.template,
                    tuple((name, _plain(value)) for name, value in error.values.items()))
    if isinstance(error, MemoryError):
        return Told("Out of memory", "The computer ran out of memory. Close other programs or use a smaller model.",
                    kind)
    if isinstance(error, OSError):
        return Told("File error", f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}", kind)
    log.error("unexpected failure in the engine", exc_info=error)
    return Told("Unexpected error", f"{kind}: {error}", kind)


def _plain(value: object) -> object:
    """A value as an event may carry it (immutable, no objects of the engine): numbers stay numbers,
    so that a template's format specs (``{gib:.1f}``) apply; anything else becomes its text."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


COMMAND_TITLES = {C.LoadModel: "Could not load the model", C.ApplyTuning: "Could not use the state-tuning file",
                  C.Import: "Could not load the conversation", C.Export: "Could not save the conversation",
                  C.OpenConversation: "Could not open the conversation", C.SaveState: "Could not save the state",
                  C.ConnectRemote: "Could not use the remote server",
                  C.ExportText: "Could not export the conversation", C.EditReply: "Could not edit the reply",
                  C.DeleteMessage: "Could not delete the message"}
_TITLES = {"OtherModelError": "Another model", "InvalidOutputError": "The model failed",
           "StoreError": "Conversation database", "ConversationNotFoundError": "Conversation not found",
           "OutOfMemoryError": "Out of memory", "IncompatibleStateError": "Wrong state file",
           "StateFormatError": "Damaged state file", "EmptyPromptError": "Empty message",
           "RemoteError": "Remote server", "LocalModelNeeded": "Needs a model on this computer"}
