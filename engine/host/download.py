"""Downloads of catalog files into the Hugging Face cache that a broken or hostile mirror cannot subvert.

``huggingface_hub`` still finds the file (``hf_hub_url``, ``get_hf_file_metadata``: the endpoint,
token and proxy settings people configured for it apply here) and its http client carries the
bytes. We do not hand the file to ``hf_hub_download``: it names cache files after what the server
says (the etag becomes the blob's name, ``X-Repo-Commit`` a folder), trusts a blob already there
under that name without reading it, and deletes a 3 GB part on any failure. Here instead:

- Nothing a server sends becomes part of a path (see :mod:`engine.host.hf_cache`).
- Bytes enter the cache only once their sha256 matched the catalog's. A part that stopped is kept
  as ``blobs/<sha256>.incomplete`` and the next call resumes it with a Range request.
- The request and its reads run on a helper thread that the download thread waits on a tenth of a
  second at a time, so Cancel takes effect at once even while a read is blocked on a stalled link.
- 5xx answers, resets and stalls are retried at once while a try makes progress, and after a
  cancellable backoff while none does, up to a few times.
- A lock file per blob makes two downloads of one file, in one process or two, take turns instead
  of writing into each other's part; the second finds the file done.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import httpx2
from filelock import FileLock, Timeout
from huggingface_hub import constants as hf_constants
from huggingface_hub import get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import (
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, get_session

from engine.errors import ChecksumMismatchError, DownloadCancelled, DownloadFailedError, NotEnoughDiskError
from engine.host.hf_cache import CacheLayout, sha256_of, valid_commit

ProgressCallback = Callable[[int, int], None]

# Seconds to wait before each retry of a try that made no progress: four retries, 15 s in all.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
# A read that gets no byte for this long is a stalled link: that try ends and is retried.
STALL_SECONDS = float(hf_constants.HF_HUB_DOWNLOAD_TIMEOUT)
_POLL = 0.1                                   # how often a waiting download thread looks at cancel
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT = (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError, httpx2.ReadTimeout)


class _Transient(Exception):
    """A try that failed in a way worth retrying (5xx, reset, stall, a body cut short)."""


def download(
    entry,
    *,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Fetch ``entry`` (a :class:`engine.host.hub.CatalogEntry`) into the HF cache, resuming a partial
    file, verify its sha256, and return the path of the file in the cache's snapshot folder.

    ``endpoint`` is a Hub mirror (default: ``HF_ENDPOINT`` or huggingface.co). ``progress`` gets
    ``(bytes_done, bytes_total)`` from the download thread; ``cancel`` ends the call within a tenth
    of a second or so, whatever the link is doing. Blocking: run it on a worker thread.
    """
    layout = CacheLayout(entry, cache_dir)
    # With the catalog's numbers, before any request.
    _ensure_disk(layout.blobs, entry.size - _size(layout.part), entry.filename)
    _check_cancel(cancel)
    url = hf_hub_url(entry.repo, entry.filename, revision=entry.revision, endpoint=endpoint)
    commit, location = _locate(entry, url, endpoint, cancel)
    snapshot = layout.snapshot(commit)

    def waiting() -> None:
        if progress is not None:
            progress(_size(layout.part), entry.size)

    def check() -> None:
        _check_cancel(cancel)

    with _locked(layout.lock, cancel, waiting):
        if not layout.trusted(layout.blob, check) and not layout.trusted(snapshot, check):
            layout.blobs.mkdir(parents=True, exist_ok=True)
            _fetch(location, url, layout.part, entry, progress, cancel)
            _verify(layout.part, entry, check)
            layout.store(layout.part)
        if not layout.trusted(snapshot, check):
            layout.file(snapshot)
        layout.write_ref(commit)
    if progress is not None:
        progress(entry.size, entry.size)
    return snapshot


