"""The conversation list on the left: new chat, search, open, rename, delete with undo.

Delete (the context menu or the Del key) hides a conversation and offers Undo (the button, or
Ctrl+Z while it shows) for :data:`UNDO_SECONDS`; after that it is purged from disk, text and
states (leftovers of a quit within that time are purged at the next start, by
:class:`app.state.AppState`).

In the search box Down goes to the first match, Enter opens the highlighted (else the first)
match, Esc clears the search, and in an empty box gives the focus back to where it was before the
sidebar had it (the message field after Ctrl+F). Up on the list's first row goes back to the box."""

from __future__ import annotations

import asyncio

import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from .markup import plain_title
from .state import AppState

UNDO_SECONDS = 10


class _ElidedTitles(QStyledItemDelegate):
    """Rows as wide as the list, so a long title ends in "…" instead of scrolling the list sideways."""

    def sizeHint(self, option, index):  # noqa: N802 - Qt's name
        size = super().sizeHint(option, index)
        size.setWidth(0)
        return size


class Sidebar(QWidget):
    opened = Signal()          # a chat was opened from the keyboard: the window gives the message field focus

    def __init__(self, state: AppState, new_chat=None):
        super().__init__()
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.new_button = QPushButton(self.tr("New chat"), clicked=new_chat or state.new_chat)
        self.search = QLineEdit(placeholderText=self.tr("Search conversations"))
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self._open_match)
        self.search.installEventFilter(self)
        self._focus_before = None
        QApplication.instance().focusChanged.connect(self._focus_moved)
        self.conversations = QListWidget()
        self.conversations.setItemDelegate(_ElidedTitles(self.conversations))
        self.conversations.setTextElideMode(Qt.ElideRight)
        self.conversations.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.conversations.installEventFilter(self)
        self.conversations.itemActivated.connect(self._open_and_leave)
        self.conversations.itemClicked.connect(self._open_item)
        # The menu acts on the chat under the pointer; the list's highlight then goes back to the open one.
        self.conversations.setContextMenuPolicy(Qt.CustomContextMenu)
        self.conversations.customContextMenuRequested.connect(self._context_menu)
        delete = QAction(self.tr("Delete"), self.conversations, shortcut=QKeySequence.Delete,
                         triggered=self.delete_selected, shortcutContext=Qt.WidgetShortcut)
        rename = QAction(self.tr("Rename…"), self.conversations, triggered=self.rename_selected)
        self.conversations.addActions([rename, delete])
        self.menu_actions = [rename, delete]
        self.undo_bar = QWidget(visible=False)
        self.undo_label = QLabel(wordWrap=True)
        # a long title wraps under the list instead of widening the sidebar
        self.undo_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.undo_button = QPushButton(self.tr("Undo"), clicked=self._undo)
        bar = QHBoxLayout(self.undo_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.undo_label, 1)
        bar.addWidget(self.undo_button)
        # a shortcut of the bar is live only while the bar shows; text fields keep Ctrl+Z (ShortcutOverride)
        self.undo_shortcut = QShortcut(QKeySequence.Undo, self.undo_bar, self._undo, context=Qt.WindowShortcut)
        self._undo_timer = QTimer(self, singleShot=True, interval=UNDO_SECONDS * 1000, timeout=self._undo_expired)
        self._deleted: int | None = None
        self._deleted_was_open = False
        for w in (self.new_button, self.search, self.conversations, self.undo_bar):
            layout.addWidget(w)
        state.conversationsChanged.connect(self.refresh)
        state.conversationChanged.connect(self._select_current)
        state.busyChanged.connect(lambda busy: self.new_button.setEnabled(not busy or state.conversation is not None))
        self.refresh()

    def refresh(self) -> None:
        self.conversations.clear()
        for conv in self.state.conversations(self.search.text().strip() or None):
            title = plain_title(conv.title)
            item = QListWidgetItem(title)
            item.setData(Qt.UserRole, conv.id)
            item.setToolTip(f"{title}\n{conv.model_name}")
            self.conversations.addItem(item)
        self._select_current()

    def _select_current(self) -> None:
        current = self.state.conversation.id if self.state.conversation is not None else None
        self.conversations.blockSignals(True)
        self.conversations.clearSelection()
        for i in range(self.conversations.count()):
            item = self.conversations.item(i)
            if item.data(Qt.UserRole) == current:
                self.conversations.setCurrentItem(item)
        self.conversations.blockSignals(False)

    def _open_item(self, item: QListWidgetItem) -> None:
        asyncio.ensure_future(self.state.open(item.data(Qt.UserRole)))

    def _open_match(self) -> None:
        """Enter in the search box: the highlighted match, else the first one, as a click would."""
        item = self.conversations.currentItem() or self.conversations.item(0)
        if item is not None:
            self._open_and_leave(item)

    def _open_and_leave(self, item: QListWidgetItem) -> None:
        """Open a chat from the keyboard (Enter) or a double click: what is typed next is a message."""
        self._open_item(item)
        self.opened.emit()

    def _focus_moved(self, old, new) -> None:
        if old is not None and new is not None and self.isAncestorOf(new) and not self.isAncestorOf(old):
            self._focus_before = old

    def _leave_search(self) -> None:
        """Esc in an empty search box: back to where the focus was before the sidebar (the message
        field after Ctrl+F), else to the list."""
        back = self._focus_before
        if back is not None and shiboken6.isValid(back) and back.isVisible() and back.isEnabled():
            back.setFocus(Qt.OtherFocusReason)
        else:
            self.conversations.setFocus(Qt.OtherFocusReason)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if watched is self.search and kind == QEvent.ShortcutOverride and event.key() == Qt.Key_Escape:
            event.accept()                  # the box's Esc, not the window's Stop
            return True
        if watched is self.search and kind == QEvent.KeyPress:
            if event.key() == Qt.Key_Escape:
                if self.search.text():
                    self.search.clear()
                else:
                    self._leave_search()
                return True
            if event.key() == Qt.Key_Down and self.conversations.count():
                self.conversations.setCurrentRow(0)
                self.conversations.setFocus(Qt.TabFocusReason)
                return True
        if (watched is self.conversations and kind == QEvent.KeyPress and event.key() == Qt.Key_Up
                and self.conversations.currentRow() <= 0):
            self.search.setFocus(Qt.BacktabFocusReason)
            return True
        return super().eventFilter(watched, event)

    def selected_id(self) -> int | None:
        item = self.conversations.currentItem()
        return None if item is None else item.data(Qt.UserRole)

    def _context_menu(self, pos) -> None:
        item = self.conversations.itemAt(pos)
        if item is None:
            return
        self.conversations.setCurrentItem(item)         # the chat the menu's actions act on
        menu = QMenu(self)
        menu.addActions(self.menu_actions)
        menu.aboutToHide.connect(lambda: QTimer.singleShot(0, self._select_current))  # after its action ran
        menu.popup(self.conversations.viewport().mapToGlobal(pos))
        self._menu = menu

    def delete_selected(self) -> None:
        item = self.conversations.currentItem()
        if item is None:
            return
        conv_id, title = item.data(Qt.UserRole), item.text()
        asyncio.ensure_future(self._delete(conv_id, title))

    async def _delete(self, conv_id: int, title: str) -> None:
        was_open = self.state.conversation is not None and self.state.conversation.id == conv_id
        await self.state.delete(conv_id)
        self._deleted, self._deleted_was_open = conv_id, was_open
        self.undo_label.setText(self.tr("Deleted “{0}”").format(title))

        self.undo_bar.setVisible(True)
        self._undo_timer.start()

    def _undo_expired(self) -> None:
        """Too late to undo: the deleted conversation's text and states leave the disk now."""
        self.undo_bar.setVisible(False)
        if self._deleted is not None:
            self._deleted = None
            asyncio.ensure_future(self.state.purge_deleted())

    def _undo(self) -> None:
        if self._deleted is not None:
            asyncio.ensure_future(self._restore(self._deleted, self._deleted_was_open))
            self._deleted = None
        self.undo_bar.setVisible(False)
        self.state.status.emit(self.tr("Restored"), 5000)

    async def _restore(self, conv_id: int, reopen: bool) -> None:
        """Bring a deleted chat back; one that was open when deleted is open again."""
        await self.state.restore(conv_id)
        if reopen and self.state.conversation is None:      # not if another chat was opened meanwhile
            await self.state.open(conv_id)

    def rename_selected(self) -> None:
        item = self.conversations.currentItem()
        if item is None:
            return
        title, ok = QInputDialog.getText(self, self.tr("Rename conversation"), self.tr("Title:"), text=item.text())
        if ok and title.strip():
            asyncio.ensure_future(self.state.rename(item.data(Qt.UserRole), title.strip()))
