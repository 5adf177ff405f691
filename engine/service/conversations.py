"""A conversation the service has open: its chat session, its checkpoints and its stored fields.

Only the service's thread touches a :class:`Live`; clients see it as a
:class:`~engine.service.views.ConversationView`, a frozen copy made by :meth:`Live.view`. A local
conversation's session is a :class:`~engine.text.chat.ChatSession` with a state per message; a
remote one's a :class:`~engine.service.remote.RemoteChat`, with no states at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import EngineError, IncompatibleStateError
from engine.models.checkpoint import model_name
from engine.models.model import Model
from engine.models.state import State
from engine.service.checkpoints import DiskCheckpoints
from engine.service.remote import REMOTE_FINGERPRINT, NoCheckpoints, RemoteChat, RemoteServer
from engine.service.store import Conversation, ConversationStore
from engine.service.views import ChatSettings, ConversationView, MessageView, ReplyStats
from engine.text.chat import ChatSession, Message, template_for
from engine.text.tokenizer import Tokenizer


class OtherModelError(IncompatibleStateError):
    """The conversation was written with other weights than the loaded model's."""


@dataclass
class Live:
    id: int
    title: str
    system_prompt: str
    settings: ChatSettings
    tuning_name: str | None
    model_name: str
    fingerprint: str                # the model's (local), or REMOTE_FINGERPRINT
    session: ChatSession | RemoteChat
    checkpoints: DiskCheckpoints | NoCheckpoints
    stats: dict[int, ReplyStats] = field(default_factory=dict)
    busy: bool = False

    def message_view(self, msg: Message) -> MessageView:
        return MessageView(msg.id, msg.role, msg.text, msg.parent or 0, tuple(msg.children), msg.active_child,
                           msg.complete, msg.stop_reason, msg.think, len(msg.tokens), self.stats.get(msg.id))

    def view(self) -> ConversationView:
        s = self.session
        messages = tuple(self.message_view(m) for m in sorted(s.messages.values(), key=lambda m: m.id)
                         if m.role != "root")
        return ConversationView(self.id, self.title, self.system_prompt, self.settings, self.model_name,
                                self.fingerprint, self.tuning_name, messages, s.root.active_child, self.busy)

    def apply_settings(self, settings: ChatSettings) -> None:
        """Used from the next reply on (never in the middle of one)."""
        self.settings = settings
        self.session.settings, self.session.max_tokens = settings.sampler, settings.max_tokens
        if isinstance(self.session, ChatSession):     # the roles of the next turns (a remote server has its own)
            self.session.template = template_for(self.session.model, self.session.tokenizer, settings.template)


def tuning_name(conv: Conversation) -> str | None:
    return Path(conv.tuning_path).name if conv.tuning_path else None


def open_live(store: ConversationStore, conv_id: int, model: Model, tokenizer: Tokenizer, keep: int) -> Live:
    """A stored conversation, ready to continue: nothing is read until a step needs a checkpoint."""
    conv = store.get(conv_id)
    if conv.model_fingerprint == REMOTE_FINGERPRINT:
        raise OtherModelError("“{title}” was written with a remote server ({server}); connect to "
                              "one (File ▸ Remote server) to continue it.", title=conv.title, server=conv.model_path)
    if conv.model_fingerprint != model.info.fingerprint:
        raise OtherModelError("“{title}” was written with {model}; load that model "
                              "to continue it.", title=conv.title, model=model_name(conv.model_path))
    initial = _initial_state(store, conv, model)
    settings = ChatSettings.from_dict(conv.settings)
    checkpoints = DiskCheckpoints(store, conv.id, model, initial, keep=keep)
    session = ChatSession.restore(model, tokenizer, store.load_messages(conv.id), settings=settings.sampler,
                                  max_tokens=settings.max_tokens, checkpoints=checkpoints, template=settings.template)
    if conv.root_active is not None and conv.root_active in session.root.children:
        session.root.active_child = conv.root_active
    stats = _stats_of(store, conv.id)
    return Live(conv.id, conv.title, conv.system_prompt, settings, tuning_name(conv), model_name(conv.model_path),
                model.info.fingerprint, session, checkpoints, stats)


