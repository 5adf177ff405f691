"""Chat on top of the recurrent state: templates, a message tree, and a checkpoint per turn.

Because the whole conversation lives in one fixed-size state, every message keeps a copy of the
state right after it. A new user turn feeds only its own tokens; regenerate restores the state
saved after the user turn (whose last logits are ready to sample); editing a message or switching
branch restores the checkpoint of the message before it. Nothing ever re-reads the chat.

The token stream of a chat is the concatenation of its turns' segments, each tokenized on its
own (as ChatRWKV feeds them), so re-reading a path from scratch (:meth:`ChatSession.reread`)
reaches the same state as the checkpoints.

RWKV World / G1 template::

    System: {system}\\n\\n
    User: {message}\\n\\nAssistant:{reply}\\n\\n

Inside a message, blank lines are collapsed (``\\n\\n`` separates turns). G1 models also take
think prefixes after ``Assistant:`` (see :data:`THINK_MODES`).

RWKV-4 Raven models (Pile tokenizer) were tuned on ``Bob: …\\n\\nAlice: …`` instead (ChatRWKV: "for
v4-raven models, use Bob/Alice; for v4/v5/v6-world models, use User/Assistant");
:func:`template_for` picks the template from the model and tokenizer, and ``template=`` overrides it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from engine.errors import EmptyPromptError, EngineError
from engine.models.model import Model
from engine.models.state import State
from engine.text.generation import Cancel, Generation, feed, generate
from engine.text.sampling import Sampler, SamplerSettings, penalty_exempt_ids
from engine.text.tokenizer import Tokenizer

SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ChatTemplate:
    """The role names a model family was tuned on; a turn reads ``{user}: …\\n\\n{assistant}:``."""

    name: str
    user: str
    assistant: str
    system: str | None    # prefix of a system message; None: the text stands alone as a preamble


WORLD = ChatTemplate("world", "User", "Assistant", "System")
RAVEN = ChatTemplate("raven", "Bob", "Alice", None)
TEMPLATES = {t.name: t for t in (WORLD, RAVEN)}


def template_for(model: Model, tokenizer: Tokenizer, override: str | ChatTemplate | None = None) -> ChatTemplate:
    """``override`` (a template or its name), else Bob/Alice for RWKV-4 with the 20B (Pile) tokenizer,
    the Raven chat models, else User/Assistant (World, G1 and every later generation)."""
    if isinstance(override, ChatTemplate):
        return override
    if override is not None:
        if override not in TEMPLATES:
            raise EngineError(f"Unknown chat template '{override}'; use one of {', '.join(TEMPLATES)}.")
        return TEMPLATES[override]
    pile = 50277 <= tokenizer.vocab_size <= 50304      # GPT-NeoX-20B's vocabulary, bundled or in a folder
    return RAVEN if model.info.generation == 4 and pile else WORLD
# name -> (suffix appended to the user's message, prefix the assistant's reply starts with)
THINK_MODES: dict[str, tuple[str, str]] = {
    "off": ("", ""),                         # plain chat; RWKV-7 World and older models
    "think": ("", " <think"),                # G1: reason first
    "no-think": ("", " <think>\n</think"),   # G1: answer directly ("fake think")
    "think a bit": (" think a bit", " <think"),   # G1 models dated 2025-09-22 or later
    "think a lot": (" think a lot", " <think"),
}


def clean(text: str) -> str:
    """A message as the template needs it: trimmed, blank lines collapsed, CRLF normalised."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return re.sub(r"\n\s*\n", "\n", text)


@dataclass
class Message:
    """A node of the conversation tree.

    ``tokens`` is exactly what this node fed the model; ``checkpoint`` is the state after it
    (for a user message: after ``Assistant:``, with the logits ready to sample).
    """

    id: int
    role: str
    text: str
    parent: int | None
    tokens: list[int] = field(default_factory=list)
    checkpoint: State | None = None
    children: list[int] = field(default_factory=list)
    active_child: int | None = None
    complete: bool = True      # an assistant reply that ended at the turn separator
    stop_reason: str | None = None
    think: str = "off"


