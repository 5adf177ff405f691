"""Actions on each message (copy, edit a reply, regenerate from any reply, delete with what follows),
text exports, shortcuts and the Help menu, on the real window offscreen."""

from __future__ import annotations

import json
import os
import sqlite3

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QUrl  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from tests.gui.util import path, run, send, until  # noqa: E402


def _window(loop, make_window, ckpt, *turns, qtbot):
    win = make_window()
    run(loop, win.load_model(str(ckpt)))
    for text in turns:
        send(loop, win, text, qtbot)
    return win


def _click(win, action: str) -> None:
    assert f"action:{action}" in win.chat.view.toMarkdown()       # the link is on the page
    win.chat._link_clicked(QUrl(f"action:{action}"))


def _wait_reply(loop, win) -> None:
    run(loop, until(lambda: win.chat.busy))
    run(loop, until(lambda: not win.chat.busy))


def test_copy_link_on_every_message_and_ctrl_shift_c_copy_the_text(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, "Copy me please", qtbot=qtbot)
    user, reply = path(win)
    page = win.chat.view.toMarkdown()
    for action in (f"copymsg:{user.id}", f"edit:{user.id}", f"delete:{user.id}", f"copymsg:{reply.id}",
                   f"edit:{reply.id}", f"regen:{reply.id}", f"delete:{reply.id}"):
        assert f"action:{action}" in page
    _click(win, f"copymsg:{user.id}")
    assert QGuiApplication.clipboard().text() == "Copy me please"
    QGuiApplication.clipboard().setText("something else")
    win.activateWindow()
    qtbot.keyClick(win.chat.input, Qt.Key_C, Qt.ControlModifier | Qt.ShiftModifier)
    assert QGuiApplication.clipboard().text() == reply.text
    assert "Copied" in win.statusBar().currentMessage()


def test_delete_asks_first_then_removes_the_message_and_what_follows(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, "First turn", "Second turn", qtbot=qtbot)
    user1, reply1, user2, _ = path(win)
    _click(win, f"delete:{user2.id}")
    box = win.chat.delete_box
    assert "1 message" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.Cancel), Qt.LeftButton)
    assert len(path(win)) == 4
    _click(win, f"delete:{user2.id}")
    qtbot.mouseClick(win.chat.delete_box.button(QMessageBox.Yes), Qt.LeftButton)
    run(loop, until(lambda: len(path(win)) == 2))
    assert [m.id for m in path(win)] == [user1.id, reply1.id]
    assert "Second turn" not in win.chat.view.toPlainText()
    send(loop, win, "Third turn", qtbot)                      # the chat goes on from the reply kept
    assert [m.text for m in path(win)][2] == "Third turn"


def test_an_edited_reply_is_saved_as_a_branch_beside_the_models(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, "Say something", qtbot=qtbot)
    user, reply = path(win)
    _click(win, f"edit:{reply.id}")
    # (compared word by word: the field turns the odd control character of a random model's reply into a space)
    assert win.chat.input.toPlainText().split() == reply.text.split()
    assert win.chat.send_button.text() == "Save reply"
    win.chat.input.setPlainText("My **own** answer")
    qtbot.keyClick(win.chat.input, Qt.Key_Return)
    run(loop, until(lambda: path(win)[-1].text == "My **own** answer"))
    edited = path(win)[-1]
    assert edited.role == "assistant" and win.state.conversation.branch(edited.id) == (2, 2)
    assert "edited" in win.chat.view.toPlainText() and "own" in win.chat.view.toPlainText()
    assert win.chat.send_button.text() == "Send"
    send(loop, win, "And then?", qtbot)
    assert [m.role for m in path(win)] == ["user", "assistant", "user", "assistant"]


EDITED = "    an indented first line\n\n\nSecond paragraph, after two blank lines.\n\nThird."


def test_an_edited_reply_goes_to_the_engine_as_typed(loop, make_window, world_ckpt, qtbot, monkeypatch):
    """The window handed the engine the edited reply trimmed (an indented first line lost its indent);
    it hands it over as typed, blank lines and indents included."""
    win = _window(loop, make_window, world_ckpt, "Say something", qtbot=qtbot)
    _, reply = path(win)
    given: list[str] = []
    real = win.state.edit_reply
    monkeypatch.setattr(win.state, "edit_reply", lambda message_id, text: given.append(text) or real(message_id, text))
    _click(win, f"edit:{reply.id}")
    win.chat.input.setPlainText(EDITED)
    qtbot.keyClick(win.chat.input, Qt.Key_Return)
    run(loop, until(lambda: path(win)[-1].stop_reason == "edited"))
    assert given == [EDITED]


