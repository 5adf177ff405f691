"""Reading a chat: highlighted code blocks with Copy, token counts under replies, light and dark
themes, and the keyboard (Enter, Shift+Enter are in test_window; here Ctrl+N and Esc)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication

from app import theme
from app.highlight import STYLES
from tests.gui.util import block_layout, path, run, send, start_endless_reply, until

CODE_REPLY = "Here you are:\n\n```python\ndef double(x):\n    return 2 * x  # twice\n```\n\nDone."
LONG_REPLY = ("First, a paragraph long enough to wrap onto a second line in a window of ordinary width, so "
              "that wrapping is part of the layout too.\n\nSecond, with **bold** and `code`.\n\n"
              "```python\ndef double(x):\n    return 2 * x\n```\n\n## A heading\n\n- one\n- two\n\nThe end.")


def _with_text(win, reply, text):
    """Show ``reply`` with ``text`` (what a real model would answer; the tiny random one cannot)."""
    win.state.conversation = win.state.conversation.with_message(replace(reply, text=text))
    win.chat.render()


def _with_code_reply(loop, win, qtbot):
    send(loop, win, "Show me code", qtbot)
    reply = path(win)[-1]
    _with_text(win, reply, CODE_REPLY)
    return reply


def test_code_blocks_are_highlighted_and_copy_puts_the_code_on_the_clipboard(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    _with_code_reply(loop, win, qtbot)
    page = win.chat.view.toHtml()
    assert "action:copy:0" in page
    from pygments.styles import get_style_by_name
    from pygments.token import Keyword

    keyword = get_style_by_name(STYLES[win.chat.view.colours.dark]).style_for_token(Keyword)["color"]
    assert re.search(rf"color:#{keyword}[^>]*>def<", page, re.IGNORECASE)
    assert re.search(rf"color:#{keyword}[^>]*>return<", page, re.IGNORECASE)
    assert "# twice" in win.chat.view.toPlainText()
    win.chat.view.anchorClicked.emit(QUrl("action:copy:0"))
    assert QGuiApplication.clipboard().text() == "def double(x):\n    return 2 * x  # twice"
    assert "Copied 2 lines" in win.statusBar().currentMessage()


def test_each_reply_shows_its_token_count_and_speed_and_keeps_them_after_a_restart(loop, make_window, world_ckpt,
                                                                                    qtbot, tmp_path):
    first = make_window()
    run(loop, first.load_model(str(world_ckpt)))
    send(loop, first, "Count me", qtbot)
    reply = path(first)[-1]
    shown = re.search(r"(\d+) tokens · ([\d.]+) tokens/s", first.chat.view.toPlainText())
    assert shown and int(shown.group(1)) == reply.token_count and float(shown.group(2)) > 0
    store = first.state.service.store
    assert store.load_stats(first.state.conversation.id)[reply.id]["tokens"] == reply.token_count
    first.state.shutdown()

    second = make_window(tmp_path / "data")
    run(loop, second.load_model(str(world_ckpt)))
    run(loop, second.state.open(second.sidebar.conversations.item(0).data(Qt.UserRole)))
    assert shown.group(0) in second.chat.view.toPlainText()


def test_dark_and_light_themes_recolour_the_chat(loop, make_window, world_ckpt, qtbot, monkeypatch):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    _with_code_reply(loop, win, qtbot)
    light = win.chat.view.colours
    assert not light.dark

    win.settings_page.theme.setCurrentText("Dark")
    assert theme.current() == "dark"
    qtbot.waitUntil(lambda: win.chat.view.colours.dark, timeout=2000)     # on the palette-change event
    page = win.chat.view.toHtml()
    assert win.chat.view.colours.code_bg in page and light.code_bg not in page
    assert win.settings.get("theme") == "Dark"

    win.settings_page.theme.setCurrentText("System")          # the system says light here
    assert theme.current() == "light"
    qtbot.waitUntil(lambda: not win.chat.view.colours.dark, timeout=2000)
    monkeypatch.setattr(theme, "system_scheme", lambda: "dark")   # as when the desktop turns dark
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    qtbot.waitUntil(lambda: win.chat.view.colours.dark, timeout=2000)


def test_ctrl_n_starts_a_new_chat_and_escape_stops_a_reply(loop, make_window, world_ckpt, qtbot):
    win = start_endless_reply(loop, make_window, world_ckpt)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2000)
    qtbot.keyClick(win.chat.input, Qt.Key_Escape)
    run(loop, until(lambda: not win.chat.busy))
    assert path(win)[-1].stop_reason == "cancelled"
    qtbot.keyClick(win.chat.input, Qt.Key_N, Qt.ControlModifier)
    assert win.state.conversation is None
    assert win.chat.input.hasFocus()


def test_a_streaming_reply_is_laid_out_as_the_finished_page_so_nothing_jumps(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Hello", qtbot)
    send(loop, win, "Write a few paragraphs and some code", qtbot)
    view = win.chat.view
    _with_text(win, path(win)[-1], "")
    reply = path(win)[-1]
    for end in [0, 20, 120, 160, 190, 235, 260, 290, len(LONG_REPLY)]:    # ticks: prose, open fence, closed
        win.state.streaming[reply.id] = LONG_REPLY[:end]
        view.update_tail()                     # a tick redraws only the reply (see ChatView.show_conversation)
        streamed, height = block_layout(view), view.document().size().height()
        view.setHtml(view.page_html())
        finished = block_layout(view)              # the whole page at once, as it is drawn once the reply is done
        assert [b[0] for b in streamed] == [b[0] for b in finished]
        assert [v for b in streamed for v in b[1:]] == pytest.approx([v for b in finished for v in b[1:]], abs=0.5)
        assert height == pytest.approx(view.document().size().height(), abs=0.5)
        view.show_conversation(win.state.conversation, win.chat._text_of)


def test_a_web_link_in_a_reply_opens_only_after_a_confirmation_and_other_links_never(loop, make_window, world_ckpt,
                                                                                     qtbot, monkeypatch):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Links please", qtbot)
    _with_text(win, path(win)[-1], "[docs](https://example.com/docs) [x](file:///etc/passwd) [y](action:edit:1)")
    opened = []
    monkeypatch.setattr("app.chat_page.QDesktopServices.openUrl", opened.append)
    user, reply = path(win)
    hrefs = re.findall(r'href="([^"]*)"', win.chat.view.page_html())
    ours = [f"action:{a}:{m.id}" for m, actions in ((user, ("copymsg", "edit", "delete")),
                                                      (reply, ("copymsg", "edit", "regen", "delete"))) for a in actions]
    assert hrefs == [*ours, "https://example.com/docs"]     # the message links, then the reply's own: one web link
    win.chat.view.anchorClicked.emit(QUrl("file:///etc/passwd"))
    assert opened == [] and not hasattr(win.chat, "link_box")
    win.chat.view.anchorClicked.emit(QUrl("https://example.com/docs"))
    box = win.chat.link_box
    assert opened == [] and "https://example.com/docs" in box.text()
    box.button(box.StandardButton.Open).click()
    assert [u.toString() for u in opened] == ["https://example.com/docs"]


def test_a_reply_cut_at_the_length_limit_says_so_under_it(loop, make_window, world_ckpt, qtbot):
    from tests.gui.util import endless_settings

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    win.state.draft_settings = replace(endless_settings(), max_tokens=3)        # never ends by itself
    send(loop, win, "Go on and on", qtbot)
    assert path(win)[-1].stop_reason == "length"
    assert "reply length limit" in win.chat.view.toPlainText()


def _tall_chat(loop, make_window, world_ckpt, qtbot, *turns):
    """A shown window of 900 x 500 whose chat has ``turns``, each with a reply of 60 tokens: taller than
    the view, so it scrolls."""
    from tests.gui.util import endless_settings

    win = make_window()
    win.resize(900, 500)
    win.show()
    qtbot.waitExposed(win)
    run(loop, win.load_model(str(world_ckpt)))
    win.state.draft_settings = replace(endless_settings(), max_tokens=60)
    for text in turns:
        send(loop, win, text, qtbot)
    return win


def test_regenerate_goes_to_the_new_reply_and_a_branch_switch_keeps_the_place(loop, make_window, world_ckpt, qtbot):
    """A redraw of the open chat keeps the reader where they are (it used to jump to the top); a reply the
    reader asked for (Regenerate) is followed at the end; another chat opens at its end."""
    win = _tall_chat(loop, make_window, world_ckpt, qtbot, "First", "Second", "Third")
    bar = win.chat.view.verticalScrollBar()
    assert bar.maximum() > 200
    win.chat.regenerate()
    run(loop, until(lambda: win.chat.busy))
    run(loop, until(lambda: not win.chat.busy))
    assert bar.value() == bar.maximum()
    bar.setValue(bar.maximum() // 2)
    middle = bar.value()
    run(loop, win.state.switch_branch(path(win)[-1].id, -1))
    assert bar.value() == middle
    conv = win.state.conversation.id
    win.chat.new_chat()
    run(loop, win.state.open(conv))
    assert bar.value() == bar.maximum()


def test_after_the_settings_panel_opens_a_new_reply_still_comes_into_view(loop, make_window, world_ckpt, qtbot):
    win = _tall_chat(loop, make_window, world_ckpt, qtbot, "First", "Second")
    bar = win.chat.view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    qtbot.mouseClick(win.chat.settings_button, Qt.LeftButton)     # the view narrows: its text reflows
    run(loop, until(lambda: win.chat.panel.isVisible()))
    assert bar.value() == bar.maximum()
    send(loop, win, "Third", qtbot)
    assert bar.value() == bar.maximum() and path(win)[-1].role == "assistant"


def test_the_think_box_shows_translated_names_and_keeps_the_engines_modes_as_data(loop, make_window, world_ckpt,
                                                                                  qtbot, tmp_path):
    """It showed the engine's words ("off", "think", …) untranslated while Top-k beside it said "关".
    The names go through tr; each item's data is the engine's THINK_MODES name, and that is what is
    stored and sent."""
    from PySide6.QtCore import QCoreApplication, QTranslator

    from engine import THINK_MODES

    class Marking(QTranslator):
        def translate(self, context, source, disambiguation=None, n=-1):
            return f"«{source}»" if context == "ChatPage" and source in THINK_MODES else source

    marking = Marking()
    QCoreApplication.installTranslator(marking)
    try:
        win = make_window()
    finally:
        QCoreApplication.removeTranslator(marking)
    box = win.chat.think
    assert [box.itemData(i) for i in range(box.count())] == list(THINK_MODES)
    assert [box.itemText(i) for i in range(box.count())] == [f"«{mode}»" for mode in THINK_MODES]
    g1 = tmp_path / f"rwkv7-g1-tiny{world_ckpt.suffix}"            # the same weights, named as a G1 model
    g1.symlink_to(world_ckpt)
    assert run(loop, win.load_model(str(g1)))
    box.setCurrentIndex(box.findData("no-think"))
    box.activated.emit(box.currentIndex())
    assert win.state.chat_settings.think == "no-think"
    send(loop, win, "Why?", qtbot)
    assert path(win)[-1].text.startswith("<think>\n</think")     # the engine's no-think prefix was sent
    assert win.state.conversation.settings.think == "no-think"
    win.chat.new_chat()
    assert box.currentData() == "no-think" and box.currentText() == "«no-think»"
