"""Search the Hugging Face Hub (or a mirror) for RWKV models and states beyond the bundled catalog.

``huggingface_hub`` asks the Hub (``HfApi.list_models``: ``/api/models?search=...``) and lists a
repository's files with their sizes and LFS sha256 (``HfApi.list_repo_tree``:
``/api/models/{repo}/tree/{revision}``). Each usable file becomes a
:class:`engine.host.hub.CatalogEntry`, so it is downloaded, resumed and verified exactly like a
catalog file (:func:`engine.host.hub.download`): the sha256 the Hub lists is the one the bytes must
match.

Nothing the server sends becomes a path unchecked: a repository id must be ``namespace/name`` in
plain ASCII, a file name plain relative segments (no ``..``, no backslashes, drives or control
characters), a sha256 64 hex digits, a size a positive integer. Entries that fail are left out and
counted, never repaired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, HFValidationError
from huggingface_hub.utils import validate_repo_id

from engine.errors import DownloadError
from engine.host.hub import MODEL_SUFFIXES, CatalogEntry

__all__ = ["RepoHit", "RepoFiles", "SearchError", "guess_generation", "guess_parameters", "repo_files",
           "search_models", "valid_filename", "valid_repo_id"]

_REPO_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94})/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94})")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+()\[\] -]{0,199}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.")
_PARAMS = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
_GENERATIONS = ((7, ("rwkv7", "rwkv-7", "rwkv_7", "x070", "goose", "-g1", "rwkv7-g")),
                (6, ("rwkv6", "rwkv-6", "rwkv_6", "x060", "finch")),
                (5, ("rwkv5", "rwkv-5", "rwkv_5", "x052", "eagle")),
                (4, ("rwkv4", "rwkv-4", "rwkv_4", "raven", "rwkv-4-pile", "rwkv-pile")))
SEARCH_LIMIT = 50
REACH_SECONDS = 10.0       # for the Hub's first answer to a plain request
MAX_FILES = 2000           # a repository listing longer than this is cut (the Hub pages by 1000)


class SearchError(DownloadError):
    """The Hub could not be searched or listed; the message says why and what to try."""


@dataclass(frozen=True)
class RepoHit:
    """One repository the search found."""

    repo: str
    downloads: int
    likes: int
    tags: tuple[str, ...]
    last_modified: str


@dataclass(frozen=True)
class RepoFiles:
    """A repository's downloadable model and state files, and how many files were left out (and why)."""

    repo: str
    entries: tuple[CatalogEntry, ...]
    skipped: tuple[str, ...]


def valid_repo_id(repo: object) -> bool:
    """``namespace/name`` in plain ASCII, as the Hub spells repository ids (and no ``..`` or ``--``)."""
    if not isinstance(repo, str) or not _REPO_ID.fullmatch(repo) or ".." in repo or "--" in repo:
        return False
    try:
        validate_repo_id(repo)
    except HFValidationError:
        return False
    return True


def valid_filename(name: object) -> bool:
    """A plain relative file name: segments of letters, digits and ``._+-()[] ``, none ``.`` or ``..``."""
    if not isinstance(name, str) or len(name) > 400:
        return False
    parts = name.split("/")
    return 0 < len(parts) <= 4 and all(_SEGMENT.fullmatch(p) and p.strip(".") for p in parts)


def guess_generation(*names: str) -> int:
    """The RWKV generation a repository or file name says (0 when it says none)."""
    text = " ".join(names).lower()
    for generation, marks in _GENERATIONS:
        if any(mark in text for mark in marks):
            return generation
    return 0


def guess_parameters(name: str) -> float | None:
    """Billions of parameters written in a name (``1.5b``, ``191m``), else None."""
    found = _PARAMS.findall(name.rsplit("/", 1)[-1])
    if not found:
        return None
    number, unit = found[-1]
    return float(number) / (1000 if unit.lower() == "m" else 1)


