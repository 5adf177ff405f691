"""The main window: the loaded model and where it runs at the top, the chat below.

Views draw and forward intent; the engine runs on :class:`app.worker.EngineWorker` and the
conversations live in :class:`app.store.ConversationStore`. The window owns the model (loading,
switching, the device and precision it runs with) and the file dialogs; the chat page owns the
open conversation, the sidebar the list of conversations.
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import engine
from engine import State
from engine.errors import EngineError
from engine.host import hardware
from engine.models.file_info import check_named_generation
from engine.text.tokenizer import tokenizer_for

from . import theme
from .chat_page import ChatPage
from .models_page import ModelsPage
from .settings import Settings
from .settings_page import SettingsPage
from .sidebar import Sidebar
from .store import ConversationStore, StoreError
from .worker import EngineWorker

MODEL_FILTER = "RWKV models (*.pth *.safetensors);;All files (*)"
# Official state tuning is a .pth; Ai00 writes .state (safetensors); conversions use .safetensors.
TUNING_FILTER = "State-tuning files (*.pth *.state *.safetensors);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, worker: EngineWorker, store: ConversationStore, settings: Settings | None = None):
        super().__init__()
        self.worker, self.store = worker, store
        self.settings = settings or Settings(store.data_dir / "settings.json")
        self.devices = hardware.detect()
        self.tuning: State | None = None            # a state-tuning file's initial state, for new chats
        self.tuning_path: str | None = None
        self.model = None
        self.tokenizer = None
        self.setWindowTitle("RWKV Desktop")
        self.resize(1100, 720)
        self._build()
        theme.apply(self.settings.get("theme", "System"))
        theme.follow_system(lambda: self.settings.get("theme", "System"))

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.chat = ChatPage(self)
        self.sidebar = Sidebar(self)
        self.header = QLabel("No model loaded")
        self.header.setObjectName("header")
        self.hardware = QComboBox()
        self.hardware.setToolTip("Where the model runs, and in which precision")
        self.hardware.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.hardware.activated.connect(lambda _: asyncio.ensure_future(self._hardware_chosen()))
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.hardware)

        split = QSplitter()
        split.addWidget(self.sidebar)
        split.addWidget(self.chat)
        split.setSizes([260, 840])
        self.models = ModelsPage(self)
        self.settings_page = SettingsPage(self)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(split, "Chat")
        self.tabs.addTab(self.models, "Models")
        self.tabs.addTab(self.settings_page, "Settings")
        self.tabs.currentChanged.connect(
            lambda i: self.tabs.widget(i) is self.models and asyncio.ensure_future(self.models.rescan()))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.load_progress = QProgressBar(maximumWidth=160, visible=False)
        self.load_progress.setRange(0, 0)          # engine.load reports no steps: a busy bar
        self.state_label = QLabel()
        self.statusBar().addPermanentWidget(self.load_progress)
        self.statusBar().addPermanentWidget(self.state_label)

        file_menu = self.menuBar().addMenu("&File")
        open_model = QAction("Open model…", self, triggered=lambda: asyncio.ensure_future(self.open_model_dialog()))
        open_folder = QAction("Open model folder…", self,
                              triggered=lambda: asyncio.ensure_future(self.open_model_folder_dialog()))
        new = QAction("New chat", self, shortcut=QKeySequence.New, triggered=self.chat.new_chat)
        stop = QAction("Stop", self, shortcut=QKeySequence(Qt.Key_Escape), triggered=self.chat.stop)
        quit_ = QAction("Quit", self, shortcut=QKeySequence.Quit, triggered=self.close)
        save_state = QAction("Save conversation and state…", self,
                             triggered=lambda: asyncio.ensure_future(self.export_dialog()))
        load_state = QAction("Load conversation and state…", self,
                             triggered=lambda: asyncio.ensure_future(self.import_dialog()))
        tuning = QAction("Apply state-tuning file…", self,
                         triggered=lambda: asyncio.ensure_future(self.tuning_dialog()))
        for a in (new, open_model, open_folder, tuning, save_state, load_state, stop, quit_):
            file_menu.addAction(a)
        self.addAction(stop)

    # -- model ---------------------------------------------------------------------------------

    async def load_model(self, source: str, device: str = "cpu", precision: str = "auto") -> bool:
        """Load ``source`` on the engine thread; a streaming reply is stopped (and saved) first."""
        await self.chat.stop_and_wait()
        self.chat.set_busy(True, f"Loading {Path(source).name}…")
        self.load_progress.show()

        def load():
            model = engine.load(source, device=device, precision=precision)
            return model, tokenizer_for(model)

        try:
            t0 = time.perf_counter()
            self.model, self.tokenizer = await self.worker.submit(load)
        except (EngineError, OSError) as e:
            self.chat.set_busy(False, "")
            QMessageBox.warning(self, "Could not load the model", str(e))
            return False
        finally:
            self.load_progress.hide()
        self.tuning, self.tuning_path = None, None
        self._show_header()
        self._fill_hardware()
        self.settings.set("model", source)
        self.settings.set("device", device)
        self.settings.set("precision", precision)
        self.state_label.setText(f"State {self.model.new_state().nbytes / 2**20:.2f} MiB — constant, "
                                 "whatever the length of the chat")
        self.chat.forget()
        self.chat.set_busy(False, f"Model loaded in {time.perf_counter() - t0:.1f} s")
        self.sidebar.refresh()
        self.models.show_library()
        return True

    def _show_header(self) -> None:
        info = self.model.info
        tuning = f" · state tuning: {html.escape(Path(self.tuning_path).name)}" if self.tuning_path else ""
        self.header.setText(f"<b>{html.escape(info.name)}</b> — RWKV-{info.generation}, "
                            f"{info.n_params / 1e6:.1f}M parameters · {self.model.device.type.upper()} "
                            f"{self.model.precision}{tuning}")

    def _fill_hardware(self) -> None:
        """Every device engine.host.hardware found, each with its valid precisions; the recommendation
        for this model is marked, the current choice selected."""
        info = self.model.info
        model_bytes = info.path.stat().st_size
        rec = hardware.recommend(model_bytes, info.n_params, self.devices)
        self.hardware.blockSignals(True)
        self.hardware.clear()
        for d in self.devices:
            for precision in d.precisions:
                per_weight = hardware.BYTES_PER_PARAM.get(precision)
                label = f"{d.kind.upper()} {precision} — {d.name}, {d.memory_bytes / 2**30:.0f} GiB"
                if (d.id, precision) == (rec.device, rec.precision):
                    label += "  ★"          # the recommendation (its reason is the tooltip)
                elif per_weight is not None and not hardware.fits(d, info.n_params * per_weight):
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
        path, _ = QFileDialog.getOpenFileName(self, "Open an RWKV model", str(Path.home()), MODEL_FILTER)
        if path:
            await self.load_model(path, self.settings.get("device", "cpu"), self.settings.get("precision", "auto"))

    async def open_model_folder_dialog(self) -> None:
        """A Hugging Face model folder (fla-hub RWKV-7, transformers' RWKV-4): a file picker cannot
        choose a folder, so this is its own dialog; the engine says if the folder is not a model."""
        folder = QFileDialog.getExistingDirectory(self, "Open a Hugging Face model folder", str(Path.home()))
        if folder:
            await self.load_model(folder, self.settings.get("device", "cpu"), self.settings.get("precision", "auto"))

    # -- state tuning, export and import ----------------------------------------------------------

    async def tuning_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Apply a state-tuning file", str(Path.home()), TUNING_FILTER)
        if path:
            await self.apply_tuning(path)

    async def apply_tuning(self, path: str | None) -> bool:
        """Use a state-tuning file's state to start new chats (None: back to the plain model).

        The engine checks the file against the loaded model (generation, layers, heads, head size);
        a file for another model is refused with the engine's message and nothing changes. A file
        of the right shape whose name says another generation (``rwkv-x060-…`` on an RWKV-7) is
        refused too: the tensors cannot tell, and its state would only garble the replies."""
        if self.model is None:
            self.statusBar().showMessage("Load a model first: a state-tuning file belongs to one model")
            return False
        if self.chat.busy:
            self.statusBar().showMessage("Wait for the reply to finish (or stop it) first")
            return False
        model = self.model
        try:
            state = None if path is None else await self.worker.submit(lambda: State.from_tuning_file(path, model))
            if path is not None:
                check_named_generation(path, model.info.generation)
        except (EngineError, OSError) as e:
            QMessageBox.warning(self, "Could not use the state-tuning file",
                                f"{e}\n\nThe model ({model.info.describe()}) is unchanged; "
                                "new chats start as before.")
            return False
        self.tuning, self.tuning_path = state, path
        self.chat.new_chat()
        self._show_header()
        self.statusBar().showMessage(f"New chats start from {Path(path).name}" if path else "State tuning off")
        return True

    async def export_dialog(self) -> None:
        if self.chat.conv_id is None or self.chat.busy:
            self.statusBar().showMessage("Open a conversation to save it")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save conversation and state", "conversation.rwkvchat",
                                              "RWKV Desktop conversations (*.rwkvchat)")
        if path:
            await self.export_to(Path(path))

    async def export_to(self, path: Path) -> None:
        conv_id, model, store = self.chat.conv_id, self.model, self.store
        await self.worker.submit(lambda: store.export(conv_id, path, model))
        self.statusBar().showMessage(f"Saved the conversation and its state to {path.name}")

    async def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load conversation and state", str(Path.home()),
                                              "RWKV Desktop conversations (*.rwkvchat);;All files (*)")
        if path:
            await self.import_from(Path(path))

    async def import_from(self, path: Path) -> bool:
        if self.model is None or self.chat.busy:
            return False
        model, store = self.model, self.store
        try:
            conv = await self.worker.submit(lambda: store.import_(path, model))
        except (EngineError, StoreError, OSError) as e:
            QMessageBox.warning(self, "Could not load the conversation", str(e))
            return False
        self.sidebar.refresh()
        await self.chat.open_conversation(conv.id)
        return True

    # -- window ------------------------------------------------------------------------------------

    def restore_geometry(self) -> None:
        geometry = self.settings.get("geometry")
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.settings.set("geometry", bytes(self.saveGeometry().toBase64()).decode())
        self.worker.stop()
        self.models.pause_downloads()
        super().closeEvent(event)
