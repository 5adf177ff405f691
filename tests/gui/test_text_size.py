"""The chat's text size: Ctrl+= / Ctrl++ / Ctrl+- / Ctrl+0 and Ctrl+wheel, bounded; a preference
kept across launches and shown on the Settings page; the whole conversation scales (code blocks
and the counts under replies too) and stays scaled while a reply streams, the reader kept in place."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QTextCursor, QWheelEvent
from PySide6.QtWidgets import QApplication

from app import text_size
from app.settings import Settings
from tests.gui.util import block_layout, endless_settings, path, run, send, start_endless_reply, until

CODE_REPLY = "Here you are:\n\n```python\ndef double(x):\n    return 2 * x  # twice\n```\n\nDone."
LONG_REPLY = ("First, a paragraph long enough to wrap onto a second line in a window of ordinary width, so "
              "that wrapping is part of the layout too.\n\nSecond, with **bold** and `code`.\n\n"
              "```python\ndef double(x):\n    return 2 * x\n```\n\n## A heading\n\n- one\n- two\n\nThe end.")


def _natural(widget) -> float:
    """The system's point size for ``widget`` (what it has at 100%)."""
    return QApplication.font(widget).pointSizeF()


def _chat_sizes(win) -> tuple[float, float, float]:
    """The point sizes of the conversation's document, the message field and the completion text."""
    return (win.chat.view.document().defaultFont().pointSizeF(), win.chat.input.font().pointSizeF(),
            win.chat.completion.text.font().pointSizeF())


def _expect(win, percent: int) -> None:
    base = _natural(win.chat.view)
    assert _chat_sizes(win) == pytest.approx((base * percent / 100,) * 3, abs=0.01)


def _size_of(view, text: str) -> float:
    """The point size the view draws the first piece of text holding ``text`` in (as laid out:
    the document's default font with the piece's own relative size applied)."""
    block = view.document().begin()
    while block.isValid():
        for it in block:
            fragment = it.fragment()
            if text in fragment.text():
                return fragment.charFormat().font().pointSizeF()
        block = block.next()
    raise AssertionError(f"{text!r} is not in the view")


def _active(win, qtbot):
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    return win


def _ctrl_wheel(widget, notches: int) -> None:
    """Ctrl+wheel over ``widget``, ``notches`` notches away from the user (negative: towards)."""
    pos = QPointF(widget.rect().center())
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.NoButton, Qt.ControlModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _with_text(win, reply, text):
    win.state.conversation = win.state.conversation.with_message(replace(reply, text=text))
    win.chat.render()


