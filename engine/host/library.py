"""The models on this computer as the window lists them: the bundled ones, what each file is (from
its headers alone, never running code), a signature that says when a file has changed, and how one
is deleted from disk.

Where the files are found (the Hugging Face cache, folders the user added) is :func:`engine.host.hub.local_models`.
"""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import CachedFileInfo, HFCacheInfo, scan_cache_dir
from huggingface_hub.errors import CacheNotFound

from engine.errors import EngineError
from engine.models.checkpoint import resolve
from engine.models.file_info import FileInfo, StateFileInfo, inspect_file, inspect_state_file
from engine.models.layouts import weight_files

__all__ = ["FileInfo", "StateFileInfo", "bundled", "cached_files", "delete_model", "inspect_file",
           "inspect_state_file", "model_path", "signature"]


def bundled(name: str = "demo") -> Path:
    """The file of a model shipped with the app."""
    return resolve(name)


def model_path(source: str | os.PathLike) -> Path:
    """The model file or Hugging Face folder that ``source`` names, as loading finds it: a file, a
    folder, or a bundled model's name (``demo``); :class:`ModelNotFoundError` if none."""
    return resolve(source)


def signature(path: Path) -> tuple[int, float]:
    """(bytes, newest mtime) of a model file, or of a folder's config and weight files: a library scan
    reads a file's headers again only when this changes."""
    if not path.is_dir():
        stat = path.stat()
        return stat.st_size, stat.st_mtime
    try:
        files = weight_files(path, strict=False)
    except EngineError:         # a damaged index: inspect_file will say so on the row
        files = []
    stats = [p.stat() for p in [path / "config.json", *files] if p.exists()]
    return sum(s.st_size for s in stats), max((s.st_mtime for s in stats), default=0.0)


def cached_files(path: Path, cache_dir: str | os.PathLike | None = None
                 ) -> tuple[HFCacheInfo, list[CachedFileInfo]] | None:
    """The Hugging Face cache's own record of ``path`` (a file in a snapshot, or a snapshot folder's
    files), or None when ``path`` is not in that cache."""
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return None
    path = Path(path)
    for repo in info.repos:
        for revision in repo.revisions:
            if path == revision.snapshot_path or revision.snapshot_path in path.parents:
                files = [f for f in revision.files if f.file_path == path or path in f.file_path.parents]
                if files:
                    return info, files
    return None


def delete_model(path: Path, cache_dir: str | os.PathLike | None = None) -> int:
    """Delete a model from disk; the bytes freed.

    A file in the Hugging Face cache goes through the cache's own API (``HFCacheInfo.delete_files``):
    its snapshot entry, and its blob once no other snapshot links to it; so a file another revision
    shares stays. A snapshot folder (a Hugging Face model folder) loses every file in it. Elsewhere
    only a single file is deleted, never a folder. The bundled models are never deleted. Callers ask
    the user first.
    """
    path = Path(path)
    if any(path.resolve() == bundled(name).resolve() for name in ("demo",)):
        raise EngineError("{name} comes with the app and cannot be deleted.", name=path.name)
    found = cached_files(path, cache_dir)
    if found is not None:
        info, files = found
        strategy = info.delete_files(*files)
        freed = strategy.expected_freed_size
        strategy.execute()
        for blob in strategy.blobs:                    # what engine.host.hf_cache remembered of it
            Path(f"{blob}.verified").unlink(missing_ok=True)
        return freed
    if path.is_dir():
        raise EngineError("{path} is a folder outside the Hugging Face cache; delete it with your file manager.",
                          path=path)
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as e:
        raise EngineError("Could not delete {path}: {error}.", path=path, error=e.strerror or e) from e
    return size
