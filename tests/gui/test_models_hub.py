"""The Models page beyond the catalog, through its widgets, against mock Hubs on 127.0.0.1: searching
the Hub and downloading a found file; a retry that follows the mirror and folder changed in Settings;
the mirror field refusing what is not an http(s) URL, and the download folder field what cannot be
created or written to."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt

from tests.e2e.mock_hub import MockHub, make_bytes
from tests.gui.test_models import _entry, _library_rows, _use_mirror
from tests.gui.util import run, until

REPO = "someone/rwkv7-tiny-finetunes"


@pytest.fixture
def mock_hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with MockHub() as server:
        yield server


def _items(tree, parent=None):
    count = parent.childCount() if parent is not None else tree.topLevelItemCount()
    return [parent.child(i) if parent is not None else tree.topLevelItem(i) for i in range(count)]


def test_a_model_found_by_searching_the_hub_downloads_verified_into_the_library(loop, make_window, mock_hub,
                                                                                rwkv7_checkpoint):
    ckpt = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536, dtype=torch.bfloat16)
    mock_hub.add(REPO, "rwkv7-tiny-0.1b-chat.pth", ckpt.read_bytes())
    mock_hub.add_small(REPO, "README.md", b"# tiny\n")
    mock_hub.describe(REPO, downloads=42, tags=("rwkv",))
    mock_hub.describe("someone/not-this-one", downloads=99)
    win = make_window()
    _use_mirror(win, mock_hub, [])
    page = win.models.hub_search
    win.models.sources.setCurrentWidget(page)
    page.query.setText("tiny")
    page.search_button.click()
    run(loop, until(lambda: page.results.topLevelItemCount() > 0))
    (repo_item,) = _items(page.results)
    assert repo_item.text(0) == REPO and repo_item.text(4) == "42"
    assert not page.download_button.isEnabled()

    repo_item.setExpanded(True)
    run(loop, until(lambda: repo_item.childCount() > 0))
    (file_item,) = _items(page.results, repo_item)
    assert file_item.text(0) == "rwkv7-tiny-0.1b-chat.pth" and file_item.text(1) == "RWKV-7"
    page.results.setCurrentItem(file_item)
    assert page.download_button.isEnabled()
    page.download_button.click()
    row = win.models.downloads[(REPO, "rwkv7-tiny-0.1b-chat.pth")]
    run(loop, until(lambda: row.download.state in ("done", "failed")))
    assert row.download.state == "done", row.info.text()
    assert row.download.path.read_bytes() == ckpt.read_bytes()
    run(loop, until(lambda: str(row.download.path) in _library_rows(win)))
    assert _library_rows(win)[str(row.download.path)][1] == "RWKV-7"


def test_a_failed_search_says_why_and_the_page_goes_on(loop, make_window, mock_hub):
    win = make_window()
    _use_mirror(win, mock_hub, [])
    mock_hub.api_answer = b"<html>a captive portal</html>"
    page = win.models.hub_search
    page.search_button.click()
    run(loop, until(lambda: page.search_button.isEnabled() and "Could not search" in page.status.text()))
    assert mock_hub.url in page.status.text() and page.results.topLevelItemCount() == 0


def test_retry_uses_the_mirror_and_download_folder_set_after_the_failure(loop, make_window, mock_hub, tmp_path,
                                                                         monkeypatch):
    from engine.host import download

    monkeypatch.setattr(download, "RETRY_DELAYS", (0.05, 0.05))
    data = make_bytes(2 * 2**20 + 5)
    entry = _entry(mock_hub, "moved-0.1b.pth", data)
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    mock_hub.fail_heads = 100                       # the first mirror is down
    win.models.download(entry)
    row = win.models.downloads[(entry.repo, entry.filename)]
    run(loop, until(lambda: row.download.state == "failed"))
    assert row.retry_button.isVisible()

    with MockHub() as second:
        second.add(entry.repo, entry.filename, data)
        settings = win.settings_page
        settings.endpoint.setText(second.url)
        settings.endpoint.editingFinished.emit()
        settings.cache.setText(str(tmp_path / "elsewhere"))
        settings.cache.editingFinished.emit()
        row.retry_button.click()
        run(loop, until(lambda: row.download.state in ("done", "failed")))
        assert row.download.state == "done", row.info.text()
        assert second.gets() and not mock_hub.gets()
    assert row.download.path.is_relative_to(tmp_path / "elsewhere")
    assert row.download.path.read_bytes() == data


@pytest.mark.parametrize(("typed", "says"), [("hf-mirror.com", "no scheme"), ("ftp://hf-mirror.com", "http"),
                                             ("file:///etc", "http"), ("https://", "no host")])
def test_the_mirror_field_refuses_what_is_not_an_http_url_and_keeps_the_saved_one(make_window, typed, says):
    win = make_window()
    field = win.settings_page.endpoint
    field.setText("https://hf-mirror.com/")
    field.editingFinished.emit()
    assert win.settings.get("endpoint") == "https://hf-mirror.com"
    field.setText(typed)
    field.editingFinished.emit()
    error = win.settings_page.endpoint_error
    assert not error.isHidden() and says in error.text() and "Not saved" in error.text()
    assert win.settings.get("endpoint") == "https://hf-mirror.com"
    field.setText("")
    field.editingFinished.emit()
    assert error.isHidden() and win.settings.get("endpoint") == ""


def test_the_search_tab_reads_the_mirror_at_each_search(loop, make_window, mock_hub):
    win = make_window()
    page = win.models.hub_search
    mock_hub.describe("a/rwkv7-one")
    win.settings_page.endpoint.setText(mock_hub.url)
    win.settings_page.endpoint.editingFinished.emit()
    page.search_button.click()
    run(loop, until(lambda: page.results.topLevelItemCount() == 1))
    assert page.results.topLevelItem(0).data(0, Qt.UserRole + 1) == "a/rwkv7-one"
    assert Path(win.models.cache_dir()).name == "hf-cache"


def _select(win, path) -> None:
    lib = win.models.library
    lib.setCurrentItem(next(it for it in _items(lib) if it.data(0, Qt.UserRole) == str(path)))


def test_deleting_a_downloaded_model_asks_then_removes_it_from_disk_and_the_library(loop, make_window, mock_hub,
                                                                                   rwkv7_checkpoint):
    from PySide6.QtWidgets import QMessageBox

    ckpt = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536, dtype=torch.bfloat16)
    entry = _entry(mock_hub, "rwkv7-doomed-0.1b.pth", ckpt.read_bytes())
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    win.models.download(entry)
    row = win.models.downloads[(entry.repo, entry.filename)]
    run(loop, until(lambda: str(row.download.path) in _library_rows(win)))
    path = row.download.path
    blob = path.resolve()
    assert win.settings.get("downloaded") == [str(path)]

    _select(win, path)
    box = win.models.delete_selected()
    assert "downloaded it" in box.informativeText() and "rwkv7-doomed-0.1b" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.Cancel)
    box.button(QMessageBox.Cancel).click()
    run(loop, asyncio.sleep(0.2))
    assert path.exists() and str(path) in _library_rows(win)

    box = win.models.delete_selected()
    next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.DestructiveRole).click()
    run(loop, until(lambda: str(path) not in _library_rows(win)))
    assert not path.exists() and not blob.exists()
    assert win.settings.get("downloaded") == []
    assert "freed" in win.statusBar().currentMessage()


def test_a_users_own_file_is_deleted_only_after_a_warning_and_the_loaded_model_not_at_all(
        loop, make_window, tmp_path, rwkv7_checkpoint):
    from PySide6.QtWidgets import QMessageBox

    ckpt = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "keep.pth").write_bytes(ckpt.read_bytes())
    (folder / "drop.pth").write_bytes(ckpt.read_bytes())
    win = make_window()
    run(loop, win.models.add_folder(str(folder)))
    run(loop, win.load_model(str(folder / "keep.pth")))
    _select(win, folder / "keep.pth")
    assert win.models.delete_selected() is None and "is loaded" in win.statusBar().currentMessage()
    _select(win, win.models.files[0][0])                       # the demo
    assert win.models.delete_selected() is None and (folder / "keep.pth").exists()

    _select(win, folder / "drop.pth")
    box = win.models.delete_selected()
    assert "your own file" in box.informativeText() and str(folder) in box.informativeText()
    next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.DestructiveRole).click()
    run(loop, until(lambda: str(folder / "drop.pth") not in _library_rows(win)))
    assert not (folder / "drop.pth").exists() and (folder / "keep.pth").exists()


def _unusable_folders(tmp_path):
    (tmp_path / "a-file").write_text("")
    folders = [(str(tmp_path / "a-file"), "is a file"), (str(tmp_path / "a-file" / "models"), "cannot be created"),
               ("models", "not a whole path")]
    if Path("/proc").is_dir():
        folders.append(("/proc/nope", "cannot be created"))
    return folders


def test_the_download_folder_is_refused_with_why_when_it_cannot_be_used_and_the_saved_one_stays(
        make_window, tmp_path):
    win = make_window()
    field = win.settings_page.cache
    good = tmp_path / "not-there-yet" / "models"
    field.setText(str(good))
    field.editingFinished.emit()
    assert good.is_dir() and win.settings.get("hf_cache") == str(good)         # created, and saved
    error = win.settings_page.cache_error
    assert error.isHidden()
    for typed, says in _unusable_folders(tmp_path):
        field.setText(typed)
        field.editingFinished.emit()
        assert not error.isHidden() and says in error.text() and "Not saved" in error.text(), (typed, error.text())
        assert typed in error.text() and win.settings.get("hf_cache") == str(good)
    field.setText("")
    field.editingFinished.emit()
    assert error.isHidden() and win.settings.get("hf_cache") == ""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="needs POSIX permissions, which root ignores")
def test_a_read_only_download_folder_is_refused(make_window, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        win = make_window()
        win.settings_page.cache.setText(str(folder))
        win.settings_page.cache.editingFinished.emit()
        assert "cannot be written" in win.settings_page.cache_error.text()
        assert win.settings.get("hf_cache") != str(folder)
    finally:
        folder.chmod(0o700)
