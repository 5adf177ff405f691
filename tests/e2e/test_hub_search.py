"""Searching the Hub for RWKV repositories and listing their files, against the mock Hub on 127.0.0.1
(answering ``/api/models`` and ``/api/models/{repo}/tree/{revision}`` as the real Hub does): found
files download and verify like catalog files; whatever a hostile server lists never becomes a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.host import hub, search
from tests.e2e.mock_hub import MockHub, make_bytes

REPO = "someone/rwkv7-world-finetunes"


def _serve(server: MockHub) -> dict[str, bytes]:
    files = {"rwkv7-world-0.4b-chat-ctx4096.pth": make_bytes(70_001, 1),
             "sub/rwkv7-world-1.5b-ctx4096.safetensors": make_bytes(90_003, 2)}
    for name, data in files.items():
        server.add(REPO, name, data)
    server.add_small(REPO, "README.md", b"# fine-tunes\n")
    server.add_small(REPO, "tiny-unverifiable.pth", b"not in LFS")
    server.add("someone/rwkv7-world-finetunes-sharded", "model-00001-of-00002.safetensors", make_bytes(1000, 3))
    server.describe(REPO, downloads=500, likes=7, tags=("rwkv", "text-generation"))
    server.describe("someone/llama-not-ours", downloads=9000)
    server.describe("other/some-model", downloads=10, tags=("RWKV",))
    return files


def test_search_lists_rwkv_repositories_most_downloaded_first(mock_hub: MockHub):
    _serve(mock_hub)
    hits = search.search_models("rwkv", endpoint=mock_hub.url)
    assert [h.repo for h in hits] == [REPO, "someone/rwkv7-world-finetunes-sharded"]
    assert hits[0].downloads == 500 and hits[0].likes == 7 and "text-generation" in hits[0].tags
    assert hits[0].last_modified == "2025-10-05"
    # a repo that is not RWKV by name is kept when a tag says RWKV; others are left out
    assert [h.repo for h in search.search_models("some-", endpoint=mock_hub.url)] == ["other/some-model"]
    api = [p for m, p, _ in mock_hub.requests if p.startswith("/api/models?")]
    assert api and "search=some-" in api[-1] and "limit=" in api[-1]


def test_repo_files_are_listed_with_sizes_and_sha256_and_download_verified(mock_hub: MockHub, tmp_path: Path):
    files = _serve(mock_hub)
    listing = search.repo_files(REPO, endpoint=mock_hub.url)
    assert {e.filename: e.size for e in listing.entries} == {n: len(d) for n, d in files.items()}
    small = next(e for e in listing.entries if e.filename.endswith(".pth"))
    assert small.generation == 7 and small.parameters == 0.4 and small.repo == REPO
    assert any("tiny-unverifiable.pth" in why and "sha256" in why for why in listing.skipped)
    for entry in listing.entries:
        path = hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
        assert path.read_bytes() == files[entry.filename]
        assert path.relative_to(tmp_path / "cache")
    sharded = search.repo_files("someone/rwkv7-world-finetunes-sharded", endpoint=mock_hub.url)
    assert sharded.entries == () and "shard" in sharded.skipped[0]


def test_a_listed_file_whose_bytes_differ_from_its_sha256_is_deleted(mock_hub: MockHub, tmp_path: Path):
    _serve(mock_hub)
    entry = search.repo_files(REPO, endpoint=mock_hub.url).entries[0]
    mock_hub.corrupt = True
    with pytest.raises(hub.ChecksumMismatchError):
        hub.download(entry, endpoint=mock_hub.url, cache_dir=tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.stat().st_size > 1000]


@pytest.mark.parametrize("name", ["../../../.bashrc.pth", "/etc/evil.pth", "a/../../b.pth", "C:\\x.pth",
                                  "..\\..\\x.pth", "ok/./x.pth", "x\n.pth", "...pth", ".hidden/.pth"])
def test_a_hostile_tree_never_offers_a_file_name_that_leaves_the_cache(mock_hub: MockHub, name: str):
    mock_hub.describe(REPO)
    mock_hub.api_answer = [{"type": "file", "oid": "0" * 40, "size": 100, "path": name,
                            "lfs": {"oid": "a" * 64, "size": 100, "pointerSize": 134}}]
    listing = search.repo_files(REPO, endpoint=mock_hub.url)
    assert listing.entries == ()
    assert listing.skipped and "plain file name" in listing.skipped[0]


def test_a_hostile_search_answer_lists_only_valid_repository_ids(mock_hub: MockHub):
    good = {"_id": "1", "id": "ok/rwkv-x", "downloads": 1, "likes": 0, "tags": []}
    bad = [{**good, "id": i} for i in ("../rwkv", "rwkv", "a/b/rwkv", "x/rwkv\n", "x/..rwkv", "x/rwkv--y",
                                       "/rwkv/x", "x/" + "r" * 200 + "rwkv")]
    mock_hub.api_answer = [*bad, good, {**good, "id": "ok/rwkv-y", "downloads": "many", "tags": "rwkv"}]
    hits = search.search_models("rwkv", endpoint=mock_hub.url)
    assert [h.repo for h in hits] == ["ok/rwkv-x", "ok/rwkv-y"]
    assert hits[1].downloads == 0


@pytest.mark.parametrize("answer", [b"<html>not json</html>", {"error": "nope"}, [1, 2, 3]])
def test_a_broken_search_answer_is_a_clear_error(mock_hub: MockHub, answer):
    mock_hub.api_answer = answer
    with pytest.raises(search.SearchError, match="Could not search|refused"):
        search.search_models("rwkv", endpoint=mock_hub.url)


def test_an_unknown_repository_and_an_unreachable_hub_are_clear_errors(mock_hub: MockHub):
    with pytest.raises(search.SearchError, match="could not list"):
        search.repo_files("nobody/rwkv-nothing", endpoint=mock_hub.url)
    with pytest.raises(search.SearchError, match="not a Hugging Face repository id"):
        search.repo_files("../etc", endpoint=mock_hub.url)


def test_an_unreachable_hub_is_a_clear_error_at_once_not_after_huggingface_hubs_retries(monkeypatch):
    import time
    import types

    from huggingface_hub.utils import _http

    slept: list[float] = []
    fake_time = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    fake_time.sleep = slept.append          # its backoff (1, 2, 4, 8, 8 s) would be recorded here
    monkeypatch.setattr(_http, "time", fake_time)
    with pytest.raises(search.SearchError, match="Could not search http://127.0.0.1:9"):
        search.search_models("rwkv", endpoint="http://127.0.0.1:9")
    with pytest.raises(search.SearchError, match="Could not search http://127.0.0.1:9"):
        search.repo_files("BlinkDL/rwkv-7-world", endpoint="http://127.0.0.1:9")
    assert slept == []


def test_names_say_the_generation_and_size():
    assert search.guess_generation("BlinkDL/rwkv7-g1", "rwkv7-g1a-0.1b-20250728-ctx4096.pth") == 7
    assert search.guess_generation("BlinkDL/rwkv-6-world", "RWKV-x060-World-1B6-v2.1.pth") == 6
    assert search.guess_generation("x/y", "RWKV-4-Pile-169M.pth") == 4
    assert search.guess_generation("x/y", "model.pth") == 0
    assert search.guess_parameters("rwkv7-g1a2-1.5b-20251005-ctx8192.pth") == 1.5
    assert search.guess_parameters("RWKV-4-Pile-169M-20220807.pth") == pytest.approx(0.169)
    assert search.guess_parameters("model.pth") is None


def test_deleting_a_downloaded_model_uses_the_cache_api_and_keeps_what_others_share(mock_hub: MockHub,
                                                                                     tmp_path: Path):
    from engine.host import library

    files = _serve(mock_hub)
    cache = tmp_path / "cache"
    first, second = search.repo_files(REPO, endpoint=mock_hub.url).entries
    a = hub.download(first, endpoint=mock_hub.url, cache_dir=cache)
    b = hub.download(second, endpoint=mock_hub.url, cache_dir=cache)
    blob = a.resolve()
    assert library.delete_model(a, cache) == len(files[first.filename])
    assert not a.exists() and not blob.exists() and not Path(f"{blob}.verified").exists()
    assert b.read_bytes() == files[second.filename]             # the other file of the same snapshot stays
    assert [p for p in hub.local_models(cache_dir=cache)] == [b]
    outside = tmp_path / "mine" / "x.pth"
    outside.parent.mkdir()
    outside.write_bytes(b"123")
    assert library.delete_model(outside, cache) == 3 and not outside.exists()
    with pytest.raises(Exception, match="file manager"):
        library.delete_model(outside.parent, cache)
    with pytest.raises(Exception, match="comes with the app"):
        library.delete_model(library.bundled("demo"), cache)


def test_with_hf_hub_offline_the_search_says_it_is_off(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(search.SearchError, match="Searching the Hub is off.*HF_HUB_OFFLINE"):
        search.search_models("rwkv", endpoint="http://127.0.0.1:9")
