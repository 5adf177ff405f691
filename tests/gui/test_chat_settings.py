"""The chat settings panel, driven through its widgets: Tab leaves the system prompt box, a new chat's
system prompt is one draft whichever field it is typed in, and a number edited a moment before another
conversation opens (or a message is sent) is kept for the conversation it was made for."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from PySide6.QtCore import Qt

from tests.gui.util import endless_settings, path, run, send, until


def _panel(loop, make_window, world_ckpt):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    win.chat.settings_button.setChecked(True)
    panel = win.chat.panel
    assert panel.isVisible()
    return win, panel


def test_tab_leaves_the_system_prompt_box_instead_of_typing_a_tab(loop, make_window, world_ckpt, qtbot):
    win, panel = _panel(loop, make_window, world_ckpt)
    win.activateWindow()
    panel.system.setFocus()
    run(loop, until(lambda: panel.system.hasFocus()))
    qtbot.keyClicks(panel.system, "Be brief.")
    qtbot.keyClick(panel.system, Qt.Key_Tab)
    assert panel.system.toPlainText() == "Be brief." and "\t" not in panel.system.toPlainText()
    run(loop, until(lambda: not panel.system.hasFocus()))


def test_a_new_chats_system_prompt_typed_in_the_panel_is_used_without_apply(loop, make_window, world_ckpt, qtbot):
    """The panel's field and the one above the message box are the same draft for a chat not begun: what
    is typed in either shows in the other, and the first Send uses it (no Apply to forget)."""
    win, panel = _panel(loop, make_window, world_ckpt)
    assert win.chat.system.isVisible() and not panel.apply_system.isVisible()
    qtbot.keyClicks(win.chat.system, "Be terse.")
    assert panel.system.toPlainText() == "Be terse."
    panel.system.clear()
    assert win.chat.system.text() == ""
    qtbot.keyClicks(panel.system, "Answer in one word.")
    assert win.chat.system.text() == "Answer in one word." and win.state.draft_system == "Answer in one word."
    send(loop, win, "Why?", qtbot)
    system, user, reply = path(win)
    assert system.role == "system" and system.text == "Answer in one word."
    assert win.state.service.store.get(win.state.conversation.id).system_prompt == "Answer in one word."
    assert panel.system.toPlainText() == "Answer in one word." and panel.apply_system.isVisible()
    assert not win.chat.system.isVisible()          # a begun chat's is changed in the panel, with Apply


def test_an_edit_is_kept_for_its_conversation_when_another_opens_at_once(loop, make_window, world_ckpt, qtbot):
    win, panel = _panel(loop, make_window, world_ckpt)
    send(loop, win, "First chat", qtbot)
    first = win.state.conversation.id
    win.chat.new_chat()
    send(loop, win, "Second chat", qtbot)
    second = win.state.conversation.id
    before = win.state.chat_settings.sampler.temperature
    assert before != 2.2
    run(loop, win.state.open(first))
    panel.numbers["temperature"].setValue(2.2)          # then, within the 0.3 s the panel waits:
    run(loop, win.state.open(second))
    assert panel.numbers["temperature"].value() == before        # the panel shows the second chat's
    run(loop, asyncio.sleep(0.6))                                 # (past the panel's timer)
    store = win.state.service.store
    run(loop, until(lambda: store.get(first).settings["sampler"]["temperature"] == 2.2, timeout=5))
    assert store.get(second).settings["sampler"]["temperature"] == before
    assert win.state.chat_settings.sampler.temperature == before
    run(loop, win.state.open(first))
    assert panel.numbers["temperature"].value() == 2.2 and win.state.chat_settings.sampler.temperature == 2.2


def test_an_edit_made_just_before_send_is_the_replys(loop, make_window, world_ckpt, qtbot):
    """Replies that end only at their length limit: the length set a moment before Send is the one used,
    for a new chat and for one begun."""
    win, panel = _panel(loop, make_window, world_ckpt)
    run(loop, win.state.update_chat(replace(endless_settings(), max_tokens=40)))
    assert panel.max_tokens.value() == 40
    panel.max_tokens.setValue(3)
    send(loop, win, "Hi", qtbot)                        # at once: the panel's 0.3 s have not passed
    reply = path(win)[-1]
    assert reply.role == "assistant" and reply.stop_reason == "length" and reply.token_count == 3
    assert win.state.chat_settings.max_tokens == 3
    panel.max_tokens.setValue(5)
    send(loop, win, "Again", qtbot)
    reply = path(win)[-1]
    assert reply.role == "assistant" and reply.stop_reason == "length" and reply.token_count == 5
    assert win.state.service.store.get(win.state.conversation.id).settings["max_tokens"] == 5


def test_roles_chosen_while_a_number_edit_waits_keep_both(loop, make_window, world_ckpt, qtbot):
    win, panel = _panel(loop, make_window, world_ckpt)
    send(loop, win, "Hi", qtbot)
    conv = win.state.conversation.id
    panel.numbers["top_p"].setValue(0.55)
    raven = panel.roles.findData("raven")
    panel.roles.setCurrentIndex(raven)
    panel.roles.activated.emit(raven)
    store = win.state.service.store
    run(loop, until(lambda: store.get(conv).settings["template"] == "raven"))
    run(loop, asyncio.sleep(0.6))
    assert store.get(conv).settings["sampler"]["top_p"] == 0.55 and store.get(conv).settings["template"] == "raven"
    assert panel.numbers["top_p"].value() == 0.55 and panel.roles.currentData() == "raven"
