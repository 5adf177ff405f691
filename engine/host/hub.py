"""The model catalog, downloads from the Hugging Face Hub (or a mirror), and the local library.

Downloads go through ``huggingface_hub`` so an endpoint, proxy or token configured for it works
here too: the library's ``hf_hub_url`` and ``get_hf_file_metadata`` find the file (HEAD), its
``http_get`` fetches the bytes (with its own retries that resume with a Range request inside one
call), and ``hf_hub_download`` files the finished blob into the shared HF cache. We drive the
middle step ourselves for one reason: ``hf_hub_download`` 2.x writes to a temporary file with a
random name and deletes it on any failure, so a cancelled or dropped 3 GB download would start
again from zero. Here the bytes go to ``blobs/<etag>.incomplete`` in the cache, which survives,
and the next call resumes from its size. A file enters the cache only after its sha256 matched.

Progress and cancel hook into ``http_get``'s ``tqdm_class`` argument: the library calls
``update(n)`` after every chunk it reads, so our class reports bytes and raises
:class:`DownloadCancelled` there. The library reads 10 MiB chunks by default; we lower
``huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE`` to 512 KiB so that a cancel takes effect within
about a second even on a slow connection.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlparse

import httpx2
from huggingface_hub import constants as hf_constants
from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url, scan_cache_dir
from huggingface_hub.errors import CacheNotFound, RemoteEntryNotFoundError, RepositoryNotFoundError
from huggingface_hub.file_download import http_get, repo_folder_name
from huggingface_hub.utils import build_hf_headers
from tqdm import tqdm

from engine.errors import EngineError
from engine.host import hardware

__all__ = [
    "CatalogEntry",
    "ChecksumMismatchError",
    "DownloadCancelled",
    "DownloadError",
    "DownloadFailedError",
    "NotEnoughDiskError",
    "catalog",
    "download",
    "local_models",
    "partial_path",
    "recommended",
    "recommended_for",
]

MODEL_SUFFIXES = (".pth", ".safetensors")
_WEIGHT_SUFFIXES = (*MODEL_SUFFIXES, ".bin")     # .bin: shards of a Hugging Face folder only
_CHUNK = 512 * 1024
hf_constants.DOWNLOAD_CHUNK_SIZE = min(hf_constants.DOWNLOAD_CHUNK_SIZE, _CHUNK)
_DATE = re.compile(r"(20\d{6})")

ProgressCallback = Callable[[int, int], None]

# Bandwidth assumed for a CPU when judging speed: dual-channel DDR4 desktops measure 20-40 GB/s
# and laptops less under load, so 20 GB/s is the conservative end. A first model that answers at
# 10 tokens/s or more reads as "instant"; at 2-3 tokens/s people think the app is broken.
CPU_BYTES_PER_SECOND = 20e9
MIN_TOKENS_PER_SECOND = 10.0


class DownloadError(EngineError):
    """A model download did not finish."""


class NotEnoughDiskError(DownloadError, OSError):
    """The target disk has less free space than the rest of the file needs; nothing was requested."""


class DownloadCancelled(DownloadError):
    """The user cancelled; the partial file is kept so the next download resumes from it."""


class ChecksumMismatchError(DownloadError):
    """The downloaded bytes are not the file the catalog describes; they were deleted."""


class DownloadFailedError(DownloadError):
    """The network or the server failed; ``resumable`` says whether a retry continues the partial file."""

    def __init__(self, message: str, *, resumable: bool = False) -> None:
        super().__init__(message)
        self.resumable = resumable


@dataclass(frozen=True)
class CatalogEntry:
    """One official file on the Hub: where it lives, what it should hash to, and hints for choosing it."""

    repo: str
    filename: str
    size: int
    sha256: str
    generation: int
    parameters: float | None  # billions, as written in the file name
    context: int | None
    tags: tuple[str, ...]
    visibility: str
    revision: str = "main"


def catalog() -> list[CatalogEntry]:
    """The bundled catalog (``resources/catalog.json``, built by ``scripts/make_catalog.py``)."""
    document = json.loads((files("resources") / "catalog.json").read_text(encoding="utf-8"))
    return [CatalogEntry(**{**item, "tags": tuple(item["tags"])}) for item in document["entries"]]


def recommended(
    entries: Iterable[CatalogEntry],
    memory_bytes: int,
    *,
    bytes_per_second: float | None = None,
    min_tokens_per_second: float = MIN_TOKENS_PER_SECOND,
    precision: str | Callable[[CatalogEntry], str] = "fp16",
) -> CatalogEntry | None:
    """The biggest official RWKV-7 model (G1 or World) that fits, and, when ``bytes_per_second`` is
    given, that also decodes at ``min_tokens_per_second`` or faster.

    Memory: the weights in ``precision`` (a name, or a function of the entry) plus 20% fit in
    ``memory_bytes``; the 20% covers activations, the state and the runtime. The official ``.pth``
    files are stored in 16-bit, so an entry has ``size / 2`` parameters.

    Speed: decoding one token reads every weight once, so where memory bandwidth is the limit (a
    CPU) tokens/s is at most ``bytes_per_second / weight bytes``. Give the bandwidth to apply this
    rule (see :func:`recommended_for`); without it only memory counts (a GPU, whose bandwidth is
    ten to a hundred times a desktop CPU's, is limited by memory long before speed).

    Among files of the same size class, one tagged "Recommended" wins, then the newest (the date
    in the name).
    """
    def weight_bytes(e: CatalogEntry) -> float:
        return e.size / 2 * _bytes_per_weight(precision(e) if callable(precision) else precision)

    def usable(e: CatalogEntry) -> bool:
        if e.generation != 7 or "Official" not in e.tags or weight_bytes(e) * 1.2 > memory_bytes:
            return False
        return bytes_per_second is None or weight_bytes(e) * min_tokens_per_second <= bytes_per_second

    candidates = [e for e in entries if usable(e)]
    if not candidates:
        return None

    def rank(e: CatalogEntry) -> tuple:
        date = _DATE.search(e.filename)
        return (e.parameters or 0.0, "Recommended" in e.tags, date.group(1) if date else "")

    return max(candidates, key=rank)


def _bytes_per_weight(precision: str) -> float:
    """engine.host.hardware's figure, else the bits in the name (int8: 1) for a precision it does not list."""
    known = hardware.BYTES_PER_PARAM.get(precision)
    if known is not None:
        return known
    bits = re.search(r"\d+", precision)
    if bits is None:
        raise EngineError(f"Unknown precision '{precision}'.")
    return int(bits.group()) / 8


def recommended_for(entries: Iterable[CatalogEntry], device: hardware.Device, *,
                    bytes_per_second: float = CPU_BYTES_PER_SECOND) -> CatalogEntry | None:
    """:func:`recommended` for one device: on a GPU by memory in 16-bit; on the CPU also by speed,
    each file costed in the precision :func:`engine.host.hardware.recommend` would load it with there
    (fp32 today, or whatever it picks once other precisions are preferred), at ``bytes_per_second``."""
    if device.kind != "cpu":
        return recommended(entries, device.memory_bytes)
    return recommended(entries, device.memory_bytes, bytes_per_second=bytes_per_second,
                       precision=lambda e: hardware.recommend(e.size, e.size // 2, [device]).precision)


def download(
    entry: CatalogEntry,
    *,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Fetch ``entry`` into the HF cache (resuming a partial file), verify its sha256, return its path.

    ``endpoint`` is a Hub mirror (default: ``HF_ENDPOINT`` or huggingface.co). ``progress`` gets
    ``(bytes_done, bytes_total)`` from the download thread; ``cancel`` is checked after every chunk.
    Blocking: run it on a worker thread.
    """
    cache = Path(cache_dir) if cache_dir is not None else Path(hf_constants.HF_HUB_CACHE)
    blobs = cache / repo_folder_name(repo_id=entry.repo, repo_type="model") / "blobs"
    # First with the catalog's numbers (on the Hub an LFS file's etag is its sha256), before any request.
    _ensure_disk(blobs, entry.size - _size(blobs / f"{entry.sha256}.incomplete"), entry.filename)
    _check_cancel(cancel)

    url = hf_hub_url(entry.repo, entry.filename, revision=entry.revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, endpoint=endpoint)
    except (RepositoryNotFoundError, RemoteEntryNotFoundError) as e:
        raise DownloadFailedError(f"{entry.repo}/{entry.filename} was not found at {url}: {e}") from e
    except (httpx2.HTTPError, OSError) as e:
        raise DownloadFailedError(f"Could not reach {url}: {e}. Check the connection or the mirror.") from e
    if meta.etag is None or meta.commit_hash is None:
        raise DownloadFailedError(f"{url} did not answer like a Hugging Face Hub (no ETag or X-Repo-Commit header).")

    blob = blobs / meta.etag
    if not blob.exists():
        partial = blobs / f"{meta.etag}.incomplete"
        total = meta.size or entry.size
        if _size(partial) > total:
            partial.unlink()
        _ensure_disk(blobs, total - _size(partial), entry.filename)
        blobs.mkdir(parents=True, exist_ok=True)
        _fetch(meta.location, url, partial, total, entry.filename, progress, cancel)
        _verify(partial, entry, cancel)
        partial.replace(blob)

    try:
        # The library's own bookkeeping: it finds the blob, links it into snapshots/<commit>/.
        path = Path(
            hf_hub_download(entry.repo, entry.filename, revision=meta.commit_hash, cache_dir=cache, endpoint=endpoint)
        )
    except (httpx2.HTTPError, OSError) as e:
        raise DownloadFailedError(f"Downloaded, but could not file it in the cache: {e}", resumable=True) from e
    if not path.is_symlink() and blob.exists():
        blob.unlink()  # no symlinks here (Windows without developer mode): the library copied it
    return path


def partial_path(entry: CatalogEntry, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`download` keeps the unfinished bytes of ``entry`` (deleting it discards the part)."""
    cache = Path(cache_dir) if cache_dir is not None else Path(hf_constants.HF_HUB_CACHE)
    return cache / repo_folder_name(repo_id=entry.repo, repo_type="model") / "blobs" / f"{entry.sha256}.incomplete"


def local_models(
    extra_dirs: Iterable[str | os.PathLike] = (), *, cache_dir: str | os.PathLike | None = None
) -> list[Path]:
    """Models already on this computer: in the HF cache, then under each of ``extra_dirs``.

    A model is a ``.pth`` or ``.safetensors`` file, or a Hugging Face folder (``config.json`` and
    its weight shards), which is listed once, as the folder, never shard by shard.
    """
    from engine.models.layouts import is_hf_folder  # imports torch: only when the library is scanned

    found: list[Path] = []
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        info = None
    if info is not None:
        for repo in sorted(info.repos, key=lambda r: r.repo_id):
            for revision in repo.revisions:
                found += sorted(f.file_path for f in revision.files if f.file_path.suffix in _WEIGHT_SUFFIXES)
    for folder in extra_dirs:
        folder = Path(folder)
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file())
    seen: set[Path] = set()
    unique = []
    hf_folders: dict[Path, bool] = {}
    for path in found:
        if path.suffix in (".safetensors", ".bin"):
            parent = path.parent
            if parent not in hf_folders:
                hf_folders[parent] = is_hf_folder(parent)
            if hf_folders[parent]:
                path = parent
            elif path.suffix == ".bin":
                continue        # a lone .bin is as likely an optimizer dump as a model: folders only
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def _fetch(
    location: str,
    url: str,
    partial: Path,
    total: int,
    filename: str,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    headers = build_hf_headers()
    if urlparse(location).netloc != urlparse(url).netloc:
        headers.pop("authorization", None)  # a signed CDN url: never send the token there
    resume = _size(partial)
    try:
        with partial.open("ab") as f:
            http_get(
                location,
                f,
                resume_size=resume,
                headers=headers,
                expected_size=total,
                displayed_filename=filename,
                tqdm_class=_progress_class(total, progress, cancel),
            )
    except DownloadCancelled:
        raise
    except (httpx2.HTTPError, OSError) as e:
        raise DownloadFailedError(
            f"The download of {filename} stopped at {_size(partial):,} of {total:,} bytes ({e}). "
            "Retrying resumes where it stopped.",
            resumable=True,
        ) from e
    if progress is not None:
        progress(total, total)


def _progress_class(total: int, progress: ProgressCallback | None, cancel: threading.Event | None) -> type[tqdm]:
    """A silent tqdm whose ``update`` reports bytes and raises when ``cancel`` is set."""

    class _Hooked(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True  # no terminal output: the caller draws its own progress
            super().__init__(*args, **kwargs)
            self.done = kwargs.get("initial", 0)
            if progress is not None:
                progress(self.done, total)

        def update(self, n: float | None = 1) -> bool | None:
            _check_cancel(cancel)
            self.done += int(n or 0)
            if progress is not None:
                progress(self.done, total)
            return super().update(n)

    return _Hooked


def _verify(partial: Path, entry: CatalogEntry, cancel: threading.Event | None) -> None:
    digest = hashlib.sha256()
    with partial.open("rb") as f:
        while block := f.read(8 * _CHUNK):
            _check_cancel(cancel)
            digest.update(block)
    if digest.hexdigest() != entry.sha256:
        partial.unlink()
        raise ChecksumMismatchError(
            f"{entry.filename} arrived damaged or altered (sha256 {digest.hexdigest()}, expected {entry.sha256}); "
            "it was deleted. Download it again, or try another mirror."
        )


def _ensure_disk(target: Path, needed: int, filename: str) -> None:
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise NotEnoughDiskError(
            f"Not enough disk space for {filename}: it needs {needed / 1e9:.1f} GB more, "
            f"{existing} has {free / 1e9:.1f} GB free. Free some space or choose another cache folder."
        )


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("Download cancelled; the part already downloaded is kept and a retry resumes it.")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
