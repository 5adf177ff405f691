"""The conversation as the user reads it, and the field they type into.

The view only draws: it is handed the session's active path and turns it into rich text. Actions
on a message (edit, branch arrows) are links with an ``action:`` scheme that the chat page handles.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit, QTextBrowser

from engine.chat import ChatSession, Message

ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}


class MessageBox(QPlainTextEdit):
    """The message field: Enter sends, Shift+Enter inserts a newline (as in every chat app).

    A ``keyPressEvent`` override rather than an event filter: a Python ``eventFilter`` runs for
    every event the widget gets and must return a bool to C++ each time (and PySide 6.12 on
    Python 3.11 was seen to crash at exit after many such returns)."""

    def __init__(self, send, **kw):
        super().__init__(**kw)
        self._send = send

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
            self._send()
            return
        super().keyPressEvent(event)


class ChatView(QTextBrowser):
    def __init__(self, on_action, **kw):
        super().__init__(**kw)
        self.setOpenLinks(False)          # our own actions ride on links: action:edit:3
        self.anchorClicked.connect(on_action)
        self.setPlaceholderText("Ask the model something. Your conversation and its state are saved.")

    def show_session(self, session: ChatSession | None) -> None:
        parts = [_message_markdown(session, m) for m in session.path()] if session else []
        self.setMarkdown("\n\n---\n\n".join(parts))
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())


def _message_markdown(session: ChatSession, msg: Message) -> str:
    name = ROLE_NAMES.get(msg.role, msg.role)
    pos, count = session.branch(msg.id)
    links = []
    if count > 1:
        links.append(f"[‹](action:branch:{msg.id}:-1) {pos}/{count} [›](action:branch:{msg.id}:1)")
    if msg.role == "user":
        links.append(f"[edit](action:edit:{msg.id})")
    return f"**{name}**  {'  ·  '.join(links)}\n\n{msg.text or '…'}"
