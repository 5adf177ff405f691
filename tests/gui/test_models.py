"""The Models and Settings pages, driven through their widgets: library, catalog downloads from a
mock Hub on 127.0.0.1 (success, cut off and retried, paused and resumed, cancelled on a stalled
link, corrupt, no disk space), switching models mid-reply, and settings that survive a restart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt

from app import theme
from engine.host import hub
from tests.e2e.mock_hub import MockHub, make_bytes
from tests.gui.util import run, start_endless_reply, until

REPO = "test-org/tiny-models"


@pytest.fixture
def mock_hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with MockHub() as server:
        yield server


def _entry(server: MockHub, filename: str, data: bytes) -> hub.CatalogEntry:
    sha = server.add(REPO, filename, data)
    return hub.CatalogEntry(repo=REPO, filename=filename, size=len(data), sha256=sha, generation=7,
                            parameters=0.1, context=4096, tags=("Official", "RWKV-7"), visibility="visible")


def _library_rows(win) -> dict[str, list[str]]:
    lib = win.models.library
    return {lib.topLevelItem(i).data(0, Qt.UserRole): [lib.topLevelItem(i).text(c) for c in range(7)]
            for i in range(lib.topLevelItemCount())}


def _use_mirror(win, server: MockHub, entries: list[hub.CatalogEntry]) -> None:
    """Type the mock's address as the endpoint in Settings and show only ``entries`` in the catalog."""
    win.settings_page.endpoint.setText(server.url)
    win.settings_page.endpoint.editingFinished.emit()
    win.models.set_catalog(entries)
    win.tabs.setCurrentWidget(win.models)


def _download(loop, win, filename: str, states=("done", "failed")):
    view = win.models.catalog_view
    items = [view.topLevelItem(i) for i in range(view.topLevelItemCount())]
    item = next(it for it in items if filename in it.text(0))
    view.setCurrentItem(item)
    win.models.download_button.click()
    row = next(r for (_, f), r in win.models.downloads.items() if f == filename)
    run(loop, until(lambda: row.download.state in states))
    return row


def _cache_files(win):
    """The files in the cache, less the empty lock files in ``.locks`` (the HF cache keeps them too)."""
    return [p for p in Path(win.models.cache_dir()).rglob("*") if p.is_file() and ".locks" not in p.parts]


def test_a_downloaded_model_appears_in_the_library_with_its_info_and_loads(loop, make_window, mock_hub,
                                                                          rwkv7_checkpoint):
    ckpt = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536, dtype=torch.bfloat16)
    entry = _entry(mock_hub, "rwkv7-tiny-0.1b-test.pth", ckpt.read_bytes())
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    assert win.models.catalog_view.topLevelItem(0).text(0).startswith("★ ")   # the pick for this machine
    row = _download(loop, win, entry.filename)
    assert row.download.state == "done", row.info.text()
    assert "verified" in row.info.text() and row.bar.value() == 1000 and row.load_button.isVisible()
    assert mock_hub.requests and all(r[1].startswith(f"/{REPO}/resolve/") for r in mock_hub.requests)

    run(loop, until(lambda: str(row.download.path) in _library_rows(win)))
    name, generation, params, precision, size, fits, _ = _library_rows(win)[str(row.download.path)]
    assert (name, generation, precision) == ("rwkv7-tiny-0.1b-test", "RWKV-7", "bf16")
    assert params == f"{engine_params(ckpt) / 1e6:.1f}M" and size.endswith("GB") and fits.startswith("✓ CPU")

    lib = win.models.library
    lib.setCurrentItem(next(lib.topLevelItem(i) for i in range(lib.topLevelItemCount())
                            if lib.topLevelItem(i).data(0, Qt.UserRole) == str(row.download.path)))
    assert run(loop, win.models.load_selected())
    assert win.state.model.name == "rwkv7-tiny-0.1b-test" and "(loaded)" in lib.currentItem().text(0)


def engine_params(path) -> int:
    from engine.models.file_info import inspect_file

    return inspect_file(path).n_params