def test_an_edited_reply_keeps_its_blank_lines(loop, make_window, world_ckpt, qtbot):
    """"a\n\n\nb" came back as "a\nb": paragraphs merged, in the store, the view and the next edit."""
    win = _window(loop, make_window, world_ckpt, "Say something", qtbot=qtbot)
    _, reply = path(win)
    _click(win, f"edit:{reply.id}")
    win.chat.input.setPlainText(EDITED)
    qtbot.keyClick(win.chat.input, Qt.Key_Return)
    run(loop, until(lambda: path(win)[-1].stop_reason == "edited"))
    edited = path(win)[-1]
    assert edited.text == EDITED
    stored = {m.id: m for m in win.state.service.store.load_messages(win.state.conversation.id)}
    assert stored[edited.id].text == EDITED
    shown = win.chat.view.toPlainText()
    assert "lines.\n" in shown and "Second paragraph" in shown      # two paragraphs, not one line
    _click(win, f"edit:{edited.id}")
    assert win.chat.input.toPlainText() == edited.text


def test_regenerate_from_an_earlier_reply_answers_that_turn_again(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, "First", "Second", qtbot=qtbot)
    user1, reply1, _, _ = path(win)
    _click(win, f"regen:{reply1.id}")
    _wait_reply(loop, win)
    now = path(win)
    assert [m.id for m in now][:1] == [user1.id] and len(now) == 2
    assert win.state.conversation.branch(now[1].id) == (2, 2)
    win.activateWindow()
    qtbot.keyClick(win.chat.input, Qt.Key_R, Qt.ControlModifier)       # Ctrl+R: again, on the last reply
    _wait_reply(loop, win)
    assert win.state.conversation.branch(path(win)[1].id) == (3, 3)


def test_up_in_an_empty_field_edits_the_last_message_and_ctrl_f_searches(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, "One", "Two", qtbot=qtbot)
    win.chat.input.setPlainText("draft")
    qtbot.keyClick(win.chat.input, Qt.Key_Up)
    assert win.chat.editing is None                          # Up moves the cursor in a field with text
    win.chat.input.clear()
    qtbot.keyClick(win.chat.input, Qt.Key_Up)
    assert win.chat.editing == path(win)[2].id and win.chat.input.toPlainText() == "Two"
    qtbot.keyClick(win.chat.input, Qt.Key_Escape)
    win.activateWindow()
    qtbot.keyClick(win.chat.input, Qt.Key_F, Qt.ControlModifier)
    assert win.sidebar.search.hasFocus()


def test_markdown_and_json_exports_and_an_imported_copy_has_its_own_title(loop, make_window, world_ckpt, qtbot,
                                                                          tmp_path):
    win = _window(loop, make_window, world_ckpt, "Export **me**", qtbot=qtbot)
    reply = path(win)[1]
    assert run(loop, win.state.export_text(tmp_path / "chat.md", "markdown"))
    assert run(loop, win.state.export_text(tmp_path / "chat.json", "json"))
    md = (tmp_path / "chat.md").read_bytes().decode("utf-8")   # as written: a reply may hold "\r"
    assert md.startswith("# Export **me**") and "## You\n\nExport **me**" in md and reply.text.strip() in md
    doc = json.loads((tmp_path / "chat.json").read_bytes().decode("utf-8"))
    assert doc["messages"] == [{"role": "user", "content": "Export **me**"},
                               {"role": "assistant", "content": reply.text}]
    assert run(loop, win.export_to(tmp_path / "chat.rwkvchat"))
    assert run(loop, win.import_from(tmp_path / "chat.rwkvchat"))
    titles = sorted(win.sidebar.conversations.item(i).text() for i in range(win.sidebar.conversations.count()))
    assert titles == ["Export me", "Export me (imported)"]         # and no Markdown in the list


