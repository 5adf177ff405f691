"""The main window: conversations on the left, the chat on the right, the model in the header.

Views draw and forward intent; the engine runs on :class:`app.worker.EngineWorker` and the
conversations live in :class:`app.store.ConversationStore`. Every slow call is awaited, so the
window keeps painting while a model loads or a reply streams.
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import engine
from engine import State, hardware
from engine.chat import THINK_MODES, ChatSession, Message
from engine.errors import EngineError
from engine.sampling import PRESETS

from .settings import Settings
from .store import ConversationStore, StoreError
from .worker import EngineWorker

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


class MainWindow(QMainWindow):
    def __init__(self, worker: EngineWorker, store: ConversationStore, settings: Settings | None = None):
        super().__init__()
        self.worker, self.store = worker, store
        self.settings = settings or Settings(store.data_dir / "settings.json")
        self._devices = hardware.detect()
        self.tuning: State | None = None            # a state-tuning file's initial state, for new chats
        self.tuning_path: str | None = None
        self.model = None
        self.tokenizer = None
        self.session: ChatSession | None = None
        self.conv_id: int | None = None
        self.busy = False
        self.editing: int | None = None        # a user message being edited and resent
        self.setWindowTitle("RWKV Desktop")
        self.resize(1100, 720)
        self._build()
        self._render_timer = QTimer(self, interval=50, singleShot=True, timeout=self.render_chat)

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        side = QWidget()
        sl = QVBoxLayout(side)
        self.new_button = QPushButton("New chat", clicked=self.new_chat)
        self.search = QLineEdit(placeholderText="Search conversations")
        self.search.textChanged.connect(self.refresh_conversations)
        self.conversations = QListWidget()
        self.conversations.itemActivated.connect(self._open_item)
        self.conversations.itemClicked.connect(self._open_item)
        self.conversations.setContextMenuPolicy(Qt.ActionsContextMenu)
        delete = QAction("Delete", self.conversations, shortcut=QKeySequence.Delete,
                         triggered=self.delete_selected, shortcutContext=Qt.WidgetShortcut)
        rename = QAction("Rename…", self.conversations, triggered=self.rename_selected)
        self.conversations.addActions([rename, delete])
        for w in (self.new_button, self.search, self.conversations):
            sl.addWidget(w)

        main = QWidget()
        ml = QVBoxLayout(main)
        self.header = QLabel("No model loaded")
        self.header.setObjectName("header")
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setCurrentText("RWKV Runner")
        self.preset.setToolTip("Sampling preset for replies")
        self.preset.currentTextChanged.connect(self._preset_changed)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        self.hardware = QComboBox()
        self.hardware.setToolTip("Where the model runs, and in which precision")
        self.hardware.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.hardware.activated.connect(lambda _: asyncio.ensure_future(self._hardware_chosen()))
        top.addWidget(self.hardware)
        self.think = QComboBox()
        self.think.addItems(list(THINK_MODES))
        self.think.setToolTip("RWKV-7 G1 reasoning: think first, answer directly, or off for other models")
        top.addWidget(QLabel("Think:"))
        top.addWidget(self.think)
        top.addWidget(QLabel("Sampling:"))
        top.addWidget(self.preset)
        self.chat_view = QTextBrowser()
        self.chat_view.setOpenLinks(False)          # our own actions ride on links: action:edit:3
        self.chat_view.anchorClicked.connect(self._link_clicked)
        self.chat_view.setPlaceholderText("Ask the model something. Your conversation and its state are saved.")
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
        ml.addLayout(top)
        ml.addWidget(self.chat_view, 1)
        ml.addWidget(self.system)
        ml.addWidget(self.input)
        ml.addLayout(buttons)

        split = QSplitter()
        split.addWidget(side)
        split.addWidget(main)
        split.setSizes([260, 840])
        self.setCentralWidget(split)
        self.state_label = QLabel()
        self.statusBar().addPermanentWidget(self.state_label)

        file_menu = self.menuBar().addMenu("&File")
        open_model = QAction("Open model…", self, triggered=lambda: asyncio.ensure_future(self.open_model_dialog()))
        new = QAction("New chat", self, shortcut=QKeySequence.New, triggered=self.new_chat)
        stop = QAction("Stop", self, shortcut=QKeySequence(Qt.Key_Escape), triggered=self.stop)
        quit_ = QAction("Quit", self, shortcut=QKeySequence.Quit, triggered=self.close)
        save_state = QAction("Save conversation and state…", self,
                             triggered=lambda: asyncio.ensure_future(self.export_dialog()))
        load_state = QAction("Load conversation and state…", self,
                             triggered=lambda: asyncio.ensure_future(self.import_dialog()))
        tuning = QAction("Apply state-tuning file…", self,
                         triggered=lambda: asyncio.ensure_future(self.tuning_dialog()))
        for a in (new, open_model, tuning, save_state, load_state, stop, quit_):
            file_menu.addAction(a)
        self.addAction(stop)

    # -- model ---------------------------------------------------------------------------------

    async def load_model(self, source: str, device: str = "cpu", precision: str = "auto") -> bool:
        if self.busy:
            self.stop()
        self._set_busy(True, f"Loading {source}…")

        def load():
            model = engine.load(source, device=device, precision=precision)
            return model, engine.tokenizer.tokenizer_for(model)

        try:
            t0 = time.perf_counter()
            self.model, self.tokenizer = await self.worker.submit(load)
        except (EngineError, OSError) as e:
            self._set_busy(False, "")
            QMessageBox.warning(self, "Could not load the model", str(e))
            return False
        self.tuning, self.tuning_path = None, None
        self._show_header()
        self._fill_hardware()
        self.settings.set("model", source)
        self.settings.set("device", device)
        self.settings.set("precision", precision)
        self.state_label.setText(f"State {self.model.new_state().nbytes / 2**20:.2f} MiB — constant, "
                                 "whatever the length of the chat")
        self._set_busy(False, f"Model loaded in {time.perf_counter() - t0:.1f} s")
        self.session = None
        self.conv_id = None
        self.refresh_conversations()
        self.render_chat()
        return True

    def _show_header(self) -> None:
        info = self.model.info
        tuning = f" · state tuning: {html.escape(Path(self.tuning_path).name)}" if self.tuning_path else ""
        self.header.setText(f"<b>{html.escape(info.name)}</b> — RWKV-{info.generation}, "
                            f"{info.n_params / 1e6:.1f}M parameters · {self.model.device.type.upper()} "
                            f"{self.model.precision}{tuning}")

    def _fill_hardware(self) -> None:
        """Every device engine.hardware found, each with its valid precisions; the recommendation
        for this model is marked, the current choice selected."""
        info = self.model.info
        model_bytes = info.path.stat().st_size
        rec = hardware.recommend(model_bytes, info.n_params, self._devices)
        self.hardware.blockSignals(True)
        self.hardware.clear()
        for d in self._devices:
            for precision in d.precisions:
                size = info.n_params * {"fp32": 4}.get(precision, 2)
                label = f"{d.kind.upper()} {precision} — {d.name}, {d.memory_bytes / 2**30:.0f} GiB"
                if (d.id, precision) == (rec.device, rec.precision):
                    label += "  ★"          # the recommendation (its reason is the tooltip)
                elif not hardware.fits(d, size):
                    label += "  (does not fit)"
                self.hardware.addItem(label, (d.id, precision))
                if (d.id, precision) == (self._device_id(), self.model.precision):
                    self.hardware.setCurrentIndex(self.hardware.count() - 1)
        self.hardware.setToolTip(rec.reason)
        self.hardware.blockSignals(False)

    async def _hardware_chosen(self) -> None:
        device, precision = self.hardware.currentData()
        if self.model is None or (device, precision) == (self._device_id(), self.model.precision):
            return
        await self.load_model(str(self.model.info.path), device=device, precision=precision)

    def _device_id(self) -> str:
        dev = self.model.device
        return "cpu" if dev.type == "cpu" else f"{dev.type}:{dev.index or 0}"

    async def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an RWKV model", str(Path.home()),
                                              "RWKV models (*.pth *.safetensors)")
        if path:
            await self.load_model(path)

    # -- conversations ---------------------------------------------------------------------------

    def refresh_conversations(self) -> None:
        self.conversations.clear()
        for conv in self.store.list(self.search.text().strip() or None):
            item = QListWidgetItem(conv.title)
            item.setData(Qt.UserRole, conv.id)
            self.conversations.addItem(item)
            if conv.id == self.conv_id:
                self.conversations.setCurrentItem(item)

    def new_chat(self) -> None:
        if self.busy:
            return
        self.session, self.conv_id = None, None
        self.conversations.clearSelection()
        self.render_chat()
        self.input.setFocus()

    def _open_item(self, item: QListWidgetItem) -> None:
        asyncio.ensure_future(self.open_conversation(item.data(Qt.UserRole)))

    async def open_conversation(self, conv_id: int) -> None:
        if self.busy or self.model is None or conv_id == self.conv_id:
            return
        conv = self.store.get(conv_id)
        if conv.model_fingerprint != self.model.info.fingerprint:
            QMessageBox.information(self, "Another model", f"“{conv.title}” was written with "
                                    f"{Path(conv.model_path).name}; load that model to continue it.")
            return
        messages = self.store.load_messages(conv_id)
        model, tok, store = self.model, self.tokenizer, self.store
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
            self.session, seconds = await self.worker.submit(restore)
        except (EngineError, OSError) as e:
            QMessageBox.warning(self, "Could not open the conversation", str(e))
            return
        self.conv_id = conv_id
        self.settings.set("conversation", conv_id)
        self.refresh_conversations()
        self.render_chat()
        self.statusBar().showMessage(f"Resumed from saved state in {seconds * 1e3:.0f} ms — nothing re-read")

    # -- talking --------------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.busy or self.model is None:
            return
        self.input.clear()
        if self.session is None:
            self.session = ChatSession(self.model, self.tokenizer, settings=PRESETS[self.preset.currentText()],
                                       system=self.system.text().strip() or None, initial_state=self.tuning)
        if self.conv_id is None:
            conv = self.store.create(title=text.splitlines()[0][:60], model_path=str(self.model.info.path),
                                     model_fingerprint=self.model.info.fingerprint,
                                     system_prompt=self.system.text().strip(), tuning_path=self.tuning_path)
            self.conv_id = conv.id
            self.settings.set("conversation", conv.id)
            self.refresh_conversations()
        session, editing, think = self.session, self.editing, self.think.currentText()
        self._end_edit()
        if editing is not None:
            asyncio.ensure_future(self._stream(lambda cancel: session.edit(editing, text, think=think,
                                                                           cancel=cancel)))
        else:
            asyncio.ensure_future(self._stream(lambda cancel: session.send(text, think=think, cancel=cancel)))

    def regenerate(self) -> None:
        if self.busy or self.session is None:
            return
        session = self.session
        asyncio.ensure_future(self._stream(lambda cancel: session.regenerate(cancel=cancel)))

    def continue_reply(self) -> None:
        if self.busy or self.session is None:
            return
        session = self.session
        asyncio.ensure_future(self._stream(lambda cancel: session.continue_reply(cancel=cancel)))

    async def tuning_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Apply a state-tuning file", str(Path.home()),
                                              "State-tuning files (*.pth)")
        if path:
            await self.apply_tuning(path)

    async def apply_tuning(self, path: str | None) -> bool:
        """Use a state-tuning file's state to start new chats (None: back to the plain model)."""
        if self.model is None or self.busy:
            return False
        model = self.model
        try:
            state = None if path is None else await self.worker.submit(lambda: State.from_tuning_file(path, model))
        except (EngineError, OSError) as e:
            QMessageBox.warning(self, "Could not use the state-tuning file", str(e))
            return False
        self.tuning, self.tuning_path = state, path
        self.new_chat()
        self._show_header()
        self.statusBar().showMessage(f"New chats start from {Path(path).name}" if path else "State tuning off")
        return True

    def stop(self) -> None:
        if self.editing is not None and not self.busy:
            self._end_edit()
            self.input.clear()
        self.worker.stop()

    def start_edit(self, message_id: int) -> None:
        self.editing = message_id
        self.input.setPlainText(self.session.messages[message_id].text)
        self.send_button.setText("Resend")
        self.statusBar().showMessage("Editing: Enter resends as a new branch, Esc cancels")
        self.input.setFocus()

    def _end_edit(self) -> None:
        self.editing = None
        self.send_button.setText("Send")

    async def switch_branch(self, message_id: int, step: int) -> None:
        if self.busy or self.session is None:
            return
        session, store, conv_id = self.session, self.store, self.conv_id
        session.switch_branch(message_id, step)

        def restore():
            t0 = time.perf_counter()
            leaf = session.messages[session.leaf()]
            session.checkpoint_of(leaf)
            store.save_tree(conv_id, _real(session))
            return time.perf_counter() - t0

        seconds = await self.worker.submit(restore)
        self.render_chat()
        self.statusBar().showMessage(f"Branch restored from its saved state in {seconds * 1e3:.0f} ms")

    def _link_clicked(self, url) -> None:
        if url.scheme() != "action":
            QDesktopServices.openUrl(url)
            return
        kind, *args = url.path().split(":")
        if kind == "edit" and not self.busy:
            self.start_edit(int(args[0]))
        elif kind == "branch":
            asyncio.ensure_future(self.switch_branch(int(args[0]), int(args[1])))

    # -- conversation management ------------------------------------------------------------------

    def _selected_id(self) -> int | None:
        item = self.conversations.currentItem()
        return None if item is None else item.data(Qt.UserRole)

    def delete_selected(self) -> None:
        conv_id = self._selected_id()
        if conv_id is None or self.busy:
            return
        title = self.store.get(conv_id).title
        self.store.delete(conv_id)
        if conv_id == self.conv_id:
            self.new_chat()
        self.refresh_conversations()
        self._offer_undo(f"Deleted “{title}”", conv_id)

    def _offer_undo(self, message: str, conv_id: int) -> None:
        button = QPushButton("Undo")
        self.undo_button = button

        def undo():
            self.store.undelete(conv_id)
            self.refresh_conversations()
            button.deleteLater()
            self.statusBar().showMessage("Restored")

        button.clicked.connect(undo)
        self.statusBar().addWidget(button)
        self.statusBar().showMessage(message, 10000)
        QTimer.singleShot(10000, button, button.deleteLater)   # tied to the button: gone with the window

    def rename_selected(self) -> None:
        conv_id = self._selected_id()
        if conv_id is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=self.store.get(conv_id).title)
        if ok and title.strip():
            self.store.update(conv_id, title=title.strip())
            self.refresh_conversations()

    async def export_dialog(self) -> None:
        if self.conv_id is None or self.busy:
            self.statusBar().showMessage("Open a conversation to save it")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save conversation and state", "conversation.rwkvchat",
                                              "RWKV Desktop conversations (*.rwkvchat)")
        if path:
            await self.export_to(Path(path))

    async def export_to(self, path: Path) -> None:
        conv_id, model, store = self.conv_id, self.model, self.store
        await self.worker.submit(lambda: store.export(conv_id, path, model))
        self.statusBar().showMessage(f"Saved the conversation and its state to {path.name}")

    async def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load conversation and state", str(Path.home()),
                                              "RWKV Desktop conversations (*.rwkvchat);;All files (*)")
        if path:
            await self.import_from(Path(path))

    async def import_from(self, path: Path) -> bool:
        if self.model is None or self.busy:
            return False
        model, store = self.model, self.store
        try:
            conv = await self.worker.submit(lambda: store.import_(path, model))
        except (EngineError, StoreError, OSError) as e:
            QMessageBox.warning(self, "Could not load the conversation", str(e))
            return False
        self.refresh_conversations()
        await self.open_conversation(conv.id)
        return True

    def _preset_changed(self, name: str) -> None:
        if self.session is not None:
            self.session.settings = PRESETS[name]     # read by the next reply, never mid-reply

    async def _stream(self, make) -> None:
        self._set_busy(True, "Generating…")
        t0 = time.perf_counter()
        session, conv_id, store = self.session, self.conv_id, self.store
        self.render_chat()
        message = ""
        try:
            await self.worker.stream(make, self._on_piece)
            await self.worker.submit(lambda: store.save_tree(conv_id, _real(session)))
        except (EngineError, StoreError, OSError) as e:
            message = f"Error: {e}"
        reply = session.messages[session.leaf()]
        seconds = time.perf_counter() - t0
        if not message and reply.role == "assistant":
            n = len(reply.tokens)
            message = (f"{n} tokens in {seconds:.1f} s ({n / max(seconds, 1e-9):.1f} tokens/s)"
                       + (" — stopped" if reply.stop_reason == "cancelled" else ""))
        self._set_busy(False, message or "Stopped before the reply began")
        self.refresh_conversations()
        self.render_chat()

    def _on_piece(self, piece: str) -> None:
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _set_busy(self, busy: bool, message: str) -> None:
        self.busy = busy
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        has_chat = self.session is not None and len(self.session.path()) > 0
        self.regen_button.setEnabled(not busy and has_chat)
        last = self.session.messages[self.session.leaf()] if has_chat else None
        self.continue_button.setEnabled(not busy and last is not None and last.role == "assistant"
                                        and not last.complete)
        self.new_button.setEnabled(not busy)
        if message:
            self.statusBar().showMessage(message)

    # -- drawing --------------------------------------------------------------------------------

    def render_chat(self) -> None:
        # The system prompt applies to a new chat only: hide it once the conversation has begun.
        self.system.setVisible(self.session is None or not self.session.path())
        parts = []
        for msg in self.session.path() if self.session else []:
            parts.append(self._render_message(msg))
        self.chat_view.setMarkdown("\n\n---\n\n".join(parts))
        self.chat_view.verticalScrollBar().setValue(self.chat_view.verticalScrollBar().maximum())

    def _render_message(self, msg: Message) -> str:
        name = ROLE_NAMES.get(msg.role, msg.role)
        pos, count = self.session.branch(msg.id)
        links = []
        if count > 1:
            links.append(f"[‹](action:branch:{msg.id}:-1) {pos}/{count} [›](action:branch:{msg.id}:1)")
        if msg.role == "user":
            links.append(f"[edit](action:edit:{msg.id})")
        return f"**{name}**  {'  ·  '.join(links)}\n\n{msg.text or '…'}"

    def restore_geometry(self) -> None:
        geometry = self.settings.get("geometry")
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.settings.set("geometry", bytes(self.saveGeometry().toBase64()).decode())
        self.worker.stop()
        super().closeEvent(event)


def _real(session: ChatSession) -> list[Message]:
    return [m for m in session.messages.values() if m.role != "root"]
