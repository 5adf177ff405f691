"""The window with a remote OpenAI-compatible server as its backend, for real: RWKV Desktop's own
server started as a subprocess (``python -m engine serve --model demo``), and a fake server that
streams canned replies, breaks a stream, and answers 401 / 404. Conversations stay in the local
store; every failure is shown and the window goes on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import Qt

from tests.fixtures.fake_openai import REPLY, FakeOpenAI
from tests.gui.util import path, run, send, until

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _endless_for_the_demo():
    """Settings with which the demo model's reply cannot end by itself: its end-of-text token and
    every token holding a newline banned (sent to our server as logit_bias, in its model's ids)."""
    import engine
    from engine.service import ChatSettings
    from engine.text.sampling import SamplerSettings
    from engine.text.tokenizer import tokenizer_for

    tok = tokenizer_for(engine.load("demo"))
    banned = [0, *(t for t in range(tok.vocab_size) if b"\n" in tok.token_bytes(t))]
    return ChatSettings(sampler=SamplerSettings(seed=1, banned_tokens=tuple(banned)), max_tokens=8000)


@pytest.fixture(scope="module")
def our_server(tmp_path_factory):
    """``python -m engine serve --model demo`` on a free port, until the module's tests are done."""
    port, folder = _free_port(), tmp_path_factory.mktemp("our-server")
    log = open(folder / "stderr.txt", "w+")         # noqa: SIM115 - read when the server fails
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", "demo", "--port", str(port),
                             "--data-dir", str(folder)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, (folder / "stderr.txt").read_text()
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    log.close()


@pytest.fixture
def fake():
    with FakeOpenAI(models=("fake-1",)) as server:
        yield server


def _connect(loop, win, url, key="", model=None):
    """Through the dialog, as a user does: URL, key, List models, pick, Connect."""
    dialog = win.remote_dialog()
    dialog.url.setText(url)
    dialog.key.setText(key)
    assert run(loop, dialog.list_models()), dialog.error.text()
    if model is not None:
        dialog.models.setCurrentItem(dialog.models.findItems(model, Qt.MatchExactly)[0])
    said = dialog.info.text()
    return said, run(loop, dialog.connect())          # (the dialog closes itself once connected)


def test_the_window_chats_with_our_server_and_its_state_cache_reads_only_the_new_turn(loop, make_window, qtbot,
                                                                                        our_server):
    win = make_window()
    said, ok = _connect(loop, win, our_server)
    assert ok and "RWKV Desktop's server" in said and "state cache" in said
    assert win.state.model.is_remote and "remote server" in win.header.text()
    assert not win.hardware.isEnabled()
    send(loop, win, 'What does "harbor" mean?', qtbot)
    send(loop, win, "Use it in a sentence.", qtbot)
    first, reply1, _, reply2 = path(win)
    assert reply1.text and reply2.text and reply2.stats.tokens > 0
    assert reply2.stats.cached_tokens > 0                   # the server read only the new turn
    assert "from the server's state cache" in win.chat.view.toPlainText()
    # Regenerate and edit resend the history of their branch.
    qtbot.mouseClick(win.chat.regen_button, Qt.LeftButton)
    run(loop, until(lambda: not win.chat.busy and win.state.conversation.branch(path(win)[-1].id) == (2, 2)))
    assert path(win)[-1].stats.cached_tokens > 0
    win.chat.start_edit(first.id)
    win.chat.input.setPlainText('What does "lighthouse" mean?')
    win.chat.send()
    run(loop, until(lambda: not win.chat.busy and len(path(win)) == 2 and path(win)[1].text))
    assert path(win)[0].text == 'What does "lighthouse" mean?' and win.state.conversation.branch(path(win)[0].id) \
        == (2, 2)
    # Stop: a reply that cannot end by itself stops at once, and the server is free for the next.
    win.chat.new_chat()
    win.state.draft_settings = _endless_for_the_demo()
    win.chat.input.setPlainText("Tell me a long story")
    win.chat.send()
    run(loop, until(lambda: len(path(win)) == 2 and len(win.state.text_of(path(win)[1].id)) > 20))
    qtbot.mouseClick(win.chat.stop_button, Qt.LeftButton)
    run(loop, until(lambda: not win.chat.busy))
    assert path(win)[1].stop_reason == "cancelled" and "stopped" in win.chat.view.toPlainText()
    assert sum(1 for c in win.state.conversations() if c.model_fingerprint == "remote") == 2    # stored here


def test_a_fake_server_streams_and_its_failures_are_shown(loop, make_window, qtbot, fake, world_ckpt):
    win = make_window()
    assert run(loop, win.load_model(str(world_ckpt)))
    with FakeOpenAI(api_key="right-key-123") as locked:
        _, ok = _connect(loop, win, locked.url.replace("/v1", ""), key="right-key-123")   # /v1 is added
        assert ok and win.state.model.remote == locked.url
        dialog = win.remote_dialog()
        dialog.key.setText("wrong")
        assert not run(loop, dialog.list_models()) and "401" in dialog.error.text()
        dialog.close()
        assert win.state.model.remote == locked.url          # nothing changed
    _, ok = _connect(loop, win, fake.url)
    assert ok and win.state.model.unavailable("precision")
    send(loop, win, "Hello", qtbot)
    assert path(win)[-1].text == REPLY and fake.bodies[-1]["messages"] == [{"role": "user", "content": "Hello"}]
    assert "cannot be asked to continue" in win.chat.continue_button.toolTip() and not win.chat.think.isEnabled()
    assert all(not a.isEnabled() and "computer" in a.toolTip() for a, *_ in win.local_actions)
    fake.mode = "break"
    send(loop, win, "Again", qtbot)
    assert win.chat.error.isVisible() and "broke off" in win.chat.error.text()
    assert path(win)[-1].stop_reason == "error"
    fake.mode = 404
    qtbot.mouseClick(win.chat.regen_button, Qt.LeftButton)
    run(loop, until(lambda: not win.chat.busy and "404" in win.chat.error.text()))
    fake.mode = "ok"
    qtbot.mouseClick(win.chat.regen_button, Qt.LeftButton)            # usable after every failure
    run(loop, until(lambda: not win.chat.busy and path(win)[-1].text == REPLY))
    assert [m["content"] for m in fake.bodies[-1]["messages"]] == ["Hello", REPLY, "Again"]
    assert run(loop, win.load_model(str(world_ckpt)))                  # back to the model on this computer
    assert win.hardware.isEnabled() and all(a.isEnabled() for a, *_ in win.local_actions
                                            if a is not win.clear_tuning_action)     # (no tuning applied)
    run(loop, win.state.open(win.sidebar.conversations.item(0).data(Qt.UserRole)))
    said = lambda: win.statusBar().toolTip() or win.statusBar().currentMessage()    # noqa: E731
    run(loop, until(lambda: "remote server" in said()))                # said in the status bar, not a dialog


def _status_bar_text(win) -> str:
    """All the status bar says: its message and its permanent labels."""
    from PySide6.QtWidgets import QLabel

    bar = win.statusBar()
    labels = [w.text() for w in bar.findChildren(QLabel) if w.isVisible() and w.text()]
    return " | ".join([bar.currentMessage(), *labels])


def test_the_status_bar_says_remote_server_once_and_names_the_server_and_model(loop, make_window, qtbot, fake):
    """It said "Remote server" twice: a permanent label, and beside it a failure's title (or why a
    feature is off). The label names the model and the server instead."""
    win = make_window()
    _, ok = _connect(loop, win, fake.url)
    assert ok
    host = fake.url.split("//")[1].split("/")[0]
    assert "fake-1" in win.state_label.text() and host in win.state_label.text()
    assert fake.url in win.state_label.toolTip()
    fake.mode = "break"
    send(loop, win, "Hello", qtbot)
    assert win.chat.error.isVisible()
    said = _status_bar_text(win)
    assert said.lower().count("remote server") == 1, said
    win._needs_local("save_state")                              # a feature that is off says why
    said = _status_bar_text(win)
    assert "keeps its states" in said and said.lower().count("remote server") == 1, said


class _OurKindOfFake(FakeOpenAI):
    """A fake that lists its models as RWKV Desktop's server does (think modes are then sent)."""

    async def _models(self, request):
        from starlette.responses import JSONResponse

        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "rwkv",
                                                         "rwkv": {"server": "rwkv-desktop"}} for m in self.models]})


