"""The "Remote server" dialog: an OpenAI-compatible server's address and key, the models it lists,
and one to chat with. It only draws and forwards: listing and connecting are the application
state's (:meth:`app.state.AppState.list_remote_models`, :meth:`~app.state.AppState.connect_remote`).
The key is shown masked and goes to the address's host only (see :mod:`engine.service.openai_http`)."""

from __future__ import annotations

import asyncio
import html

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
)

from engine.errors import EngineError
from engine.service import Listing

from .i18n import error_text
from .state import AppState


def _kind(ours: bool) -> str:
    """What chatting through this kind of server means (translated when shown, not at import)."""
    if ours:
        return QCoreApplication.translate(
            "RemoteDialog", "<b>RWKV Desktop's server.</b> Every message resends the conversation, and the server's "
            "state cache reads only the new turn, so long chats stay quick. Save/load state and state tuning need "
            "a model on this computer.")
    return QCoreApplication.translate(
        "RemoteDialog", "<b>An OpenAI-compatible server.</b> Every message resends the whole conversation, which "
        "the server reads again. Continue, think modes, save/load state and state tuning are off.")


class RemoteDialog(QDialog):
    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.listing: Listing | None = None
        self.setWindowTitle(self.tr("Remote server (OpenAI-compatible)"))
        settings = state.settings
        self.url = QLineEdit(settings.get("remote_url", ""), placeholderText="http://host:8000/v1")
        self.url.setToolTip(self.tr("The API's base address: …/v1 for most servers (RWKV Desktop, llama.cpp, "
                                    "Ollama), …/api/oai/v1 for Ai00"))
        self.key = QLineEdit(settings.get("remote_key", ""), placeholderText=self.tr("optional"))
        self.key.setEchoMode(QLineEdit.Password)
        self.key.setToolTip(self.tr("Sent as 'Authorization: Bearer KEY' to this address's host only"))
        self.list_button = QPushButton(self.tr("List models"),
                                       clicked=lambda: asyncio.ensure_future(self.list_models()))
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.list_button)
        self.models = QListWidget()
        self.models.itemDoubleClicked.connect(lambda _: asyncio.ensure_future(self.connect()))
        self.models.currentItemChanged.connect(lambda *_: self._update())
        self.info = QLabel(wordWrap=True, textFormat=Qt.RichText)
        self.error = QLabel(wordWrap=True, visible=False, textInteractionFlags=Qt.TextSelectableByMouse)
        self.error.setStyleSheet("color: #b3261e;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.connect_button = self.buttons.addButton(self.tr("Connect"), QDialogButtonBox.AcceptRole)
        self.connect_button.clicked.connect(lambda: asyncio.ensure_future(self.connect()))
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.tr("URL:"), url_row)
        form.addRow(self.tr("API key:"), self.key)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(self.tr("Models:")))
        layout.addWidget(self.models, 1)
        layout.addWidget(self.info)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(560, 420)
        self._update()

    async def list_models(self) -> bool:
        """Ask the server for its models; the list (or why not) is shown."""
        self._say("")
        self.list_button.setEnabled(False)
        try:
            self.listing = await self.state.list_remote_models(self.url.text(), self.key.text().strip())
        except EngineError as e:
            self.listing = None
            self._say(error_text(e))
            return False
        finally:
            self.list_button.setEnabled(True)
            self._fill()
        return True

    async def connect(self) -> bool:
        """Connect with the chosen model (the list is fetched first if need be); closes on success."""
        if self.listing is None and not await self.list_models():
            return False
        item = self.models.currentItem()
        if item is None:
            self._say(self.tr("Choose a model."))
            return False
        self.connect_button.setEnabled(False)
        try:
            ok = await self.state.connect_remote(self.listing.url, self.key.text().strip(), item.text())
        finally:
            self.connect_button.setEnabled(True)
        if ok:
            self.accept()
        else:
            self._say(self.tr("Could not connect; see the message."))
        return ok

    def _fill(self) -> None:
        self.models.clear()
        if self.listing is not None:
            self.models.addItems(list(self.listing.models))
            chosen = self.state.settings.get("remote_model")
            matches = self.models.findItems(chosen, Qt.MatchExactly) if chosen else []
            self.models.setCurrentItem(matches[0] if matches else self.models.item(0))
        self._update()

    def _update(self) -> None:
        listing = self.listing
        if listing is None:
            self.info.setText(self.tr("Enter the server's address and press <b>List models</b>."))
        else:
            n = len(listing.models)
            count = self.tr("{url}: 1 model.") if n == 1 else self.tr("{url}: {n} models.")
            self.info.setText(self.tr("{count} {kind}").format(count=count.format(url=html.escape(listing.url), n=n),
                                                               kind=_kind(listing.ours)))
        self.connect_button.setEnabled(listing is None or self.models.currentItem() is not None)

    def _say(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
