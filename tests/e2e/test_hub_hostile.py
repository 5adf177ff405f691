"""Downloads from a broken or hostile mirror: what it sends never becomes a path, never bypasses the
sha256, never deletes a user's file; cancel is prompt on any link; failures are retried.

Every server here is the mock Hub on 127.0.0.1 with one of its hostile switches on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from engine.host import hub
from engine.host.hf_cache import CacheLayout
from tests.e2e.mock_hub import COMMIT, MockHub, catalog_entry, make_bytes

REPO = "test-org/hostile-files"
SIZE = 2 * 1024 * 1024 + 77
DATA = make_bytes(SIZE)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """Deep enough that four ``..`` from a blob still land inside ``tmp_path``, where we can see them."""
    return tmp_path / "deep" / "er" / "cache"


def _entry(server: MockHub, data: bytes = DATA, filename: str = "stand-in-0.1b.pth") -> hub.CatalogEntry:
    return catalog_entry(server, REPO, filename, data)


def _outside(tmp_path: Path, cache: Path) -> list[Path]:
    """Everything under ``tmp_path`` that is neither the cache, HF_HOME, nor the folders above the cache."""
    above = {tmp_path / "deep", tmp_path / "deep" / "er"}
    return [p for p in tmp_path.rglob("*")
            if p not in above and not p.is_relative_to(cache) and not p.is_relative_to(tmp_path / "hf-home")]


def _cache_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file() and ".locks" not in p.parts)


def _no_symlinks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows without developer mode: creating a symlink fails."""
    def refuse(*args, **kwargs):
        raise OSError(1314, "A required privilege is not held by the client")

    monkeypatch.setattr(os, "symlink", refuse)


def _in_thread(fn) -> tuple[threading.Thread, list]:
    """Run ``fn`` on a daemon thread; the list receives its result or exception."""
    out: list = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as e:  # handed to the test, which asserts on it
            out.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


# --- nothing a server sends becomes a path -------------------------------------------------------

HOSTILE_HEADERS = {
    "etag with ..": {"ETag": '"../../../../etag-escape"', "X-Linked-Etag": '"../../../../etag-escape"'},
    "absolute etag": {"ETag": '"{tmp}/absolute-escape"', "X-Linked-Etag": '"{tmp}/absolute-escape"'},
    "commit with ..": {"X-Repo-Commit": "../../../../outside/commit"},
    "absolute commit": {"X-Repo-Commit": "{tmp}/outside/commit"},
    "filename header": {"Content-Disposition": 'attachment; filename="../../../../outside/name.pth"'},
    "location with encoded ..": {"Location": "/cdn/..%2F..%2F..%2F..%2Foutside%2Flocation"},
}


@pytest.mark.parametrize("headers", HOSTILE_HEADERS.values(), ids=HOSTILE_HEADERS.keys())
def test_headers_from_the_server_never_become_a_path(headers, mock_hub: MockHub, tmp_path: Path, cache: Path):
    entry = _entry(mock_hub)
    headers = {k: v.replace("{tmp}", str(tmp_path)) for k, v in headers.items()}
    if "Location" in headers:
        mock_hub.redirect = headers.pop("Location")
    mock_hub.headers = headers
    try:
        path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    except hub.DownloadFailedError as e:
        assert "X-Repo-Commit" in headers, e        # only a malformed commit id is refused
        assert "commit" in str(e)
    else:
        assert "X-Repo-Commit" not in headers
        assert path.is_relative_to(cache) and path.read_bytes() == DATA
    assert _outside(tmp_path, cache) == []


@pytest.mark.parametrize("symlinks", [True, False], ids=["symlinks", "no symlinks"])
def test_an_etag_naming_a_users_file_neither_passes_for_the_download_nor_deletes_it(
        symlinks, mock_hub: MockHub, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch):
    thesis = tmp_path / "home" / "thesis.txt"
    thesis.parent.mkdir()
    thesis.write_bytes(b"four years of work")
    if not symlinks:
        _no_symlinks(monkeypatch)
    entry = _entry(mock_hub)
    etag = os.path.relpath(thesis, cache / "models--test-org--hostile-files" / "blobs")
    mock_hub.headers = {"ETag": f'"{etag}"', "X-Linked-Etag": f'"{etag}"'}
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert path.read_bytes() == DATA
    assert thesis.read_bytes() == b"four years of work"
    assert path.is_symlink() == symlinks


