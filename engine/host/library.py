"""The models on this computer as the window lists them: the bundled ones, what each file is (from
its headers alone, never running code), and a signature that says when a file has changed.

Where the files are found (the Hugging Face cache, folders the user added) is :func:`engine.host.hub.local_models`.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import EngineError
from engine.models.checkpoint import resolve
from engine.models.file_info import FileInfo, inspect_file
from engine.models.layouts import weight_files

__all__ = ["FileInfo", "bundled", "inspect_file", "signature"]


def bundled(name: str = "demo") -> Path:
    """The file of a model shipped with the app."""
    return resolve(name)


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
