"""The hub against a mock Hub on 127.0.0.1: download, resume, verification, cancel, disk space.

Nothing here talks to the real Hugging Face: every download names the mock's ``endpoint``.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from engine.host import hub
from tests.e2e.mock_hub import MockHub, catalog_entry, make_bytes

REPO = "test-org/tiny-files"
SIZE = 3 * 1024 * 1024 + 123  # a few MB, not a multiple of any chunk size


def _entry(server: MockHub, filename: str = "stand-in-0.1b.pth", seed: int = 0) -> hub.CatalogEntry:
    return catalog_entry(server, REPO, filename, make_bytes(SIZE, seed))


def _files(folder: Path) -> list[Path]:
    """The files under ``folder``, less the empty lock files in ``.locks`` (the HF cache keeps them too)."""
    return [p for p in folder.rglob("*") if p.is_file() and ".locks" not in p.parts] if folder.exists() else []


def test_catalog_loads_and_every_entry_has_a_sha256():
    entries = hub.catalog()
    assert len(entries) > 50
    for e in entries:
        assert re.fullmatch(r"[0-9a-f]{64}", e.sha256), e.filename
        assert e.generation in (4, 5, 6, 7)
        assert e.filename.endswith((".pth", ".safetensors"))
        assert e.size > 0 and "/" in e.repo


def test_recommended_picks_the_largest_official_rwkv7_that_fits():
    entries = hub.catalog()
    small = hub.recommended(entries, 8 * 10**9)
    assert small is not None and small.generation == 7 and small.size * 1.2 <= 8 * 10**9
    assert small.parameters == 2.9
    assert hub.recommended(entries, 64 * 10**9).parameters == 7.2
    assert hub.recommended(entries, 10**8) is None


def test_download_reports_progress_to_the_total_and_verifies(mock_hub: MockHub, tmp_path: Path):
    entry = _entry(mock_hub)
    seen: list[tuple[int, int]] = []
    path = hub.download(
        entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache", progress=lambda d, t: seen.append((d, t))
    )
    assert path.name == entry.filename
    assert path.read_bytes() == make_bytes(SIZE)
    assert seen[-1] == (SIZE, SIZE)
    assert all(t == SIZE for _, t in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert mock_hub.bytes_served == SIZE


def test_a_cut_connection_resumes_with_a_range_request(mock_hub: MockHub, tmp_path: Path):
    entry = _entry(mock_hub)
    mock_hub.cut_after = SIZE // 2
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    assert path.read_bytes() == make_bytes(SIZE)
    assert mock_hub.bytes_served < 2 * SIZE
    assert any(r is not None for _, _, r in mock_hub.gets())


def test_a_failed_download_keeps_its_part_and_the_retry_continues_it(mock_hub: MockHub, tmp_path: Path,
                                                                     quick_retries):
    entry = _entry(mock_hub)
    mock_hub.cut_after = SIZE // 2

    def fail_every_resume(done: int, total: int) -> None:
        if done and not mock_hub.fail_gets:
            mock_hub.fail_gets = 100  # after the cut, every resume meets a 503 until the download gives up

    with pytest.raises(hub.DownloadFailedError, match="resumes where it stopped") as failed:
        hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache", progress=fail_every_resume)
    assert failed.value.resumable
    mock_hub.fail_gets = 0
    (partial,) = [p for p in _files(tmp_path / "cache") if p.name.endswith(".incomplete")]
    kept = partial.stat().st_size
    assert 0 < kept < SIZE

    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    assert path.read_bytes() == make_bytes(SIZE)
    assert mock_hub.served[-1] == SIZE - kept
    assert mock_hub.bytes_served < 2 * SIZE
    assert mock_hub.gets()[-1][2] == f"bytes={kept}-"


def test_a_corrupt_file_is_refused_and_nothing_stays_in_the_cache(mock_hub: MockHub, tmp_path: Path):
    entry = _entry(mock_hub)
    mock_hub.corrupt = True
    with pytest.raises(hub.ChecksumMismatchError, match="deleted"):
        hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    assert _files(tmp_path / "cache") == []
    assert hub.local_models(cache_dir=tmp_path / "cache") == []


def test_cancel_stops_within_a_second_keeps_the_part_and_the_retry_resumes(mock_hub: MockHub, tmp_path: Path):
    entry = _entry(mock_hub)
    mock_hub.slow = 2 * 1024 * 1024  # 2 MB/s: about 1.5 s for the whole file
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def on_progress(done: int, total: int) -> None:
        if done >= 512 * 1024 and not cancel.is_set():
            cancel.set()
            cancelled_at.append(time.monotonic())

    with pytest.raises(hub.DownloadCancelled):
        hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache", progress=on_progress, cancel=cancel)
    assert time.monotonic() - cancelled_at[0] < 1.0
    (partial,) = [p for p in _files(tmp_path / "cache") if p.name.endswith(".incomplete")]
    kept = partial.stat().st_size
    assert 0 < kept < SIZE

    mock_hub.slow = None
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    assert path.read_bytes() == make_bytes(SIZE)
    assert mock_hub.served[-1] == SIZE - kept
    assert mock_hub.gets()[-1][2] == f"bytes={kept}-"


def test_not_enough_disk_is_refused_before_any_request(
    mock_hub: MockHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    entry = _entry(mock_hub)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**12, 10**12, SIZE - 1))
    with pytest.raises(hub.NotEnoughDiskError, match="disk space"):
        hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    assert mock_hub.requests == [] and mock_hub.bytes_served == 0


def test_local_models_finds_downloads_and_added_folders(mock_hub: MockHub, tmp_path: Path):
    entry = _entry(mock_hub)
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    mine = tmp_path / "my-models" / "sub"
    mine.mkdir(parents=True)
    (mine / "other.safetensors").write_bytes(b"x")
    (mine / "notes.txt").write_text("not a model")
    found = hub.local_models([tmp_path / "my-models", tmp_path / "missing"], cache_dir=tmp_path / "cache")
    assert found == [path, mine / "other.safetensors"]


def test_the_catalog_entry_is_frozen():
    entry = hub.catalog()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.size = 1  # type: ignore[misc]


def test_an_unreachable_mirror_is_a_clear_failure(mock_hub: MockHub, tmp_path: Path):
    entry = _entry(mock_hub)
    with MockHub() as gone:
        dead = gone.url  # a port that was just served and is now closed
    with pytest.raises(hub.DownloadFailedError, match="Could not reach"):
        hub.download(entry, endpoint=dead, cache_dir=tmp_path / "cache")


def test_offline_mode_says_so_instead_of_blaming_the_connection(mock_hub: MockHub, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch):
    """HF_HUB_OFFLINE (huggingface_hub reads it at import) stops every request: the message names the
    variable; no request reaches the mirror and nothing is stored."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    entry = _entry(mock_hub)
    with pytest.raises(hub.DownloadFailedError, match="HF_HUB_OFFLINE") as failed:
        hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    assert ".." not in str(failed.value) and "Check the connection" not in str(failed.value)
    assert _files(tmp_path / "cache") == []