def test_a_cut_off_download_fails_and_retry_resumes_from_the_part(loop, make_window, mock_hub, monkeypatch):
    from engine.host import download

    monkeypatch.setattr(download, "RETRY_DELAYS", (0.05, 0.05))
    data = make_bytes(3 * 2**20 + 7)
    entry = _entry(mock_hub, "cut-0.1b.pth", data)
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    mock_hub.slow, mock_hub.cut_after = 4 * 2**20, 2**20
    win.models.download(entry)
    row = win.models.downloads[(REPO, entry.filename)]
    run(loop, until(lambda: row.download.done > 0))
    mock_hub.fail_gets = 100        # every resume after the cut meets a 503: the download gives up
    run(loop, until(lambda: row.download.state == "failed"))
    assert "Retrying resumes" in row.info.text() and row.retry_button.isVisible()
    kept = hub.partial_path(entry, win.models.cache_dir()).stat().st_size
    assert 0 < kept < len(data)

    mock_hub.slow, mock_hub.fail_gets = None, 0
    row.retry_button.click()
    run(loop, until(lambda: row.download.state in ("done", "failed")))
    assert row.download.state == "done", row.info.text()
    assert mock_hub.gets()[-1][2] == f"bytes={kept}-" and mock_hub.served[-1] == len(data) - kept
    assert row.download.path.read_bytes() == data


def test_pause_keeps_the_part_resume_continues_and_cancel_deletes_it(loop, make_window, mock_hub):
    data = make_bytes(3 * 2**20 + 11)
    entry = _entry(mock_hub, "pause-0.1b.pth", data)
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    mock_hub.slow = 2 * 2**20
    row = None
    win.models.download(entry)
    row = win.models.downloads[(REPO, entry.filename)]
    run(loop, until(lambda: row.download.done > 256 * 1024 and row.download.speed > 0))
    # The row redraws from the download's progress signal: wait for that redraw, not just the numbers.
    run(loop, until(lambda: " MB/s" in row.info.text() and " left" in row.info.text()))
    row.pause_button.click()
    run(loop, until(lambda: row.download.state == "paused"))
    partial = hub.partial_path(entry, win.models.cache_dir())
    kept = partial.stat().st_size
    assert kept > 0 and row.resume_button.isVisible() and "Paused at" in row.info.text()

    row.resume_button.click()
    run(loop, until(lambda: row.download.done > kept + 64 * 1024))
    row.cancel_button.click()
    run(loop, until(lambda: row.download.state == "cancelled"))
    assert not partial.exists() and row.retry_button.isVisible()

    mock_hub.slow = None
    row.retry_button.click()
    run(loop, until(lambda: row.download.state in ("done", "failed")))
    assert row.download.state == "done" and mock_hub.gets()[-1][2] is None   # from zero: the part was gone


def test_cancel_on_a_stalled_link_ends_at_once_and_deletes_the_part(loop, make_window, mock_hub):
    entry = _entry(mock_hub, "stalled-0.1b.pth", make_bytes(3 * 2**20))
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    mock_hub.stall_after = 300_000                  # then silence, the connection held open
    win.models.download(entry)
    row = win.models.downloads[(REPO, entry.filename)]
    run(loop, until(lambda: row.download.done == 300_000))
    partial = hub.partial_path(entry, win.models.cache_dir())
    assert partial.exists()
    row.cancel_button.click()
    run(loop, until(lambda: row.download.state != "running", timeout=1.0))
    assert row.download.state == "cancelled" and not partial.exists() and row.retry_button.isVisible()


def test_cancel_deletes_the_part_even_when_a_failure_ends_the_download_first(loop, make_window, mock_hub,
                                                                             monkeypatch):
    entry = _entry(mock_hub, "raced-0.1b.pth", make_bytes(2**20))
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    partial = hub.partial_path(entry, win.models.cache_dir())
    partial.parent.mkdir(parents=True)
    partial.write_bytes(make_bytes(1000))

    def fails_as_cancel_arrives(entry, *, cancel, **kwargs):
        cancel.wait(10)
        raise hub.DownloadFailedError("The connection dropped.", resumable=True)

    monkeypatch.setattr(hub, "download", fails_as_cancel_arrives)
    win.models.download(entry)
    row = win.models.downloads[(REPO, entry.filename)]
    row.cancel_button.click()
    run(loop, until(lambda: row.download.state != "running", timeout=5))
    assert row.download.state == "cancelled" and not partial.exists()


def test_a_corrupt_download_is_deleted_and_reported(loop, make_window, mock_hub):
    entry = _entry(mock_hub, "corrupt-0.1b.pth", make_bytes(2**20))
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    mock_hub.corrupt = True
    row = _download(loop, win, entry.filename)
    assert row.download.state == "failed"
    assert "damaged" in row.info.text() and "deleted" in row.info.text()
    assert "damaged" in win.statusBar().currentMessage()
    assert _cache_files(win) == []
    run(loop, win.models.rescan())
    assert all("corrupt" not in path for path in _library_rows(win))