def test_ctrl_plus_minus_and_zero_size_the_chat_text_within_bounds(make_window, qtbot):
    win = _active(make_window(), qtbot)
    base = _natural(win.chat.view)
    buttons = win.chat.send_button.font().pointSizeF(), win.sidebar.font().pointSizeF()
    _expect(win, 100)
    qtbot.keyClick(win.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    _expect(win, 110)
    assert win.settings.get("text_scale") == 110
    qtbot.keyClick(win.chat.input, Qt.Key_Plus, Qt.ControlModifier)
    _expect(win, 125)
    for _ in range(10):                         # bounded: 200% at most
        qtbot.keyClick(win.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    _expect(win, 200)
    assert _chat_sizes(win)[0] == pytest.approx(2 * base)
    # the sidebar, the buttons keep the system size
    assert (win.chat.send_button.font().pointSizeF(), win.sidebar.font().pointSizeF()) == buttons
    for _ in range(12):                         # and 80% at least
        qtbot.keyClick(win.chat.view, Qt.Key_Minus, Qt.ControlModifier)
    _expect(win, 80)
    qtbot.keyClick(win.chat.input, Qt.Key_0, Qt.ControlModifier)
    _expect(win, 100)
    assert win.settings.get("text_scale") == 100

    _ctrl_wheel(win.chat.view.viewport(), 2)    # Ctrl+wheel over the conversation: two notches, two steps
    _expect(win, 125)
    _ctrl_wheel(win.chat.view.viewport(), -1)
    _expect(win, 110)
    _ctrl_wheel(win.chat.view.viewport(), 0)
    _expect(win, 110)

    assert [a.text() for a in win.menuBar().actions()] == ["&File", "&Edit", "&View", "&Help"]
    assert [a.text() for a in win.menuBar().actions()[2].menu().actions()] == [
        "Larger text", "Smaller text", "Default text size"]
    shortcuts = win.shortcuts_text()            # Help ▸ Keyboard shortcuts
    for keys in ("Ctrl+=", "Ctrl++", "Ctrl+-", "Ctrl+0"):
        assert keys in shortcuts
    assert "Larger text" in shortcuts and "Smaller text" in shortcuts and "Default text size" in shortcuts


def test_the_text_size_is_kept_for_the_next_launch(make_window, qtbot, tmp_path):
    first = _active(make_window(), qtbot)
    for _ in range(3):
        qtbot.keyClick(first.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    _expect(first, 150)
    first.close()
    first.state.shutdown()
    assert Settings(tmp_path / "data" / "settings.json").get("text_scale") == 150

    second = make_window(tmp_path / "data")     # same data folder: the app after a restart
    _expect(second, 150)
    assert second.settings_page.text_size.currentData() == 150
    assert second.settings_page.text_size.currentText() == "150%"
    assert second.settings_page.text_size_reset.isEnabled()


def test_a_value_that_is_not_a_step_is_read_as_the_nearest_one(make_window, tmp_path):
    folder = tmp_path / "data"
    Settings(folder / "settings.json").set("text_scale", 1000)       # edited by hand
    win = make_window(folder)
    _expect(win, 200)
    assert text_size.snap("big") == 100 and text_size.snap(137) == 125 and text_size.snap(10) == 80


def test_code_blocks_and_the_counts_under_a_reply_scale_with_the_text(loop, make_window, world_ckpt, qtbot):
    win = _active(make_window(), qtbot)
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Show me code", qtbot)
    _with_text(win, path(win)[-1], CODE_REPLY)
    view = win.chat.view
    pieces = ("Here you are", "double", "python", "tokens/s", "Assistant")   # prose, code, its label, counts, header
    before = {p: _size_of(view, p) for p in pieces}
    assert before["tokens/s"] < before["Here you are"]          # the counts are smaller than the text...
    for _ in range(3):
        qtbot.keyClick(win.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    _expect(win, 150)
    after = {p: _size_of(view, p) for p in pieces}
    assert after == pytest.approx({p: 1.5 * s for p, s in before.items()}, rel=0.02)    # ...in proportion
    assert "monospace" in view.document().toHtml()              # code keeps its own family
    win.chat.render()                                           # a redraw (a branch switch, the theme) keeps it
    assert {p: _size_of(view, p) for p in pieces} == pytest.approx(after)

    # a streaming reply is laid out at the new size exactly as the finished page, so nothing jumps
    _with_text(win, path(win)[-1], "")
    reply = path(win)[-1]
    for end in (0, 120, 190, 260, len(LONG_REPLY)):
        win.state.streaming[reply.id] = LONG_REPLY[:end]
        view.update_tail()
        streamed = block_layout(view)
        if end:
            assert _size_of(view, LONG_REPLY[:8]) == pytest.approx(after["Here you are"])
        view.setHtml(view.page_html())
        finished = block_layout(view)
        assert [b[0] for b in streamed] == [b[0] for b in finished]
        assert [v for b in streamed for v in b[1:]] == pytest.approx([v for b in finished for v in b[1:]], abs=0.5)
        view.show_conversation(win.state.conversation, win.chat._text_of)
    win.state.streaming.pop(reply.id)


def test_a_streaming_reply_keeps_the_text_size_and_the_reader_at_its_end(loop, make_window, world_ckpt, qtbot,
                                                                         tmp_path):
    Settings(tmp_path / "data" / "settings.json").set("text_scale", 150)
    win = start_endless_reply(loop, make_window, world_ckpt)
    win.resize(900, 500)
    _active(win, qtbot)
    view, bar = win.chat.view, win.chat.view.verticalScrollBar()
    wanted = 1.5 * _natural(view)
    seen: list[tuple[float, float, bool]] = []

    def observe(grown_to: int) -> bool:
        """Each poll while the reply streams: the page's size, the reply's, and whether the view is at the end."""
        text = win.state.text_of(path(win)[-1].id)
        seen.append((view.document().defaultFont().pointSizeF(), _size_of(view, "Assistant"),   # the reply's
                     bar.value() == bar.maximum()))                                          # header, redrawn
        return bar.maximum() > 0 and len(text) > grown_to

    run(loop, until(lambda: observe(0)))
    grown = len(win.state.text_of(path(win)[-1].id))
    run(loop, until(lambda: observe(grown + 200)))              # a good many ticks of the reply
    assert seen and all(page == pytest.approx(wanted) and piece == pytest.approx(wanted) and at_end
                        for page, piece, at_end in seen)

    qtbot.keyClick(win.chat.input, Qt.Key_Minus, Qt.ControlModifier)     # smaller while it streams
    wanted = 1.25 * _natural(view)
    assert bar.value() == bar.maximum()                         # the reader is still at the end...
    seen.clear()
    grown = len(win.state.text_of(path(win)[-1].id))
    run(loop, until(lambda: observe(grown + 100)))
    assert all(page == pytest.approx(wanted) and piece == pytest.approx(wanted) and at_end
               for page, piece, at_end in seen)                 # ...and the reply still followed
    win.chat.stop()
    run(loop, until(lambda: not win.chat.busy))


def _top_line_holds(view, position: int) -> bool:
    """Whether the character at ``position`` is on the line at the top of the view."""
    cursor = QTextCursor(view.document())
    cursor.setPosition(position)
    rect = view.cursorRect(cursor)
    return -rect.height() < rect.top() <= 1


def test_zooming_a_long_chat_keeps_the_line_being_read_at_the_top(loop, make_window, world_ckpt, qtbot):
    win = _active(make_window(), qtbot)
    win.resize(900, 500)
    run(loop, win.load_model(str(world_ckpt)))
    win.state.draft_settings = replace(endless_settings(), max_tokens=60)
    for text in ("First", "Second", "Third"):
        send(loop, win, text, qtbot)
    view, bar = win.chat.view, win.chat.view.verticalScrollBar()
    assert bar.maximum() > 200
    bar.setValue(bar.maximum() // 2)
    top = view.cursorForPosition(QPoint(0, 0)).position()
    assert _top_line_holds(view, top)
    qtbot.keyClick(win.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    qtbot.keyClick(win.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    _expect(win, 125)
    assert _top_line_holds(view, top) and 0 < bar.value() < bar.maximum()
    bar.setValue(bar.maximum())
    qtbot.keyClick(win.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    assert bar.value() == bar.maximum() > 0                     # at the end stays at the end

    # A page long enough that Qt lays it out a part at a time after a font change (the scroll bar's
    # range catching up on a timer): the place is kept at once all the same.
    view.setHtml("".join(f"<p>Paragraph {i}: " + "words to wrap " * 30 + "</p>" for i in range(1500)))
    view.setTextCursor(QTextCursor(view.document().findBlockByNumber(1000)))
    view.ensureCursorVisible()                                  # the reader far down the page
    top = view.cursorForPosition(QPoint(0, 0)).position()
    assert view.document().findBlock(top).blockNumber() > 900
    qtbot.keyClick(win.chat.input, Qt.Key_Equal, Qt.ControlModifier)
    _expect(win, 175)
    assert _top_line_holds(view, top)
    qtbot.keyClick(win.chat.input, Qt.Key_0, Qt.ControlModifier)
    assert _top_line_holds(view, top)


def test_the_settings_page_shows_and_changes_the_text_size(make_window, qtbot):
    win = _active(make_window(), qtbot)
    page = win.settings_page
    assert page.text_size.currentText() == "100%" and not page.text_size_reset.isEnabled()
    assert [page.text_size.itemData(i) for i in range(page.text_size.count())] == list(text_size.STEPS)
    page.text_size.setCurrentIndex(page.text_size.findData(175))      # as a user picks it in the box
    _expect(win, 175)
    assert win.settings.get("text_scale") == 175 and page.text_size_reset.isEnabled()
    qtbot.keyClick(win.chat.input, Qt.Key_Minus, Qt.ControlModifier)   # the box follows the shortcuts
    assert page.text_size.currentText() == "150%"
    qtbot.mouseClick(page.text_size_reset, Qt.LeftButton)
    _expect(win, 100)
    assert page.text_size.currentText() == "100%" and not page.text_size_reset.isEnabled()
    assert win.settings.get("text_scale") == 100