def search_models(query: str, *, endpoint: str | None = None, limit: int = SEARCH_LIMIT) -> list[RepoHit]:
    """Repositories on the Hub whose id matches ``query`` and that mention RWKV (in the id or a tag),
    most downloaded first. Blocking: run it on a worker thread."""
    query = " ".join(query.split()) or "rwkv"
    api = HfApi(endpoint=endpoint)
    _reach(api.endpoint)
    try:
        found = list(islice(api.list_models(search=query, sort="downloads", limit=limit), limit))
    except (HfHubHTTPError, HFValidationError) as e:
        raise SearchError("The Hub at {hub} refused the search for {query!r}: {error}",
                          hub=api.endpoint, query=query, error=_short(e)) from e
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise _unreachable(api.endpoint, e) from e
    except Exception as e:  # httpx's errors (connect, timeout, protocol): all mean the same to the user
        if type(e).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore"):
            raise
        raise _unreachable(api.endpoint, e) from e
    hits = []
    for model in found:
        repo = getattr(model, "id", None)
        tags = tuple(t for t in (getattr(model, "tags", None) or ()) if isinstance(t, str))[:40]
        if not valid_repo_id(repo):
            continue
        if "rwkv" not in repo.lower() and not any("rwkv" in t.lower() for t in tags):
            continue
        modified = getattr(model, "last_modified", None)
        hits.append(RepoHit(repo, _count(getattr(model, "downloads", 0)), _count(getattr(model, "likes", 0)),
                            tags, modified.date().isoformat() if hasattr(modified, "date") else ""))
    return hits


def repo_files(repo: str, *, endpoint: str | None = None, revision: str = "main",
               suffixes: tuple[str, ...] = MODEL_SUFFIXES) -> RepoFiles:
    """The files of ``repo`` that can be downloaded and verified like catalog files: a model or state
    suffix, an LFS sha256, a plain name. Sharded checkpoints (``-00001-of-00003``) are left out: one
    shard is not a model. Blocking: run it on a worker thread."""
    if not valid_repo_id(repo):
        raise SearchError("{repo!r} is not a Hugging Face repository id (namespace/name).", repo=repo)
    api = HfApi(endpoint=endpoint)
    _reach(api.endpoint)
    try:
        tree = list(islice(api.list_repo_tree(repo, recursive=True, revision=revision), MAX_FILES))
    except (HfHubHTTPError, HFValidationError) as e:
        raise SearchError("The Hub at {hub} could not list {repo}: {error}",
                          hub=api.endpoint, repo=repo, error=_short(e)) from e
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise _unreachable(api.endpoint, e) from e
    except Exception as e:
        if type(e).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore"):
            raise
        raise _unreachable(api.endpoint, e) from e
    entries, skipped = [], []
    for item in tree:
        path = getattr(item, "path", None)
        lfs = getattr(item, "lfs", None)
        if not hasattr(item, "size") or not isinstance(path, str) or not path.lower().endswith(suffixes):
            continue                                   # folders, READMEs, configs: not offered
        if not valid_filename(path):
            skipped.append(f"{path[:80]!r}: not a plain file name")
        elif _SHARD.search(path):
            skipped.append(f"{path}: one shard of a multi-file checkpoint")
        elif lfs is None or not isinstance(lfs.sha256, str) or not _SHA256.fullmatch(lfs.sha256):
            skipped.append(f"{path}: the Hub lists no sha256 for it, so it could not be verified")
        elif not isinstance(item.size, int) or isinstance(item.size, bool) or item.size <= 0 or lfs.size != item.size:
            skipped.append(f"{path}: no usable size")
        else:
            entries.append(CatalogEntry(
                repo=repo, filename=path, size=item.size, sha256=lfs.sha256,
                generation=guess_generation(repo, path), parameters=guess_parameters(path), context=None,
                tags=("Hub",), visibility="visible", revision=revision))
    entries.sort(key=lambda e: (e.parameters or 0.0, e.filename))
    return RepoFiles(repo, tuple(entries), tuple(skipped))


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__


def _reach(endpoint: str) -> None:
    """One plain request to the Hub before asking it anything. huggingface_hub retries a connection
    that is refused or a name that does not resolve for about 25 s (backoff of 1, 2, 4, 8, 8 s), and
    a search cannot be cancelled meanwhile; a Hub that does not answer at all is said at once. Any
    answer, whatever its status, counts as reachable."""
    from huggingface_hub.errors import OfflineModeIsEnabled
    from huggingface_hub.utils import get_session

    try:
        get_session().head(endpoint, timeout=REACH_SECONDS)
    except OfflineModeIsEnabled as e:
        raise SearchError("Searching the Hub is off: the environment this app was started from sets "
                          "HF_HUB_OFFLINE. Start it without that variable to search.") from e
    except Exception as e:
        if type(e).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore"):
            raise
        raise _unreachable(endpoint, e) from e


def _unreachable(endpoint: str, e: Exception) -> SearchError:
    return SearchError("Could not search {hub} ({kind}: {error}). Check the connection, or the mirror in Settings.",
                       hub=endpoint, kind=type(e).__name__, error=_short(e))
