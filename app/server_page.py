"""The Server page: the local OpenAI-compatible server's switch, its settings, the URL to copy, and
a live log of the requests it answers. It draws :class:`app.local_server.LocalServer` (owned by the
application state) and forwards what the user asks for; it keeps nothing of its own."""

from __future__ import annotations

import asyncio
import html
import time
from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.service import mask_key

from .state import AppState

if TYPE_CHECKING:
    from engine.server import RequestRecord

class ServerPage(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state, self.server = state, state.server
        self.switch = QCheckBox(self.tr("Serve the loaded model to other apps (OpenAI-compatible API)"))
        self.switch.setObjectName("switch")
        self.switch.toggled.connect(self._switched)
        self.port = QSpinBox(minimum=1, maximum=65535)
        self.port.setToolTip(self.tr("The port other apps connect to (8000 unless another program uses it)"))
        self.port.editingFinished.connect(lambda: self.server.configure(port=self.port.value()))
        self.key = QLineEdit(placeholderText=self.tr("optional on this computer; needed for other computers"))
        self.key.setEchoMode(QLineEdit.Password)
        self.key.setToolTip(self.tr("Apps must send it as 'Authorization: Bearer KEY' (the openai client's api_key)"))
        self.key.editingFinished.connect(lambda: self.server.configure(api_key=self.key.text().strip()))
        self.lan = QCheckBox(self.tr("Allow other computers (listens on every network address; needs the API key)"))
        self.lan.toggled.connect(lambda on: self.server.configure(lan=on))
        self.url = QLineEdit(readOnly=True, placeholderText=self.tr("(the server is off)"))
        self.copy = QPushButton(self.tr("Copy"), clicked=self._copy)
        self.copy.setToolTip(self.tr("Copy the URL: use it as base_url in OpenAI clients"))
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.copy)
        self.status = QLabel(wordWrap=True)
        self.status.setObjectName("muted")

        box = QGroupBox(self.tr("Local server"))
        form = QFormLayout(box)
        form.addRow(self.switch)
        form.addRow(self.tr("Port:"), self.port)
        form.addRow(self.tr("API key:"), self.key)
        form.addRow("", self.lan)
        form.addRow(self.tr("URL:"), url_row)
        form.addRow(self.status)

        log_box = QGroupBox(self.tr("Requests"))
        self.log = QTreeWidget()
        self.log.setHeaderLabels([self.tr("Time"), self.tr("Endpoint"), self.tr("Prompt tokens (cached)"),
                                   self.tr("Reply tokens"), self.tr("Tokens/s"), self.tr("Status")])
        self.log.setRootIsDecorated(False)
        self.log.header().setSectionResizeMode(QHeaderView.ResizeToContents)
        clear = QPushButton(self.tr("Clear"), clicked=self._clear)
        clear_row = QHBoxLayout()
        clear_row.addWidget(QLabel(self.tr("Counts only: prompts and replies are never logged.")), 1)
        clear_row.addWidget(clear)
        lb = QVBoxLayout(log_box)
        lb.addWidget(self.log)
        lb.addLayout(clear_row)

        self._tips = {w: w.toolTip() for w in (self.port, self.key, self.lan)}
        layout = QVBoxLayout(self)
        layout.addWidget(box)
        layout.addWidget(log_box, 1)
        self.server.changed.connect(self.refresh)
        self.server.requestLogged.connect(self._add)
        state.modelChanged.connect(self.refresh)
        self.refresh()
        for record in self.server.records:
            self._add(record)

    def refresh(self) -> None:
        s = self.server
        self.switch.blockSignals(True)
        self.switch.setChecked(s.running)
        self.switch.blockSignals(False)
        for w in (self.port, self.lan):
            w.blockSignals(True)
        self.port.setValue(s.port)
        self.lan.setChecked(s.lan)
        for w in (self.port, self.lan):
            w.blockSignals(False)
        if not self.key.hasFocus():
            self.key.setText(s.api_key)
        for w, tip in self._tips.items():
            w.setEnabled(not s.running)
            w.setToolTip(self.tr("Stop the server to change this") if s.running else tip)
        self.url.setText(s.url)
        self.copy.setEnabled(s.running)
        self.status.setText(self._status_text())

    def _status_text(self) -> str:
        s, model = self.server, self.state.model
        if s.error and not s.running:
            return f"<span style='color:#b3261e'>{html.escape(s.error)}</span>"
        if not s.running:
            return self.tr("Off. When on, apps written for OpenAI (the openai library, editors, chat front ends) "
                           "can use the model loaded here, while you keep chatting.")
        if s.api_key:
            key = self.tr("API key {key}").format(key=html.escape(mask_key(s.api_key)))
        else:
            key = self.tr("no API key")
        if s.lan:
            on = self.tr("On for other computers too ({key}).")
        else:
            on = self.tr("On for apps on this computer ({key}).")
        if model is None:
            served = self.tr("No model is loaded: requests get 503 until one is.")
        elif model.is_remote:
            served = self.tr("The chats use a remote server now: load a model on this computer to serve it (until "
                             "then requests get 503).")
        else:
            served = self.tr("Serving <b>{model}</b>.").format(model=html.escape(model.name))
        # (Chinese sentences follow each other without a space.)
        return self.tr("{on} {served}").format(on=on.format(key=key), served=served)

    def _switched(self, on: bool) -> None:
        self.port.clearFocus()
        self.server.configure(port=self.port.value(), api_key=self.key.text().strip(), lan=self.lan.isChecked())
        asyncio.ensure_future(self.server.set_enabled(on))

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.url.text())
        self.state.status.emit(self.tr("Copied the server's URL"), 5000)

    def _clear(self) -> None:
        self.server.records.clear()
        self.log.clear()

    def _add(self, r: RequestRecord) -> None:
        prompt = "" if r.prompt_tokens is None else f"{r.prompt_tokens:,} ({r.cached_tokens or 0:,})"
        reply = "" if r.completion_tokens is None else f"{r.completion_tokens:,}"
        speed = "" if r.tokens_per_s is None else f"{r.tokens_per_s:.1f}"
        # A client that went away (mid-stream, or before any answer) is not a request answered with 200.
        status = self.tr("client left") if r.client_left or not r.status else str(r.status)
        if r.stream:
            status = self.tr("{status} (stream)").format(status=status)
        item = QTreeWidgetItem([time.strftime("%H:%M:%S", time.localtime(r.time)), f"{r.method} {r.endpoint}",
                                prompt, reply, speed, status])
        if r.error:
            item.setToolTip(5, r.error)
            item.setToolTip(1, r.error)
        self.log.insertTopLevelItem(0, item)
        while self.log.topLevelItemCount() > self.server.records.maxlen:
            self.log.takeTopLevelItem(self.log.topLevelItemCount() - 1)
