"""The downloads under the catalog, driven through their widgets against a mock Hub on 127.0.0.1:
however many rows there are, they scroll and never make the window taller; finished, failed and
cancelled rows can be removed (each its ×, or Clear finished); a cancel says a part was deleted only
when there was one; and a failure's status bar message goes away like the others."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtWidgets import QApplication

from tests.e2e.mock_hub import MockHub, make_bytes
from tests.gui.test_models import REPO, _entry, _use_mirror
from tests.gui.util import run, until


@pytest.fixture
def mock_hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with MockHub() as server:
        yield server


def _row(win, entry):
    return win.models.downloads[(entry.repo, entry.filename)]


def _settle():
    for _ in range(3):
        QApplication.processEvents()


def _no_disk_space(monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, 1000))


def test_many_download_rows_scroll_and_never_make_the_window_taller(loop, make_window, mock_hub, monkeypatch):
    entries = [_entry(mock_hub, f"rwkv7-many-{i}-0.1b.pth", make_bytes(2**20, seed=i)) for i in range(6)]
    win = make_window()
    _use_mirror(win, mock_hub, entries)
    _no_disk_space(monkeypatch)                  # every download fails at once, as the tester's did
    _settle()
    height = win.height()
    minimums = []
    for entry in entries:
        win.models.download(entry)
        run(loop, until(lambda e=entry: _row(win, e).download.state == "failed"))
        _settle()
        minimums.append(win.minimumSizeHint().height())
    screen = win.screen().availableGeometry().height()
    assert minimums == [minimums[0]] * len(entries), minimums      # one row or six: the same minimum
    assert win.height() == height and minimums[0] <= min(height, screen)
    assert win.statusBar().geometry().bottom() < win.height()

    panel = win.models.downloads_panel
    assert panel.isVisible() and len(panel.rows()) == 6
    assert panel.scroll.verticalScrollBar().maximum() > 0           # the rows below the third scroll
    assert panel.scroll.height() <= sum(r.height() for r in panel.rows()[:3]) + 3 * panel.rows_layout.spacing()


def test_finished_rows_are_removed_by_their_x_or_clear_finished_and_running_ones_stay(loop, make_window, mock_hub):
    data = make_bytes(2**20)
    done = _entry(mock_hub, "rwkv7-done-0.1b.pth", data)
    failed, cancelled = (_entry(MockHub(), name, data) for name in ("rwkv7-missing-0.1b.pth",
                                                                    "rwkv7-dropped-0.1b.pth"))
    running = _entry(mock_hub, "rwkv7-slow-0.1b.pth", make_bytes(3 * 2**20, seed=1))
    win = make_window()
    _use_mirror(win, mock_hub, [done, failed, cancelled, running])
    panel = win.models.downloads_panel
    assert not panel.isVisible() and panel.rows() == []

    for entry, state in ((done, "done"), (failed, "failed"), (cancelled, "failed")):
        win.models.download(entry)
        run(loop, until(lambda e=entry, s=state: _row(win, e).download.state == s))
    _row(win, cancelled).cancel_button.click()
    run(loop, until(lambda: _row(win, cancelled).download.state == "cancelled"))
    mock_hub.slow = 256 * 1024
    win.models.download(running)
    run(loop, until(lambda: _row(win, running).download.done > 0))
    _settle()
    rows = {e.filename: _row(win, e) for e in (done, failed, cancelled, running)}
    assert panel.isVisible() and panel.rows() == list(rows.values())
    assert [r.dismiss_button.isVisible() for r in rows.values()] == [True, True, True, False]
    assert panel.clear_button.isEnabled()

    rows[done.filename].dismiss_button.click()
    _settle()
    assert (REPO, done.filename) not in win.models.downloads and len(panel.rows()) == 3
    assert rows[done.filename].download.path.is_file()          # the file stays, in the library

    panel.clear_button.click()
    _settle()
    assert panel.rows() == [rows[running.filename]] and list(win.models.downloads) == [(REPO, running.filename)]
    assert not panel.clear_button.isEnabled() and panel.isVisible()

    rows[running.filename].cancel_button.click()
    run(loop, until(lambda: rows[running.filename].download.state == "cancelled"))
    _settle()
    assert panel.clear_button.isEnabled() and rows[running.filename].dismiss_button.isVisible()
    panel.clear_button.click()
    _settle()
    assert panel.rows() == [] and not panel.isVisible() and win.models.downloads == {}

    mock_hub.slow = None
    again = win.models.download(done)                 # a new row, which finds the file already there
    run(loop, until(lambda: again.state == "done"))
    assert panel.rows() == [_row(win, done)] and panel.isVisible()


def test_cancel_says_a_partial_file_was_deleted_only_when_one_was(loop, make_window, mock_hub, monkeypatch):
    nothing = _entry(mock_hub, "rwkv7-nothing-0.1b.pth", make_bytes(2**20))
    partly = _entry(mock_hub, "rwkv7-partly-0.1b.pth", make_bytes(3 * 2**20, seed=1))
    win = make_window()
    _use_mirror(win, mock_hub, [nothing, partly])
    with monkeypatch.context() as m:
        _no_disk_space(m)                        # refused before any byte: no part on disk
        win.models.download(nothing)
        run(loop, until(lambda: _row(win, nothing).download.state == "failed"))
    row = _row(win, nothing)
    row.cancel_button.click()
    assert row.download.state == "cancelled"
    assert row.info.text() == "Cancelled"

    mock_hub.slow = 256 * 1024
    win.models.download(partly)
    row = _row(win, partly)
    run(loop, until(lambda: row.download.done > 0))
    row.cancel_button.click()
    run(loop, until(lambda: row.download.state == "cancelled"))
    assert row.info.text() == "Cancelled; the partial file was deleted"


def test_a_failed_downloads_status_message_goes_away_and_the_row_keeps_the_error(loop, make_window, mock_hub,
                                                                                monkeypatch):
    entry = _entry(mock_hub, "rwkv7-full-disk-0.1b.pth", make_bytes(2**20))
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    _no_disk_space(monkeypatch)
    win.models.download(entry)
    run(loop, until(lambda: _row(win, entry).download.state == "failed"))
    assert "Not enough disk space" in win.statusBar().currentMessage()
    assert win.status_ms > 0                      # a timeout, as every message but progress has
    assert "Not enough disk space" in _row(win, entry).info.text()
