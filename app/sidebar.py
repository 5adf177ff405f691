"""The conversation list on the left: new chat, search, open, rename, delete with undo."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class Sidebar(QWidget):
    def __init__(self, main):
        super().__init__()
        self.main = main
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.new_button = QPushButton("New chat", clicked=lambda: main.chat.new_chat())
        self.search = QLineEdit(placeholderText="Search conversations")
        self.search.textChanged.connect(self.refresh)
        self.conversations = QListWidget()
        self.conversations.itemActivated.connect(self._open_item)
        self.conversations.itemClicked.connect(self._open_item)
        self.conversations.setContextMenuPolicy(Qt.ActionsContextMenu)
        delete = QAction("Delete", self.conversations, shortcut=QKeySequence.Delete,
                         triggered=self.delete_selected, shortcutContext=Qt.WidgetShortcut)
        rename = QAction("Rename…", self.conversations, triggered=self.rename_selected)
        self.conversations.addActions([rename, delete])
        for w in (self.new_button, self.search, self.conversations):
            layout.addWidget(w)

    def refresh(self) -> None:
        self.conversations.clear()
        current = self.main.chat.conv_id
        for conv in self.main.store.list(self.search.text().strip() or None):
            item = QListWidgetItem(conv.title)
            item.setData(Qt.UserRole, conv.id)
            self.conversations.addItem(item)
            if conv.id == current:
                self.conversations.setCurrentItem(item)

    def _open_item(self, item: QListWidgetItem) -> None:
        asyncio.ensure_future(self.main.chat.open_conversation(item.data(Qt.UserRole)))

    def selected_id(self) -> int | None:
        item = self.conversations.currentItem()
        return None if item is None else item.data(Qt.UserRole)

    def delete_selected(self) -> None:
        conv_id = self.selected_id()
        if conv_id is None or self.main.chat.busy:
            return
        store = self.main.store
        title = store.get(conv_id).title
        store.delete(conv_id)
        if conv_id == self.main.chat.conv_id:
            self.main.chat.new_chat()
        self.refresh()
        self._offer_undo(f"Deleted “{title}”", conv_id)

    def _offer_undo(self, message: str, conv_id: int) -> None:
        button = QPushButton("Undo")
        self.undo_button = button
        status = self.main.statusBar()

        def undo():
            self.main.store.undelete(conv_id)
            self.refresh()
            button.deleteLater()
            status.showMessage("Restored")

        button.clicked.connect(undo)
        status.addWidget(button)
        status.showMessage(message, 10000)
        QTimer.singleShot(10000, button, button.deleteLater)   # tied to the button: gone with the window

    def rename_selected(self) -> None:
        conv_id = self.selected_id()
        if conv_id is None:
            return
        store = self.main.store
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=store.get(conv_id).title)
        if ok and title.strip():
            store.update(conv_id, title=title.strip())
            self.refresh()