def test_del_key_offers_undo_then_the_conversation_leaves_the_disk(loop, make_window, world_ckpt, qtbot, tmp_path):
    win = _window(loop, make_window, world_ckpt, "Delete me", qtbot=qtbot)
    conv = win.state.conversation.id
    states = win.state.service.store.states / str(conv)
    assert states.is_dir()
    win.sidebar.conversations.setCurrentRow(0)
    win.sidebar.conversations.setFocus()
    qtbot.keyClick(win.sidebar.conversations, Qt.Key_Delete)
    run(loop, until(lambda: win.sidebar.conversations.count() == 0))
    assert win.sidebar.undo_bar.isVisible() and "Delete me" in win.sidebar.undo_label.text()
    assert states.is_dir()                                   # still there while Undo is offered
    win.sidebar._undo_timer.setInterval(10)
    win.sidebar._undo_timer.start()
    run(loop, until(lambda: not states.exists()))
    db = sqlite3.connect(win.state.service.store.data_dir / "conversations.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 0


def test_a_delete_left_undoable_at_quit_is_purged_at_the_next_start(loop, make_window, world_ckpt, qtbot, tmp_path):
    win = _window(loop, make_window, world_ckpt, "Quit before the undo ends", qtbot=qtbot)
    folder = win.state.service.store.data_dir
    conv = win.state.conversation.id
    run(loop, win.state.delete(conv))
    win.close()
    win.state.shutdown()
    assert (folder / "states" / str(conv)).is_dir()
    make_window(folder)
    run(loop, until(lambda: not (folder / "states" / str(conv)).exists()))


def test_help_lists_the_shortcuts_and_about_names_version_licences_and_data_folder(loop, make_window, qtbot):
    win = make_window()
    shortcuts = win.show_shortcuts().text()
    for keys in ("Enter", "Shift+Enter", "Ctrl+N", "Ctrl+F", "Ctrl+Shift+C", "Ctrl+R", "Up", "Esc"):
        assert f"<b>{keys}</b>" in shortcuts
    about = win.show_about().text()
    assert "Apache License 2.0" in about and "LGPL-3.0" in about and "Pygments" in about
    assert str(win.state.service.store.data_dir) in about
    assert [a.text() for a in win.menuBar().actions()][-1] == "&Help"


def test_status_messages_stop_before_the_state_label_expire_and_a_failed_load_says_so(loop, make_window, world_ckpt,
                                                                                        qtbot, tmp_path):
    win = _window(loop, make_window, world_ckpt, "Hello", qtbot=qtbot)
    bar = win.statusBar()
    assert "tokens/s" in bar.currentMessage() and win.status_ms > 0       # a reply's figures go away
    assert win.state_label.text().startswith("State ") and "constant" in win.state_label.toolTip()
    long = "A very long message that would run under the state label " * 10
    win.state.status.emit(long, 5000)
    shown = bar.currentMessage()
    assert shown.endswith("…") and bar.toolTip() == long
    assert bar.fontMetrics().horizontalAdvance(shown) < win.state_label.x()
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a model")
    assert not run(loop, win.load_model(str(junk)))
    assert bar.currentMessage() == "Could not load junk.pth" and win.status_ms > 0


def test_loading_another_model_says_the_open_chat_stays_for_its_own(loop, make_window, world_ckpt, qtbot,
                                                                    rwkv7_checkpoint):
    win = _window(loop, make_window, world_ckpt, "Written with the first model", qtbot=qtbot)
    other = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536)
    assert run(loop, win.load_model(str(other)))
    message = win.statusBar().toolTip() or win.statusBar().currentMessage()
    assert "“Written with the first model” was written with" in message and "stays in the list" in message
    assert win.state.conversation is None and win.sidebar.conversations.count() == 1


