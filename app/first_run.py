"""The first-run card: what RWKV Desktop is, that the demo model only knows word definitions, the
model recommended for this computer with one Download button, and how to open a file the user
already has.

It is shown at launch while only the demo has ever been loaded (the first launch, and later ones
until a real model is loaded), unless the user ticked "Don't show this again". It is a non-modal
dialog over the window that takes the focus, with Download as its default button: Enter starts the
download on the Models page, where its progress is shown.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from engine.host import library

GB = 1e9


def wanted(settings) -> bool:
    """Whether the card is due: no model but the demo was ever loaded, the chats are local, and the
    user did not turn it off."""
    if settings.get("first_run_hidden") or settings.get("backend") == "remote":
        return False
    model = settings.get("model")
    if model in (None, "", "demo"):
        return True
    try:
        return Path(model).resolve() == library.bundled("demo").resolve()
    except OSError:
        return False


class FirstRunCard(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle(self.tr("Welcome to RWKV Desktop"))
        self.entry, where = window.models.recommended()
        title = QLabel(self.tr("<h2>Welcome to RWKV Desktop</h2>"))
        intro = QLabel(self.tr(
            "RWKV Desktop chats with RWKV language models on this computer: your conversations never leave "
            "it, and each one is resumed from its saved state in milliseconds, however long it is."))
        demo = QLabel(self.tr(
            "The model loaded now is a <b>tiny demo</b> that only knows word definitions (ask it what "
            "“harbor” means). For real conversations, download a model."))
        for label in (intro, demo):
            label.setWordWrap(True)
        self.download_button = QPushButton(self.tr("Download"), clicked=self.download)
        if self.entry is not None:
            size = f"{self.entry.size / GB:.1f} GB"
            pick = QLabel(self.tr("Recommended for {where}: <b>{name}</b> ({size})").format(
                where=where, name=self.entry.filename, size=size))
            pick.setToolTip(window.models.recommendation.toolTip())
        else:
            pick = QLabel(self.tr("No official RWKV-7 model fits {where}; the Models page lists smaller and "
                                  "older ones.").format(where=where))
            self.download_button.setText(self.tr("Show the models"))
        pick.setWordWrap(True)
        self.open_button = QPushButton(self.tr("Open a model file…"), clicked=self.open_file)
        self.open_button.setToolTip(self.tr("A .pth or .safetensors RWKV model you already have (File ▸ Open "
                                            "model… later)"))
        self.later_button = QPushButton(self.tr("Not now"), clicked=self.reject)
        self.dont_show = QCheckBox(self.tr("Don't show this again"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.dont_show)
        buttons.addStretch()
        for b in (self.later_button, self.open_button, self.download_button):
            b.setAutoDefault(False)
            buttons.addWidget(b)
        self.download_button.setDefault(True)
        layout = QVBoxLayout(self)
        for widget in (title, intro, demo, pick):
            layout.addWidget(widget)
        layout.addSpacing(8)
        layout.addLayout(buttons)
        self.setMinimumWidth(560)
        self.finished.connect(self._remember)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.raise_()
        self.activateWindow()
        self.download_button.setFocus(Qt.ActiveWindowFocusReason)

    def download(self):
        """Start the recommended model's download on the Models page (shown), and close."""
        models = self.window_.models
        self.window_.tabs.setCurrentWidget(models)
        started = models.download(self.entry) if self.entry is not None else None
        self.accept()
        return started

    def open_file(self) -> None:
        self.accept()
        asyncio.ensure_future(self.window_.open_model_dialog())

    def _remember(self, _result: int) -> None:
        if self.dont_show.isChecked():
            self.window_.state.set_preference("first_run_hidden", True)


def show(window) -> FirstRunCard:
    """Open the card over ``window`` (non-modal: the window goes on behind it)."""
    card = FirstRunCard(window)
    card.setAttribute(Qt.WA_DeleteOnClose)
    window.first_run = card
    card.open()
    return card