def partial_path(entry, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`download` keeps the unfinished bytes of ``entry`` (deleting it discards the part)."""
    return CacheLayout(entry, cache_dir).part


def _locate(entry, url: str, endpoint: str | None, cancel: threading.Event | None) -> tuple[str, str]:
    """The commit and the address of the bytes, from a HEAD (retried like a GET), each checked."""
    failures = 0
    while True:
        try:
            meta = _cancellable(lambda: get_hf_file_metadata(url, endpoint=endpoint), cancel)
            break
        except (RepositoryNotFoundError, RemoteEntryNotFoundError) as e:
            raise DownloadFailedError("{repo}/{filename} was not found at {url}: {error}",
                                      repo=entry.repo, filename=entry.filename, url=url, error=e) from e
        except (HfHubHTTPError, *_TRANSIENT) as e:
            status = e.response.status_code if isinstance(e, HfHubHTTPError) else None
            if status is not None and status not in _RETRY_STATUS:
                raise DownloadFailedError("{url} answered HTTP {status}: {error}",
                                          url=url, status=status, error=e) from e
            failures += 1
            if failures > len(RETRY_DELAYS):
                raise DownloadFailedError("Could not reach {url} after {failures} tries ({error}). "
                                          "Check the connection or the mirror.",
                                          url=url, failures=failures, error=e) from e
            _sleep(RETRY_DELAYS[failures - 1], cancel)
        except OfflineModeIsEnabled as e:
            raise DownloadFailedError("Downloads are off: the environment this app was started from sets "
                                      "HF_HUB_OFFLINE. Start it without that variable to download.") from e
        except (httpx2.HTTPError, OSError) as e:
            raise DownloadFailedError("Could not reach {url}: {error}. Check the connection or the "
                                      "mirror.", url=url, error=str(e).rstrip(".")) from e
    if not valid_commit(meta.commit_hash):
        raise DownloadFailedError(
            "{url} did not answer like a Hugging Face Hub: its commit id (X-Repo-Commit) is "
            "{commit}, not 40 hex digits. Check the mirror address; nothing was downloaded.",
            url=url, commit=_shown(meta.commit_hash))
    if valid_commit(entry.revision) and meta.commit_hash != entry.revision:
        raise DownloadFailedError("{url} serves commit {commit}, but the catalog asks for "
                                  "{revision}; nothing was downloaded.",
                                  url=url, commit=meta.commit_hash, revision=entry.revision)
    if meta.size is not None and meta.size != entry.size:
        raise DownloadFailedError(
            "{url} offers {offered:,} bytes, but the catalog's {filename} has {size:,}: the "
            "mirror holds another version of the file, or is broken. Nothing was downloaded.",
            url=url, offered=meta.size, filename=entry.filename, size=entry.size)
    if urlparse(meta.location).scheme not in ("http", "https"):
        raise DownloadFailedError("{url} points the download at {location}, which is not an "
                                  "http(s) address; nothing was downloaded.", url=url, location=_shown(meta.location))
    return meta.commit_hash, meta.location


def _fetch(location: str, url: str, part: Path, entry, progress: ProgressCallback | None,
           cancel: threading.Event | None) -> None:
    """Append the rest of the file to ``part``, retrying failed tries; the bytes are checked later."""
    headers = build_hf_headers()
    if urlparse(location).netloc != urlparse(url).netloc:
        headers.pop("authorization", None)  # a signed CDN url: never send the token there
    headers["Accept-Encoding"] = "identity"  # byte offsets must be the file's, for Range to resume
    if _size(part) > entry.size:
        part.unlink()                        # longer than the file: not a prefix of it
    failures = 0
    while (before := _size(part)) < entry.size:
        try:
            _get(location, headers, part, entry.size, progress, cancel)
        except _Transient as e:
            failures = 0 if _size(part) > before else failures + 1
            if failures > len(RETRY_DELAYS):
                raise DownloadFailedError(
                    "The download of {filename} stopped at {done:,} of {size:,} bytes ({error}; "
                    "{failures} tries). Retrying resumes where it stopped.", resumable=True,
                    filename=entry.filename, done=_size(part), size=entry.size, error=e, failures=failures) from e
            if failures:
                _sleep(RETRY_DELAYS[failures - 1], cancel)
        except httpx2.HTTPError as e:
            raise DownloadFailedError(
                "The download of {filename} stopped at {done:,} of {size:,} bytes ({error}). "
                "Check the connection or the mirror; retrying resumes where it stopped.", resumable=True,
                filename=entry.filename, done=_size(part), size=entry.size, error=e) from e


def _get(location: str, headers: dict[str, str], part: Path, total: int, progress: ProgressCallback | None,
         cancel: threading.Event | None) -> None:
    """One GET from the part's end; ``_Transient`` when it is worth another try."""
    done = _size(part)
    headers = {**headers, "Range": f"bytes={done}-"} if done else headers
    body = _Body(location, headers)
    try:
        response = body.next(cancel)
        status = response.status_code
        if status in _RETRY_STATUS:
            raise _Transient(f"HTTP {status}")
        if status == 206 and not response.headers.get("Content-Range", "").startswith(f"bytes {done}-"):
            part.unlink(missing_ok=True)     # not the range asked for: start again from zero
            raise _Transient(f"a resume answered with {_shown(response.headers.get('Content-Range'))}")
        if status not in (200, 206):
            raise DownloadFailedError("{location} answered HTTP {status}.", resumable=True,
                                      location=location, status=status)
        if status == 200:
            done = 0                     # the server ignored Range: the body is the whole file
        if progress is not None:
            progress(done, total)
        with part.open("ab" if done else "wb") as f:
            for piece in iter(lambda: body.next(cancel), None):
                piece = piece[: total - done]       # never more than the catalog's size
                f.write(piece)
                done += len(piece)
                if progress is not None:
                    progress(done, total)
                if done == total:
                    break
            f.flush()
            os.fsync(f.fileno())
    except _TRANSIENT as e:
        raise _Transient(str(e) or type(e).__name__) from e
    finally:
        body.close()
    if done < total:
        raise _Transient("the connection closed early")


class _Body:
    """One streamed GET whose request and reads run on a helper thread.

    ``next`` hands the download thread the response, then each piece of the body as it arrives,
    then ``None``; it looks at ``cancel`` every tenth of a second while it waits, so a read blocked
    on a silent link never delays a cancel. The helper touches no file; after ``close`` it ends at
    its next piece, or when the client's read timeout gives up on the stalled link.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self._items: queue.Queue = queue.Queue(maxsize=16)
        self._stop = threading.Event()
        threading.Thread(target=self._run, args=(url, headers), name="download reader", daemon=True).start()

    def next(self, cancel: threading.Event | None):
        while True:
            _check_cancel(cancel)
            try:
                item = self._items.get(timeout=_POLL)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def close(self) -> None:
        self._stop.set()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        timeout = httpx2.Timeout(STALL_SECONDS, connect=hf_constants.HF_HUB_ETAG_TIMEOUT)
        try:
            with get_session().stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as r:
                if not self._put(r) or r.status_code not in (200, 206):
                    return
                for piece in r.iter_bytes():
                    if piece and not self._put(piece):
                        return
            self._put(None)
        except Exception as e:  # handed to the download thread, which decides what it means
            self._put(e)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False


def _cancellable(call: Callable, cancel: threading.Event | None):
    """``call()`` on a helper thread, waited for a tenth of a second at a time (see :class:`_Body`)."""
    box: queue.Queue = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, call()))
        except Exception as e:  # re-raised on the download thread
            box.put((False, e))

    threading.Thread(target=run, name="download request", daemon=True).start()
    while True:
        _check_cancel(cancel)
        try:
            ok, value = box.get(timeout=_POLL)
        except queue.Empty:
            continue
        if ok:
            return value
        raise value


@contextmanager
def _locked(path: Path, cancel: threading.Event | None, waiting: Callable[[], None]) -> Iterator[None]:
    """Hold the blob's lock file; while another download holds it, wait (cancellably)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    while True:
        try:
            lock.acquire(timeout=_POLL)
            break
        except Timeout:
            _check_cancel(cancel)
            waiting()
    try:
        yield
    finally:
        lock.release()


def _verify(part: Path, entry, check: Callable[[], None]) -> None:
    digest = sha256_of(part, check)
    if digest != entry.sha256:
        part.unlink()
        raise ChecksumMismatchError(
            "{filename} arrived damaged or altered (sha256 {digest}, expected {expected}); "
            "it was deleted. Download it again, or try another mirror.",
            filename=entry.filename, digest=digest, expected=entry.sha256
        )


def _ensure_disk(target: Path, needed: int, filename: str) -> None:
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise NotEnoughDiskError(
            "Not enough disk space for {filename}: it needs {needed:.1f} GB more, "
            "{existing} has {free:.1f} GB free. Free some space or choose another cache folder.",
            filename=filename, needed=needed / 1e9, existing=existing, free=free / 1e9
        )


def _sleep(seconds: float, cancel: threading.Event | None) -> None:
    """A backoff that a cancel cuts short."""
    if cancel is None:
        threading.Event().wait(seconds)
    elif cancel.wait(seconds):
        _check_cancel(cancel)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("Download cancelled; the part already downloaded is kept and a retry resumes it.")


def _shown(value: str | None) -> str:
    """A server's value quoted for a message, cut short: it may be anything."""
    return "nothing" if value is None else repr(value[:80])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
