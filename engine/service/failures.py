"""How a failure is told to the user: a title and a message, from the error and the command it ended."""

from __future__ import annotations

import logging

from engine.errors import EngineError
from engine.service import commands as C

log = logging.getLogger("engine.service")


def describe(error: BaseException) -> tuple[str, str]:
    """(title, message) of a failure, for the user. The engine's own errors say what to do; anything
    else is a bug or a damaged file, and is logged with its traceback."""
    if isinstance(error, EngineError):
        return _TITLES.get(type(error).__name__, "Something went wrong"), str(error)
    if isinstance(error, MemoryError):
        return "Out of memory", "The computer ran out of memory. Close other programs or use a smaller model."
    if isinstance(error, OSError):
        return "File error", f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}"
    log.error("unexpected failure in the engine", exc_info=error)
    return "Unexpected error", f"{type(error).__name__}: {error}"


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
