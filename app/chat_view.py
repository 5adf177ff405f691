"""The conversation as the user reads it, and the field they type into.

The view only draws: it is handed a conversation's snapshot and turns its active path into HTML
(see :mod:`app.markup`). Actions on a message (copy, edit, regenerate, delete, branch arrows, copy a
code block) are links with an ``action:`` scheme that the chat page handles.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QT_TRANSLATE_NOOP, QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QFont, QTextCursor, QTextDocument, QTextDocumentFragment
from PySide6.QtWidgets import QPlainTextEdit, QTextBrowser

from engine.service import ConversationView, MessageView

from .markup import body_html, colours_for
from .text_size import WheelSteps

# Translated where drawn: self.tr(ROLE_NAMES[role]).
ROLE_NAMES = {"user": QT_TRANSLATE_NOOP("ChatView", "You"), "assistant": QT_TRANSLATE_NOOP("ChatView", "Assistant"),
              "system": QT_TRANSLATE_NOOP("ChatView", "System")}


class MessageBox(QPlainTextEdit):
    """The message field: Enter sends, Shift+Enter inserts a newline (as in every chat app).

    A ``keyPressEvent`` override rather than an event filter: a Python ``eventFilter`` runs for
    every event the widget gets and must return a bool to C++ each time (and PySide 6.12 on
    Python 3.11 was seen to crash at exit after many such returns)."""

    zoomRequested = Signal(int)         # Ctrl+wheel: the chat's text size, this many steps larger (app.text_size)

    def __init__(self, send, up=None, **kw):
        super().__init__(**kw)
        self._send, self._up = send, up
        self._wheel = WheelSteps()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._wheel.zoom(event, self.zoomRequested.emit):
            super().wheelEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
            self._send()
            return
        if event.key() == Qt.Key_Up and self._up is not None and not self.toPlainText():
            self._up()          # Up in an empty field: edit the last message, as in most chat apps
            return
        super().keyPressEvent(event)


class ChatView(QTextBrowser):
    """The active branch of a conversation as HTML; redrawn when the palette (theme) changes.

    It keeps no conversation of its own: it is handed a frozen
    :class:`~engine.service.views.ConversationView` and a function giving each message's text as far
    as it has streamed, and draws them.

    Its text size is its font's (:meth:`set_text_font`, from :mod:`app.text_size`): the document's
    default font, which every size in the page's HTML is relative to, so a redraw keeps it."""

    zoomRequested = Signal(int)         # Ctrl+wheel: the text size, this many steps larger (app.text_size)

    def __init__(self, on_action, **kw):
        super().__init__(**kw)
        self.setOpenLinks(False)          # our own actions ride on links: action:edit:3
        self.anchorClicked.connect(on_action)
        self.setPlaceholderText(self.tr("Ask the model something. Your conversation and its state are saved."))
        self.code_blocks: list[str] = []   # the text behind each action:copy:N link
        self.colours = colours_for(self.palette())
        self._shown: tuple[ConversationView | None, Callable[[MessageView], str]] = (None, _own_text)
        self._drawn: list[int] = []        # ids of the messages drawn, in order
        self._prefix_blocks = 0            # code blocks before the last message
        self._tail_start = 0               # where the last message's text begins in the document
        self.follow_next = False           # the next redraw goes to the end (a reply the reader asked for)
        self._wheel = WheelSteps()
        self._zoom_place: tuple[QTextCursor, float, int, int] | None = None    # see set_text_font

    def show_conversation(self, conv: ConversationView | None,
                          text_of: Callable[[MessageView], str] | None = None) -> None:
        """Draw ``conv``'s active path, each message's text from ``text_of`` (default: its own).

        The last message is drawn after the others, from a remembered position, so that while it
        streams :meth:`update_tail` redraws only it: the cost of a tick stays that of one reply,
        however long the conversation."""
        text_of = text_of or _own_text
        before = self._shown[0]
        same = before is not None and conv is not None and before.id == conv.id
        self._shown = (conv, text_of)
        path = conv.path() if conv else []
        bar = self.verticalScrollBar()
        # Keep up with the reply unless scrolled back; another conversation opens at its end; a redraw
        # of this one (a branch switched, a reply regenerated) stays where the reader is.
        follow = bar.value() >= bar.maximum() - 8 or not same or self.follow_next
        self.follow_next = False
        kept = bar.value()
        self.code_blocks = []
        self.setHtml("".join(self._message_html(conv, m, text_of(m)) for m in path[:-1]))
        self._drawn = [m.id for m in path]
        self._prefix_blocks = len(self.code_blocks)
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.End)
        self._tail_start = cursor.position()
        if path:
            self._insert_tail(cursor, self._message_html(conv, path[-1], text_of(path[-1])), len(path) > 1)
        bar.setValue(bar.maximum() if follow else min(kept, bar.maximum()))

    def update_tail(self, conv: ConversationView | None = None) -> None:
        """Redraw the last message only (a reply growing), or everything if the path has changed."""
        shown, text_of = self._shown
        conv = conv if conv is not None else shown
        path = conv.path() if conv else []
        if [m.id for m in path] != self._drawn or not path:
            self.show_conversation(conv, text_of)
            return
        self._shown = (conv, text_of)
        bar = self.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 8
        del self.code_blocks[self._prefix_blocks:]
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._tail_start)
        cursor.movePosition(QTextCursor.End, QTextCursor.KeepAnchor)
        self._insert_tail(cursor, self._message_html(conv, path[-1], text_of(path[-1])), len(path) > 1)
        if follow:
            bar.setValue(bar.maximum())

    def _insert_tail(self, cursor: QTextCursor, html: str, after_spacer: bool) -> None:
        """Put the last message at ``cursor`` (the document's empty last block) laid out exactly as
        :meth:`setHtml` of the whole page lays it out, so nothing moves when the page is redrawn.

        Inserted HTML merges its first block into the block at the cursor, which keeps its own
        format: the reply's header lost its paragraph margins (a few pixels tighter while it
        streamed). So the message is parsed as the whole page parses it, after the previous
        message's closing ``<p></p>`` (dropped before a paragraph, kept as the block before a
        table), and that first block's format is put back by hand."""
        part = QTextDocument()
        part.setHtml("<p></p>" + html if after_spacer else html)
        start = cursor.selectionStart()
        cursor.insertFragment(QTextDocumentFragment(part))
        cursor.setPosition(start)
        cursor.setBlockFormat(part.begin().blockFormat())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """A reader at the end stays at the end when the text reflows (the settings panel opened, the
        window narrowed): the page grows below them, and new replies must still come into view."""
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 8
        super().resizeEvent(event)
        if at_end:
            bar.setValue(bar.maximum())

    def set_text_font(self, font: QFont) -> None:
        """Draw the page in ``font`` (the chat's text size) and keep the reader's place: at the end
        stays at the end (a streaming reply is still followed), otherwise the line at the top of the
        view stays at the top. Steps in a row (not scrolled between them) keep the same text at the
        top, rather than the start of whichever line it was wrapped into at the size before.

        A new font lays a long page out lazily, a part at a time on a timer, with the scroll bar's
        range catching up; it is laid out whole here, and the scroll bar told, so the place can be
        kept at once."""
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 8
        if self._zoom_place is not None and self._zoom_place[2:] == (bar.value(), bar.maximum()):
            top, past = self._zoom_place[:2]
        else:
            top = self.cursorForPosition(QPoint(0, 0))
            line = self.cursorRect(top)
            past = -line.top() / max(1, line.height())    # how much of the top line is scrolled past
        self.setFont(font)
        layout = self.document().documentLayout()
        layout.blockBoundingRect(self.document().lastBlock())       # lays out everything up to the end
        layout.documentSizeChanged.emit(layout.documentSize())       # what the lazy layout emits when done
        if at_end:
            bar.setValue(bar.maximum())
            self._zoom_place = None
        else:
            line = self.cursorRect(top)
            bar.setValue(bar.value() + line.top() + round(past * line.height()))
            self._zoom_place = (top, past, bar.value(), bar.maximum())

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Ctrl+wheel changes the chat's text size (the preference), not this view's alone as
        QTextBrowser's own zoom would (lost at the next font change)."""
        if not self._wheel.zoom(event, self.zoomRequested.emit):
            super().wheelEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange:
            self.colours = colours_for(self.palette())
            self.show_conversation(*self._shown)

    def page_html(self) -> str:
        """The whole shown path as one page of HTML (what :meth:`show_conversation` lays out)."""
        conv, text_of = self._shown
        self.code_blocks = []
        return "".join(self._message_html(conv, m, text_of(m)) for m in (conv.path() if conv else []))

    def _message_html(self, conv: ConversationView, msg: MessageView, text: str) -> str:
        c = self.colours
        pos, count = conv.branch(msg.id)
        links = []
        if count > 1:
            links.append(f'<a href="action:branch:{msg.id}:-1">‹</a> {pos}/{count} '
                         f'<a href="action:branch:{msg.id}:1">›</a>')
        if msg.role in ("user", "assistant"):
            # (tr outside the f-strings: pyside6-lupdate does not look inside them)
            copy, edit, regen, delete = self.tr("copy"), self.tr("edit"), self.tr("regenerate"), self.tr("delete")
            links.append(f'<a href="action:copymsg:{msg.id}">{copy}</a>')
            links.append(f'<a href="action:edit:{msg.id}">{edit}</a>')
            if msg.role == "assistant":
                links.append(f'<a href="action:regen:{msg.id}">{regen}</a>')
            links.append(f'<a href="action:delete:{msg.id}">{delete}</a>')

        role = self.tr(ROLE_NAMES[msg.role]) if msg.role in ROLE_NAMES else msg.role
        head = f"<p><b>{role}</b>&nbsp;&nbsp; {' &nbsp;·&nbsp; '.join(links)}</p>"
        body = body_html(text, c, self.code_blocks) if text.strip() else "<p>…</p>"
        foot = ""
        st = msg.stats
        notes = {"cancelled": self.tr("stopped"), "interrupted": self.tr("stopped"), "error": self.tr("failed"),
                 "edited": self.tr("edited"), "length": self.tr("cut at the reply length limit (Continue goes on)")}
        note = " · " + notes[msg.stop_reason] if msg.stop_reason in notes else ""
        if msg.role == "assistant" and st is not None:
            cached = (self.tr(" · prompt {0} tokens, {1} from the server's state cache").format(
                f"{st.prompt_tokens:,}", f"{st.cached_tokens:,}") if st.cached_tokens else "")
            counts = self.tr("{0} tokens · {1} tokens/s").format(st.tokens, f"{st.tokens_per_s:.1f}")
            foot = f'<p style="color:{c.muted}; font-size:small;">{counts}{cached}{note}</p>'
        elif msg.role == "assistant" and note and msg.stop_reason != "interrupted":
            foot = f'<p style="color:{c.muted}; font-size:small;">{note.strip(" ·")}</p>'
        if msg.role == "user" and msg.stop_reason == "cancelled":
            foot = (f'<p style="color:{c.muted}; font-size:small;">'
                    + self.tr("stopped before the model read it: not part of the conversation (Regenerate to "
                              "answer it)") + "</p>")

        if msg.role == "user":      # the user's turns on a tinted band, the replies on the page itself
            return (f'<table width="100%" cellspacing="0" cellpadding="8" bgcolor="{c.user_bg}">'
                    f"<tr><td>{head}{body}{foot}</td></tr></table><p></p>")
        return head + body + foot + "<p></p>"


def _own_text(msg: MessageView) -> str:
    return msg.text
