"""The main window: the loaded model and where it runs at the top, the chat below, menus.

Everything the window shows comes from :class:`app.state.AppState` (the engine service's client on
the Qt thread); the pages subscribe to its signals and never reach each other. The window owns the
file dialogs and how failures are shown: a failed reply under the conversation, anything else in a
dialog; after either the window is usable as before.
"""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QT_TRANSLATE_NOOP, QByteArray, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.host import hardware

from . import precision_probe, theme
from .chat_page import ChatPage
from .models_page import ModelsPage
from .remote_dialog import RemoteDialog
from .server_page import ServerPage
from .settings_page import SettingsPage
from .sidebar import Sidebar
from .state import AppState
from .text_size import TextSize

# File-dialog filters (translated where used: self.tr(MODEL_FILTER)).
MODEL_FILTER = QT_TRANSLATE_NOOP("MainWindow", "RWKV models (*.pth *.safetensors);;All files (*)")
# Official state tuning is a .pth; Ai00 writes .state (safetensors); conversions use .safetensors.
STATUS_MS = 10000       # how long a status message stays unless it says otherwise
TUNING_FILTER = QT_TRANSLATE_NOOP("MainWindow", "State-tuning files (*.pth *.state *.safetensors);;All files (*)")


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, devices: list[hardware.Device] | None = None):
        super().__init__()
        self.state, self.settings = state, state.settings
        self.devices = devices if devices is not None else hardware.detect()
        state.devices = self.devices
        self.failure: tuple[str, str] | None = None      # the last failure shown in a dialog
        self.setWindowTitle("RWKV Desktop")
        self.resize(1100, 720)
        self._build()
        theme.apply(self.settings.get("theme", "System"))
        theme.follow_system(lambda: self.settings.get("theme", "System"))
        state.modelChanged.connect(self._model_changed)
        state.tuningChanged.connect(self._show_header)
        state.busyChanged.connect(lambda _: self.load_progress.setVisible(bool(state.loading)))
        state.status.connect(self.show_status)
        state.failed.connect(self._failed)
        state.preferenceChanged.connect(lambda key: key == "precision_probes" and self._fill_hardware())

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.chat = ChatPage(self.state)
        self.sidebar = Sidebar(self.state, new_chat=self.chat.new_chat)
        self.sidebar.opened.connect(lambda: self.chat.input.setFocus(Qt.OtherFocusReason))
        self.header = QLabel(self.tr("No model loaded"), wordWrap=True)     # narrow windows: two lines, not clipped
        self.header.setObjectName("header")
        self.header.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.hardware = QComboBox()
        self.hardware.setToolTip(self.tr("Where the model runs, and in which precision"))
        # its whole entry where there is room; in a narrow window at least "CPU int8 — needs ~…", never "CPU bf1"
        self.hardware.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.hardware.setMinimumWidth(self.hardware.fontMetrics().horizontalAdvance("CPU int8 — needs ~0.0 GiB ·"))
        self.hardware.activated.connect(lambda _: asyncio.ensure_future(self._hardware_chosen()))
        self.clear_tuning = QToolButton(text=self.tr("Clear state tuning"), visible=False)
        self.clear_tuning.setToolTip(self.tr("New chats start from the model's own state again (chats begun with "
                                             "the tuning keep it)"))
        self.clear_tuning.clicked.connect(lambda: asyncio.ensure_future(self.apply_tuning(None)))
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.clear_tuning)
        top.addWidget(self.hardware)

        split = QSplitter()
        split.addWidget(self.sidebar)
        split.addWidget(self.chat)
        split.setSizes([260, 840])
        self.models = ModelsPage(self.state, self.devices, self.open_model_dialog, self.open_model_folder_dialog,
                                 self.remote_dialog)
        self.settings_page = SettingsPage(self.state, self.devices, self.models.add_folder_dialog)
        self.server_page = ServerPage(self.state)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(split, self.tr("Chat"))
        self.tabs.addTab(self.models, self.tr("Models"))
        self.tabs.addTab(self.server_page, self.tr("Server"))
        self.tabs.addTab(self.settings_page, self.tr("Settings"))
        self.tabs.currentChanged.connect(
            lambda i: self.tabs.widget(i) is self.models and asyncio.ensure_future(self.models.rescan()))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.load_progress = QProgressBar(maximumWidth=160, visible=False)
        self.load_progress.setRange(0, 0)          # loading reports no steps: a busy bar
        self.state_label = QLabel()
        self.statusBar().addPermanentWidget(self.load_progress)
        self.statusBar().addPermanentWidget(self.state_label)

        file_menu = self.menuBar().addMenu(self.tr("&File"))
        file_menu.setToolTipsVisible(True)          # a feature that is off says why
        remote = QAction(self.tr("Remote server (OpenAI-compatible)…"), self, triggered=self.remote_dialog)
        remote.setToolTip(self.tr("Chat with a model that a server runs: RWKV Desktop's, Ai00, llama.cpp, Ollama…"))
        open_model = QAction(self.tr("Open model…"), self,
                             triggered=lambda: asyncio.ensure_future(self.open_model_dialog()))
        open_folder = QAction(self.tr("Open model folder…"), self,
                              triggered=lambda: asyncio.ensure_future(self.open_model_folder_dialog()))
        new = QAction(self.tr("New chat"), self, shortcut=QKeySequence.New, triggered=self.chat.new_chat)
        stop = QAction(self.tr("Stop"), self, shortcut=QKeySequence(Qt.Key_Escape), triggered=self.chat.stop)
        quit_ = QAction(self.tr("Quit"), self, shortcut=QKeySequence.Quit, triggered=self.close)
        save_state = QAction(self.tr("Save conversation and state…"), self,
                             triggered=lambda: asyncio.ensure_future(self.export_dialog()))
        load_state = QAction(self.tr("Load conversation and state…"), self,
                             triggered=lambda: asyncio.ensure_future(self.import_dialog()))
        tuning = QAction(self.tr("Apply state-tuning file…"), self,
                         triggered=lambda: asyncio.ensure_future(self.tuning_dialog()))
        clear_tuning = QAction(self.tr("Clear state tuning"), self,
                               triggered=lambda: asyncio.ensure_future(self.apply_tuning(None)))
        self.clear_tuning_action = clear_tuning         # on only while a tuning file is applied
        export_md = QAction(self.tr("Export as Markdown…"), self,
                            triggered=lambda: asyncio.ensure_future(self.export_text_dialog("markdown")))
        export_json = QAction(self.tr("Export as JSON…"), self,
                              triggered=lambda: asyncio.ensure_future(self.export_text_dialog("json")))
        for a in (new, open_model, open_folder, remote, tuning, clear_tuning, save_state, load_state):
            file_menu.addAction(a)
        file_menu.addSeparator()
        for a in (export_md, export_json):
            file_menu.addAction(a)
        file_menu.addSeparator()
        for a in (stop, quit_):
            file_menu.addAction(a)
        self.addAction(stop)

        edit_menu = self.menuBar().addMenu(self.tr("&Edit"))
        find = QAction(self.tr("Search conversations and messages"), self, shortcut=QKeySequence.Find,
                       triggered=self.find)
        copy_reply = QAction(self.tr("Copy last reply"), self, shortcut=QKeySequence("Ctrl+Shift+C"),
                             triggered=lambda: self.chat.copy_message())
        # Up is the message field's own key (MessageBox), not a shortcut: shown beside the item only.
        edit_last = QAction(self.tr("Edit last message") + "\tUp", self, triggered=self.chat.edit_last)
        regenerate = QAction(self.tr("Regenerate"), self, shortcut=QKeySequence("Ctrl+R"),
                             triggered=self.chat.regenerate)
        for a in (find, copy_reply, edit_last, regenerate):
            edit_menu.addAction(a)
        self.addActions([find, copy_reply, regenerate])

        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        help_menu.addAction(QAction(self.tr("Keyboard shortcuts"), self, triggered=self.show_shortcuts))
        help_menu.addAction(QAction(self.tr("About RWKV Desktop"), self, triggered=self.show_about))

        # The chat's text size (the conversation, the message field, the completion text): app.text_size.
        # Its View menu stands before Help (made after it: the menus' own order stays File, Edit, Help).
        self.text_size = TextSize(self.state, self)
        self.text_size.follow(self.chat.view, self.chat.input, self.chat.completion.text)
        view_menu = QMenu(self.tr("&View"), self)
        zoom = self.text_size.actions(self)
        view_menu.addActions(zoom)
        self.menuBar().insertMenu(help_menu.menuAction(), view_menu)
        self.addActions(zoom)
        self.shortcut_actions = [new, find, copy_reply, edit_last, regenerate, *zoom, stop, quit_]
        # actions that need a model on this computer: (action, feature, its tooltip when available)
        self.local_actions = [(tuning, "tuning", ""), (clear_tuning, "tuning", ""), (save_state, "save_state", ""),
                              (load_state, "load_state", "")]

    # -- model ---------------------------------------------------------------------------------

    async def load_model(self, source: str, device: str = "cpu", precision: str = "auto") -> bool:
        """Load ``source`` (replies are stopped and stored first); False, with a dialog, if it failed."""
        return await self.state.load_model(source, device, precision)

    def _model_changed(self) -> None:
        model = self.state.model
        self._show_header()
        self._fill_hardware()
        for action, feature, tip in self.local_actions:
            why = model.unavailable(feature) if model is not None else None
            action.setEnabled(why is None and (action is not self.clear_tuning_action or bool(self.state.tuning)))
            action.setToolTip(why or tip or action.text())
        if model is not None and model.is_remote:
            # Which model on which server: the messages beside it (a failure, a feature that is off) say
            # "remote server" themselves, so the label does not say it again.
            metrics = self.state_label.fontMetrics()
            name = metrics.elidedText(model.name, Qt.ElideMiddle, metrics.horizontalAdvance("x" * 28))
            self.state_label.setText(self.tr("{0} on {1}").format(name, urlsplit(model.remote).netloc or model.remote))
            self.state_label.setToolTip(f"{model.name} — {model.remote}\n" + (
                self.tr("Remote: the server's state cache reads only each new turn") if
                model.server == "rwkv-desktop" else self.tr("Remote: every message resends the chat")))
        elif model is not None:
            self.state_label.setText(self.tr("State {0} MiB").format(f"{model.state_bytes / 2**20:.2f}"))
            self.state_label.setToolTip(self.tr("The whole chat lives in a state of this size: constant, whatever "
                                                "the length of the chat"))

    def _show_header(self) -> None:
        m = self.state.model
        if m is None:
            self.header.setText(self.tr("No model loaded"))
            self.clear_tuning.setVisible(False)
            return
        if m.is_remote:
            self.clear_tuning.setVisible(False)
            self.header.setText(self.tr("<b>{0}</b> — remote server {1}").format(html.escape(m.name),
                                                                                html.escape(m.remote)))
            self.header.setToolTip(m.description[0].upper() + m.description[1:] + ".")
            return
        self.header.setToolTip("")
        self.clear_tuning.setVisible(bool(self.state.tuning))
        self.clear_tuning_action.setEnabled(bool(self.state.tuning))
        tuning = self.tr(" · state tuning: {0}").format(html.escape(self.state.tuning)) if self.state.tuning else ""
        device = "CPU" if m.device == "cpu" else m.device.upper()
        self.header.setText(self.tr("<b>{0}</b> — RWKV-{1}, {2}M parameters · {3} {4}{5}").format(
            html.escape(m.name), m.generation, f"{m.n_params / 1e6:.1f}", device, m.precision, tuning))


    def _fill_hardware(self) -> None:
        """Every device engine.host.hardware found, each with its valid precisions and the memory this
        model needs in each; the recommendation for this model is marked, the current choice selected."""
        m = self.state.model
        self.hardware.blockSignals(True)
        self.hardware.clear()
        self.hardware.setEnabled(m is None or not m.is_remote)
        if m is not None and m.is_remote:
            self.hardware.addItem(self.tr("On the server"))
            self.hardware.setToolTip(m.unavailable("precision"))
        elif m is not None:
            found, borrowed = precision_probe.for_model(self.settings, m.fingerprint)
            rec = hardware.recommend(m.file_bytes, m.n_params, self.devices, found)
            for d in self.devices:
                for precision in d.precisions:
                    per_weight = hardware.BYTES_PER_PARAM.get(precision)
                    need = "" if per_weight is None else self.tr("needs ~{0} GiB · ").format(
                        f"{hardware.needed_bytes(int(m.n_params * per_weight)) / 2**30:.1f}")
                    label = f"{d.kind.upper()} {precision} — {need}{d.name}, {d.memory_bytes / 2**30:.1f} GiB"
                    if (d.id, precision) == (rec.device, rec.precision):
                        label += "  ★"          # the recommendation (its reason is the tooltip)
                    elif per_weight is not None and not hardware.fits(d, m.n_params * per_weight):
                        label += self.tr("  (does not fit)")
                    self.hardware.addItem(label, (d.id, precision))
                    if (d.id, precision) == (m.device, m.precision):
                        self.hardware.setCurrentIndex(self.hardware.count() - 1)
            self.hardware.setToolTip(rec.reason + (self.tr(" (measured on another model here, until this "
                                                           "one is measured)") if borrowed else ""))
        self.hardware.blockSignals(False)

    async def _hardware_chosen(self) -> None:
        m = self.state.model
        if m is None or m.is_remote:
            return
        device, precision = self.hardware.currentData()
        if (device, precision) == (m.device, m.precision):
            return
        await self.load_model(m.path, device=device, precision=precision)

    async def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Open an RWKV model"), str(Path.home()),
                                              self.tr(MODEL_FILTER))
        if path:
            await self.load_model(path, self.settings.get("device", "cpu"), self.settings.get("precision", "auto"))

    async def open_model_folder_dialog(self) -> None:
        """A Hugging Face model folder (fla-hub RWKV-7, transformers' RWKV-4): a file picker cannot
        choose a folder, so this is its own dialog; the engine says if the folder is not a model."""
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open a Hugging Face model folder"), str(Path.home()))
        if folder:
            await self.load_model(folder, self.settings.get("device", "cpu"), self.settings.get("precision", "auto"))

    def remote_dialog(self) -> RemoteDialog:
        """Choose a remote OpenAI-compatible server and its model (non-modal: the window goes on)."""
        dialog = RemoteDialog(self.state, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        self.remote = dialog
        dialog.open()
        return dialog

    def show_status(self, message: str, ms: int = STATUS_MS) -> None:
        """A message in the status bar, elided to the room left of the permanent labels (so it never
        runs under the state size) with the whole of it as the tooltip. ``ms`` 0 keeps it until the
        next one: only for progress that a later message replaces (loading, generating)."""
        bar = self.statusBar()
        right = min((w.x() for w in (self.load_progress, self.state_label) if w.isVisible()), default=bar.width())
        text = bar.fontMetrics().elidedText(message, Qt.ElideRight, max(right - 24, 120))
        self.status_ms = ms
        bar.setToolTip(message if text != message else "")
        bar.showMessage(text, ms)

    def _needs_local(self, feature: str) -> bool:
        """Say why ``feature`` is off (a remote server), if it is."""
        why = self.state.model.unavailable(feature) if self.state.model is not None else None
        if why:
            self.show_status(why)
        return why is not None

    # -- state tuning, export and import ----------------------------------------------------------

    async def tuning_dialog(self) -> None:
        if self._needs_local("tuning"):
            return
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Apply a state-tuning file"), str(Path.home()),
                                              self.tr(TUNING_FILTER))
        if path:
            await self.apply_tuning(path)

    async def apply_tuning(self, path: str | None) -> bool:
        """Start new chats from a state-tuning file's state (None: back to the model's own).

        The engine checks the file against the loaded model (generation, layers, heads, head size,
        a name that says another generation); a file for another model is refused with its message
        and nothing changes."""
        if self.state.model is None:
            self.show_status(self.tr("Load a model first: a state-tuning file belongs to one model"))
            return False
        return await self.state.apply_tuning(path)

    async def export_dialog(self) -> None:
        if self._needs_local("save_state"):
            return
        if self.state.conversation is None:
            self.show_status(self.tr("Open a conversation to save it"))
            return
        name = _file_name(self.state.conversation.title) + ".rwkvchat"    # as the exports: the chat's title, home
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Save conversation and state"), str(Path.home() / name),
                                              self.tr("RWKV Desktop conversations (*.rwkvchat)"))
        if path:
            await self.export_to(Path(path))

    async def export_to(self, path: Path) -> bool:
        return await self.state.export(path)

    async def export_text_dialog(self, format: str) -> None:
        if self.state.conversation is None:
            self.show_status(self.tr("Open a conversation to export it"))
            return
        suffix, kind = (".md", self.tr("Markdown (*.md)")) if format == "markdown" else \
            (".json", self.tr("JSON (*.json)"))
        name = _file_name(self.state.conversation.title) + suffix
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export the conversation"), str(Path.home() / name), kind)
        if path:
            await self.state.export_text(Path(path), format)

    async def import_dialog(self) -> None:
        if self._needs_local("load_state"):
            return
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Load conversation and state"), str(Path.home()),
                                              self.tr("RWKV Desktop conversations (*.rwkvchat);;All files (*)"))
        if path:
            await self.import_from(Path(path))

    async def import_from(self, path: Path) -> bool:
        if self.state.model is None:
            return False
        return await self.state.import_(path)

    # -- shortcuts and help -----------------------------------------------------------------------

    def find(self) -> None:
        """Ctrl+F: the conversation list's search (titles and the text of every message)."""
        self.tabs.setCurrentIndex(0)
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    def shortcuts_text(self) -> str:
        rows = [(self.tr("Send"), "Enter"), (self.tr("New line"), "Shift+Enter")]
        for a in self.shortcut_actions:
            what, _, keys = a.text().replace("&", "").partition("\t")
            if keys:
                what += self.tr(" (in an empty message field)")
            rows.append((what, keys or ", ".join(k.toString(QKeySequence.NativeText) for k in a.shortcuts())))
        rows += [(self.tr("Delete the selected conversation (in the list)"),
                  QKeySequence(QKeySequence.Delete).toString(QKeySequence.NativeText)),
                 (self.tr("Undo a deletion"), QKeySequence(QKeySequence.Undo).toString(QKeySequence.NativeText)),
                 (self.tr("Generate (plain completion)"), "Ctrl+Enter"),
                 (self.tr("Next field"), "Tab")]
        return "".join(f"<tr><td>{html.escape(what)}</td><td>&nbsp;&nbsp;<b>{html.escape(keys)}</b></td></tr>"
                       for what, keys in rows)

    def show_shortcuts(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Information, self.tr("Keyboard shortcuts"),
                          f"<table>{self.shortcuts_text()}</table>", QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        self.help_box = box
        box.open()
        return box

    def about_text(self) -> str:
        folder = html.escape(str(self.state.service.store.data_dir))
        return self.tr(
            "<h3>RWKV Desktop {0}</h3><p>Runs RWKV language models on this computer: chats stay here, "
            "with their states.</p>"
            "<p><b>Data folder</b> (conversations, states, settings):<br>{1}</p>"
            "<p><b>Licences</b>: RWKV Desktop is under the Apache License 2.0. It uses Qt for Python "
            "(PySide6, LGPL-3.0), PyTorch (BSD-3-Clause), Hugging Face tokenizers, safetensors and "
            "huggingface_hub (Apache-2.0), Pygments (BSD-2-Clause), NumPy (BSD-3-Clause), Starlette "
            "and Uvicorn (BSD-3-Clause). RWKV models are published by their authors under their own "
            "licences (the official RWKV-7 models: Apache-2.0).</p>").format(html.escape(_version()), folder)

    def show_about(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.NoIcon, self.tr("About RWKV Desktop"), self.about_text(), QMessageBox.Ok, self)
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.setAttribute(Qt.WA_DeleteOnClose)
        self.help_box = box
        box.open()
        return box

    # -- failures and the window -------------------------------------------------------------------

    def _failed(self, title: str, message: str, inline: bool) -> None:
        if inline:
            self.chat.show_error(message)
            self.show_status(title)
            return
        self.failure = (title, message)
        box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()                  # not exec(): the window goes on while the message is read

    def restore_geometry(self) -> None:
        geometry = self.settings.get("geometry")
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.settings.set("geometry", bytes(self.saveGeometry().toBase64()).decode())
        self.state.stop()
        self.models.pause_downloads()
        super().closeEvent(event)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rwkv-desktop")
    except PackageNotFoundError:        # run from a source tree that was never installed
        return "(development)"


def _file_name(title: str) -> str:
    """A conversation's title as a file name to suggest: letters, digits and a few marks only."""
    name = re.sub(r"[^\w .,()-]+", "", title, flags=re.UNICODE).strip(" .")[:60]
    return name or "conversation"
