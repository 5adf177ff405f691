"""The Settings page: where models come from (Hub mirror, download folder, model folders), the
theme, the chat's text size and the language, and what hardware this computer has. Every change is saved at once (a new
language is used from the next start)."""

from __future__ import annotations

import html
import tempfile
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

from . import i18n, text_size, theme
from .state import AppState


class SettingsPage(QWidget):
    def __init__(self, state: AppState, devices: list[hardware.Device], add_folder: Callable[[], None]):
        super().__init__()
        self.state, self.devices = state, devices
        settings = self.settings = state.settings
        self.endpoint = QLineEdit(settings.get("endpoint", ""), placeholderText="https://huggingface.co")
        self.endpoint.setToolTip(self.tr("A Hugging Face mirror, e.g. https://hf-mirror.com; empty for the Hub "
                                         "itself (or HF_ENDPOINT)"))
        self.endpoint.editingFinished.connect(self._endpoint_changed)
        self.endpoint_error = QLabel(visible=False, wordWrap=True)
        self.endpoint_error.setStyleSheet("color: #c62828;")
        self.cache = QLineEdit(settings.get("hf_cache", ""),
                               placeholderText=self.tr("the Hugging Face cache (default)"))
        self.cache.editingFinished.connect(self._cache_changed)
        self.cache_error = QLabel(visible=False, wordWrap=True)
        self.cache_error.setStyleSheet("color: #c62828;")
        browse = QPushButton(self.tr("Choose…"), clicked=self._choose_cache)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache, 1)
        cache_row.addWidget(browse)
        self.folders = QListWidget()
        self.folders.addItems(settings.get("model_dirs", []))
        self.folders.setMaximumHeight(110)
        add = QPushButton(self.tr("Add…"), clicked=add_folder)
        remove = QPushButton(self.tr("Remove"), clicked=self.remove_folder)
        folder_buttons = QHBoxLayout()
        folder_buttons.addStretch()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        self.theme = QComboBox()
        names = {"System": self.tr("System"), "Light": self.tr("Light"), "Dark": self.tr("Dark")}
        for choice in theme.CHOICES:
            self.theme.addItem(names.get(choice, choice), choice)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.get("theme", "System"))))
        self.theme.currentIndexChanged.connect(lambda _: self._theme_changed(self.theme.currentData()))

        sources = QGroupBox(self.tr("Models"))
        form = QFormLayout(sources)
        form.addRow(self.tr("Hub endpoint (mirror):"), self.endpoint)
        form.addRow("", self.endpoint_error)
        form.addRow(self.tr("Download folder:"), cache_row)
        form.addRow("", self.cache_error)
        form.addRow(self.tr("Model folders:"), self.folders)
        form.addRow("", folder_buttons)
        look = QGroupBox(self.tr("Appearance"))
        look_form = QFormLayout(look)
        look_form.addRow(self.tr("Theme:"), self.theme)
        look_form.addRow(self.tr("Text size:"), self._text_size_row())
        look_form.addRow(self.tr("Language:"), self._language_box())
        look_form.addRow("", self.language_note)
        hw = QGroupBox(self.tr("Hardware"))
        self.hardware = QLabel(self._describe_hardware())
        self.hardware.setWordWrap(True)
        QVBoxLayout(hw).addWidget(self.hardware)
        layout = QVBoxLayout(self)
        for box in (sources, look, hw):
            layout.addWidget(box)
        layout.addStretch()
        state.preferenceChanged.connect(lambda key: key == "model_dirs" and self.refresh_folders())
        state.preferenceChanged.connect(lambda key: key == text_size.KEY and self._show_text_size())

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
        """Save the download folder (created if missing), or refuse it with the reason (the saved one
        stays) when it cannot be created or written to."""
        text = self.cache.text().strip()
        folder = str(Path(text).expanduser()) if text else ""
        why = folder_problem(folder) if folder else None
        if why is not None:
            self.cache_error.setText(why)
            self.cache_error.setVisible(True)
            return
        self.cache_error.setVisible(False)
        if folder != self.cache.text():
            self.cache.setText(folder)         # "~/models" is saved as the folder it names
        if folder != self.settings.get("hf_cache", ""):
            self.state.set_preference("hf_cache", folder)

    def _choose_cache(self) -> None:
        start = self.cache.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, self.tr("Download models to"), start)
        if folder:
            self.cache.setText(folder)
            self._cache_changed()

    def _theme_changed(self, choice: str) -> None:
        self.state.set_preference("theme", choice)
        theme.apply(choice)

    def _text_size_row(self) -> QHBoxLayout:
        """The chat's text size as a percentage, with Reset; the shortcuts change the same
        preference (app.text_size), and the box follows them."""
        self.text_size = QComboBox()
        for scale in text_size.STEPS:
            self.text_size.addItem(self.tr("{0}%").format(scale), scale)
        self.text_size.setToolTip(self.tr("The size of the conversation's text, the message field and the plain "
                                          "completion (Ctrl+= larger, Ctrl+- smaller, Ctrl+0 default, or "
                                          "Ctrl+wheel over the chat)"))
        self.text_size.currentIndexChanged.connect(
            lambda _: self.state.set_preference(text_size.KEY, self.text_size.currentData()))
        self.text_size_reset = QPushButton(self.tr("Reset"), clicked=lambda: self.state.set_preference(
            text_size.KEY, text_size.DEFAULT))
        self.text_size_reset.setToolTip(self.tr("Back to the default size ({0}%)").format(text_size.DEFAULT))
        self._show_text_size()
        row = QHBoxLayout()
        row.addWidget(self.text_size)
        row.addWidget(self.text_size_reset)
        row.addStretch()
        return row

    def _show_text_size(self) -> None:
        scale = text_size.scale_of(self.settings)
        self.text_size.blockSignals(True)
        self.text_size.setCurrentIndex(self.text_size.findData(scale))
        self.text_size.blockSignals(False)
        self.text_size_reset.setEnabled(scale != text_size.DEFAULT)

    def _language_box(self) -> QComboBox:
        """The interface language: the system's (the default) or one the app speaks, each named in
        itself. A change is saved at once and used from the next start; a note says so."""
        self.language = QComboBox()
        system = i18n.LANGUAGES[i18n.resolve("system")]
        self.language.addItem(self.tr("System ({language})").format(language=system), "system")
        for code, name in i18n.LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(self.settings.get("language", "system"))))
        self.language.currentIndexChanged.connect(lambda _: self._language_changed(self.language.currentData()))
        self.language_note = QLabel(wordWrap=True, visible=False)
        self.language_note.setObjectName("muted")
        return self.language

    def _language_changed(self, choice: str) -> None:
        self.state.set_preference("language", choice)
        code = i18n.resolve(choice)
        if code == i18n.active():
            self.language_note.setVisible(False)
            return
        note = self.tr("Restart RWKV Desktop to use the new language.")
        # Also said in the language chosen, which its reader may need more than the current one.
        translator = i18n.translator_for(code)
        theirs = translator.translate("SettingsPage", "Restart RWKV Desktop to use the new language.") \
            if translator is not None else "Restart RWKV Desktop to use the new language."
        self.language_note.setText(note if theirs in ("", note) else f"{note}\n{theirs}")
        self.language_note.setVisible(True)

    def _describe_hardware(self) -> str:
        lines = []
        for d in self.devices:
            size = f"{d.memory_bytes / 2**30:.1f}"
            mem = self.tr("{size} GiB RAM").format(size=size) if d.kind == "cpu" else \
                self.tr("{size} GiB VRAM").format(size=size)
            if d.free_bytes is not None:
                mem += self.tr(" ({size} GiB free)").format(size=f"{d.free_bytes / 2**30:.1f}")
            cores = self.tr(", {n} cores").format(n=d.cores) if d.cores else ""
            features = self.tr(", {flags}").format(flags=" ".join(d.features)) if d.features else ""
            lines.append(self.tr("<b>{kind}</b> {name}{cores}, {memory}{features}; precisions {precisions}").format(
                kind=d.kind.upper(), name=html.escape(d.name), cores=cores, memory=mem, features=features,
                precisions="/".join(d.precisions)))
        return "<br>".join(lines) or self.tr("No devices were detected.")


def folder_problem(folder: str) -> str | None:
    """Why downloads cannot go to ``folder`` (None when they can): it is not a whole path, cannot be
    created, or cannot be written to. A missing folder is created; a temporary file tries writing."""
    path = Path(folder)
    if not path.is_absolute():
        return QCoreApplication.translate("SettingsPage", "“{folder}” is not a whole path: write it from the top "
                                          "(for example {example}). Not saved.").format(
            folder=folder, example=str(Path.home() / folder))
    if path.exists() and not path.is_dir():
        return QCoreApplication.translate("SettingsPage", "“{folder}” is a file, not a folder. Not saved.").format(
            folder=folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return QCoreApplication.translate("SettingsPage", "The folder “{folder}” cannot be created: {reason}. "
                                          "Not saved.").format(folder=folder, reason=e.strerror or e)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        return QCoreApplication.translate("SettingsPage", "Files cannot be written in “{folder}”: {reason}. "
                                          "Not saved.").format(folder=folder, reason=e.strerror or e)
    return None


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