def test_a_mirror_changing_its_answer_mid_download_cannot_slip_in_unverified_bytes(
        mock_hub: MockHub, cache: Path):
    """After the verified download, a second look at the file would meet another etag and other bytes."""
    entry = _entry(mock_hub)
    evil = make_bytes(SIZE, seed=666)
    evil_sha = hashlib.sha256(evil).hexdigest()

    def switch_after_the_first_get(method: str, headers: dict) -> None:
        if mock_hub.gets() and mock_hub.served and mock_hub.served[0] == SIZE:
            mock_hub.files[(REPO, entry.filename)] = evil
            headers.update({"ETag": f'"{evil_sha}"', "X-Linked-Etag": f'"{evil_sha}"'})

    mock_hub.rewrite = switch_after_the_first_get
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert path.read_bytes() == DATA
    assert all(p.read_bytes() != evil for p in _cache_files(cache))


def test_a_mirror_announcing_another_size_is_refused_before_any_byte_is_stored(mock_hub: MockHub, cache: Path):
    entry = _entry(mock_hub)
    mock_hub.files[(REPO, entry.filename)] = DATA + make_bytes(10 * SIZE, seed=1)   # and sends them too
    with pytest.raises(hub.DownloadFailedError, match="catalog"):
        hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert mock_hub.bytes_served == 0 and _cache_files(cache) == []


BAD_NAMES = [("filename", "../../../../escape.pth"), ("filename", "/absolute.pth"), ("filename", "C:\\x.pth"),
             ("revision", "../../main"), ("repo", "test-org/.."), ("sha256", "../../" + "0" * 58)]


@pytest.mark.parametrize("field, value", BAD_NAMES, ids=[f"{f} {v}" for f, v in BAD_NAMES])
def test_a_catalog_entry_whose_names_would_leave_the_cache_is_refused_before_any_request(
        field, value, mock_hub: MockHub, tmp_path: Path, cache: Path):
    entry = dataclasses.replace(_entry(mock_hub), **{field: value})
    with pytest.raises(hub.DownloadError, match="plain relative name|64 hex digits"):
        hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert mock_hub.requests == [] and _outside(tmp_path, cache) == []


def test_every_entry_of_the_bundled_catalog_has_names_a_cache_path_can_be_built_from(cache: Path):
    for entry in hub.catalog():
        assert CacheLayout(entry, cache).blob.is_relative_to(cache)


# --- what is already in the cache is checked before it is trusted --------------------------------

def _blob(cache: Path, entry: hub.CatalogEntry) -> Path:
    return cache / "models--test-org--hostile-files" / "blobs" / entry.sha256


def test_a_damaged_blob_already_in_the_cache_is_not_returned_as_good(mock_hub: MockHub, cache: Path):
    entry = _entry(mock_hub)
    blob = _blob(cache, entry)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(bytes([DATA[0] ^ 1]) + DATA[1:])     # right name and size, one flipped bit
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert path.read_bytes() == DATA and blob.read_bytes() == DATA
    assert mock_hub.bytes_served == SIZE


