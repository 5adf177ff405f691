"""The Models page beyond the catalog, through its widgets, against mock Hubs on 127.0.0.1: searching
the Hub and downloading a found file; a retry that follows the mirror and folder changed in Settings;
the mirror field refusing what is not an http(s) URL."""

from __future__ import annotations

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