def test_not_enough_disk_space_is_refused_with_a_clear_message(loop, make_window, mock_hub, monkeypatch):
    entry = _entry(mock_hub, "big-0.1b.pth", make_bytes(2**20))
    win = make_window()
    _use_mirror(win, mock_hub, [entry])
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, 1000))
    row = _download(loop, win, entry.filename)
    assert row.download.state == "failed" and "Not enough disk space" in row.info.text()
    assert mock_hub.requests == []


def test_switching_model_while_a_reply_streams_cancels_it_first(loop, make_window, world_ckpt, rwkv7_checkpoint):
    other = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536)
    win = start_endless_reply(loop, make_window, world_ckpt)
    conv_id = win.state.conversation.id
    run(loop, win.models.add_folder(str(other.parent)))
    lib = win.models.library
    lib.setCurrentItem(next(lib.topLevelItem(i) for i in range(lib.topLevelItemCount())
                            if lib.topLevelItem(i).data(0, Qt.UserRole) == str(other)))
    assert win.chat.busy
    assert run(loop, win.models.load_selected())
    assert win.state.model.path == str(other) and not win.chat.busy and win.state.conversation is None
    saved = win.state.service.store.load_messages(conv_id)
    assert saved[-1].role == "assistant" and saved[-1].stop_reason == "cancelled" and saved[-1].text


def test_settings_and_model_folders_are_found_again_after_a_restart(loop, make_window, tmp_path, rwkv7_checkpoint):
    ckpt = rwkv7_checkpoint(n_layer=2, n_embd=64, head_size=32, vocab_size=65536)
    folder = tmp_path / "my-models"
    folder.mkdir()
    shutil.copy(ckpt, folder / "mine.pth")
    first = make_window()
    first.settings_page.endpoint.setText("https://mirror.example/")
    first.settings_page.endpoint.editingFinished.emit()
    run(loop, first.models.add_folder(str(folder)))
    assert str(folder / "mine.pth") in _library_rows(first)
    first.settings_page.theme.setCurrentText("Dark")
    first.close()

    theme.apply("Light")
    second = make_window(tmp_path / "data")
    assert second.settings_page.endpoint.text() == "https://mirror.example"
    assert second.settings_page.theme.currentText() == "Dark" and theme.current() == "dark"
    assert [second.settings_page.folders.item(i).text() for i in range(second.settings_page.folders.count())] == [
        str(folder)]
    run(loop, second.models.rescan())
    assert _library_rows(second)[str(folder / "mine.pth")][1] == "RWKV-7"


def test_a_cpu_only_machine_is_recommended_a_model_that_answers_quickly(loop, make_window):
    from engine.host import hardware
    from tests.unit.test_hub_recommend import CATALOG

    win = make_window()
    win.models.devices = [hardware.Device("cpu", "cpu", "Desktop CPU", 24 * 2**30, None, 8, (), ("fp32", "bf16"))]
    win.models.set_catalog(CATALOG)
    view = win.models.catalog_view
    names = [view.topLevelItem(i).text(0) for i in range(view.topLevelItemCount())]
    starred = [n for n in names if n.startswith("★ ")]
    assert starred == ["★ rwkv7-g1-0.4b-20250101-ctx4096.pth"]      # not the 2.9B that fits half the RAM
    assert "CPU (24.0 GiB RAM)" in win.models.recommendation.text()
    assert "tokens/s" in win.models.recommendation.toolTip()

    win.models.devices = [*win.models.devices, hardware.Device("cuda:0", "cuda", "Test GPU", 24 * 2**30, None, None, (),
                                                 ("fp16", "fp32"))]
    win.models.fill_catalog()
    assert "★ rwkv7-g1-7.2b" in win.models.catalog_view.currentItem().text(0)     # a GPU: memory decides


def test_a_model_opened_from_a_file_is_listed_and_selected_while_it_is_loaded(loop, make_window, world_ckpt):
    """File ▸ Open file… loads a model from outside the model folders: the list shows it, marked loaded
    and selected, as long as it is loaded; the demo loses its mark."""
    win = make_window()
    run(loop, win.load_model("demo"))
    run(loop, win.load_model(str(world_ckpt)))
    lib = win.models.library
    run(loop, until(lambda: str(world_ckpt) in _library_rows(win)))
    assert "(loaded)" in _library_rows(win)[str(world_ckpt)][0]
    assert lib.currentItem().data(0, Qt.UserRole) == str(world_ckpt)
    demo = next(name for path, (name, *_) in _library_rows(win).items() if "demo" in path)
    assert "(loaded)" not in demo
    run(loop, win.load_model("demo"))
    run(loop, until(lambda: str(world_ckpt) not in _library_rows(win)))
    assert "(loaded)" in lib.currentItem().text(0)
