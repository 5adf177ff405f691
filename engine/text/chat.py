"""Chat on top of the recurrent state: templates, a message tree, and a checkpoint per turn.

Because the whole conversation lives in one fixed-size state, every message has a state right
after it (its *checkpoint*). A new user turn feeds only its own tokens; regenerate restores the
state after the user turn (whose last logits are ready to sample); editing a message or switching
branch restores the checkpoint of the message before it. Nothing re-reads the chat.

Checkpoints live in a :class:`Checkpoints` store, not in the messages: the library default keeps
them all in memory, the engine service keeps a few in RAM and the rest on disk. A checkpoint that
is nowhere (never saved, its file lost, a reply cut off by a crash) is rebuilt by feeding the
message's tokens onto the nearest earlier checkpoint: the root's (the initial state) always exists,
so every point of a conversation can be reached again.

The token stream of a chat is the concatenation of its turns' segments, each tokenized on its
own (as ChatRWKV feeds them), so re-reading a path from scratch (:meth:`ChatSession.reread`)
reaches the same state as the checkpoints.

A user message whose prompt was stopped before the model finished reading it (and that has no
reply) is *dropped*: it keeps its text, feeds nothing, and the next message follows the state
before it. Regenerate on it reads it again.

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
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from engine.errors import EmptyPromptError, EngineError
from engine.models.model import Model
from engine.models.state import State
from engine.text.generation import CHUNK_LEN, Cancel, Forward, Generation, Stats, drive, generate, is_cancelled
from engine.text.sampling import Sampler, SamplerSettings, penalty_exempt_ids
from engine.text.tokenizer import Tokenizer
from engine.text.tree import Message, MessageTree

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
            raise EngineError("Unknown chat template '{override}'; use one of {choices}.",
                              override=override, choices=", ".join(TEMPLATES))
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


_TRAINED_TO_THINK = re.compile(r"(?:^|[-_. /])g[01](?:[a-z]\d*)?(?=[-_. ]|$)", re.IGNORECASE)


def trained_to_think(name: str, generation: int) -> bool:
    """Whether a model was trained on the think prefixes: the RWKV-7 G0 and G1 series
    (``rwkv7-g1a-2.9b-…``, ``rwkv7-g0a2-7.2b-…``). World and older models read ``<think`` as text,
    and their replies come out garbled."""
    return generation >= 7 and bool(_TRAINED_TO_THINK.search(name))


def clean(text: str) -> str:
    """A message as the template needs it: trimmed, blank lines collapsed (a blank line ends a turn),
    CRLF normalised."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return re.sub(r"\n\s*\n", "\n", text)


