"""The model catalog, which of its files suits this computer, and the models already on it.

Downloads live in :mod:`engine.host.download` (their cache layout in :mod:`engine.host.hf_cache`);
``download``, ``partial_path`` and the download errors are re-exported here, where callers have
always found them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from huggingface_hub import scan_cache_dir
from huggingface_hub.errors import CacheNotFound

from engine.errors import (
    ChecksumMismatchError,
    DownloadCancelled,
    DownloadError,
    DownloadFailedError,
    EngineError,
    NotEnoughDiskError,
)
from engine.host import hardware
from engine.host.download import download, partial_path

__all__ = [
    "CatalogEntry",
    "ChecksumMismatchError",
    "DownloadCancelled",
    "DownloadError",
    "DownloadFailedError",
    "NotEnoughDiskError",
    "catalog",
    "download",
    "local_files",
    "local_models",
    "partial_path",
    "recommended",
    "recommended_for",
]

MODEL_SUFFIXES = (".pth", ".safetensors")
_WEIGHT_SUFFIXES = (*MODEL_SUFFIXES, ".bin")     # .bin: shards of a Hugging Face folder only
_DATE = re.compile(r"(20\d{6})")

# Bandwidth assumed for a CPU when judging speed: dual-channel DDR4 desktops measure 20-40 GB/s
# and laptops less under load, so 20 GB/s is the conservative end. A first model that answers at
# 10 tokens/s or more reads as "instant"; at 2-3 tokens/s people think the app is broken.
CPU_BYTES_PER_SECOND = 20e9
MIN_TOKENS_PER_SECOND = 10.0


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
        raise EngineError("Unknown precision '{precision}'.", precision=precision)
    return int(bits.group()) / 8


def recommended_for(entries: Iterable[CatalogEntry], device: hardware.Device, *,
                    bytes_per_second: float = CPU_BYTES_PER_SECOND, measured=None) -> CatalogEntry | None:
    """:func:`recommended` for one device: on a GPU by memory in 16-bit; on the CPU also by speed,
    each file costed in the precision :func:`engine.host.hardware.recommend` would load it with there
    (the most faithful that fits, or what ``measured``, a :class:`engine.host.probe.ProbeResult` of
    this CPU, found fastest),
    at ``bytes_per_second``."""
    if device.kind != "cpu":
        return recommended(entries, device.memory_bytes)
    return recommended(entries, device.memory_bytes, bytes_per_second=bytes_per_second,
                       precision=lambda e: hardware.recommend(e.size, e.size // 2, [device], measured).precision)


def local_models(
    extra_dirs: Iterable[str | os.PathLike] = (), *, cache_dir: str | os.PathLike | None = None
) -> list[Path]:
    """Models already on this computer: in the HF cache, then under each of ``extra_dirs``.

    A model is a ``.pth`` or ``.safetensors`` file, or a Hugging Face folder (``config.json`` and
    its weight shards), which is listed once, as the folder, never shard by shard.
    """
    from engine.models.layouts import is_hf_folder  # imports torch: only when the library is scanned

    found = local_files(_WEIGHT_SUFFIXES, extra_dirs, cache_dir=cache_dir)
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


def local_files(suffixes: tuple[str, ...], extra_dirs: Iterable[str | os.PathLike] = (), *,
                cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """Files ending in one of ``suffixes`` in the HF cache's snapshots, then under each of ``extra_dirs``
    (Ai00's ``.state`` files for the state library, say)."""
    found: list[Path] = []
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        info = None
    if info is not None:
        for repo in sorted(info.repos, key=lambda r: r.repo_id):
            for revision in repo.revisions:
                found += sorted(f.file_path for f in revision.files if f.file_path.suffix in suffixes)
    for folder in extra_dirs:
        folder = Path(folder)
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*") if p.suffix in suffixes and p.is_file())
    return found
