"""The window as a client of the engine service: no forward pass on the Qt thread, nothing lost on
quit, every failure shown and followed by a usable window."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import torch
from PySide6.QtCore import Qt

import engine
from engine.models.model import Model
from tests.gui.util import endless_settings, path, run, send, start_endless_reply, until


def test_no_forward_pass_runs_on_the_qt_thread(loop, make_window, world_ckpt, qtbot, monkeypatch):
    threads: list[str] = []
    real = Model.forward

    def recording(self, tokens, state=None):
        threads.append("qt" if threading.current_thread() is threading.main_thread() else
                       threading.current_thread().name)
        return real(self, tokens, state)

    monkeypatch.setattr(Model, "forward", recording)
    win = make_window()
    assert run(loop, win.load_model(str(world_ckpt)))
    win.state.draft_settings = replace(win.state.draft_settings, max_tokens=16)
    win.chat.system.setText("You are a careful assistant.")       # read before the first reply
    send(loop, win, "Hello", qtbot)
    qtbot.mouseClick(win.chat.regen_button, Qt.LeftButton)
    run(loop, until(lambda: not win.chat.busy and len(path(win)) == 3 and
                    win.state.conversation.branch(path(win)[-1].id) == (2, 2)))
    user = path(win)[1]
    win.chat.start_edit(user.id)
    win.chat.input.setPlainText("Hello again")
    win.chat.send()
    run(loop, until(lambda: not win.chat.busy and path(win)[1].text == "Hello again"))
    run(loop, win.state.update_chat(replace(win.state.chat_settings, max_tokens=2)))
    send(loop, win, "Be short", qtbot)
    assert not path(win)[-1].complete and win.chat.continue_button.isEnabled()
    qtbot.mouseClick(win.chat.continue_button, Qt.LeftButton)
    run(loop, until(lambda: not win.chat.busy and path(win)[-1].token_count > 2))
    counts = {name: threads.count(name) for name in set(threads)}
    print(f"forward passes by thread: {counts}")
    assert threads and "qt" not in counts and set(counts) == {"engine"}


def test_quit_while_a_reply_streams_keeps_the_message_and_the_partial_reply(loop, make_window, world_ckpt, qtbot,
                                                                             tmp_path):
    folder = tmp_path / "data"
    win = start_endless_reply(loop, make_window, world_ckpt, folder)
    conv = win.state.conversation.id
    assert win.chat.busy
    win.close()
    win.state.shutdown()                  # what app.main does once the window is closed

    again = make_window(folder)
    run(loop, again.load_model(str(world_ckpt)))
    run(loop, again.state.open(conv))
    user, reply = path(again)
    assert user.text == "Tell me a long story"
    assert reply.text and reply.stopped and not reply.complete
    assert "stopped" in again.chat.view.toPlainText()
    run(loop, again.state.update_chat(replace(again.state.chat_settings, max_tokens=3)))
    qtbot.mouseClick(again.chat.continue_button, Qt.LeftButton)     # the conversation goes on
    run(loop, until(lambda: not again.chat.busy and path(again)[1].token_count > reply.token_count))
    send(loop, again, "Thanks", qtbot)
    assert [m.role for m in path(again)] == ["user", "assistant", "user", "assistant"]


def test_stop_while_the_prompt_is_read_then_send_gives_a_reply(loop, make_window, world_ckpt, qtbot):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Hello", qtbot)
    seen = []

    def stop_while_reading(message, _ms):
        if "Reading the prompt" in message:
            seen.append(message)
            win.chat.stop()

    win.state.status.connect(stop_while_reading)
    win.chat.input.setPlainText(" ".join(f"word{i}" for i in range(3000)))
    win.chat.send()
    run(loop, until(lambda: seen and not win.chat.busy))
    assert "stopped before the model read it" in win.chat.view.toPlainText()
    win.state.status.disconnect(stop_while_reading)
    send(loop, win, "Short one", qtbot)
    assert path(win)[-1].role == "assistant" and path(win)[-1].text
    assert win.chat.error.isHidden()


def test_a_model_that_raises_at_load_is_reported_and_the_old_one_stays(loop, make_window, world_ckpt, qtbot,
                                                                        monkeypatch, tmp_path):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))

    def explode(*args, **kwargs):
        raise ValueError("a shape nobody expected")

    monkeypatch.setattr(engine, "load", explode)
    assert not run(loop, win.load_model(str(tmp_path / "whatever.pth")))
    run(loop, until(lambda: win.failure is not None))
    assert "a shape nobody expected" in win.failure[1]
    assert win.state.model.path == str(world_ckpt) and "RWKV-7" in win.header.text()
    assert win.chat.send_button.isEnabled() and not win.chat.busy
    monkeypatch.undo()
    send(loop, win, "Still here?", qtbot)
    assert path(win)[-1].role == "assistant"


def test_a_forward_pass_that_raises_is_shown_and_the_next_send_works(loop, make_window, world_ckpt, qtbot,
                                                                      monkeypatch):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    real = Model.forward

    def once(self, tokens, state=None):
        monkeypatch.setattr(Model, "forward", real)
        raise RuntimeError("the kernel fell over")

    monkeypatch.setattr(Model, "forward", once)
    send(loop, win, "Break", qtbot)
    assert win.chat.error.isVisible() and "the kernel fell over" in win.chat.error.text()
    assert win.chat.send_button.isEnabled() and path(win)[0].text == "Break"
    send(loop, win, "Again", qtbot)
    assert path(win)[-1].role == "assistant" and win.chat.error.isHidden()


def test_nan_logits_are_shown_as_an_error_not_as_text(loop, make_window, rwkv7_checkpoint, world_ckpt, qtbot,
                                                       tmp_path):
    weights = torch.load(rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536, seed=4),
                         weights_only=True)
    weights["head.weight"][5, 1] = float("nan")
    broken = tmp_path / "nan-head.pth"
    torch.save(weights, broken)
    win = make_window()
    assert run(loop, win.load_model(str(broken)))
    send(loop, win, "Hello", qtbot)
    assert win.chat.error.isVisible() and "NaN" in win.chat.error.text()
    assert win.chat.send_button.isEnabled()
    assert run(loop, win.load_model(str(world_ckpt)))        # the next action works
    send(loop, win, "Hello", qtbot)
    assert path(win)[-1].role == "assistant"


def test_two_conversations_keep_going_when_the_window_switches_between_them(loop, make_window, world_ckpt, qtbot):
    win = start_endless_reply(loop, make_window, world_ckpt)
    first = win.state.conversation.id
    win.chat.new_chat()                                          # the first reply goes on in the engine
    win.state.draft_settings = replace(endless_settings(), max_tokens=4)
    send(loop, win, "A second chat", qtbot)
    assert path(win)[-1].role == "assistant"
    run(loop, win.state.open(first))
    assert win.chat.busy                                         # still being written
    win.chat.stop()
    run(loop, until(lambda: not win.chat.busy))
    assert path(win)[-1].stopped and path(win)[-1].text


def test_after_a_long_prompt_is_read_the_status_says_generating(loop, make_window, world_ckpt, qtbot):
    """The prompt's progress ("Reading the prompt… N of N tokens") gives way to "Generating…" once the
    reply's first words come, instead of staying up for the whole reply."""
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    win.state.draft_settings = replace(win.state.draft_settings, max_tokens=8)
    said: list[str] = []
    win.state.status.connect(lambda message, _ms: said.append(message))
    win.chat.input.setPlainText(" ".join(f"word{i}" for i in range(3000)))
    win.chat.send()
    run(loop, until(lambda: not win.chat.busy and path(win)[-1].role == "assistant" and path(win)[-1].text))
    reading = [i for i, m in enumerate(said) if "Reading the prompt" in m]
    assert reading, said
    assert "Generating…" in said[reading[-1] + 1:]


