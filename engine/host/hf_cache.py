"""Where a catalog file lives in the Hugging Face cache, and when what is already there is trusted.

The layout is the HF cache's own, so other tools find our downloads and we find theirs:
``models--org--name/blobs/<sha256>`` holds the bytes, ``snapshots/<commit>/<filename>`` links to
them (or, where symlinks are unavailable, is the file itself), ``refs/<revision>`` names the commit,
``.locks/models--org--name/<sha256>.lock`` is the lock ``hf_hub_download`` takes for the same blob.

Nothing a server sends becomes part of a path: the blob is named by the catalog's sha256 (on the
Hub an LFS file's etag is that same hash, so the blobs stay shared with other tools), the snapshot
folder by the commit id only once it is exactly 40 hex digits, the file by the catalog's name. The
catalog's names are checked as plain relative names too, since paths are built from them.

A file already in the cache is trusted only with the catalog's size and a sha256 that was checked
once: ``blobs/<sha256>.verified`` remembers that check with the size, mtime and inode of the file it
was made on, so a 3 GB file is not hashed at every download and a file changed since is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import constants as hf_constants
from huggingface_hub.file_download import repo_folder_name

from engine.atomic import atomic_write_bytes
from engine.errors import DownloadError

_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNSAFE = re.compile(r"[\\:\x00-\x1f]")    # Windows separators and drives, control characters
_HASH_BLOCK = 8 * 1024 * 1024


def valid_commit(value: str | None) -> bool:
    """Whether ``value`` is a full git commit id, the only thing a server says that names a folder."""
    return value is not None and _COMMIT.fullmatch(value) is not None


def sha256_of(path: Path, check: Callable[[], None]) -> str:
    """The file's sha256; ``check`` runs between blocks (it raises to stop, e.g. on cancel)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_HASH_BLOCK):
            check()
            digest.update(block)
    return digest.hexdigest()


class CacheLayout:
    """The paths of one catalog entry in one HF cache, built from the catalog's names alone."""

    def __init__(self, entry, cache_dir: str | os.PathLike | None = None) -> None:
        _check_names(entry)
        cache = Path(cache_dir) if cache_dir is not None else Path(hf_constants.HF_HUB_CACHE)
        self.entry = entry
        self.repo = cache / repo_folder_name(repo_id=entry.repo, repo_type="model")
        self.blobs = self.repo / "blobs"
        self.blob = self.blobs / entry.sha256
        self.part = self.blobs / f"{entry.sha256}.incomplete"
        self.lock = cache / ".locks" / self.repo.name / f"{entry.sha256}.lock"
        self._marker = self.blobs / f"{entry.sha256}.verified"

    def snapshot(self, commit: str) -> Path:
        if not valid_commit(commit):
            raise DownloadError("{commit!r} is not a commit id; it cannot name a snapshot folder.", commit=commit)
        return self.repo / "snapshots" / commit / Path(*self.entry.filename.split("/"))

    def trusted(self, path: Path, check: Callable[[], None]) -> bool:
        """Whether ``path`` holds the catalog's bytes: its size every time, its sha256 once."""
        try:
            st = path.stat()
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_size != self.entry.size:
            return False
        if self._remembered() == self._identity(st):
            return True
        if sha256_of(path, check) != self.entry.sha256:
            return False
        self._remember(path)
        return True

    def store(self, verified: Path) -> None:
        """Rename a file whose sha256 just matched over the blob (replacing a damaged one), and remember it."""
        os.replace(verified, self.blob)
        self._remember(self.blob)

    def file(self, snapshot: Path) -> None:
        """Put the blob at ``snapshot``: a relative symlink, or where symlinks fail (Windows without
        developer mode), the blob itself, moved there. Only our own blob is moved; nothing is deleted."""
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        link = snapshot.with_name(f".{snapshot.name}.{secrets.token_hex(4)}.link")
        try:
            os.symlink(os.path.relpath(self.blob, snapshot.parent), link)
        except OSError:
            os.replace(self.blob, snapshot)    # same inode and mtime: the remembered check still holds
            return
        os.replace(link, snapshot)

    def write_ref(self, commit: str) -> None:
        """``refs/<revision>`` names ``commit``, as the HF cache expects for a branch or tag."""
        revision = self.entry.revision
        if revision == commit:
            return
        ref = self.repo / "refs" / Path(*revision.split("/"))
        try:
            if ref.read_text(encoding="ascii") == commit:
                return
        except (OSError, UnicodeDecodeError):
            pass
        atomic_write_bytes(ref, commit.encode("ascii"))

    def _identity(self, st: os.stat_result) -> dict[str, object]:
        return {"sha256": self.entry.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}

    def _remembered(self) -> object:
        try:
            return json.loads(self._marker.read_bytes())
        except (OSError, ValueError):
            return None

    def _remember(self, path: Path) -> None:
        atomic_write_bytes(self._marker, json.dumps(self._identity(path.stat())).encode())


def _check_names(entry) -> None:
    if not _SHA256.fullmatch(entry.sha256):
        raise DownloadError("The catalog's sha256 for {filename!r} is not 64 hex digits; it cannot be "
                            "verified, so it is not downloaded.", filename=entry.filename)
    for what, name in (("repo", entry.repo), ("file name", entry.filename), ("revision", entry.revision)):
        if _UNSAFE.search(name) or any(part in ("", ".", "..") for part in name.split("/")):
            raise DownloadError("The catalog's {what} {name!r} is not a plain relative name; refusing to "
                                "build a path from it.", what=what, name=name)
