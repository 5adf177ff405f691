"""The Settings page: where models come from (Hub mirror, download folder, model folders), the
theme, and what hardware this computer has. Every change is saved at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.host import hardware

from . import theme
from .state import AppState


class SettingsPage(QWidget):
    def __init__(self, state: AppState, devices: list[hardware.Device], add_folder: Callable[[], None]):
        super().__init__()
        self.state, self.devices = state, devices
        settings = self.settings = state.settings
        self.endpoint = QLineEdit(settings.get("endpoint", ""), placeholderText="https://huggingface.co")
        self.endpoint.setToolTip("A Hugging Face mirror, e.g. https://hf-mirror.com; empty for the Hub itself "
                                 "(or HF_ENDPOINT)")
        self.endpoint.editingFinished.connect(self._endpoint_changed)
        self.endpoint_error = QLabel(visible=False, wordWrap=True)
        self.endpoint_error.setStyleSheet("color: #c62828;")
        self.cache = QLineEdit(settings.get("hf_cache", ""), placeholderText="the Hugging Face cache (default)")
        self.cache.editingFinished.connect(self._cache_changed)
        browse = QPushButton("Choose…", clicked=self._choose_cache)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache, 1)
        cache_row.addWidget(browse)
        self.folders = QListWidget()
        self.folders.addItems(settings.get("model_dirs", []))
        self.folders.setMaximumHeight(110)
        add = QPushButton("Add…", clicked=add_folder)
        remove = QPushButton("Remove", clicked=self.remove_folder)
        folder_buttons = QHBoxLayout()
        folder_buttons.addStretch()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        self.theme = QComboBox()
        self.theme.addItems(list(theme.CHOICES))
        self.theme.setCurrentText(settings.get("theme", "System"))
        self.theme.currentTextChanged.connect(self._theme_changed)

        sources = QGroupBox("Models")
        form = QFormLayout(sources)
        form.addRow("Hub endpoint (mirror):", self.endpoint)
        form.addRow("", self.endpoint_error)
        form.addRow("Download folder:", cache_row)
        form.addRow("Model folders:", self.folders)
        form.addRow("", folder_buttons)
        look = QGroupBox("Appearance")
        QFormLayout(look).addRow("Theme:", self.theme)
        hw = QGroupBox("Hardware")
        self.hardware = QLabel(self._describe_hardware())
        self.hardware.setWordWrap(True)
        QVBoxLayout(hw).addWidget(self.hardware)
        layout = QVBoxLayout(self)
        for box in (sources, look, hw):
            layout.addWidget(box)
        layout.addStretch()
        state.preferenceChanged.connect(lambda key: key == "model_dirs" and self.refresh_folders())

    def refresh_folders(self) -> None:
        self.folders.clear()
        self.folders.addItems(self.settings.get("model_dirs", []))

    def remove_folder(self) -> None:
        item = self.folders.currentItem()
        if item is None:
            return
        dirs = [d for d in self.settings.get("model_dirs", []) if d != item.text()]
        self.state.set_preference("model_dirs", dirs)

    def _endpoint_changed(self) -> None:
        """Save the mirror, or refuse it with the reason (the saved one stays) when it is not an http(s) URL."""
        text = self.endpoint.text().strip()
        why = endpoint_problem(text)
        if why is not None:
            self.endpoint_error.setText(why)
            self.endpoint_error.setVisible(True)
            return
        self.endpoint_error.setVisible(False)
        self.state.set_preference("endpoint", text.rstrip("/"))

    def _cache_changed(self) -> None:
        self.state.set_preference("hf_cache", self.cache.text().strip())

    def _choose_cache(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Download models to", self.cache.text() or str(Path.home()))
        if folder:
            self.cache.setText(folder)
            self._cache_changed()

    def _theme_changed(self, choice: str) -> None:
        self.state.set_preference("theme", choice)
        theme.apply(choice)

    def _describe_hardware(self) -> str:
        lines = []
        for d in self.devices:
            mem = f"{d.memory_bytes / 2**30:.1f} GiB {'RAM' if d.kind == 'cpu' else 'VRAM'}"
            if d.free_bytes is not None:
                mem += f" ({d.free_bytes / 2**30:.1f} GiB free)"
            cores = f", {d.cores} cores" if d.cores else ""
            features = f", {' '.join(d.features)}" if d.features else ""
            lines.append(f"<b>{d.kind.upper()}</b> {d.name}{cores}, {mem}{features}; precisions "
                         f"{'/'.join(d.precisions)}")
        return "<br>".join(lines) or "No devices were detected."


def endpoint_problem(text: str) -> str | None:
    """Why ``text`` cannot be a Hub mirror (None when it can: empty, or an http(s) URL with a host)."""
    if not text:
        return None
    url = urlsplit(text)
    if "://" not in text:
        return QCoreApplication.translate("SettingsPage", "“{text}” has no scheme: write https://{text} (or "
                                          "http://…) so it is clear how to reach it. Not saved.").format(text=text)
    if url.scheme not in ("http", "https"):
        return QCoreApplication.translate("SettingsPage", "A mirror is an http:// or https:// address; “{text}” "
                                          "is not. Not saved.").format(text=text)
    if not url.hostname:
        return QCoreApplication.translate("SettingsPage", "“{text}” names no host. Not saved.").format(text=text)
    return None