def test_think_is_off_for_a_remote_model_not_named_g0_g1_and_the_chats_choice_is_kept(loop, make_window, qtbot,
                                                                                      world_ckpt, tmp_path):
    """Think modes are for G0/G1 models (engine.text.chat.trained_to_think, the rule --think follows):
    a remote model is known by its name. The conversation's own choice is not lost meanwhile."""
    g1 = tmp_path / f"rwkv7-g1-tiny{world_ckpt.suffix}"            # the same weights, named as a G1 model
    g1.symlink_to(world_ckpt)
    win = make_window()
    assert run(loop, win.load_model(str(g1)))
    assert win.chat.think.isEnabled()
    win.chat.think.setCurrentIndex(win.chat.think.findData("think a bit"))
    win.chat.think.activated.emit(win.chat.think.currentIndex())
    assert win.state.chat_settings.think == "think a bit"
    with _OurKindOfFake(models=("rwkv7-g1a-0.1b-20250728-ctx4096", "world-3b")) as ours:
        _, ok = _connect(loop, win, ours.url, model="world-3b")
        assert ok and win.state.model.server == "rwkv-desktop"
        assert not win.chat.think.isEnabled()
        assert "G0/G1" in win.chat.think.toolTip() and "world-3b" in win.chat.think.toolTip()
        assert win.chat.think_mode() == "off"                       # what is sent
        assert win.state.chat_settings.think == "think a bit"      # what the chat keeps
        _, ok = _connect(loop, win, ours.url, model="rwkv7-g1a-0.1b-20250728-ctx4096")
        assert ok and win.chat.think.isEnabled() and win.chat.think_mode() == "think a bit"


def test_opening_a_remote_chat_does_not_say_it_resumed_a_saved_state(loop, make_window, qtbot, fake):
    """A remote server reads the history again: there is no state here to resume."""
    win = make_window()
    _, ok = _connect(loop, win, fake.url)
    assert ok
    send(loop, win, "Hello", qtbot)
    first = win.state.conversation.id
    win.chat.new_chat()
    send(loop, win, "Another chat", qtbot)
    said: list[str] = []
    win.state.status.connect(lambda message, _ms: said.append(message))
    assert run(loop, win.state.open(first))
    assert not any("Resumed from saved state" in m for m in said), said
    assert "Resumed from saved state" not in win.statusBar().currentMessage()