def test_plain_completion_continues_the_text_without_chat_roles_and_stops(loop, make_window, world_ckpt, qtbot):
    from tests.gui.util import endless_settings

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    qtbot.mouseClick(win.chat.completion_button, Qt.LeftButton)
    panel = win.chat.completion
    assert win.chat.pages.currentWidget() is panel and win.chat.think.isHidden() and win.chat.think_label.isHidden()
    panel.text.setPlainText("Once upon a time")
    win.state.draft_settings = win.state.draft_settings.__class__(max_tokens=12)
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    assert win.state.completing and panel.text.isReadOnly()
    run(loop, until(lambda: not win.state.completing))
    text = panel.text.toPlainText()
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time")
    assert "User:" not in text and "Assistant:" not in text
    assert "12 tokens" in panel.note.text() and "length limit" in panel.note.text()
    assert win.state.conversation is None and win.sidebar.conversations.count() == 0    # nothing stored

    win.state.draft_settings = endless_settings()
    panel.text.setPlainText("A story that goes on")
    panel.generate()
    run(loop, until(lambda: len(panel.text.toPlainText()) > len("A story that goes on")))
    win.activateWindow()
    qtbot.keyClick(panel.text, Qt.Key_Escape)                  # Esc stops it, as it stops a reply
    run(loop, until(lambda: not win.state.completing))
    assert "ended by Stop" in panel.note.text() and not panel.text.isReadOnly()
    qtbot.mouseClick(win.chat.completion_button, Qt.LeftButton)
    assert win.chat.pages.currentIndex() == 0 and not win.chat.think_label.isHidden()


def test_the_chat_roles_are_chosen_in_the_conversation_settings(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    roles = win.chat.panel.roles
    assert roles.currentData() is None and roles.itemText(roles.findData("raven")) == "Bob / Alice"
    roles.setCurrentIndex(roles.findData("raven"))
    roles.activated.emit(roles.currentIndex())
    send(loop, win, "Who are you?", qtbot)
    conv = win.state.conversation
    assert conv.settings.template == "raven"
    assert win.state.service.store.get(conv.id).settings["template"] == "raven"
    assert win.chat.panel.roles.currentData() == "raven"


def test_deleting_a_chat_with_a_long_title_does_not_widen_the_sidebar(loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, "A title " + "that goes on " * 12, qtbot=qtbot)
    win.show()
    qtbot.waitExposed(win)
    before = win.sidebar.width()
    win.sidebar.conversations.setCurrentRow(0)
    win.sidebar.delete_selected()
    run(loop, until(lambda: win.sidebar.undo_bar.isVisible()))
    QApplication.processEvents()
    assert win.sidebar.width() == before and "that goes on" in win.sidebar.undo_label.text()


def test_the_context_menu_acts_on_the_chat_under_the_pointer_and_the_open_one_stays_highlighted(
        loop, make_window, world_ckpt, qtbot):
    win = _window(loop, make_window, world_ckpt, "Keep me", qtbot=qtbot)
    win.chat.new_chat()
    send(loop, win, "Delete me", qtbot)
    chats = win.sidebar.conversations
    run(loop, win.state.open(next(chats.item(i).data(Qt.UserRole) for i in range(chats.count())
                                  if chats.item(i).text() == "Keep me")))
    other = next(chats.item(i) for i in range(chats.count()) if chats.item(i).text() == "Delete me")
    win.sidebar._context_menu(chats.visualItemRect(other).center())
    win.sidebar._menu.hide()                                    # dismissed: the open chat is highlighted again
    run(loop, until(lambda: chats.currentItem().text() == "Keep me"))
    win.sidebar._context_menu(chats.visualItemRect(other).center())
    assert chats.currentItem() is other
    win.sidebar.menu_actions[1].trigger()                       # Delete
    win.sidebar._menu.hide()
    run(loop, until(lambda: chats.count() == 1))
    QApplication.processEvents()
    assert chats.currentItem().text() == "Keep me" and win.state.conversation.title == "Keep me"


def test_opening_a_chat_of_another_model_says_so_in_the_status_bar_not_a_dialog(loop, make_window, world_ckpt,
                                                                                 qtbot, rwkv7_checkpoint):
    win = _window(loop, make_window, world_ckpt, "Written with the first model", qtbot=qtbot)
    conv = win.state.conversation.id
    other = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536)
    assert run(loop, win.load_model(str(other)))
    assert not run(loop, win.state.open(conv))
    QApplication.processEvents()
    message = win.statusBar().toolTip() or win.statusBar().currentMessage()
    assert "was written with" in message and "load that model" in message
    assert win.failure is None                                  # no dialog to dismiss
    chats = win.sidebar.conversations
    assert win.state.conversation is None and not chats.selectedItems()
