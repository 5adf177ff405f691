"""The real window, driven through its widgets (offscreen): chat, stop, regenerate, restart."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.host import hardware  # noqa: E402
from tests.gui.util import path, run, send, start_endless_reply, until  # noqa: E402


def test_enter_sends_and_the_reply_streams_into_the_view(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    assert run(loop, win.load_model(str(world_ckpt)))
    assert "RWKV-7" in win.header.text()
    send(loop, win, "Hello there", qtbot)
    user, reply = path(win)
    assert (user.role, reply.role) == ("user", "assistant") and reply.text
    assert "Hello there" in win.chat.view.toPlainText()
    # whitespace compared as runs: the view shows a random model's "\r\n" as one line break
    assert " ".join(reply.text.split())[:10] in " ".join(win.chat.view.toPlainText().split())
    assert win.sidebar.conversations.count() == 1 and win.sidebar.conversations.item(0).text() == "Hello there"


def test_shift_enter_inserts_a_newline_instead_of_sending(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    win.chat.input.setPlainText("line one")
    win.chat.input.moveCursor(win.chat.input.textCursor().MoveOperation.End)
    qtbot.keyClick(win.chat.input, Qt.Key_Return, Qt.ShiftModifier)
    assert not win.chat.busy and win.state.conversation is None
    assert win.chat.input.toPlainText() == "line one\n"


def test_stop_ends_the_reply_within_a_token(loop, make_window, world_ckpt, qtbot):
    win = start_endless_reply(loop, make_window, world_ckpt)
    qtbot.mouseClick(win.chat.stop_button, Qt.LeftButton)
    run(loop, until(lambda: not win.chat.busy))
    reply = path(win)[1]
    assert reply.stop_reason == "cancelled" and reply.stopped
    assert reply.token_count < 200
    assert "stopped" in win.chat.view.toPlainText()


def test_regenerate_adds_a_branch_shown_in_the_view(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Hi", qtbot)
    qtbot.mouseClick(win.chat.regen_button, Qt.LeftButton)
    run(loop, until(lambda: win.chat.busy))
    run(loop, until(lambda: not win.chat.busy))
    leaf = path(win)[-1]
    assert win.state.conversation.branch(leaf.id) == (2, 2)
    assert "2/2" in win.chat.view.toPlainText()


def test_a_restarted_app_finds_the_conversation_and_resumes_its_state(loop, make_window, world_ckpt, qtbot,
                                                                       tmp_path):
    first = make_window()
    run(loop, first.load_model(str(world_ckpt)))
    send(loop, first, "Remember me", qtbot)
    texts = [m.text for m in path(first)]
    first.close()
    first.state.shutdown()

    second = make_window(tmp_path / "data")          # same data folder: as after a restart
    run(loop, second.load_model(str(world_ckpt)))
    assert second.sidebar.conversations.count() == 1
    run(loop, second.state.open(second.sidebar.conversations.item(0).data(Qt.UserRole)))
    assert [m.text for m in path(second)] == texts
    assert "Resumed from saved state" in second.statusBar().currentMessage()
    send(loop, second, "And now?", qtbot)
    assert [m.role for m in path(second)] == ["user", "assistant"] * 2


def test_a_file_that_is_not_a_model_is_reported_and_nothing_changes(loop, make_window, tmp_path, world_ckpt):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"hello")
    assert not run(loop, win.load_model(str(junk)))
    run(loop, until(lambda: win.failure is not None))
    assert "junk.pth" in win.failure[1]
    assert win.state.model is not None and win.state.model.path == str(world_ckpt)
    assert win.chat.send_button.isEnabled()


def test_edit_link_resends_as_a_branch_and_arrows_switch_back(loop, make_window, world_ckpt, qtbot):
    from PySide6.QtCore import QUrl

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "First version", qtbot)
    user = path(win)[0]
    assert f"action:edit:{user.id}" in win.chat.view.toMarkdown()
    win.chat._link_clicked(QUrl(f"action:edit:{user.id}"))
    assert win.chat.input.toPlainText() == "First version" and win.chat.send_button.text() == "Resend"
    win.chat.input.setPlainText("Second version")
    qtbot.keyClick(win.chat.input, Qt.Key_Return)
    run(loop, until(lambda: win.chat.busy))
    run(loop, until(lambda: not win.chat.busy))
    edited = path(win)[0]
    assert edited.text == "Second version" and win.state.conversation.branch(edited.id) == (2, 2)
    assert "2/2" in win.chat.view.toPlainText()

    win.chat._link_clicked(QUrl(f"action:branch:{edited.id}:-1"))
    run(loop, until(lambda: path(win)[0].id == user.id))
    run(loop, until(lambda: "Branch restored" in win.statusBar().currentMessage()))
    assert "First version" in win.chat.view.toPlainText()
    conv = win.state.conversation.id
    win.state.shutdown()
    second = make_window(win.state.service.store.data_dir)      # the branch choice was stored
    run(loop, second.load_model(str(world_ckpt)))
    run(loop, second.state.open(conv))
    assert path(second)[0].id == user.id


def test_delete_offers_undo(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Keep me", qtbot)
    win.sidebar.conversations.setCurrentRow(0)
    win.sidebar.delete_selected()
    run(loop, until(lambda: win.sidebar.conversations.count() == 0))
    assert win.state.conversation is None and win.sidebar.undo_bar.isVisible()
    qtbot.mouseClick(win.sidebar.undo_button, Qt.LeftButton)
    run(loop, until(lambda: win.sidebar.conversations.count() == 1))
    assert win.sidebar.conversations.item(0).text() == "Keep me"


def test_saved_conversation_loads_elsewhere_and_a_foreign_one_is_refused(loop, make_window, world_ckpt, qtbot,
                                                                          tmp_path, rwkv7_checkpoint):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Take me along", qtbot)
    texts = [m.text for m in path(win)]
    exported = tmp_path / "chat.rwkvchat"
    assert run(loop, win.export_to(exported))

    other = make_window(tmp_path / "elsewhere")        # another machine's app, same model
    run(loop, other.load_model(str(world_ckpt)))
    assert run(loop, other.import_from(exported))
    assert [m.text for m in path(other)] == texts
    send(loop, other, "Continue", qtbot)
    assert path(other)[-1].role == "assistant"

    third = make_window(tmp_path / "third")
    run(loop, third.load_model(str(rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536))))
    assert not run(loop, third.import_from(exported))
    run(loop, until(lambda: third.failure is not None))
    assert "cannot continue" in third.failure[1]
    assert third.sidebar.conversations.count() == 0


def test_a_loaded_conversation_is_said_and_reopens_at_the_next_launch(loop, make_window, world_ckpt, qtbot,
                                                                      tmp_path):
    from app.main import start

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Take me along", qtbot)
    exported = tmp_path / "chat.rwkvchat"
    assert run(loop, win.export_to(exported))

    folder = tmp_path / "elsewhere"
    other = make_window(folder)
    run(loop, other.load_model(str(world_ckpt)))
    send(loop, other, "Already here", qtbot)            # the conversation open before the load
    assert run(loop, other.import_from(exported))
    loaded = other.state.conversation.id
    assert other.state.settings.get("conversation") == loaded
    said = other.statusBar().currentMessage()
    assert said.startswith("Loaded") and "Take me along" in said and "chat.rwkvchat" in said
    other.close()
    other.state.shutdown()

    again = make_window(folder)                         # the next launch reopens the loaded one
    run(loop, start(again, str(world_ckpt)))
    assert again.state.conversation is not None and again.state.conversation.id == loaded
    assert path(again)[0].text == "Take me along"


def test_system_prompt_and_think_mode_shape_the_prompt(loop, make_window, world_ckpt, qtbot, tmp_path):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    assert not win.chat.think.isEnabled() and "G0/G1" in win.chat.think.toolTip()    # a World model: off
    g1 = tmp_path / f"rwkv7-g1-tiny{world_ckpt.suffix}"            # the same weights, named as a G1 model
    g1.symlink_to(world_ckpt)
    run(loop, win.load_model(str(g1)))
    assert win.chat.think.isEnabled()
    win.chat.system.setText("Answer in one word.")
    win.chat.think.setCurrentText("no-think")
    win.chat.think.activated.emit(win.chat.think.currentIndex())
    send(loop, win, "Why?", qtbot)
    system, user, reply = path(win)
    assert system.role == "system" and system.text == "Answer in one word."
    assert reply.text.startswith("<think>\n</think")
    store = win.state.service.store
    assert store.get(win.state.conversation.id).system_prompt == "Answer in one word."
    assert win.state.conversation.settings.think == "no-think"
    assert not win.chat.system.isVisible()          # a started chat edits it in the settings panel


def test_continue_extends_a_stopped_reply(loop, make_window, world_ckpt, qtbot):
    from dataclasses import replace

    win = start_endless_reply(loop, make_window, world_ckpt)
    win.chat.stop()
    run(loop, until(lambda: not win.chat.busy))
    before = path(win)[1]
    assert win.chat.continue_button.isEnabled()
    run(loop, win.state.update_chat(replace(win.state.chat_settings, max_tokens=4)))
    qtbot.mouseClick(win.chat.continue_button, Qt.LeftButton)
    run(loop, until(lambda: win.chat.busy))
    run(loop, until(lambda: not win.chat.busy))
    after = path(win)[1]
    assert after.id == before.id and after.text.startswith(before.text) and len(after.text) > len(before.text)
    assert after.token_count > before.token_count


def test_state_tuning_file_starts_new_chats_and_is_named_in_the_header(loop, make_window, world_ckpt, qtbot,
                                                                       tmp_path):
    import torch

    from engine.models.state import State

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    import engine

    info = engine.load(world_ckpt).info
    tuned = {f"blocks.{n}.att.time_state": torch.full((info.n_head, info.head_size, info.head_size), 0.1)
             for n in range(info.n_layer)}
    tuning = tmp_path / "tuned-state.pth"
    torch.save(tuned, tuning)
    assert run(loop, win.apply_tuning(str(tuning)))
    assert "tuned-state.pth" in win.header.text()
    send(loop, win, "Hi", qtbot)
    store = win.state.service.store
    conv = store.get(win.state.conversation.id)
    assert conv.tuning_path == str(tuning)
    kept = State.load(store.states / conv.initial_state, engine.load(world_ckpt))
    assert torch.equal(kept.wkv[0], tuned["blocks.0.att.time_state"])   # kept with the conversation
    assert win.clear_tuning.isVisible()
    qtbot.mouseClick(win.clear_tuning, Qt.LeftButton)
    run(loop, until(lambda: win.state.tuning is None))
    assert "state tuning" not in win.header.text() and not win.clear_tuning.isVisible()
    send(loop, win, "Hi again", qtbot)
    assert store.get(win.state.conversation.id).initial_state is None    # a new chat, from the model's own state


def test_a_state_tuning_file_stays_with_its_model_across_reloads_and_restarts_until_cleared(
        loop, make_window, world_ckpt, tmp_path):
    """Applied once, a state-tuning file is used again whenever its model loads (another precision, the
    next launch); another model does not get it; cleared, it stays cleared."""
    import torch

    import engine

    info = engine.load(world_ckpt).info
    tuning = tmp_path / "tuned-state.pth"
    torch.save({f"blocks.{n}.att.time_state": torch.full((info.n_head, info.head_size, info.head_size), 0.1)
                for n in range(info.n_layer)}, tuning)
    folder = tmp_path / "data"
    win = make_window(folder)
    run(loop, win.load_model(str(world_ckpt)))
    assert run(loop, win.apply_tuning(str(tuning)))
    run(loop, win.load_model(str(world_ckpt), "cpu", "int8"))          # another precision: still applied
    assert win.state.tuning == "tuned-state.pth" and "tuned-state.pth" in win.header.text()
    run(loop, win.load_model("demo"))                                    # another model: its own state
    assert win.state.tuning is None
    win.close()
    win.state.shutdown()

    again = make_window(folder)                                          # the next launch
    run(loop, again.load_model(str(world_ckpt)))
    assert again.state.tuning == "tuned-state.pth"
    assert run(loop, again.apply_tuning(None))
    run(loop, again.load_model(str(world_ckpt), "cpu", "fp32"))
    assert again.state.tuning is None


def test_the_app_reopens_the_last_model_and_conversation(loop, make_window, world_ckpt, qtbot, tmp_path):
    from app.main import start

    first = make_window()
    run(loop, first.load_model(str(world_ckpt)))
    send(loop, first, "Where was I?", qtbot)
    first.close()
    first.state.shutdown()

    second = make_window(tmp_path / "data")
    run(loop, start(second, None))
    assert second.state.model.path == str(world_ckpt)
    assert [m.text for m in path(second)][0] == "Where was I?"


def test_hardware_picker_lists_devices_marks_the_recommendation_and_reloads(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Hi in fp32", qtbot)
    labels = [win.hardware.itemText(i) for i in range(win.hardware.count())]
    assert any("CPU fp32" in t for t in labels) and any("CPU bf16" in t for t in labels)
    assert sum("★" in t for t in labels) == 1
    assert win.hardware.currentData() == ("cpu", "fp32")
    need = {p: float(t.split("needs ~")[1].split(" GiB")[0]) for t in labels for p in ("fp32", "q5", "q4")
            if t.startswith(f"CPU {p} ")}
    for p, gib in need.items():                                        # each with the memory it needs
        per = hardware.BYTES_PER_PARAM[p]
        assert gib == round(hardware.needed_bytes(int(win.state.model.n_params * per)) / 2**30, 1), p
    assert need["fp32"] >= need["q5"] >= need["q4"] > 0
    bf16 = next(i for i, t in enumerate(labels) if "CPU bf16" in t)
    win.hardware.setCurrentIndex(bf16)
    run(loop, win._hardware_chosen())
    assert win.state.model.precision == "bf16" and "CPU bf16" in win.header.text()
    assert [m.text for m in path(win)][0] == "Hi in fp32"     # the same weights: the chat goes on
    assert "Now CPU bf16 (was CPU fp32): “Hi in fp32” goes on" in win.statusBar().currentMessage()
    send(loop, win, "Hi in bf16", qtbot)
    assert [m.role for m in path(win)] == ["user", "assistant"] * 2


def test_a_narrow_window_wraps_the_header_and_keeps_the_picker_readable(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    win.show()
    qtbot.waitExposed(win)
    run(loop, win.load_model(str(world_ckpt)))
    win.resize(700, 600)
    run(loop, until(lambda: win.width() <= 720))
    QApplication.processEvents()
    assert win.header.heightForWidth(win.header.width()) <= win.header.height()     # all of it shown
    assert win.hardware.width() >= win.hardware.minimumWidth() > 100


def test_keyboard_and_menu_details(loop, make_window, world_ckpt, tmp_path, qtbot):
    """Tab leaves the message field (it typed a tab: Send was out of the keyboard's reach); the shortcut
    list names Del and Ctrl+Enter; Clear state tuning is on only while a tuning file is applied."""
    import torch

    import engine

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    assert win.chat.input.tabChangesFocus()
    shortcuts = win.shortcuts_text()
    assert "Ctrl+Enter" in shortcuts and "Del" in shortcuts
    assert not win.clear_tuning_action.isEnabled()
    info = engine.load(world_ckpt).info
    tuning = tmp_path / "tuned-state.pth"
    torch.save({f"blocks.{n}.att.time_state": torch.zeros(info.n_head, info.head_size, info.head_size)
                for n in range(info.n_layer)}, tuning)
    assert run(loop, win.apply_tuning(str(tuning)))
    assert win.clear_tuning_action.isEnabled()
    assert run(loop, win.apply_tuning(None))
    assert not win.clear_tuning_action.isEnabled()
