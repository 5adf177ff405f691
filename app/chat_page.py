"""The chat: the open conversation, the message field and the reply buttons.

The page owns the conversation being shown (its :class:`ChatSession` and database id) and every
reply it streams; the model comes from the window. Work on tensors goes to the engine thread and
is awaited, so the window keeps painting while a reply streams.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine import State
from engine.errors import EngineError
from engine.text.chat import THINK_MODES, ChatSession, Message
from engine.text.sampling import PRESETS

from .chat_view import ChatView, MessageBox
from .store import StoreError


class ChatPage(QWidget):
    def __init__(self, main):
        super().__init__()
        self.main = main
        self.session: ChatSession | None = None
        self.conv_id: int | None = None
        self.busy = False
        self.editing: int | None = None        # a user message being edited and resent
        self.stats: dict[int, dict] = {}       # per reply: tokens and tokens/s, saved with the message
        self._stream_task: asyncio.Future | None = None
        self._build()
        self._render_timer = QTimer(self, interval=50, singleShot=True, timeout=self._tick)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.think = QComboBox()
        self.think.addItems(list(THINK_MODES))
        self.think.setToolTip("RWKV-7 G1 reasoning: think first, answer directly, or off for other models")
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setCurrentText("RWKV Runner")
        self.preset.setToolTip("Sampling preset for replies")
        self.preset.currentTextChanged.connect(self._preset_changed)
        top.addStretch()
        for w in (QLabel("Think:"), self.think, QLabel("Sampling:"), self.preset):
            top.addWidget(w)
        self.view = ChatView(self._link_clicked)
        self.system = QLineEdit(placeholderText="System prompt for a new chat (optional)")
        self.input = MessageBox(self.send, placeholderText="Message (Enter sends, Shift+Enter for a new line)")
        self.input.setMaximumHeight(110)
        buttons = QHBoxLayout()
        self.send_button = QPushButton("Send", clicked=self.send)
        self.stop_button = QPushButton("Stop", clicked=self.stop, enabled=False)
        self.regen_button = QPushButton("Regenerate", clicked=self.regenerate, enabled=False)
        self.continue_button = QPushButton("Continue", clicked=self.continue_reply, enabled=False)
        self.continue_button.setToolTip("Let the last reply go on where it stopped")
        buttons.addStretch()
        for b in (self.continue_button, self.regen_button, self.stop_button, self.send_button):
            buttons.addWidget(b)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.system)
        layout.addWidget(self.input)
        layout.addLayout(buttons)

    def _status(self, message: str) -> None:
        self.main.statusBar().showMessage(message)

    # -- conversations ---------------------------------------------------------------------------

    def new_chat(self) -> None:
        if self.busy:
            return
        self.session, self.conv_id, self.stats = None, None, {}
        self.main.sidebar.conversations.clearSelection()
        self.render()
        self.input.setFocus()

    def forget(self) -> None:
        """Drop the open conversation without saving anything more (a new model is coming)."""
        self.session, self.conv_id, self.stats = None, None, {}
        self._end_edit()
        self.render()

    async def open_conversation(self, conv_id: int) -> None:
        model, tok, store = self.main.model, self.main.tokenizer, self.main.store
        if self.busy or model is None or conv_id == self.conv_id:
            return
        conv = store.get(conv_id)
        if conv.model_fingerprint != model.info.fingerprint:
            QMessageBox.information(self, "Another model", f"“{conv.title}” was written with "
                                    f"{Path(conv.model_path).name}; load that model to continue it.")
            return
        messages = store.load_messages(conv_id)
        tuning_path = conv.tuning_path
        settings = PRESETS[self.preset.currentText()]

        def restore():
            initial = State.from_tuning_file(tuning_path, model) if tuning_path else None
            session = ChatSession.restore(
                model, tok, messages, settings=settings, initial_state=initial,
                checkpoint_loader=lambda m: store.load_checkpoint(conv_id, m.id, model))
            t0 = time.perf_counter()
            leaf = session.messages[session.leaf()]
            if leaf.role != "root":
                session.checkpoint_of(leaf)
            return session, time.perf_counter() - t0

        try:
            self.session, seconds = await self.main.worker.submit(restore)
        except (EngineError, OSError) as e:
            QMessageBox.warning(self, "Could not open the conversation", str(e))
            return
        self.conv_id = conv_id
        self.stats = store.load_stats(conv_id)
        self.main.settings.set("conversation", conv_id)
        self.main.sidebar.refresh()
        self.render()
        self._status(f"Resumed from saved state in {seconds * 1e3:.0f} ms — nothing re-read")

    # -- talking --------------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        main = self.main
        if not text or self.busy or main.model is None:
            return
        self.input.clear()
        system = self.system.text().strip()
        if self.session is None:
            self.session = ChatSession(main.model, main.tokenizer, settings=PRESETS[self.preset.currentText()],
                                       system=system or None, initial_state=main.tuning)
        if self.conv_id is None:
            conv = main.store.create(title=text.splitlines()[0][:60], model_path=str(main.model.info.path),
                                     model_fingerprint=main.model.info.fingerprint,
                                     system_prompt=system, tuning_path=main.tuning_path)
            self.conv_id = conv.id
            main.settings.set("conversation", conv.id)
            main.sidebar.refresh()
        session, editing, think = self.session, self.editing, self.think.currentText()
        self._end_edit()
        if editing is not None:
            self._start(lambda cancel: session.edit(editing, text, think=think, cancel=cancel))
        else:
            self._start(lambda cancel: session.send(text, think=think, cancel=cancel))

    def regenerate(self) -> None:
        if self.busy or self.session is None:
            return
        session = self.session
        self._start(lambda cancel: session.regenerate(cancel=cancel))

    def continue_reply(self) -> None:
        if self.busy or self.session is None:
            return
        session = self.session
        self._start(lambda cancel: session.continue_reply(cancel=cancel))

    def stop(self) -> None:
        if self.editing is not None and not self.busy:
            self._end_edit()
            self.input.clear()
        self.main.worker.stop()

    async def stop_and_wait(self) -> None:
        """Cancel the streaming reply (if any) and return once it has been saved."""
        task = self._stream_task
        if self.busy and task is not None:
            self.main.worker.stop()
            await asyncio.wait([task])

    def start_edit(self, message_id: int) -> None:
        self.editing = message_id
        self.input.setPlainText(self.session.messages[message_id].text)
        self.send_button.setText("Resend")
        self._status("Editing: Enter resends as a new branch, Esc cancels")
        self.input.setFocus()

    def _end_edit(self) -> None:
        self.editing = None
        self.send_button.setText("Send")

    async def switch_branch(self, message_id: int, step: int) -> None:
        if self.busy or self.session is None:
            return
        session, store, conv_id = self.session, self.main.store, self.conv_id
        session.switch_branch(message_id, step)

        def restore():
            t0 = time.perf_counter()
            leaf = session.messages[session.leaf()]
            session.checkpoint_of(leaf)
            store.save_tree(conv_id, real_messages(session))
            return time.perf_counter() - t0

        seconds = await self.main.worker.submit(restore)
        self.render()
        self._status(f"Branch restored from its saved state in {seconds * 1e3:.0f} ms")

    def _link_clicked(self, url) -> None:
        if url.scheme() != "action":
            QDesktopServices.openUrl(url)
            return
        kind, *args = url.path().split(":")
        if kind == "edit" and not self.busy:
            self.start_edit(int(args[0]))
        elif kind == "branch":
            asyncio.ensure_future(self.switch_branch(int(args[0]), int(args[1])))
        elif kind == "copy":
            code = self.view.code_blocks[int(args[0])]
            QGuiApplication.clipboard().setText(code)
            lines = code.count("\n") + 1
            self._status(f"Copied {lines} line{'s' * (lines != 1)} of code")

    def _preset_changed(self, name: str) -> None:
        if self.session is not None:
            self.session.settings = PRESETS[name]     # read by the next reply, never mid-reply

    def _start(self, make) -> None:
        self._stream_task = asyncio.ensure_future(self._stream(make))

    async def _stream(self, make) -> None:
        self.set_busy(True, "Generating…")
        session, conv_id, store, worker = self.session, self.conv_id, self.main.store, self.main.worker
        leaf = session.messages[session.leaf()]
        before = len(leaf.tokens) if leaf.role == "assistant" else 0     # Continue grows this reply
        self.render()
        message = ""
        t0 = time.perf_counter()
        try:
            await worker.stream(make, self._on_piece)
        except (EngineError, OSError) as e:
            message = f"Error: {e}"
        seconds = time.perf_counter() - t0
        reply = session.messages[session.leaf()]
        stats = None
        if reply.role == "assistant":
            new = len(reply.tokens) - (before if reply is leaf else 0)
            stats = {"tokens": len(reply.tokens), "tokens_per_s": round(new / max(seconds, 1e-9), 2),
                     "seconds": round(seconds, 3)}
            if session is self.session:
                self.stats[reply.id] = stats
        try:
            counts = {reply.id: stats} if stats is not None else None
            await worker.submit(lambda: store.save_tree(conv_id, real_messages(session), stats=counts))
        except (EngineError, StoreError, OSError) as e:
            message = message or f"Error: {e}"
        if not message and stats is not None:
            message = (f"{new} tokens in {seconds:.1f} s ({stats['tokens_per_s']:.1f} tokens/s)"
                       + (" — stopped" if reply.stop_reason == "cancelled" else ""))
        self.set_busy(False, message or "Stopped before the reply began")
        self.main.sidebar.refresh()
        if session is self.session:
            self._tick()                # the reply with its counts; earlier messages are unchanged

    def _on_piece(self, piece: str) -> None:
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _tick(self) -> None:
        """Draw what has streamed in since the last tick (only the reply: see ChatView.update_tail)."""
        self.system.setVisible(self.session is None or not self.session.path())
        self.view.update_tail()

    def set_busy(self, busy: bool, message: str) -> None:
        self.busy = busy
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        has_chat = self.session is not None and len(self.session.path()) > 0
        self.regen_button.setEnabled(not busy and has_chat)
        last = self.session.messages[self.session.leaf()] if has_chat else None
        self.continue_button.setEnabled(not busy and last is not None and last.role == "assistant"
                                        and not last.complete)
        self.main.sidebar.new_button.setEnabled(not busy)
        if message:
            self._status(message)

    def render(self) -> None:
        # The system prompt applies to a new chat only: hide it once the conversation has begun.
        self.system.setVisible(self.session is None or not self.session.path())
        self.view.show_session(self.session, self.stats)


def real_messages(session: ChatSession) -> list[Message]:
    return [m for m in session.messages.values() if m.role != "root"]
