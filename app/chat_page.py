"""The chat: the open conversation, the message field, the reply buttons and the settings panel
(or, in plain completion mode, :class:`app.completion_panel.CompletionPanel` in the conversation's place).

The page draws :class:`app.state.AppState`'s conversation and forwards what the user asks for; the
conversation itself (its tree, its states, what is stored) lives in the engine service. While a
reply streams the view redraws only the reply, at most twenty times a second.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, QTimer
from PySide6.QtGui import QDesktopServices, QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine import THINK_MODES
from engine.service import ConversationView, MessageView, ModelView

from .chat_settings import ChatSettingsPanel
from .chat_view import ChatView, MessageBox
from .completion_panel import CompletionPanel
from .state import AppState

THINK_TIP = QT_TRANSLATE_NOOP("ChatPage", "RWKV-7 G1 reasoning: think first, answer directly, or off for other "
                                          "models")
# The think modes as the box shows them (translated); each item keeps the engine's name as its data.
THINK_NAMES = {"off": QT_TRANSLATE_NOOP("ChatPage", "off"), "think": QT_TRANSLATE_NOOP("ChatPage", "think"),
               "no-think": QT_TRANSLATE_NOOP("ChatPage", "no-think"),
               "think a bit": QT_TRANSLATE_NOOP("ChatPage", "think a bit"),
               "think a lot": QT_TRANSLATE_NOOP("ChatPage", "think a lot")}


class ChatPage(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.editing: int | None = None        # a user message being edited and resent
        self._build()
        self._render_timer = QTimer(self, interval=50, singleShot=True, timeout=self._tick)
        state.conversationChanged.connect(self.render)
        state.messageChanged.connect(self._message_changed)
        state.busyChanged.connect(self._busy_changed)
        state.chatSettingsChanged.connect(self._settings_changed)
        state.modelChanged.connect(self._update_buttons)
        state.modelChanged.connect(lambda: self.show_error(""))      # a failure of the model before
        self._error_for: int | None = None      # the conversation a shown failure belongs to
        self.render()

    def _build(self) -> None:
        top = QHBoxLayout()
        self.think = QComboBox()
        for mode in THINK_MODES:
            self.think.addItem(self.tr(THINK_NAMES[mode]) if mode in THINK_NAMES else mode, mode)
        self.think.setToolTip(self.tr(THINK_TIP))
        self.think.activated.connect(self._think_chosen)
        self.completion_button = QToolButton(text=self.tr("Plain completion"), checkable=True)
        self.completion_button.setToolTip(self.tr("The model continues a text as it is, without the chat template"))
        self.settings_button = QToolButton(text=self.tr("Chat settings"), checkable=True)
        self.settings_button.setToolTip(self.tr("Sampling, reply length and system prompt of this conversation"))
        top.addStretch()
        self.think_label = QLabel(self.tr("Think:"))
        self.think_label.setBuddy(self.think)
        for w in (self.completion_button, self.think_label, self.think, self.settings_button):
            top.addWidget(w)
        self.view = ChatView(self._link_clicked)
        self.error = QLabel(wordWrap=True, visible=False, textInteractionFlags=Qt.TextSelectableByMouse)
        self.error.setObjectName("error")
        self.error.setStyleSheet("QLabel#error { color: #b3261e; padding: 4px; }")
        self.system = QLineEdit(placeholderText=self.tr("System prompt for a new chat (optional)"))
        self.system.textChanged.connect(self._system_typed)
        self.input = MessageBox(self.send, self.edit_last,
                                placeholderText=self.tr("Message (Enter sends, Shift+Enter for a new line)"))
        self.input.setMaximumHeight(110)
        self.input.setTabChangesFocus(True)     # Tab reaches Send and the buttons, as in other chat apps
        buttons = QHBoxLayout()
        self.send_button = QPushButton(self.tr("Send"), clicked=self.send)
        self.stop_button = QPushButton(self.tr("Stop"), clicked=self.stop, enabled=False)
        self.regen_button = QPushButton(self.tr("Regenerate"), clicked=self.regenerate, enabled=False)
        self.continue_button = QPushButton(self.tr("Continue"), clicked=self.continue_reply, enabled=False)
        self.continue_button.setToolTip(self.tr("Let the last reply go on where it stopped"))
        buttons.addStretch()
        for b in (self.continue_button, self.regen_button, self.stop_button, self.send_button):
            buttons.addWidget(b)
        chat = QWidget()
        column = QVBoxLayout(chat)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.view, 1)
        column.addWidget(self.error)
        column.addWidget(self.system)
        column.addWidget(self.input)
        column.addLayout(buttons)
        self.panel = ChatSettingsPanel(self.state)
        self.panel.setVisible(False)
        self.settings_button.toggled.connect(self.panel.setVisible)
        self.completion = CompletionPanel(self.state)
        self.pages = QStackedWidget()
        self.pages.addWidget(chat)
        self.pages.addWidget(self.completion)
        self.completion_button.toggled.connect(self._mode_chosen)
        outer = QWidget()
        outer_column = QVBoxLayout(outer)
        outer_column.setContentsMargins(0, 0, 0, 0)
        outer_column.addLayout(top)
        outer_column.addWidget(self.pages, 1)
        split = QSplitter()
        split.addWidget(outer)
        split.addWidget(self.panel)
        split.setStretchFactor(0, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    # -- what the page shows -------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.state.busy

    def render(self) -> None:
        conv = self.state.conversation
        if not self.error.isHidden() and (conv.id if conv is not None else None) != self._error_for:
            self.show_error("")                 # another chat opened, or a new one: not its failure
        if self.editing is not None and (conv is None or self.editing not in conv):
            self._end_edit()                    # the message being edited was deleted, or another chat opened
        # The system prompt field is for a new chat (the same draft as the settings panel's field); a
        # conversation that exists edits its own in the settings panel.
        self.system.setVisible(conv is None)
        if conv is None:
            self.system.setText(self.state.draft_system)
        self.view.show_conversation(conv, self._text_of)
        self._update_buttons()

    def _text_of(self, msg: MessageView) -> str:
        return msg.text + self.state.streaming.get(msg.id, "")

    def _message_changed(self, _message_id: int) -> None:
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _tick(self) -> None:
        """Draw what has streamed in since the last tick (only the reply: see ChatView.update_tail)."""
        self.view.update_tail(self.state.conversation)
        self._update_buttons()

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            self._update_buttons()
        else:                       # the reply has ended: draw its last piece and its counts now
            self._render_timer.stop()
            self._tick()

    def _settings_changed(self) -> None:
        self._show_think(self.state.chat_settings.think if self.think.isEnabled() else "off")
        if self.state.conversation is None and self.system.text().strip() != self.state.draft_system:
            self.system.setText(self.state.draft_system)        # typed in the settings panel

    def _system_typed(self, text: str) -> None:
        """The new chat's system prompt as typed (the settings panel shows the same draft)."""
        if self.state.conversation is None and text.strip() != self.state.draft_system:
            self.state.update_chat(system_prompt=text)

    def _show_think(self, mode: str) -> None:
        """Select think mode ``mode`` (the engine's name) in the box; nothing is stored."""
        i = self.think.findData(mode)
        if i >= 0:
            self.think.setCurrentIndex(i)

    def think_mode(self) -> str:
        """The think mode a message is sent with: the engine's name of the one chosen, "off" while the
        box is off."""
        return self.think.currentData() if self.think.isEnabled() else "off"

    def _why_no_think(self, model: ModelView | None) -> str | None:
        """Why the think modes are off for ``model`` (None: they are not). The rule is the engine's
        (``ModelView.thinks``, the one the command line's ``--think`` follows); a remote model is known
        by its name only."""
        if model is None:
            return None
        why = model.unavailable("think")
        if why is not None:
            return why
        if model.is_remote and not model.thinks:
            return self.tr("Think modes are for RWKV-7 G0/G1 models; the server's model “{0}” is not named as one, "
                           "and a model not trained on them would garble its replies").format(model.name)
        if not model.is_remote and not model.thinks:
            return self.tr("Think modes are for RWKV-7 G0/G1 models; this model was not trained on them "
                           "and would garble its replies")
        return None

    def _update_buttons(self) -> None:
        busy, conv = self.state.busy, self.state.conversation
        path = conv.path() if conv is not None else []
        has_user = any(m.role == "user" for m in path)
        last = path[-1] if path else None
        self.send_button.setEnabled(not busy and self.state.model is not None)
        self.stop_button.setEnabled(busy and not self.state.loading)
        self.regen_button.setEnabled(not busy and has_user)
        model = self.state.model
        cannot_continue = model.unavailable("continue") if model is not None else None
        self.continue_button.setEnabled(not busy and last is not None and last.role == "assistant"
                                        and not last.complete and cannot_continue is None)
        self.continue_button.setToolTip(cannot_continue or self.tr("Let the last reply go on where it stopped"))
        no_think = self._why_no_think(model)
        was_on = self.think.isEnabled()
        self.think.setEnabled(no_think is None)
        self.think.setToolTip(no_think or self.tr(THINK_TIP))
        if no_think is not None:
            self._show_think("off")             # what is sent: never a prefix the model cannot read
        elif not was_on:
            self._show_think(self.state.chat_settings.think)     # on again: the conversation's own, kept meanwhile

    def show_error(self, message: str) -> None:
        """A failed reply, said under the conversation; the next action, another conversation or another
        model clears it."""
        conv = self.state.conversation
        self._error_for = conv.id if conv is not None else None
        self.error.setText(message)
        self.error.setVisible(bool(message))

    # -- what the user asks for ----------------------------------------------------------------

    def new_chat(self) -> None:
        if self.state.busy and self.state.conversation is None:
            return
        self._end_edit()
        self.state.new_chat()
        self.input.setFocus()

    def send(self) -> None:
        typed = self.input.toPlainText()
        text = typed.strip()
        if not text or self.state.busy or self.state.model is None:
            return
        update = self.panel.flush()             # a setting edited a moment ago is the reply's too
        if update is not None and not update.done():
            update.add_done_callback(lambda _: self.send())       # once the conversation has it
            return
        self.show_error("")
        self.view.follow_next = True            # what was just sent, and its reply, come into view
        if self.state.conversation is None:
            self.state.draft_system = self.system.text().strip()
        editing = self.editing
        self._end_edit()
        think = self.think_mode()
        conv = self.state.conversation
        if editing is not None and conv is not None and editing in conv and conv.message(editing).role == "assistant":
            self.input.clear()
            asyncio.ensure_future(self.state.edit_reply(editing, typed))     # as typed: blank lines, indents
            return
        request = (self.state.edit(editing, text, think) if editing is not None
                   else self.state.send(text, think))
        if request is not None:
            self.input.clear()

    def regenerate(self) -> None:
        self.show_error("")
        self.view.follow_next = True            # the new reply streams at the end: be there
        self.state.regenerate()

    def continue_reply(self) -> None:
        self.show_error("")
        self.state.continue_reply()

    def _mode_chosen(self, completion: bool) -> None:
        self.pages.setCurrentWidget(self.completion if completion else self.pages.widget(0))
        self.think.setVisible(not completion)
        self.think_label.setVisible(not completion)      # no dangling "Think:" beside the completion
        (self.completion.text if completion else self.input).setFocus()

    def stop(self) -> None:
        if self.completion_button.isChecked():
            self.state.stop_completion()
            return
        if self.editing is not None and not self.state.busy:
            self._end_edit()
            self.input.clear()
        self.state.stop()

    def start_edit(self, message_id: int) -> None:
        """Put a message back in the field: a message of the user's is resent, a reply is saved as
        written (both as a new branch beside the old one)."""
        self.editing = message_id
        msg = self.state.conversation.message(message_id)
        self.input.setPlainText(msg.text)
        self.input.moveCursor(QTextCursor.End)
        if msg.role == "assistant":
            self.send_button.setText(self.tr("Save reply"))
            self.state.status.emit(self.tr("Editing the reply: Enter saves it as a new branch, Esc cancels"), 0)
        else:
            self.send_button.setText(self.tr("Resend"))
            self.state.status.emit(self.tr("Editing: Enter resends as a new branch, Esc cancels"), 0)
        self.input.setFocus()

    def edit_last(self) -> None:
        """Edit the last message of the user's on the shown branch (Up in an empty field)."""
        conv = self.state.conversation
        last = next((m for m in reversed(conv.path()) if m.role == "user"), None) if conv is not None else None
        if last is not None and not self.state.busy:
            self.start_edit(last.id)

    def last_reply(self) -> MessageView | None:
        conv = self.state.conversation
        return next((m for m in reversed(conv.path()) if m.role == "assistant"), None) if conv is not None else None

    def copy_message(self, message_id: int | None = None) -> bool:
        """Put a message's text (default: the last reply) on the clipboard."""
        if message_id is None:
            reply = self.last_reply()
            if reply is None:
                self.state.status.emit(self.tr("There is no reply to copy yet"), 5000)
                return False
            message_id = reply.id
        QGuiApplication.clipboard().setText(self.state.text_of(message_id))
        self.state.status.emit(self.tr("Copied the message"), 5000)
        return True

    def ask_delete(self, message_id: int) -> QMessageBox | None:
        """Confirm, then delete a message and everything below it on every branch."""
        conv = self.state.conversation
        if conv is None or message_id not in conv:
            return None
        if self.state.busy:
            self.state.status.emit(self.tr("Wait for the reply to finish (or stop it) before deleting"), 5000)
            return None
        below = _descendants(conv, message_id)
        text = (self.tr("Delete this message? This cannot be undone.") if not below else
                self.tr("Delete this message and the {0} message(s) after it, on every branch? "
                        "This cannot be undone.").format(below))
        box = QMessageBox(QMessageBox.Question, self.tr("Delete message"), text,
                          QMessageBox.Yes | QMessageBox.Cancel, self)
        box.setDefaultButton(QMessageBox.Cancel)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.accepted.connect(lambda: asyncio.ensure_future(self.state.delete_message(message_id)))
        self.delete_box = box
        box.open()
        return box

    def _end_edit(self) -> None:
        if self.editing is not None:
            self.state.status.emit("", 1)          # the "Editing…" hint goes with the edit
        self.editing = None
        self.send_button.setText(self.tr("Send"))

    def _think_chosen(self) -> None:
        settings = self.state.chat_settings
        mode = self.think.currentData()
        if settings.think != mode:
            self.state.update_chat(replace(settings, think=mode))

    def _link_clicked(self, url) -> None:
        if url.scheme() in ("http", "https"):
            self._confirm_open(url)
            return
        if url.scheme() != "action":          # message text never makes other links (app.markup)
            return
        kind, *args = url.path().split(":")
        if kind == "edit" and not self.state.busy:
            self.start_edit(int(args[0]))
        elif kind == "copymsg":
            self.copy_message(int(args[0]))
        elif kind == "regen" and not self.state.busy:
            self.show_error("")
            self.view.follow_next = True
            self.state.regenerate(int(args[0]))
        elif kind == "delete":
            self.ask_delete(int(args[0]))
        elif kind == "branch":
            asyncio.ensure_future(self.state.switch_branch(int(args[0]), int(args[1])))
        elif kind == "copy":
            code = self.view.code_blocks[int(args[0])]
            QGuiApplication.clipboard().setText(code)
            lines = code.count("\n") + 1
            self.state.status.emit(self.tr("Copied 1 line of code") if lines == 1 else
                                   self.tr("Copied {0} lines of code").format(lines), 5000)

    def _confirm_open(self, url) -> None:
        """A link in a reply opens in the browser only once the user has seen where it goes."""
        box = QMessageBox(QMessageBox.Question, self.tr("Open link"),
                          self.tr("Open this address in your browser?\n\n{0}").format(url.toString()),
                          QMessageBox.Open | QMessageBox.Cancel, self)

        box.setAttribute(Qt.WA_DeleteOnClose)
        box.accepted.connect(lambda: QDesktopServices.openUrl(url))
        self.link_box = box
        box.open()


def _descendants(conv: ConversationView, message_id: int) -> int:
    """How many messages lie below ``message_id``, on every branch."""
    count, below = 0, list(conv.message(message_id).children)
    while below:
        count += 1
        below.extend(conv.message(below.pop()).children)
    return count
