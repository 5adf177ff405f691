"""The conversation as the user reads it, and the field they type into.

The view only draws: it is handed the session's active path and turns it into HTML (see
:mod:`app.markup`). Actions on a message (edit, branch arrows, copy a code block) are links with an
``action:`` scheme that the chat page handles.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QPlainTextEdit, QTextBrowser

from engine.chat import ChatSession, Message

from .markup import body_html, colours_for

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
    """The active branch of the conversation as HTML; redrawn when the palette (theme) changes."""

    def __init__(self, on_action, **kw):
        super().__init__(**kw)
        self.setOpenLinks(False)          # our own actions ride on links: action:edit:3
        self.anchorClicked.connect(on_action)
        self.setPlaceholderText("Ask the model something. Your conversation and its state are saved.")
        self.code_blocks: list[str] = []   # the text behind each action:copy:N link
        self.colours = colours_for(self.palette())
        self._shown: tuple[ChatSession | None, dict[int, dict]] = (None, {})

    def show_session(self, session: ChatSession | None, stats: dict[int, dict] | None = None) -> None:
        """Draw ``session``'s active path; ``stats`` maps a reply's id to its token count and speed."""
        self._shown = (session, stats or {})
        self.code_blocks = []
        parts = [self._message_html(session, m, stats or {}) for m in session.path()] if session else []
        self.setHtml(f'<div style="color:{self.colours.text};">' + "".join(parts) + "</div>")
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange:
            self.colours = colours_for(self.palette())
            self.show_session(*self._shown)

    def _message_html(self, session: ChatSession, msg: Message, stats: dict[int, dict]) -> str:
        c = self.colours
        pos, count = session.branch(msg.id)
        links = []
        if count > 1:
            links.append(f'<a href="action:branch:{msg.id}:-1">‹</a> {pos}/{count} '
                         f'<a href="action:branch:{msg.id}:1">›</a>')
        if msg.role == "user":
            links.append(f'<a href="action:edit:{msg.id}">edit</a>')
        head = f"<p><b>{ROLE_NAMES.get(msg.role, msg.role)}</b>&nbsp;&nbsp; {' &nbsp;·&nbsp; '.join(links)}</p>"
        body = body_html(msg.text, c, self.code_blocks) if msg.text.strip() else "<p>…</p>"
        foot = ""
        st = stats.get(msg.id)
        if msg.role == "assistant" and st and "tokens" in st and "tokens_per_s" in st:
            stopped = " · stopped" if msg.stop_reason == "cancelled" else ""
            foot = (f'<p style="color:{c.muted}; font-size:small;">{st["tokens"]} tokens · '
                    f'{st["tokens_per_s"]:.1f} tokens/s{stopped}</p>')
        if msg.role == "user":      # the user's turns on a tinted band, the replies on the page itself
            return (f'<table width="100%" cellspacing="0" cellpadding="8" bgcolor="{c.user_bg}">'
                    f"<tr><td>{head}{body}</td></tr></table><p></p>")
        return head + body + foot + "<p></p>"
