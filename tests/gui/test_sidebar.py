"""The conversation list, driven from the keyboard (offscreen): search keys, Ctrl+Z after a delete, long titles."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.gui.util import run, send, until  # noqa: E402


def _window(loop, make_window, ckpt, qtbot, *titles):
    """A window with one conversation per title (the newest first in the list), none open."""
    win = make_window()
    run(loop, win.load_model(str(ckpt)))
    for title in titles:
        win.chat.new_chat()
        send(loop, win, title, qtbot)
    win.chat.new_chat()
    win.activateWindow()
    qtbot.waitActive(win)
    return win


def _titles(win) -> list[str]:
    return [win.sidebar.conversations.item(i).text() for i in range(win.sidebar.conversations.count())]


def test_search_keys_down_enter_and_esc(loop, make_window, world_ckpt, qtbot):
    """Down goes to the first match, Enter opens a match and leaves for the message field (what is
    typed next is a message), Esc clears the box and then leaves it for the field the focus came
    from (the message field, after Ctrl+F)."""
    win = _window(loop, make_window, world_ckpt, qtbot, "Apple pie", "Banana bread", "Apple tart")
    bar = win.sidebar
    win.chat.input.setFocus()
    qtbot.keyClick(win.chat.input, Qt.Key_F, Qt.ControlModifier)
    assert bar.search.hasFocus()
    qtbot.keyClicks(bar.search, "apple")
    assert _titles(win) == ["Apple tart", "Apple pie"]
    qtbot.keyClick(bar.search, Qt.Key_Return)                   # nothing highlighted: the first match
    run(loop, until(lambda: win.state.conversation is not None, 10))
    assert win.state.conversation.title == "Apple tart" and win.chat.input.hasFocus()

    bar.search.setFocus()
    qtbot.keyClick(bar.search, Qt.Key_Down)
    assert bar.conversations.hasFocus() and bar.conversations.currentRow() == 0
    qtbot.keyClick(bar.conversations, Qt.Key_Down)
    qtbot.keyClick(bar.conversations, Qt.Key_Return)
    run(loop, until(lambda: win.state.conversation.title == "Apple pie", 10))
    assert win.chat.input.hasFocus()
    bar.conversations.setFocus()
    qtbot.keyClick(bar.conversations, Qt.Key_Up)
    qtbot.keyClick(bar.conversations, Qt.Key_Up)                 # from the top row back to the box
    assert bar.search.hasFocus()
    qtbot.keyClick(bar.search, Qt.Key_Return)                    # the highlighted match
    run(loop, until(lambda: win.state.conversation.title == "Apple tart", 10))

    bar.search.setFocus()
    qtbot.keyClick(bar.search, Qt.Key_Escape)
    assert bar.search.text() == "" and len(_titles(win)) == 3 and bar.search.hasFocus()
    qtbot.keyClick(bar.search, Qt.Key_Escape)
    assert win.chat.input.hasFocus()


def test_ctrl_z_undoes_a_delete_but_text_fields_keep_their_own_undo(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, qtbot, "Keep me", "Drop me")
    bar = win.sidebar
    bar.conversations.setCurrentRow(0)
    bar.conversations.setFocus()
    qtbot.keyClick(bar.conversations, Qt.Key_Delete)
    run(loop, until(lambda: _titles(win) == ["Keep me"]))
    assert bar.undo_bar.isVisible()

    for field in (win.chat.input, bar.search):
        field.setFocus()
        qtbot.keyClicks(field, "typo")
        qtbot.keyClick(field, Qt.Key_Z, Qt.ControlModifier)     # the field's undo, not the delete's
        assert "typo" not in (field.text() if field is bar.search else field.toPlainText())
        assert bar.undo_bar.isVisible()
    QApplication.processEvents()
    assert _titles(win) == ["Keep me"]

    bar.conversations.setFocus()
    qtbot.keyClick(bar.conversations, Qt.Key_Z, Qt.ControlModifier)
    run(loop, until(lambda: _titles(win) == ["Drop me", "Keep me"], 10))
    assert not bar.undo_bar.isVisible()
    assert "Ctrl+Z" in win.shortcuts_text()


def test_a_long_title_is_elided_and_never_scrolls_or_widens_the_list(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, qtbot, "Short")
    bar = win.sidebar
    QApplication.processEvents()
    width, hint, minimum = bar.width(), bar.sizeHint().width(), bar.minimumSizeHint().width()
    title = "A very long title " * 20
    conv = bar.conversations.item(0).data(Qt.UserRole)
    run(loop, win.state.rename(conv, title))
    run(loop, until(lambda: bar.conversations.item(0).text() == title.strip()))
    QApplication.processEvents()
    lst = bar.conversations
    assert lst.horizontalScrollBar().maximum() == 0 and not lst.horizontalScrollBar().isVisible()
    assert lst.visualItemRect(lst.item(0)).right() < lst.viewport().width()     # drawn elided, in view
    assert lst.item(0).toolTip().startswith(title.strip())
    assert (bar.width(), bar.sizeHint().width(), bar.minimumSizeHint().width()) == (width, hint, minimum)


def test_undo_opens_again_a_chat_that_was_open_when_deleted_and_leaves_another_open_one(loop, make_window,
                                                                                       world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, qtbot, "First", "Second")
    bar = win.sidebar
    run(loop, win.state.open(next(c.id for c in win.state.conversations() if c.title == "Second")))
    second = win.state.conversation
    bar.conversations.setCurrentRow(0)                          # the open one (newest first)
    bar.delete_selected()
    run(loop, until(lambda: _titles(win) == ["First"] and bar.undo_bar.isVisible(), 10))
    bar.undo_button.click()
    run(loop, until(lambda: win.state.conversation is not None and win.state.conversation.id == second.id, 10))

    run(loop, win.state.open(next(c.id for c in win.state.conversations() if c.title == "First")))
    bar.conversations.setCurrentRow(0)                          # "Second": not the open one
    bar.delete_selected()
    run(loop, until(lambda: _titles(win) == ["First"] and bar.undo_bar.isVisible(), 10))
    bar.undo_button.click()
    run(loop, until(lambda: _titles(win) == ["Second", "First"], 10))
    assert win.state.conversation.title == "First"
