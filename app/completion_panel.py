"""Plain completion: the model continues a text, with no chat template around it.

For what a chat template gets in the way of: a story to go on, a document's next paragraph, a
prompt written in another format. The text is sent whole as a :class:`~engine.service.commands.Complete`
request (the state cache skips what an earlier request already read), with the open conversation's
sampling settings and reply length, and the continuation streams into the same field. Nothing is
stored: copy the text out to keep it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from .state import AppState
from .text_size import WheelSteps


class CompletionText(QPlainTextEdit):
    """The text to continue. Ctrl+wheel changes the chat's text size (:mod:`app.text_size`), which
    this field follows, rather than zooming it alone while it is read-only."""

    zoomRequested = Signal(int)

    def __init__(self, **kw):
        super().__init__(**kw)
        self._wheel = WheelSteps()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._wheel.zoom(event, self.zoomRequested.emit):
            super().wheelEvent(event)


class CompletionPanel(QWidget):
    def __init__(self, state: AppState):
        super().__init__()
        self.state = state
        self.text = CompletionText(placeholderText=self.tr(
            "Write the beginning of a text: the model continues it as it is, with no chat roles around it."))
        self.generate_button = QPushButton(self.tr("Generate"), clicked=self.generate)
        self.generate_button.setToolTip(self.tr("Continue the text (Ctrl+Enter), with this conversation's sampling "
                                                "settings and reply length"))
        self.stop_button = QPushButton(self.tr("Stop"), clicked=self.stop, enabled=False)
        self.note = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.note.setObjectName("muted")
        buttons = QHBoxLayout()
        buttons.addWidget(self.note, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.generate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        state.completionDelta.connect(self._delta)
        state.completionEnded.connect(self._ended)
        state.modelChanged.connect(self._update)
        self._update()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and event.modifiers() & Qt.ControlModifier:
            self.generate()
            return
        super().keyPressEvent(event)

    def generate(self) -> None:
        text = self.text.toPlainText()
        if not text.strip() or self.state.completing or not self._available():
            return
        if self.state.complete(text) is not None:
            self.text.setReadOnly(True)
            self.text.moveCursor(QTextCursor.End)
            self.note.setText(self.tr("Writing…"))
            self._update()

    def stop(self) -> None:
        self.state.stop_completion()

    def _available(self) -> bool:
        model = self.state.model
        return model is not None and not model.is_remote

    def _update(self) -> None:
        model, busy = self.state.model, self.state.completing
        self.generate_button.setEnabled(self._available() and not busy)
        self.stop_button.setEnabled(busy)
        if model is not None and model.is_remote:
            self.note.setText(self.tr("Plain completion needs a model on this computer."))

    def _delta(self, piece: str) -> None:
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.End)
        cursor.insertText(piece)
        if not self.text.verticalScrollBar().isSliderDown():
            self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())

    def _ended(self, reason: str, tokens: int, seconds: float) -> None:
        self.text.setReadOnly(False)
        why = {"stop": self.tr("the end of the text"), "length": self.tr("the length limit"),
               "cancelled": self.tr("Stop")}.get(reason, reason)
        self.note.setText(self.tr("{0} tokens in {1:.1f} s, ended by {2}").format(tokens, seconds, why)
                          if reason != "failed" else self.tr("The completion failed (see the message)."))
        self._update()
