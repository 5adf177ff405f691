"""The chat settings panel, driven through its widgets: Tab leaves the system prompt box, a new chat's
system prompt is one draft whichever field it is typed in, and a number edited a moment before another
conversation opens (or a message is sent) is kept for the conversation it was made for; presets of the
user's own are saved, listed, applied, kept across a restart, deleted, and read back checked."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine import PRESETS
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


# -- the user's own presets --------------------------------------------------------------------------

MINE = {"temperature": 0.7, "top_p": 0.85, "top_k": 40, "presence_penalty": 0.2, "frequency_penalty": 0.1,
        "penalty_decay": 0.99}


def _set_values(panel, values):
    for name, value in values.items():
        (panel.top_k if name == "top_k" else panel.numbers[name]).setValue(value)


def _sampling(settings):
    return {name: getattr(settings.sampler, name) for name in MINE}


def _save_as(panel, qtbot, name):
    """Save as preset… with ``name`` typed in the dialog and OK pressed; the box it answered with, if any."""
    panel.preset_box = None
    panel.save_preset_button.click()
    dialog = panel.name_dialog
    assert dialog.isVisible()
    dialog.setTextValue(name)
    dialog.accept()
    return panel.preset_box


def _choose(panel, name):
    index = panel.preset.findData(name)
    assert index >= 0, name
    panel.preset.setCurrentIndex(index)
    panel.preset.activated.emit(index)


def _own_items(panel):
    from app.chat_settings import OWN

    return [panel.preset.itemText(i) for i in range(panel.preset.count()) if panel.preset.itemData(i, OWN)]


def test_an_own_preset_is_saved_listed_after_the_built_in_ones_and_applies_to_another_chat(loop, make_window,
                                                                                          world_ckpt, qtbot):
    win, panel = _panel(loop, make_window, world_ckpt)
    send(loop, win, "First chat", qtbot)
    first = win.state.conversation.id
    _set_values(panel, MINE)
    run(loop, panel.flush())
    assert panel.preset.currentText() == "Custom" and win.state.chat_settings.preset is None
    assert _save_as(panel, qtbot, "  Mine ") is None                    # a new name: saved without a question
    assert win.state.settings.get("presets") == {"Mine": MINE}
    names = [panel.preset.itemText(i) for i in range(panel.preset.count())]
    assert names[:len(PRESETS)] == list(PRESETS) and names[-1] == "Custom"
    assert _own_items(panel) == ["Mine (yours)"] and names.index("Mine (yours)") > len(PRESETS)
    assert panel.preset.currentData() == "Mine" and panel.delete_preset_button.isEnabled()
    store = win.state.service.store
    run(loop, until(lambda: store.get(first).settings["preset"] == "Mine"))
    assert store.get(first).settings["sampler"]["temperature"] == 0.7

    win.chat.new_chat()
    _choose(panel, "Precise")
    send(loop, win, "Second chat", qtbot)
    second = win.state.conversation.id
    assert win.state.chat_settings.preset == "Precise" and not panel.delete_preset_button.isEnabled()
    _choose(panel, "Mine")
    run(loop, until(lambda: win.state.chat_settings.preset == "Mine"))
    assert _sampling(win.state.chat_settings) == MINE
    assert {k: store.get(second).settings["sampler"][k] for k in MINE} == MINE
    assert panel.numbers["top_p"].value() == 0.85 and panel.top_k.value() == 40
    assert panel.preset.currentText() == "Mine (yours)"


def test_own_presets_survive_a_restart_and_a_chat_naming_one_shows_it_until_edited(loop, make_window,
                                                                                   world_ckpt, qtbot, tmp_path):
    first, panel = _panel(loop, make_window, world_ckpt)
    _set_values(panel, MINE)
    _save_as(panel, qtbot, "Mine")
    send(loop, first, "Keep my preset", qtbot)
    assert first.state.chat_settings.preset == "Mine"
    conv = first.state.conversation.id
    first.close()
    first.state.shutdown()

    second = make_window(tmp_path / "data")                 # same data folder: as after a restart
    run(loop, second.load_model(str(world_ckpt)))
    panel = second.chat.panel
    assert _own_items(panel) == ["Mine (yours)"]
    run(loop, second.state.open(conv))
    assert panel.preset.currentText() == "Mine (yours)" and _sampling(second.state.chat_settings) == MINE
    panel.numbers["temperature"].setValue(1.5)             # no longer the preset's values: Custom
    run(loop, panel.flush())
    assert panel.preset.currentText() == "Custom" and second.state.chat_settings.preset is None
    _choose(panel, "Mine")
    run(loop, until(lambda: second.state.chat_settings.preset == "Mine"))
    assert _sampling(second.state.chat_settings) == MINE


def test_deleting_an_own_preset_leaves_its_chats_values_shown_as_custom(loop, make_window, world_ckpt, qtbot):
    win, panel = _panel(loop, make_window, world_ckpt)
    _set_values(panel, MINE)
    _save_as(panel, qtbot, "Mine")
    send(loop, win, "Using mine", qtbot)
    conv = win.state.conversation.id
    _choose(panel, "Balanced")                              # a built-in one cannot be deleted
    run(loop, until(lambda: win.state.chat_settings.preset == "Balanced"))
    assert not panel.delete_preset_button.isEnabled() and panel.delete_preset() is None
    _choose(panel, "Mine")
    run(loop, until(lambda: win.state.chat_settings.preset == "Mine"))

    box = panel.delete_preset()
    assert "Mine" in box.text() and box.defaultButton() is box.button(QMessageBox.Cancel)
    qtbot.mouseClick(box.button(QMessageBox.Cancel), Qt.LeftButton)
    assert win.state.settings.get("presets") == {"Mine": MINE}           # asked, not done
    panel.delete_preset_button.click()
    qtbot.mouseClick(panel.preset_box.button(QMessageBox.Yes), Qt.LeftButton)
    assert win.state.settings.get("presets") == {} and _own_items(panel) == []
    assert panel.preset.findData("Mine") == -1 and panel.preset.currentText() == "Custom"
    assert _sampling(win.state.chat_settings) == MINE                   # the chat keeps its values
    assert {k: win.state.service.store.get(conv).settings["sampler"][k] for k in MINE} == MINE
    assert panel.numbers["top_p"].value() == 0.85 and not panel.delete_preset_button.isEnabled()
    win.chat.new_chat()
    run(loop, win.state.open(conv))
    assert panel.preset.currentText() == "Custom" and _sampling(win.state.chat_settings) == MINE


@pytest.mark.parametrize("name", ["", "   ", "Balanced", "rwkv runner", "Custom"])
def test_an_empty_or_built_in_name_is_refused_with_why(make_window, qtbot, name):
    win = make_window()
    panel = win.chat.panel
    _set_values(panel, MINE)
    box = _save_as(panel, qtbot, name)
    assert box is not None and box.icon() == QMessageBox.Warning
    assert ("needs a name" in box.text()) if not name.strip() else ("built-in" in box.text())
    assert win.state.settings.get("presets") is None and _own_items(panel) == []
    assert PRESETS["Balanced"].temperature == 1.0 and list(PRESETS) == ["Balanced", "Creative", "Precise",
                                                                        "RWKV Runner"]


def test_saving_over_an_own_preset_asks_first(make_window, qtbot):
    win = make_window()
    panel = win.chat.panel
    _set_values(panel, MINE)
    assert _save_as(panel, qtbot, "Mine") is None
    panel.numbers["temperature"].setValue(1.9)
    box = _save_as(panel, qtbot, "Mine")
    assert box is not None and "Replace" in box.text() and box.defaultButton() is box.button(QMessageBox.Cancel)
    qtbot.mouseClick(box.button(QMessageBox.Cancel), Qt.LeftButton)
    assert win.state.settings.get("presets")["Mine"]["temperature"] == 0.7
    box = _save_as(panel, qtbot, "Mine")
    qtbot.mouseClick(box.button(QMessageBox.Yes), Qt.LeftButton)
    assert win.state.settings.get("presets") == {"Mine": {**MINE, "temperature": 1.9}}
    assert _own_items(panel) == ["Mine (yours)"] and panel.preset.currentData() == "Mine"
    assert win.state.chat_settings.preset == "Mine" and win.state.chat_settings.sampler.temperature == 1.9


def test_a_damaged_or_hand_edited_presets_entry_is_left_out_with_a_warning(make_window, qtbot, tmp_path, caplog):
    from app.settings import Settings

    folder = tmp_path / "data"
    Settings(folder / "settings.json").set("presets", {
        "Good": MINE,
        "Hot": {**MINE, "temperature": 9, "top_k": 5000, "penalty_decay": 0.5},   # brought within the panel's
        "Not values": "warm",
        "Half": {"temperature": 0.5},
        "Words": {**MINE, "top_p": "high"},
        "Fractional k": {**MINE, "top_k": 2.5},
        "Balanced": MINE,                                  # a built-in name, by hand
        "": MINE,
    })
    with caplog.at_level(logging.WARNING, logger="app.chat_settings"):
        win = make_window(folder)
    panel = win.chat.panel
    assert _own_items(panel) == ["Good (yours)", "Hot (yours)"]
    for name in ("Not values", "Half", "Words", "Fractional k", "Balanced", ""):
        assert f"preset {name!r} is left out" in caplog.text
    assert panel.preset.findText("Balanced") >= 0 and panel.preset.findText("Balanced (yours)") == -1
    _choose(panel, "Hot")
    hot = win.state.chat_settings.sampler
    assert (hot.temperature, hot.top_k, hot.penalty_decay) == (3.0, 1000, 0.9)
    assert panel.numbers["temperature"].value() == 3.0 and panel.preset.currentText() == "Hot (yours)"
    # Saving keeps the entries it did not touch as they were (the user may mend them by hand).
    assert _save_as(panel, qtbot, "Another") is None
    assert win.state.settings.get("presets")["Not values"] == "warm"
    assert _own_items(panel) == ["Another (yours)", "Good (yours)", "Hot (yours)"]


def test_presets_saved_as_something_else_than_a_mapping_are_ignored(make_window, tmp_path, caplog):
    from app.settings import Settings

    folder = tmp_path / "data"
    Settings(folder / "settings.json").set("presets", ["Mine", 1])
    with caplog.at_level(logging.WARNING, logger="app.chat_settings"):
        win = make_window(folder)
    assert "not a mapping" in caplog.text and _own_items(win.chat.panel) == []
    assert win.chat.panel.preset.count() == len(PRESETS) + 1        # the built-in ones and Custom