@pytest.mark.parametrize("symlinks", [True, False], ids=["symlinks", "no symlinks"])
def test_a_verified_file_is_trusted_until_it_changes(symlinks, mock_hub: MockHub, cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    if not symlinks:
        _no_symlinks(monkeypatch)
    entry = _entry(mock_hub)
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert hub.local_models(cache_dir=cache) == [path]
    assert hub.download(entry, endpoint=mock_hub.url, cache_dir=cache) == path
    assert len(mock_hub.gets()) == 1                    # the second call fetched nothing

    stored = path.resolve()
    stored.write_bytes(DATA[: SIZE // 2] + bytes(SIZE - SIZE // 2))   # damaged after the check
    assert hub.download(entry, endpoint=mock_hub.url, cache_dir=cache).read_bytes() == DATA
    assert len(mock_hub.gets()) == 2


# --- cancel is prompt on any link -----------------------------------------------------------------

@pytest.mark.parametrize("link", ["stalled", "trickling"])
def test_cancel_takes_effect_within_a_second_on_a_slow_or_stalled_link(link, mock_hub: MockHub, cache: Path):
    entry = _entry(mock_hub)
    if link == "stalled":
        mock_hub.stall_after = 100_000           # some bytes, then silence with the connection open
    else:
        mock_hub.slow = 2_000                    # 2 KB/s: half an hour for the file
    cancel = threading.Event()
    seen: list[int] = []
    thread, out = _in_thread(lambda: hub.download(entry, endpoint=mock_hub.url, cache_dir=cache,
                                                  progress=lambda d, t: seen.append(d), cancel=cancel))
    _wait_for(lambda: mock_hub.bytes_served >= 2_000 and seen and seen[-1] > 0, 5.0)
    time.sleep(0.3)
    cancel.set()
    started = time.monotonic()
    thread.join(5.0)
    assert not thread.is_alive() and time.monotonic() - started < 1.0
    assert isinstance(out[0], hub.DownloadCancelled), out
    partial = hub.partial_path(entry, cache)
    assert 0 < partial.stat().st_size < SIZE and partial.read_bytes() == DATA[: partial.stat().st_size]


def test_cancel_during_the_backoff_between_retries_is_prompt(mock_hub: MockHub, cache: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    from engine.host import download

    monkeypatch.setattr(download, "RETRY_DELAYS", (30.0, 30.0))
    entry = _entry(mock_hub)
    mock_hub.fail_gets = 100
    cancel = threading.Event()
    thread, out = _in_thread(lambda: hub.download(entry, endpoint=mock_hub.url, cache_dir=cache, cancel=cancel))
    assert _wait_for(lambda: mock_hub.gets(), 5.0)
    time.sleep(0.2)
    cancel.set()
    started = time.monotonic()
    thread.join(5.0)
    assert not thread.is_alive() and time.monotonic() - started < 1.0
    assert isinstance(out[0], hub.DownloadCancelled), out


# --- failures are retried -------------------------------------------------------------------------

def test_503s_are_retried_with_backoff_and_the_download_completes(mock_hub: MockHub, cache: Path, quick_retries):
    entry = _entry(mock_hub)
    mock_hub.fail_heads, mock_hub.fail_gets = 1, 2
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert path.read_bytes() == DATA
    assert len(mock_hub.gets()) == 3 and mock_hub.bytes_served == SIZE


def test_a_reset_connection_is_retried_and_resumes_where_it_stopped(mock_hub: MockHub, cache: Path, quick_retries):
    entry = _entry(mock_hub)
    mock_hub.reset_after = SIZE // 3
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert path.read_bytes() == DATA
    (_, _, first), (_, _, resumed) = mock_hub.gets()
    kept = int(resumed.removeprefix("bytes=").removesuffix("-"))    # a reset loses what was still in flight
    assert first is None and 0 < kept <= mock_hub.served[0] and mock_hub.served[1] == SIZE - kept


def test_a_mirror_that_keeps_failing_is_given_up_on_after_a_few_tries(mock_hub: MockHub, cache: Path,
                                                                      quick_retries):
    entry = _entry(mock_hub)
    mock_hub.fail_gets = 100
    with pytest.raises(hub.DownloadFailedError, match="503") as failed:
        hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert failed.value.resumable
    assert len(mock_hub.gets()) == 1 + len(quick_retries)


def test_a_link_that_stalls_for_good_is_retried_then_given_up_on(mock_hub: MockHub, cache: Path, quick_retries,
                                                                 monkeypatch: pytest.MonkeyPatch):
    from engine.host import download

    monkeypatch.setattr(download, "STALL_SECONDS", 0.3)
    entry = _entry(mock_hub)

    def stall_every_get(method: str, headers: dict) -> None:
        if method == "GET":                      # 1000 bytes, then silence; every retry gets silence at once
            mock_hub.stall_after = 0 if mock_hub.served else 1000

    mock_hub.rewrite = stall_every_get
    with pytest.raises(hub.DownloadFailedError, match="resumes where it stopped"):
        hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    assert len(mock_hub.gets()) == 2 + len(quick_retries)      # a try with progress, then the retries without
    assert hub.partial_path(entry, cache).read_bytes() == DATA[:1000]


# --- two downloads of one file ---------------------------------------------------------------------

def test_two_downloads_of_the_same_file_at_once_both_end_with_the_whole_file(mock_hub: MockHub, cache: Path):
    entry = _entry(mock_hub)
    mock_hub.slow = 8 * 1024 * 1024
    runs = [_in_thread(lambda: hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)) for _ in range(2)]
    for thread, _ in runs:
        thread.join(30)
    results = [out[0] for _, out in runs]
    assert all(isinstance(r, Path) for r in results), results
    assert results[0] == results[1] and results[0].read_bytes() == DATA
    assert not hub.partial_path(entry, cache).exists()
    assert mock_hub.bytes_served == SIZE                       # the second waited and found it done


def test_the_snapshot_is_filed_under_the_mirrors_commit_and_its_ref(mock_hub: MockHub, cache: Path):
    entry = _entry(mock_hub)
    path = hub.download(entry, endpoint=mock_hub.url, cache_dir=cache)
    repo = cache / "models--test-org--hostile-files"
    assert path == repo / "snapshots" / COMMIT / entry.filename
    assert (repo / "refs" / "main").read_text() == COMMIT
    assert hub.local_models(cache_dir=cache) == [path]