def _initial_state(store: ConversationStore, conv: Conversation, model: Model) -> State:
    """The state kept with the conversation; for one saved before states were kept (only a path to a
    tuning file), that file, now copied in; else the model's own."""
    state = store.load_initial_state(conv.id, model)
    if state is not None:
        return state
    if conv.tuning_path:
        try:
            state = State.from_tuning_file(conv.tuning_path, model)
        except (EngineError, OSError) as e:
            raise EngineError("“{title}” started from the state-tuning file {file}, "
                              "which cannot be read now ({error}). Put the file back where it was to continue "
                              "this conversation.", title=conv.title, file=Path(conv.tuning_path).name, error=e) from e
        store.save_initial_state(conv.id, state)
        return state
    return model.new_state()


def new_live(store: ConversationStore, model: Model, tokenizer: Tokenizer, *, title: str, system_prompt: str,
             settings: ChatSettings, tuning: tuple[State, str] | None, keep: int) -> Live:
    """A new conversation, stored at once (with its initial state when a tuning file gives one)."""
    tuning_path = tuning[1] if tuning else None
    conv = store.create(title=title, model_path=str(model.info.path), model_fingerprint=model.info.fingerprint,
                        system_prompt=system_prompt, settings=settings.to_dict(), tuning_path=tuning_path)
    initial = tuning[0].clone() if tuning else model.new_state()
    if tuning:
        store.save_initial_state(conv.id, initial)
    checkpoints = DiskCheckpoints(store, conv.id, model, initial, keep=keep)
    session = ChatSession(model, tokenizer, system=system_prompt or None, settings=settings.sampler,
                          max_tokens=settings.max_tokens, checkpoints=checkpoints, template=settings.template)
    if session.root.children:
        store.save_tree(conv.id, [session.messages[i] for i in session.root.children])
    return Live(conv.id, conv.title, system_prompt, settings, tuning_name(conv), model.info.name,
                model.info.fingerprint, session, checkpoints)


def _stats_of(store: ConversationStore, conv_id: int) -> dict[int, ReplyStats]:
    return {mid: st for mid, d in store.load_stats(conv_id).items() if (st := ReplyStats.from_dict(d)) is not None}


def open_remote_live(store: ConversationStore, conv_id: int, server: RemoteServer, wake) -> Live:
    """A stored remote conversation, ready to continue with ``server`` (any remote server can: the
    history is text). One written with a model on this computer needs that model."""
    conv = store.get(conv_id)
    if conv.model_fingerprint != REMOTE_FINGERPRINT:
        raise OtherModelError("“{title}” was written with {model} on this computer, "
                              "with its states; load that model to continue it.",
                              title=conv.title, model=model_name(conv.model_path))
    settings = ChatSettings.from_dict(conv.settings)
    session = RemoteChat.restore(server, store.load_messages(conv.id), settings=settings.sampler,
                                 max_tokens=settings.max_tokens, wake=wake)
    if conv.root_active is not None and conv.root_active in session.root.children:
        session.root.active_child = conv.root_active
    return Live(conv.id, conv.title, conv.system_prompt, settings, None, Path(conv.model_path).name,
                REMOTE_FINGERPRINT, session, NoCheckpoints(), _stats_of(store, conv.id))


def new_remote_live(store: ConversationStore, server: RemoteServer, wake, *, title: str, system_prompt: str,
                    settings: ChatSettings) -> Live:
    """A new remote conversation, stored at once; its model path is the server's URL and model."""
    conv = store.create(title=title, model_path=f"{server.url}/models/{server.model}",
                        model_fingerprint=REMOTE_FINGERPRINT, system_prompt=system_prompt,
                        settings=settings.to_dict())
    session = RemoteChat(server, system=system_prompt or None, settings=settings.sampler,
                         max_tokens=settings.max_tokens, wake=wake)
    if session.root.children:
        store.save_tree(conv.id, [session.messages[i] for i in session.root.children])
    return Live(conv.id, conv.title, system_prompt, settings, None, server.model, REMOTE_FINGERPRINT, session,
                NoCheckpoints())
