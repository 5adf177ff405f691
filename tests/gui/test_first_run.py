"""The first-run card, through the app's own start-up (app.main.start) on fresh and used data folders:
what it says, that it has the focus, that Enter downloads the recommended model (from a mock Hub on
127.0.0.1), that Open file loads a file, and when it is not shown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel

from app.main import start
from tests.e2e.mock_hub import MockHub, make_bytes
from tests.gui.test_models import _entry, _use_mirror
from tests.gui.util import run, until


@pytest.fixture
def mock_hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with MockHub() as server:
        yield server


def test_the_first_launch_shows_the_card_with_focus_and_enter_downloads_the_recommended_model(
        loop, make_window, mock_hub, qtbot):
    entry = _entry(mock_hub, "rwkv7-g1-0.1b-20990101-ctx4096.pth", make_bytes(200_000))
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    win.tabs.setCurrentIndex(0)
    run(loop, start(win, None))
    card = win.first_run
    assert win.state.model.name.startswith("demo") or "demo" in win.state.model.path
    run(loop, until(lambda: card.isVisible()))
    texts = " ".join(label.text() for label in card.findChildren(QLabel))
    assert "only knows word definitions" in texts and entry.filename in texts
    assert "Open a model file" in card.open_button.text()
    run(loop, until(lambda: QApplication.focusWidget() is card.download_button))
    assert card.download_button.isDefault()

    qtbot.keyClick(card.download_button, Qt.Key_Return)
    row = win.models.downloads[(entry.repo, entry.filename)]
    run(loop, until(lambda: row.download.state in ("done", "failed")))
    assert row.download.state == "done", row.info.text()
    assert win.tabs.currentWidget() is win.models
    assert not _alive(card) or not card.isVisible()


def _alive(widget) -> bool:
    from shiboken6 import isValid

    return isValid(widget)


def test_open_file_on_the_card_loads_the_users_model(loop, make_window, world_ckpt, monkeypatch):
    win = make_window()
    run(loop, start(win, None))
    card = win.first_run
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(world_ckpt), ""))
    card.open_button.click()
    run(loop, until(lambda: win.state.model is not None and win.state.model.path == str(world_ckpt)))


def test_the_card_is_not_shown_once_a_real_model_was_used_or_it_was_turned_off(loop, make_window, world_ckpt,
                                                                               tmp_path):
    first = make_window(tmp_path / "one")
    run(loop, first.load_model(str(world_ckpt)))
    first.close()
    again = make_window(tmp_path / "one")
    run(loop, start(again, None))
    assert getattr(again, "first_run", None) is None

    second = make_window(tmp_path / "two")
    run(loop, start(second, None))
    second.first_run.dont_show.setChecked(True)
    second.first_run.later_button.click()
    assert second.settings.get("first_run_hidden") is True
    third = make_window(tmp_path / "two")
    run(loop, start(third, None))
    assert getattr(third, "first_run", None) is None
