"""A conversation as a tree of messages: every edit and regenerate is a branch beside the old one.

:class:`MessageTree` is what a local chat (:class:`engine.text.chat.ChatSession`, which adds a
state per message) and a chat with a remote server (:class:`engine.service.remote.RemoteChat`, which
resends the history instead) share: the nodes, the active branch, switching branch, and rebuilding a
stored tree. How a message becomes text and tokens is the subclass's (:meth:`MessageTree._segment`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from engine.errors import EngineError
from engine.text.generation import Stats


@dataclass
class Message:
    """A node of the conversation tree; ``tokens`` is exactly what this node fed the model (empty
    for a message of a remote chat: the server has the tokens, and no state is kept here).

    The state after it is its checkpoint (for a user message: after ``Assistant:``, with the logits
    ready to sample), kept in the session's :class:`~engine.text.chat.Checkpoints`.
    """

    id: int
    role: str
    text: str
    parent: int | None
    tokens: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    active_child: int | None = None
    complete: bool = True      # an assistant reply that ended at the turn separator
    stop_reason: str | None = None
    think: str = "off"
    stats: Stats | None = None     # how the reply was generated (assistant messages, this session)

    @property
    def dropped(self) -> bool:
        """A user message whose prompt was stopped before it was read: it feeds nothing."""
        return self.role == "user" and not self.tokens


class MessageTree:
    """The messages of one conversation by id, under a root (id 0); each node's ``active_child``
    says which branch is shown, and the active branch runs from the root down those."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.root = Message(0, "root", "", None)
        self.messages: dict[int, Message] = {0: self.root}

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

    def add_system(self, text: str) -> Message:
        """A system message at the start (a new branch beside an earlier one)."""
        body, tokens = self._system_segment(text)
        return self._new("system", body, self.root, tokens=tokens)

    def add_user(self, text: str, *, think: str = "off", after: int | None = None) -> Message:
        """A user message after ``after`` (default: the end of the active branch), not yet answered."""
        parent = self.messages[self.leaf() if after is None else after]
        body, tokens = self._segment(parent, text, think)
        return self._new("user", body, parent, tokens=tokens, think=think)

    def edit_user(self, message_id: int, text: str, *, think: str | None = None) -> Message:
        """An edited copy of user message ``message_id``, as a new branch beside it."""
        msg = self.messages[message_id]
        if msg.role != "user":
            raise EngineError("Only user messages can be edited and resent.")
        return self.add_user(text, think=think or msg.think, after=msg.parent)

    def edit_reply(self, message_id: int, text: str) -> Message:
        """An edited copy of assistant reply ``message_id``, as a new branch beside it: what the
        user wishes the model had said. It counts as a finished reply (stop reason ``edited``)."""
        msg = self.messages[message_id]
        if msg.role != "assistant":
            raise EngineError("Only replies can be edited this way; a message of yours is edited and resent.")
        body, tokens = self._reply_segment(self.messages[msg.parent], text)
        return self._new("assistant", body, self.messages[msg.parent], tokens=tokens, complete=True,
                         stop_reason="edited", think=msg.think)

    def remove(self, message_id: int) -> list[int]:
        """Remove a message and everything below it, on every branch; return the ids removed.

        Its parent then shows the sibling before it (else the one after it, else nothing)."""
        msg = self.messages.get(message_id)
        if msg is None or msg.parent is None:
            raise EngineError("There is no message {message} to delete.", message=message_id)
        parent = self.messages[msg.parent]
        i = parent.children.index(message_id)
        parent.children.remove(message_id)
        if parent.active_child == message_id:
            parent.active_child = parent.children[max(0, i - 1)] if parent.children else None
        removed, below = [], [message_id]
        while below:
            node = self.messages.pop(below.pop())
            removed.append(node.id)
            below.extend(node.children)
        return removed

    def user_to_answer(self, message_id: int | None = None) -> Message:
        """The user message a regenerate at ``message_id`` (default: the last message) answers."""
        msg = self.messages[message_id if message_id is not None else self.leaf()]
        user = self.messages[msg.parent] if msg.role == "assistant" else msg
        if user.role != "user":
            raise EngineError("There is no user message to answer.")
        return user

    def reply_to_continue(self, message_id: int | None = None) -> Message:
        """The assistant reply a continue at ``message_id`` (default: the last message) extends: one
        that stopped before its end."""
        msg = self.messages[message_id if message_id is not None else self.leaf()]
        if msg.role != "assistant":
            raise EngineError("There is no reply to continue.")
        if msg.complete:
            raise EngineError("The last reply is complete; send a message instead.")
        return msg

    def restore_messages(self, messages: Iterable[Message]) -> None:
        """Put a stored tree back (onto a tree that holds only its root, or its system message)."""
        saved = sorted(messages, key=lambda m: m.id)
        for m in saved:
            parent = self.messages[m.parent if m.parent is not None else 0]
            msg = replace(m, parent=parent.id, tokens=list(m.tokens), children=[], active_child=None)
            self.messages[msg.id] = msg
            parent.children.append(msg.id)
            parent.active_child = msg.id
        for m in saved:          # keep the branch choices that were saved
            if m.active_child is not None and m.active_child in self.messages:
                self.messages[m.id].active_child = m.active_child
        self._ids = itertools.count(max(self.messages) + 1)

    # -- what a subclass says -------------------------------------------------------------------------

    def _segment(self, parent: Message, text: str, think: str) -> tuple[str, list[int]]:
        """(the text as kept, the tokens it feeds) of a user turn after ``parent``; raises if it is empty."""
        raise NotImplementedError

    def _system_segment(self, text: str) -> tuple[str, list[int]]:
        raise NotImplementedError

    def _reply_segment(self, user: Message, text: str) -> tuple[str, list[int]]:
        """(the text as kept, the tokens it feeds) of a reply written by hand after ``user``."""
        raise NotImplementedError

    def _new(self, role: str, text: str, parent: Message, **kw) -> Message:
        msg = Message(next(self._ids), role, text, parent.id, **kw)
        self.messages[msg.id] = msg
        parent.children.append(msg.id)
        parent.active_child = msg.id
        return msg


__all__ = ["Message", "MessageTree"]
