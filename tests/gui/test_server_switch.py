"""The window's Server page, for real: the switch starts the local OpenAI-compatible server over the
window's own engine service, the official ``openai`` client is answered while the window chats, the
request log fills, and it stops; a port in use or an open address without a key is reported and the
window goes on; an enabled server starts again at the next launch and stops before the engine does."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import openai
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.background import in_thread
from app.main import start
from tests.gui.util import path, run, start_endless_reply, until


@contextmanager
def _port_in_use() -> Iterator[int]:
    """A port another program listens on, while the block runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(url: str) -> bool:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0


def test_the_switch_serves_the_model_while_the_window_chats(loop, make_window, world_ckpt, qtbot, tmp_path):
    win = start_endless_reply(loop, make_window, world_ckpt, tmp_path / "data")   # the window is chatting
    page, server = win.server_page, win.state.server
    assert win.tabs.indexOf(page) >= 0 and not page.switch.isChecked() and not page.copy.isEnabled()
    page.port.setValue(_free_port())
    page.key.setText("local-key-1234")
    page.switch.setChecked(True)
    run(loop, until(lambda: server.running))
    assert page.url.text() == server.url and page.copy.isEnabled() and not page.port.isEnabled()
    assert "local-key-1234" not in page.status.text() and "1234" in page.status.text()     # masked
    qtbot.mouseClick(page.copy, Qt.LeftButton)
    assert QGuiApplication.clipboard().text() == server.url

    client = openai.OpenAI(base_url=server.url, api_key="local-key-1234", max_retries=0)
    name = win.state.model.name
    reply = run(loop, in_thread(lambda: client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "Hello"}], max_tokens=8, temperature=0)))
    assert reply.choices[0].message.content is not None and reply.usage.completion_tokens > 0
    assert win.chat.busy                                    # the window's reply went on meanwhile
    chunks = run(loop, in_thread(lambda: list(client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "Hello"}], max_tokens=8, stream=True))))
    assert chunks
    run(loop, in_thread(lambda: httpx.get(f"{server.url}/models")))       # no key: 401, logged too
    run(loop, until(lambda: page.log.topLevelItemCount() == 3))
    newest, *_, oldest = [page.log.topLevelItem(i) for i in range(3)]
    assert oldest.text(1) == "POST /v1/chat/completions" and oldest.text(5) == "200"
    assert oldest.text(3) == str(reply.usage.completion_tokens) and oldest.text(2).startswith(
        str(reply.usage.prompt_tokens))
    assert float(oldest.text(4)) > 0 and "stream" in page.log.topLevelItem(1).text(5)
    assert newest.text(5) == "401" and "API key" in newest.toolTip(5)
    win.chat.stop()
    run(loop, until(lambda: not win.chat.busy))
    assert path(win)[1].stop_reason == "cancelled"

    served = server.url
    page.switch.setChecked(False)
    run(loop, until(lambda: not server.running))
    assert page.port.isEnabled() and page.url.text() == ""
    run(loop, until(lambda: not _listening(served)))


def test_a_port_in_use_and_an_open_address_without_a_key_are_reported(loop, make_window, world_ckpt):
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    page, server = win.server_page, win.state.server
    with _port_in_use() as port:
        page.port.setValue(port)
        page.switch.setChecked(True)
        run(loop, until(lambda: win.failure is not None))
    assert win.failure[0] == "Could not start the local server" and "Cannot listen" in win.failure[1]
    assert not server.running and not page.switch.isChecked() and "Cannot listen" in page.status.text()
    win.failure = None
    page.port.setValue(_free_port())
    page.lan.setChecked(True)
    page.key.setText("")
    page.switch.setChecked(True)
    run(loop, until(lambda: win.failure is not None))
    assert "API key" in win.failure[1] and not server.running
    page.key.setText("a-long-enough-key")
    page.key.editingFinished.emit()
    page.switch.setChecked(True)
    run(loop, until(lambda: server.running))
    assert not server.url.startswith("http://0.0.0.0")          # the address other computers use
    page.switch.setChecked(False)
    run(loop, until(lambda: not server.running))


def test_an_enabled_server_starts_again_at_the_next_launch_and_stops_before_the_engine(loop, make_window,
                                                                                     world_ckpt, tmp_path):
    folder = tmp_path / "data"
    first = make_window(folder)
    run(loop, first.load_model(str(world_ckpt)))
    first.server_page.port.setValue(_free_port())
    first.server_page.switch.setChecked(True)
    run(loop, until(lambda: first.state.server.running))
    url = first.state.server.url
    first.close()
    first.state.shutdown()                  # what quitting does: the server first, then the engine
    try:
        httpx.get(f"{url}/models", timeout=2)
        raise AssertionError("the server outlived the window")
    except httpx.HTTPError:
        pass

    second = make_window(folder)            # the next launch
    run(loop, start(second, str(world_ckpt)))
    assert second.state.server.running and second.state.server.url == url
    assert httpx.get(f"{url}/models", timeout=5).json()["data"][0]["id"] == second.state.model.name


