"""What clients ask the engine service to do: immutable commands, carried out on its thread.

Each comment says which final event answers the command (every command may also end in
:class:`~engine.service.events.Failed`). Commands are plain data: nothing a client builds runs on
the engine thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.service.views import ChatSettings
from engine.text.sampling import SamplerSettings


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class LoadModel(Command):
    """Load a model (path, HF folder or bundled name); replies are stopped and stored first, and the
    model loaded before stays if this one fails. -> ModelLoaded"""

    source: str
    device: str = "cpu"
    precision: str = "auto"


@dataclass(frozen=True)
class ConnectRemote(Command):
    """Use a remote OpenAI-compatible server's ``model`` (None: its only one) instead of a model on
    this computer. The server is asked for its models first, on a helper thread; only once that has
    worked are replies stopped and stored and the local model let go (a failure leaves everything as
    it was). Remote conversations are stored here like local ones. -> ModelLoaded (its view says
    ``remote``, the URL, and which features are off)"""

    url: str                        # the API's base, e.g. http://host:8000/v1 (Ai00: http://host:65530/api/oai/v1)
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None


@dataclass(frozen=True)
class ApplyTuning(Command):
    """New conversations start from this state-tuning file (None: the model's own state). -> TuningChanged"""

    path: str | None


@dataclass(frozen=True)
class NewConversation:
    """The fields of a conversation that does not exist yet (see :class:`Send`)."""

    system_prompt: str = ""
    settings: ChatSettings | None = None
    title: str | None = None        # default: the first line of the first message


@dataclass(frozen=True)
class OpenConversation(Command):
    """-> ConversationOpened (Failed if it belongs to another model)."""

    conversation: int


@dataclass(frozen=True)
class CloseConversation(Command):
    """Free what the service holds for it (its states stay on disk). -> Done"""

    conversation: int


@dataclass(frozen=True)
class Send(Command):
    """A user message at the end of the active branch, and a reply to it. ``conversation`` may be a
    :class:`NewConversation`: it is created with the message. -> Finished | Stopped"""

    conversation: int | NewConversation
    text: str
    think: str | None = None        # None: the conversation's setting


@dataclass(frozen=True)
class Edit(Command):
    """User message ``message`` resent with ``text``, as a new branch beside it. -> Finished | Stopped"""

    conversation: int
    message: int
    text: str
    think: str | None = None


@dataclass(frozen=True)
class Regenerate(Command):
    """A new reply to the user message at or before ``message`` (default: the last). -> Finished | Stopped"""

    conversation: int
    message: int | None = None


@dataclass(frozen=True)
class EditReply(Command):
    """Assistant reply ``message`` replaced by ``text`` as a new branch beside it (the old reply
    stays); nothing is generated. -> ConversationChanged"""

    conversation: int
    message: int
    text: str


@dataclass(frozen=True)
class DeleteMessage(Command):
    """A user message or reply removed for good with everything below it, on every branch (the
    system prompt is changed with UpdateConversation instead). -> ConversationChanged"""

    conversation: int
    message: int


@dataclass(frozen=True)
class Continue(Command):
    """The last reply, unfinished, goes on from where it stopped. -> Finished | Stopped"""

    conversation: int


@dataclass(frozen=True)
class SwitchBranch(Command):
    """The sibling ``step`` away from ``message`` becomes active. -> ConversationChanged"""

    conversation: int
    message: int
    step: int


@dataclass(frozen=True)
class Stop(Command):
    """Stop the reply being written in ``conversation`` (None: every reply). -> Done"""

    conversation: int | None = None


@dataclass(frozen=True)
class UpdateConversation(Command):
    """Change a conversation's title, settings or system prompt (None: unchanged).

    A new system prompt on a conversation that has begun starts a new branch from the beginning
    (the old one stays): everything said so far was said under the old one. -> ConversationChanged"""

    conversation: int
    title: str | None = None
    settings: ChatSettings | None = None
    system_prompt: str | None = None


@dataclass(frozen=True)
class DeleteConversation(Command):
    """Hidden from the list until restored or purged. -> ConversationsChanged"""

    conversation: int


@dataclass(frozen=True)
class RestoreConversation(Command):
    """Undo a delete. -> ConversationsChanged"""

    conversation: int


@dataclass(frozen=True)
class PurgeDeleted(Command):
    """Remove deleted conversations (and state files nothing names) from disk for good. -> Done"""


@dataclass(frozen=True)
class ExportText(Command):
    """The conversation's active branch as a readable file without states: ``format`` is
    "markdown" or "json" (see :mod:`engine.service.transcripts`). -> Exported"""

    conversation: int
    path: str
    format: str = "markdown"


@dataclass(frozen=True)
class Export(Command):
    """The conversation and its latest state in one file. -> Exported"""

    conversation: int
    path: str


@dataclass(frozen=True)
class Import(Command):
    """A new conversation from an exported file. -> ConversationOpened"""

    path: str


@dataclass(frozen=True)
class SaveState(Command):
    """The state at the end of the active branch, as a state file. -> StateSaved"""

    conversation: int
    path: str


@dataclass(frozen=True)
class Complete(Command):
    """Generate after ``prompt``, text read in order: for a chat, one segment per message (see
    :func:`engine.text.chat.render_messages`), for a plain completion one. The longest run of whole
    segments whose state is in the state cache is not read again. -> CompletionFinished

    ``start`` names the state to begin from: a state-tuning file the service knows, or a state
    saved by an earlier ``save_as`` (None: the model's own). ``save_as`` keeps the state after the
    reply under that name. Names are ``[A-Za-z0-9._-]``, 1 to 64 characters: never paths."""

    prompt: tuple[str, ...]
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    stop_at_end_of_text: bool = True
    start: str | None = None
    save_as: str | None = None
    cache: bool = True


__all__ = ["ApplyTuning", "CloseConversation", "Command", "Complete", "ConnectRemote", "Continue",
           "DeleteConversation", "DeleteMessage", "Edit", "EditReply", "Export", "ExportText", "Import",
           "LoadModel", "NewConversation", "OpenConversation", "PurgeDeleted", "Regenerate",
           "RestoreConversation", "SaveState", "Send", "Stop", "SwitchBranch", "UpdateConversation"]