def test_a_failure_of_a_request_the_window_did_not_make_is_not_shown_in_it(loop, make_window, world_ckpt):
    """The local server's clients send requests through the same engine service: their failures go back
    to them (and to the server's log), never into a dialog over the window. The window's own still do."""
    from engine.service import commands as C
    from engine.service import events as E

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    _, future = win.state.service.submit(C.OpenConversation(987654))        # as a server request would
    assert isinstance(future.result(timeout=30), E.Failed)
    loop.run_until_complete(asyncio.sleep(0.3))                             # its event reaches the window
    assert win.failure is None
    run(loop, win.state.open(987654))                                        # the window's own
    run(loop, until(lambda: win.failure is not None))
    assert win.chat.send_button.isEnabled()


def test_a_failed_replys_message_leaves_with_its_conversation(loop, make_window, world_ckpt, qtbot, monkeypatch):
    """The failure said under a conversation belongs to it: a new chat or another model clears it."""
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    send(loop, win, "Hello", qtbot)
    monkeypatch.setattr(Model, "forward", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("the kernel fell over")))
    win.chat.input.setPlainText("Again")
    win.chat.send()
    run(loop, until(lambda: not win.chat.error.isHidden()))
    monkeypatch.undo()
    run(loop, win.state.open(win.state.conversation.id))                 # the same chat again: still said
    assert not win.chat.error.isHidden()
    win.chat.new_chat()
    assert win.chat.error.isHidden()


def test_a_long_prompts_reading_is_said_apart_from_the_replys_speed(loop, make_window, world_ckpt, qtbot):
    """The status after a reply: its tokens, their time and speed, and a long prompt's reading on its own
    (it read "28 tokens in 2.6 s (385.1 tokens/s)": the time counted the prompt, the speed did not)."""
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    win.state.draft_settings = replace(win.state.draft_settings, max_tokens=4)
    win.chat.input.setPlainText(" ".join(f"word{i}" for i in range(6000)))
    win.chat.send()
    run(loop, until(lambda: not win.chat.busy and path(win)[-1].role == "assistant"))
    st = path(win)[-1].stats
    said = win.statusBar().currentMessage()
    assert st.prompt_seconds > st.seconds / 2, st               # mostly reading: said apart
    assert f"after reading {st.prompt_tokens:,} prompt tokens" in said
    assert f"({st.tokens_per_s:.1f} tokens/s)" in said


def test_returning_to_a_chat_whose_reply_streams_says_generating_not_resumed(loop, make_window, world_ckpt, qtbot):
    """Back in a conversation whose reply is still being written, the status said "Resumed from saved
    state in N ms — nothing re-read": no state was resumed, the reply goes on."""
    win = start_endless_reply(loop, make_window, world_ckpt)
    first = win.state.conversation.id
    win.chat.new_chat()                                          # the first reply goes on in the engine
    win.state.draft_settings = replace(endless_settings(), max_tokens=4)
    send(loop, win, "A second chat", qtbot)
    said: list[str] = []
    win.state.status.connect(lambda message, _ms: said.append(message))
    assert run(loop, win.state.open(first))
    assert win.chat.busy                                         # still being written
    assert not any("Resumed" in m for m in said), said
    assert win.statusBar().currentMessage() == "Generating…"
    second = next(c.id for c in win.state.conversations() if c.id != first)
    win.chat.stop()
    run(loop, until(lambda: not win.chat.busy))
    assert run(loop, win.state.open(second))                     # a finished one: its state is resumed
    assert "Resumed from saved state" in win.statusBar().currentMessage()