def test_the_window_will_not_chat_through_its_own_server(loop, make_window, world_ckpt, tmp_path):
    """Connecting the window to the server it runs would unload the model that server serves (then every
    request gets 503): it is refused, said in a dialog, and the local model stays."""
    win = make_window(tmp_path / "data")
    run(loop, win.load_model(str(world_ckpt)))
    server = win.state.server
    win.server_page.port.setValue(_free_port())
    win.server_page.switch.setChecked(True)
    run(loop, until(lambda: server.running))
    for url in (server.url, server.url.replace("127.0.0.1", "localhost")):
        win.failure = None
        assert not run(loop, win.state.connect_remote(url, None, None))
        run(loop, until(lambda: win.failure is not None))
        assert "own server" in win.failure[1]
        assert not win.state.model.is_remote and win.state.model.path == str(world_ckpt)
    run(loop, server.stop())


def _remembered(folder) -> bool:
    return bool(json.loads((folder / "settings.json").read_text(encoding="utf-8")).get("server_enabled", False))


def test_a_start_that_failed_is_not_remembered_as_on(loop, make_window, world_ckpt, tmp_path):
    """The switch refused (a port in use, an open address without a key) is off in settings.json too: the
    next launch does not serve by itself. Only a start that succeeded is remembered."""
    folder = tmp_path / "data"
    win = make_window(folder)
    run(loop, win.load_model(str(world_ckpt)))
    page, server = win.server_page, win.state.server
    with _port_in_use() as port:
        page.port.setValue(port)
        page.switch.setChecked(True)
        run(loop, until(lambda: win.failure is not None))
        assert not server.running and not page.switch.isChecked()
        assert not server.enabled and not _remembered(folder)
    win.failure = None
    page.port.setValue(_free_port())
    page.lan.setChecked(True)
    page.key.setText("")
    page.switch.setChecked(True)
    run(loop, until(lambda: win.failure is not None))
    assert "API key" in win.failure[1] and not server.enabled and not _remembered(folder)
    win.close()
    win.state.shutdown()

    second = make_window(folder)            # the next launch: nothing is served
    run(loop, start(second, str(world_ckpt)))
    assert not second.state.server.running and second.failure is None
    page, server = second.server_page, second.state.server
    page.lan.setChecked(False)
    page.switch.setChecked(True)            # a start that works is remembered
    run(loop, until(lambda: server.running))
    run(loop, until(lambda: _remembered(folder)))
    page.switch.setChecked(False)
    run(loop, until(lambda: not server.running))
    assert not _remembered(folder)


def test_a_remembered_server_that_cannot_start_at_launch_says_why_and_is_left_off(loop, make_window, world_ckpt,
                                                                                  tmp_path):
    folder = tmp_path / "data"
    with _port_in_use() as port:
        first = make_window(folder)         # on at the last close, on a port another program took since
        first.state.set_preference("server_port", port)
        first.state.set_preference("server_enabled", True)
        first.state.shutdown()
        second = make_window(folder)
        run(loop, start(second, str(world_ckpt)))
        run(loop, until(lambda: second.failure is not None))
    assert second.failure[0] == "Could not start the local server" and "Cannot listen" in second.failure[1]
    assert not second.state.server.running and not second.server_page.switch.isChecked()
    assert "Cannot listen" in second.server_page.status.text()
    assert not second.state.server.enabled and not _remembered(folder)


def test_a_client_that_leaves_mid_stream_is_logged_as_gone(loop, make_window, world_ckpt):
    """Not "200 (stream)" with blank counts like an answered stream: the log says the client left, with the
    tokens written until the reply stopped."""
    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    page, server = win.server_page, win.state.server
    page.port.setValue(_free_port())
    page.switch.setChecked(True)
    run(loop, until(lambda: server.running))
    endless = {"prompt": "Once upon a time", "max_tokens": 4096, "stream": True, "logit_bias": {"0": -100}}

    def leave_after_the_first_chunk() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            with http.stream("POST", "/completions", json=endless) as resp:
                assert resp.status_code == 200
                next(resp.iter_raw())       # then the connection closes

    run(loop, in_thread(leave_after_the_first_chunk))
    run(loop, in_thread(lambda: httpx.post(f"{server.url}/completions", json={"prompt": "Hi", "max_tokens": 2},
                                           timeout=60)))
    run(loop, until(lambda: page.log.topLevelItemCount() == 2))
    answered, left = page.log.topLevelItem(0), page.log.topLevelItem(1)
    assert left.text(5) == "client left (stream)" and "left" in left.toolTip(5)
    assert int(left.text(3).replace(",", "")) > 0 and left.text(2) != ""
    assert answered.text(5) == "200" and answered.text(3) == "2"
    page.switch.setChecked(False)
    run(loop, until(lambda: not server.running))