class ChatSession:
    """One conversation with one model; see the module docstring for how state is reused."""

    def __init__(self, model: Model, tokenizer: Tokenizer, *, system: str | None = None,
                 settings: SamplerSettings | None = None, initial_state: State | None = None,
                 max_tokens: int = 1024, chunk_len: int = 256,
                 checkpoint_loader: Callable[[Message], State | None] | None = None,
                 template: str | ChatTemplate | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.template = template_for(model, tokenizer, template)
        # Where checkpoints not held in memory come from (the app keeps them on disk).
        self.checkpoint_loader = checkpoint_loader
        self.settings = settings or SamplerSettings()
        self.max_tokens, self.chunk_len = max_tokens, chunk_len
        self._ids = itertools.count(1)
        self._replies = itertools.count()
        base = initial_state.clone() if initial_state is not None else model.new_state()
        self.root = Message(0, "root", "", None, [], base)
        self.messages: dict[int, Message] = {0: self.root}
        self._exempt = penalty_exempt_ids(tokenizer)
        if system and system.strip():
            self._add_system(system)

    # -- the tree ----------------------------------------------------------------------------

    def path(self, leaf: int | None = None) -> list[Message]:
        """Messages from the first to ``leaf`` (default: the end of the active branch)."""
        node = self.messages[self.leaf() if leaf is None else leaf]
        out = []
        while node.parent is not None:
            out.append(node)
            node = self.messages[node.parent]
        return out[::-1]

    def leaf(self) -> int:
        node = self.root
        while node.active_child is not None:
            node = self.messages[node.active_child]
        return node.id

    def branch(self, message_id: int) -> tuple[int, int]:
        """(1-based position among its siblings, number of siblings), for a ``‹ 2/3 ›`` control."""
        msg = self.messages[message_id]
        siblings = self.messages[msg.parent].children if msg.parent is not None else [msg.id]
        return siblings.index(msg.id) + 1, len(siblings)

    def switch_branch(self, message_id: int, step: int) -> int:
        """Make the sibling ``step`` away from ``message_id`` active; return its id."""
        msg = self.messages[message_id]
        parent = self.messages[msg.parent]
        i = (parent.children.index(message_id) + step) % len(parent.children)
        parent.active_child = parent.children[i]
        return parent.children[i]

    def _new(self, role: str, text: str, parent: Message, **kw) -> Message:
        msg = Message(next(self._ids), role, text, parent.id, **kw)
        self.messages[msg.id] = msg
        parent.children.append(msg.id)
        parent.active_child = msg.id
        return msg

    def _add_system(self, text: str) -> None:
        msg = self._new("system", clean(text), self.root)
        role = self.template.system
        msg.tokens = self.tokenizer.encode(f"{role + ': ' if role else ''}{msg.text}{SEPARATOR}")
        msg.checkpoint = self._state_after(self.root)
        feed(self.model, msg.tokens, msg.checkpoint, chunk_len=self.chunk_len)

    # -- talking ---------------------------------------------------------------------------------

    def send(self, text: str, *, think: str = "off", cancel: Cancel = None,
             max_tokens: int | None = None) -> Iterator[str]:
        """Add a user message at the end of the active branch and stream the reply."""
        return self._send_after(self.messages[self.leaf()], text, think, cancel, max_tokens)

    def edit(self, message_id: int, text: str, *, think: str | None = None, cancel: Cancel = None,
             max_tokens: int | None = None) -> Iterator[str]:
        """Resend an edited user message as a new branch beside the old one."""
        msg = self.messages[message_id]
        if msg.role != "user":
            raise EngineError("Only user messages can be edited and resent.")
        return self._send_after(self.messages[msg.parent], text, think or msg.think, cancel, max_tokens)

    def regenerate(self, message_id: int | None = None, *, cancel: Cancel = None,
                   max_tokens: int | None = None) -> Iterator[str]:
        """A new reply to the user message before ``message_id`` (default: the last reply)."""
        msg = self.messages[message_id if message_id is not None else self.leaf()]
        user = self.messages[msg.parent] if msg.role == "assistant" else msg
        if user.role != "user":
            raise EngineError("There is no user message to answer.")
        return self._regenerate(user, cancel, max_tokens)

    def _regenerate(self, user: Message, cancel: Cancel, max_tokens: int | None) -> Iterator[str]:
        if self.checkpoint_of(user) is None:   # the prompt was cancelled half way: read it again
            state = self._state_after(self.messages[user.parent])
            if feed(self.model, user.tokens, state, cancel, self.chunk_len) is None:
                return
            user.checkpoint = state
        yield from self._reply(user, cancel, max_tokens)

    def continue_reply(self, *, cancel: Cancel = None, max_tokens: int | None = None) -> Iterator[str]:
        """Extend the last assistant reply from where it stopped (after a length limit or a stop)."""
        msg = self.messages[self.leaf()]
        if msg.role != "assistant" or self.checkpoint_of(msg) is None:
            raise EngineError("There is no reply to continue.")
        if msg.complete:
            raise EngineError("The last reply is complete; send a message instead.")
        state = msg.checkpoint.clone()
        gen = self._generation(None, state, cancel, max_tokens)
        try:
            for piece in gen:
                msg.text += piece
                yield piece
        finally:
            msg.tokens += gen.tokens
            self._finish(msg, gen)

    def _send_after(self, parent: Message, text: str, think: str, cancel: Cancel,
                    max_tokens: int | None) -> Iterator[str]:
        if think not in THINK_MODES:
            raise EngineError(f"Unknown think mode '{think}'; use one of {', '.join(THINK_MODES)}.")
        body = clean(text)
        if not body:
            raise EmptyPromptError("The message is empty.")
        suffix, prefix = THINK_MODES[think]
        lead = "" if parent.role == "root" or parent.complete else SEPARATOR
        t = self.template
        segment = f"{lead}{t.user}: {body}{suffix}{SEPARATOR}{t.assistant}:{prefix}"
        user = self._new("user", body, parent, tokens=self.tokenizer.encode(segment), think=think)
        return self._prefill_and_reply(user, parent, cancel, max_tokens)

    def _prefill_and_reply(self, user: Message, parent: Message, cancel: Cancel,
                           max_tokens: int | None) -> Iterator[str]:
        state = self._state_after(parent)
        if feed(self.model, user.tokens, state, cancel, self.chunk_len) is None:
            return      # cancelled while reading the prompt: the message stays, without a reply
        user.checkpoint = state
        yield from self._reply(user, cancel, max_tokens)

    def _reply(self, user: Message, cancel: Cancel, max_tokens: int | None) -> Iterator[str]:
        assert user.checkpoint is not None
        prefix = THINK_MODES[user.think][1].lstrip()
        msg = self._new("assistant", prefix, user)
        gen = self._generation(None, user.checkpoint.clone(), cancel, max_tokens)
        first = not prefix
        try:
            for piece in gen:
                if first:       # "Assistant:" is followed by a space the reply itself does not show
                    piece = piece.lstrip(" ")
                    first = not piece
                msg.text += piece
                yield piece
        finally:                # also when the consumer stops iterating: keep what was generated
            msg.tokens = gen.tokens
            self._finish(msg, gen)

    def _generation(self, prompt: Sequence[int] | None, state: State, cancel: Cancel,
                    max_tokens: int | None) -> Generation:
        settings = self.settings
        if settings.seed is not None:   # reproducible chat, yet every regenerate draws anew
            settings = replace(settings, seed=settings.seed + next(self._replies))
        sampler = Sampler(settings, self.model.info.vocab_size, self._exempt, device=str(self.model.device))
        return generate(self.model, self.tokenizer, prompt, state=state, sampler=sampler,
                        max_tokens=max_tokens or self.max_tokens, stop=[SEPARATOR], cancel=cancel,
                        chunk_len=self.chunk_len)

    @staticmethod
    def _finish(msg: Message, gen: Generation) -> None:
        msg.checkpoint = gen.state
        msg.stop_reason = gen.stop_reason or "cancelled"
        msg.complete = gen.stop_reason == "stop"

    def checkpoint_of(self, msg: Message) -> State | None:
        """The state after ``msg``: in memory, else from the loader (then kept), else None."""
        if msg.checkpoint is None and self.checkpoint_loader is not None and msg.role != "root":
            msg.checkpoint = self.checkpoint_loader(msg)
        return msg.checkpoint

    def _state_after(self, msg: Message) -> State:
        state = self.checkpoint_of(msg)
        if state is None:
            raise EngineError("There is no saved state for that point of the conversation (its prompt was "
                              "cancelled, or it came from an import); send a new message instead.")
        return state.clone()

    @classmethod
    def restore(cls, model: Model, tokenizer: Tokenizer, messages: Sequence[Message], *,
                initial_state: State | None = None, **kw) -> ChatSession:
        """Rebuild a saved conversation from its messages (parents before children); checkpoints
        come from ``checkpoint_loader`` when they are needed, so nothing is re-read."""
        chat = cls(model, tokenizer, initial_state=initial_state, **kw)
        for m in sorted(messages, key=lambda m: m.id):
            parent = chat.messages[m.parent if m.parent is not None else 0]
            msg = Message(m.id, m.role, m.text, parent.id, list(m.tokens), m.checkpoint, [], None,
                          m.complete, m.stop_reason, m.think)
            chat.messages[msg.id] = msg
            parent.children.append(msg.id)
            parent.active_child = msg.id
        for m in messages:          # keep the branch choices that were saved
            if m.active_child is not None and m.active_child in chat.messages:
                chat.messages[m.id].active_child = m.active_child
        chat._ids = itertools.count(max(chat.messages) + 1)
        return chat

    # -- checks and persistence helpers ---------------------------------------------------------

    def transcript_tokens(self, leaf: int | None = None) -> list[int]:
        """Every token fed along the path to ``leaf``, in order: what a full re-read would feed."""
        return [t for m in self.path(leaf) for t in m.tokens]

    def reread(self, leaf: int | None = None, cancel: Cancel = None) -> State:
        """The state at ``leaf`` rebuilt from the start of the chat (slow; checkpoints avoid this)."""
        state = self.root.checkpoint.clone() if self.root.checkpoint is not None else self.model.new_state()
        tokens = self.transcript_tokens(leaf)
        if tokens:
            feed(self.model, tokens, state, cancel, self.chunk_len)
        return state