def as_typed(text: str) -> str:
    """A message as it is kept and shown: as typed (blank lines, the first line's indent), with line
    ends normalised and nothing blank at either end. The model reads :func:`clean`'s form of it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    return re.sub(r"\A(?:[ \t]*\n)+", "", text)


def render_messages(template: ChatTemplate, messages: Iterable[tuple[str, str]], think: str = "off") -> list[str]:
    """A chat given as (role, text) pairs (as an OpenAI client sends it) in the model's template, one
    text segment per message, cut as :class:`ChatSession` feeds its turns: a user's turn ends with
    the assistant's role name, a reply is `` {text}\n\n`` on its own. So the state after each
    segment is the one the window's chat would have, and a state cache can key on them (a reply
    that was generated here tokenizes back to the tokens that were generated).

    Roles: ``system`` (or ``developer``), ``user``, ``assistant``; any other is read as a user's. The
    last user turn gets ``think``'s suffix and prefix. A chat that ends with an assistant message
    has that message continued; one that ends otherwise ends with the role name, for a reply."""
    if think not in THINK_MODES:
        raise EngineError("Unknown think mode '{think}'; use one of {choices}.",
                          think=think, choices=", ".join(THINK_MODES))
    items = [(role, clean(text)) for role, text in messages]
    last_user = max((i for i, (role, _) in enumerate(items) if role not in ("system", "developer", "assistant")),
                    default=-1)
    out: list[str] = []
    t = template
    for i, (role, body) in enumerate(items):
        if role in ("system", "developer"):
            out.append(f"{t.system + ': ' if t.system else ''}{body}{SEPARATOR}")
        elif role == "assistant":
            if not out or not out[-1].endswith(f"{t.assistant}:"):
                out.append(f"{t.assistant}:")     # a reply with no user turn before it
            out.append(f" {body}" if i == len(items) - 1 else f" {body}{SEPARATOR}")
        else:
            suffix, prefix = THINK_MODES[think] if i == last_user else ("", "")
            out.append(f"{t.user}: {body}{suffix}{SEPARATOR}{t.assistant}:{prefix}")
    if not items or items[-1][0] in ("system", "developer"):
        out.append(f"{t.assistant}:")
    return out


class Checkpoints(Protocol):
    """Where a session keeps the state after each message (id 0: the root, the initial state)."""

    def get(self, message_id: int) -> State | None: ...

    def put(self, message_id: int, state: State) -> None: ...

    def discard(self, message_id: int) -> None: ...


class MemoryCheckpoints:
    """Every checkpoint in memory: the library default (a CLI chat, a script)."""

    def __init__(self) -> None:
        self._states: dict[int, State] = {}

    def get(self, message_id: int) -> State | None:
        return self._states.get(message_id)

    def put(self, message_id: int, state: State) -> None:
        self._states[message_id] = state

    def discard(self, message_id: int) -> None:
        self._states.pop(message_id, None)


@dataclass(frozen=True)
class PromptRead:
    """Progress of a prompt being read (or a checkpoint being rebuilt): ``done`` of ``total`` tokens."""

    message_id: int
    done: int
    total: int


@dataclass(frozen=True)
class ReplyStarted:
    """The assistant message a reply streams into now exists (its id is final)."""

    message: Message


# A str is a piece of the reply's text; a Forward is a model call the step needs run (and its logits
# sent back): alone, drive() runs them; the engine service batches them across conversations.
Progress = PromptRead | ReplyStarted | Forward | str


class ChatSession(MessageTree):
    """One conversation with one model; see the module docstring for how state is reused.

    ``send``, ``edit``, ``regenerate`` and ``continue_reply`` stream text pieces (the CLI, scripts).
    All four check what they are asked when they are called: a request they cannot carry out (an
    empty message, nothing to answer or continue, an unknown think mode) raises :class:`EngineError`
    there, before anything is read or added to the tree; what goes wrong while a reply is made comes
    out of the stream.
    The engine service uses the steps underneath (:meth:`add_user`, :meth:`respond`,
    :meth:`extend`), which also report prompt progress and the reply's message, so it can store
    the user's message before any work starts and interleave many conversations between steps.
    """

    def __init__(self, model: Model, tokenizer: Tokenizer, *, system: str | None = None,
                 settings: SamplerSettings | None = None, initial_state: State | None = None,
                 max_tokens: int = 1024, chunk_len: int = CHUNK_LEN, checkpoints: Checkpoints | None = None,
                 template: str | ChatTemplate | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.template = template_for(model, tokenizer, template)
        self.checkpoints: Checkpoints = checkpoints if checkpoints is not None else MemoryCheckpoints()
        self.settings = settings or SamplerSettings()
        self.max_tokens, self.chunk_len = max_tokens, chunk_len
        super().__init__()
        self._replies = itertools.count()
        if self.checkpoints.get(0) is None:
            self.checkpoints.put(0, initial_state.clone() if initial_state is not None else model.new_state())
        self._exempt = penalty_exempt_ids(tokenizer)
        if system and system.strip():
            self.add_system(system)

    def _system_segment(self, text: str) -> tuple[str, list[int]]:
        """A system message is read when the first reply needs it, not here, so making a session
        costs no forward pass."""
        body = clean(text)
        role = self.template.system
        return as_typed(text), self.tokenizer.encode(f"{role + ': ' if role else ''}{body}{SEPARATOR}")

    # -- talking (streams of text, for the CLI and scripts) ----------------------------------------

    def send(self, text: str, *, think: str = "off", cancel: Cancel = None,
             max_tokens: int | None = None) -> Iterator[str]:
        """Add a user message at the end of the active branch and stream the reply."""
        user = self.add_user(text, think=think)
        return _texts(self.model, self.respond(user.id, cancel=cancel, max_tokens=max_tokens))

    def edit(self, message_id: int, text: str, *, think: str | None = None, cancel: Cancel = None,
             max_tokens: int | None = None) -> Iterator[str]:
        """Resend an edited user message as a new branch beside the old one."""
        user = self.edit_user(message_id, text, think=think)
        return _texts(self.model, self.respond(user.id, cancel=cancel, max_tokens=max_tokens))

    def regenerate(self, message_id: int | None = None, *, cancel: Cancel = None,
                   max_tokens: int | None = None) -> Iterator[str]:
        """A new reply to the user message before ``message_id`` (default: the last reply)."""
        user = self.user_to_answer(message_id)
        return _texts(self.model, self.respond(user.id, cancel=cancel, max_tokens=max_tokens))

    def continue_reply(self, *, cancel: Cancel = None, max_tokens: int | None = None) -> Iterator[str]:
        """Extend the last assistant reply from where it stopped (after a length limit or a stop)."""
        reply = self.reply_to_continue()        # refused here, when called, as the others refuse
        return _texts(self.model, self.extend(reply.id, cancel=cancel, max_tokens=max_tokens))

    # -- the steps underneath ----------------------------------------------------------------------

    def respond(self, user_id: int, *, cancel: Cancel = None, max_tokens: int | None = None) -> Iterator[Progress]:
        """Read user message ``user_id`` if its checkpoint is not at hand, then stream a new reply.

        Stopped while the prompt is read, a message that was never answered is dropped (see the
        module docstring) and no reply is made."""
        user = self.messages[user_id]
        if user.dropped:            # read it again (regenerate on a message whose prompt was stopped)
            user.tokens = self._segment(self.messages[user.parent], user.text, user.think)[1]
        t0 = time.perf_counter()
        state, read = yield from self._reach(user, cancel)
        if state is None:
            if not user.children:
                user.tokens, user.stop_reason = [], "cancelled"
            return
        user.stop_reason = None
        prefix = THINK_MODES[user.think][1].lstrip()
        msg = self._new("assistant", prefix, user, complete=False, stop_reason="interrupted")
        yield ReplyStarted(msg)
        prompt = Stats(prompt_tokens=read, prefill_seconds=time.perf_counter() - t0)
        yield from self._stream(msg, state.clone(), cancel, max_tokens, prompt, strip_space=not prefix)

    def extend(self, reply_id: int, *, cancel: Cancel = None, max_tokens: int | None = None) -> Iterator[Progress]:
        """Continue assistant message ``reply_id`` from where it stopped."""
        msg = self.reply_to_continue(reply_id)
        t0 = time.perf_counter()
        state, read = yield from self._reach(msg, cancel)
        if state is None:
            return
        yield ReplyStarted(msg)
        prompt = Stats(prompt_tokens=read, prefill_seconds=time.perf_counter() - t0)
        yield from self._stream(msg, state.clone(), cancel, max_tokens, prompt, strip_space=False)

    def checkpoint(self, message_id: int, cancel: Cancel = None) -> State | None:
        """The state after ``message_id`` (rebuilt if need be; do not modify it: clone first);
        None only if ``cancel`` stopped a rebuild."""
        reach = self._reach(self.messages[message_id], cancel)
        value = None
        try:
            while True:
                item = reach.send(value)
                value = self.model.forward(item.tokens, item.state)[0] if isinstance(item, Forward) else None
        except StopIteration as done:
            return done.value[0]

    def _segment(self, parent: Message, text: str, think: str) -> tuple[str, list[int]]:
        """(the text as typed, the tokens of its cleaned form) of a user turn after ``parent``."""
        if think not in THINK_MODES:
            raise EngineError("Unknown think mode '{think}'; use one of {choices}.",
                              think=think, choices=", ".join(THINK_MODES))
        body = clean(text)
        if not body:
            raise EmptyPromptError("The message is empty.")
        before = self._context_parent(parent)
        lead = "" if before.role in ("root", "system") or before.complete else SEPARATOR
        suffix, prefix = THINK_MODES[think]
        t = self.template
        return as_typed(text), self.tokenizer.encode(f"{lead}{t.user}: {body}{suffix}{SEPARATOR}{t.assistant}:{prefix}")

    def _reply_segment(self, user: Message, text: str) -> tuple[str, list[int]]:
        """A reply as the model would have written it: after the user's turn (which ends with
        ``Assistant:`` and the think mode's prefix), then the turn separator, so the next turn
        follows it as it follows a generated reply. The model reads it with blank lines collapsed, as
        it never writes them inside a reply; it is kept as typed."""
        body = clean(text)
        if not body:
            raise EmptyPromptError("The reply is empty.")
        shown = THINK_MODES[user.think][1].lstrip() if user.role == "user" else ""
        if shown:           # the prefix was read with the user's turn: feed only what follows it
            fed = body[len(shown):] if body.startswith(shown) else body
        else:
            fed = " " + body
        return as_typed(text), self.tokenizer.encode(fed + SEPARATOR)

    def _context_parent(self, msg: Message) -> Message:
        """``msg``, or the first message above it that fed the model (dropped prompts feed nothing)."""
        while msg.dropped and msg.parent is not None:
            msg = self.messages[msg.parent]
        return msg

    def _reach(self, msg: Message, cancel: Cancel) -> Iterator[PromptRead]:
        """Generator returning (the checkpoint after ``msg``, how many tokens were read to get it):
        the stored one, else the nearest earlier checkpoint with the tokens in between fed onto it,
        chunk by chunk. The checkpoint is None if ``cancel`` stopped the reading."""
        chain: list[Message] = []
        node = msg
        state = self.checkpoints.get(node.id)
        while state is None:
            chain.append(node)
            node = self.messages[node.parent]
            state = self.checkpoints.get(node.id)
        if not chain:
            return state, 0
        state = state.clone()
        tokens = [t for m in reversed(chain) for t in m.tokens]
        for start in range(0, len(tokens), self.chunk_len):
            if is_cancelled(cancel):
                return None, start
            yield Forward(tokens[start:start + self.chunk_len], state)
            yield PromptRead(msg.id, min(start + self.chunk_len, len(tokens)), len(tokens))
        self.checkpoints.put(msg.id, state)
        return state, len(tokens)

    def _stream(self, msg: Message, state: State, cancel: Cancel, max_tokens: int | None, prompt: Stats,
                strip_space: bool) -> Iterator[str]:
        gen = self._generation(state, cancel, max_tokens)
        steps = gen.steps()
        start = len(msg.tokens)
        msg.complete, msg.stop_reason = False, "interrupted"    # what a crash in the middle leaves stored
        clean_end = False
        value = None
        try:
            while True:
                try:
                    item = steps.send(value)
                except StopIteration:
                    break
                if isinstance(item, Forward):       # the model call goes up to whoever runs us
                    value = yield item
                    continue
                value = None
                piece = item
                if strip_space:     # "Assistant:" is followed by a space the reply itself does not show
                    piece = piece.lstrip(" ")
                    strip_space = not piece
                msg.text += piece
                msg.tokens[start:] = gen.tokens
                yield piece
            clean_end = True
        except GeneratorExit:   # the consumer stopped iterating between two tokens: the state is whole
            clean_end = True
            raise
        finally:                # keep what was generated, whatever happened
            steps.close()
            msg.tokens[start:] = gen.tokens
            msg.stats = replace(gen.stats, prompt_tokens=prompt.prompt_tokens,
                                prefill_seconds=prompt.prefill_seconds)
            msg.complete = gen.stop_reason == "stop"
            if clean_end:
                msg.stop_reason = gen.stop_reason or "cancelled"
                self.checkpoints.put(msg.id, gen.state)
            else:               # failed mid-step: the tokens are the truth, the state is rebuilt from them
                msg.stop_reason = "error"
                self.checkpoints.discard(msg.id)

    def _generation(self, state: State, cancel: Cancel, max_tokens: int | None) -> Generation:
        settings = self.settings
        if settings.seed is not None:   # reproducible chat, yet every regenerate draws anew
            settings = replace(settings, seed=settings.seed + next(self._replies))
        sampler = Sampler(settings, self.model.info.vocab_size, self._exempt)
        return generate(self.model, self.tokenizer, None, state=state, sampler=sampler,
                        max_tokens=max_tokens or self.max_tokens, stop=[SEPARATOR], cancel=cancel,
                        chunk_len=self.chunk_len)

    @classmethod
    def restore(cls, model: Model, tokenizer: Tokenizer, messages: Iterable[Message], **kw) -> ChatSession:
        """Rebuild a saved conversation from its messages; checkpoints come from ``checkpoints``
        (or are rebuilt) when they are needed, so nothing is read ahead of time."""
        chat = cls(model, tokenizer, **kw)
        chat.restore_messages(messages)
        return chat

    # -- checks ---------------------------------------------------------------------------------

    def transcript_tokens(self, leaf: int | None = None) -> list[int]:
        """Every token fed along the path to ``leaf``, in order: what a full re-read would feed."""
        return [t for m in self.path(leaf) for t in m.tokens]

    def reread(self, leaf: int | None = None, cancel: Cancel = None) -> State:
        """The state at ``leaf`` rebuilt from the start of the chat (slow; checkpoints avoid this)."""
        state = self.checkpoints.get(0).clone()
        tokens = self.transcript_tokens(leaf)
        for start in range(0, len(tokens), self.chunk_len):
            if is_cancelled(cancel):
                break
            self.model.forward(tokens[start:start + self.chunk_len], state)
        return state


def _texts(model: Model, progress: Iterator[Progress]) -> Iterator[str]:
    """The text pieces of a step's progress, its model calls run on ``model`` (what a terminal
    prints); closing it closes the step, which then records the reply so far."""
    driven = drive(model, progress)
    try:
        for p in driven:
            if isinstance(p, str):
                yield p
    finally:
        driven.close()
