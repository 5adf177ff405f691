"""A stand-in for the Hugging Face Hub on 127.0.0.1: just what ``hf_hub_download`` of one file needs.

``huggingface_hub`` 2.4 makes two kinds of request for a file in a model repo, both on
``/{repo_id}/resolve/{revision}/{filename}``: a HEAD whose headers give the commit
(``X-Repo-Commit``), the etag (``X-Linked-Etag`` / ``ETag``, the sha256 for LFS files) and the size
(``X-Linked-Size`` / ``Content-Length``), then a GET for the bytes, with ``Range: bytes=N-`` when it
resumes. The files are deterministic pseudo-random bytes made by the tests, not model weights.

Switches, settable between requests: ``slow`` (bytes per second, sent in pieces small enough that
bytes keep arriving several times a second however low the rate), ``cut_after`` (close the next GET
after that many body bytes, once), ``fail_gets`` / ``fail_heads`` (answer the next N GETs / HEADs
with ``fail_status``, 503 by default), ``corrupt`` (serve other bytes than the advertised etag says).
``bytes_served`` counts body bytes sent, ``served`` holds the body bytes of each GET in order, and
``requests`` records ``(method, path, range header)``.

Search, as the Hub's API answers ``HfApi.list_models`` and ``HfApi.list_repo_tree``:
``GET /api/models?search=Q&limit=N`` lists the repositories (those of ``add`` and ``describe``) whose
id contains ``Q`` (case-insensitive), each ``{"_id", "id", "modelId", "likes", "downloads", "tags",
"private", "createdAt", "lastModified"}`` as the Hub sends them; ``GET
/api/models/{repo}/tree/{revision}`` lists a repo's files, each ``{"type": "file", "oid", "size",
"path", "lfs": {"oid": sha256, "size", "pointerSize"}}`` (``small`` files, stored in git, have no
``lfs``). ``api_answer`` replaces the body of every ``/api/`` answer (any JSON value, or raw bytes),
for a hostile or broken server.

Hostile switches, for a broken or malicious mirror (or whoever sits on the path of an http one):
``headers`` overrides response headers of every file request (``None`` removes one), ``rewrite``
is called with ``(method, headers)`` to change them per request, ``stall_after`` sends that many
body bytes of the next GET and then nothing, holding the connection open (once), ``reset_after``
sends that many and then resets the connection (TCP RST, once), and ``redirect`` answers file
requests with a 302 to that path, whose GET or HEAD serves the repo's single file.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<revision>[^/?]+)")
_RANGE = re.compile(r"^bytes=(\d+)-$")
_PIECE = 64 * 1024


def make_bytes(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that do not compress: sha256 in counter mode."""
    blocks = (hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


class MockHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.small: dict[tuple[str, str], bytes] = {}
        self.models: dict[str, dict] = {}
        self.api_answer: object = None
        self.slow: int | None = None
        self.cut_after: int | None = None
        self.fail_gets = 0
        self.fail_heads = 0
        self.fail_status = 503
        self.corrupt = False
        self.headers: dict[str, str | None] = {}
        self.rewrite: Callable[[str, dict[str, str]], None] | None = None
        self.stall_after: int | None = None
        self.reset_after: int | None = None
        self.redirect: str | None = None
        self.closing = threading.Event()
        self.bytes_served = 0
        self.served: list[int] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo: str, filename: str, data: bytes) -> str:
        """Serve ``data`` as ``repo``/``filename``; returns its sha256."""
        self.files[(repo, filename)] = data
        return hashlib.sha256(data).hexdigest()

    def describe(self, repo: str, *, downloads: int = 0, likes: int = 0, tags: tuple[str, ...] = ()) -> None:
        """What the search says about ``repo`` (a repo with files is listed even without this)."""
        self.models[repo] = {"downloads": downloads, "likes": likes, "tags": list(tags)}

    def add_small(self, repo: str, filename: str, data: bytes) -> None:
        """A file kept in git, not LFS (a README, a config): listed without a sha256, not served."""
        self.small[(repo, filename)] = data

    def gets(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET"]

    def __enter__(self) -> MockHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()             # ends a stalled GET
        self._server.shutdown()
        self._server.server_close()


def _handler_for(hub: MockHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            with hub._lock:
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
            if self.path.startswith("/api/"):
                self._api(body)
                return
            match = _RESOLVE.match(self.path)
            data = hub.files.get((match["repo"], match["filename"])) if match else None
            if hub.redirect is not None and data is not None:
                self._send_headers(302, {**_hub_headers(data), "Location": hub.redirect, "Content-Length": "0"})
                return
            if hub.redirect is not None and self.path == hub.redirect and len(hub.files) == 1:
                (data,) = hub.files.values()
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with hub._lock:
                fail = hub.fail_gets > 0 if body else hub.fail_heads > 0
                if body:
                    hub.fail_gets -= fail
                else:
                    hub.fail_heads -= fail
            if fail:
                self._send_headers(hub.fail_status, {"Content-Length": "0"})
                return
            headers = _hub_headers(data)
            if hub.corrupt:
                data = bytes(b ^ 0xFF for b in data[:1024]) + data[1024:]
            start = 0
            ranged = _RANGE.match(self.headers.get("Range") or "")
            if ranged:
                start = int(ranged.group(1))
            headers["Content-Length"] = str(len(data) - start)
            if ranged:
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self._send_headers(206 if ranged else 200, headers)
            if body:
                self._send_body(data[start:])

        def _api(self, body: bool) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            tree = _TREE.match(url.path)
            if hub.api_answer is not None:
                answer = hub.api_answer
            elif url.path == "/api/models":
                answer = _search(hub, query.get("search", [""])[0], int(query.get("limit", ["1000"])[0]))
            elif tree and _repos(hub).get(unquote(tree["repo"])) is not None:
                answer = _tree(hub, unquote(tree["repo"]))
            else:
                self._send_headers(404, {"X-Error-Code": "RepoNotFound", "Content-Length": "0"})
                return
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self._send_headers(200, {"Content-Type": "application/json", "Content-Length": str(len(data))})
            if body:
                self.wfile.write(data)

        def _send_headers(self, status: int, headers: dict[str, str]) -> None:
            headers = {**headers, **hub.headers}
            if hub.rewrite is not None:
                hub.rewrite(self.command, headers)
            self.send_response(status)
            for name, value in headers.items():
                if value is not None:
                    self.send_header(name, value)
            self.end_headers()

        def _send_body(self, data: bytes) -> None:
            with hub._lock:
                cut, hub.cut_after = hub.cut_after, None
                stall, hub.stall_after = hub.stall_after, None
                reset, hub.reset_after = hub.reset_after, None
                index = len(hub.served)
                hub.served.append(0)
            stop = min((n for n in (cut, stall, reset) if n is not None), default=None)
            limit = len(data) if stop is None else min(stop, len(data))
            sent = 0
            try:
                while sent < limit:
                    slow = hub.slow
                    size = _PIECE if not slow else max(1, min(_PIECE, slow // 20))
                    piece = data[sent : min(sent + size, limit)]
                    self.wfile.write(piece)
                    sent += len(piece)
                    with hub._lock:
                        hub.bytes_served += len(piece)
                        hub.served[index] += len(piece)
                    if slow:
                        time.sleep(len(piece) / slow)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            if stall is not None and stop == stall:
                hub.closing.wait()     # the link goes quiet; the client must give up on its own
                self.close_connection = True
            elif reset is not None and stop == reset:
                # SO_LINGER 0: close() sends RST, as a dropped NAT mapping or a crashing proxy does
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
            elif cut is not None:
                self.close_connection = True

    return Handler


def _repos(hub: MockHub) -> dict[str, dict]:
    repos = {repo: {"downloads": 0, "likes": 0, "tags": []} for repo, _ in [*hub.files, *hub.small]}
    return {**repos, **hub.models}


def _search(hub: MockHub, search: str, limit: int) -> list[dict]:
    found = [(repo, meta) for repo, meta in _repos(hub).items() if search.lower() in repo.lower()]
    found.sort(key=lambda item: -item[1]["downloads"])
    return [{"_id": hashlib.sha1(repo.encode()).hexdigest()[:24], "id": repo, "modelId": repo,
             "likes": meta["likes"], "downloads": meta["downloads"], "tags": meta["tags"], "private": False,
             "createdAt": "2025-01-01T00:00:00.000Z", "lastModified": "2025-10-05T12:00:00.000Z"}
            for repo, meta in found[:limit]]


def _tree(hub: MockHub, repo: str) -> list[dict]:
    files = [{"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": name,
              "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}}
             for (r, name), data in hub.files.items() if r == repo]
    files += [{"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": name}
              for (r, name), data in hub.small.items() if r == repo]
    folders = sorted({name.rsplit("/", 1)[0] for r, name in [*hub.files, *hub.small] if r == repo and "/" in name})
    return [{"type": "directory", "oid": hashlib.sha1(f.encode()).hexdigest(), "path": f} for f in folders] + files


def _hub_headers(data: bytes) -> dict[str, str]:
    """What the Hub says about an LFS file: its commit, its sha256 as etag, its size."""
    sha = hashlib.sha256(data).hexdigest()
    return {"X-Repo-Commit": COMMIT, "ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
            "X-Linked-Size": str(len(data)), "Accept-Ranges": "bytes"}


def catalog_entry(server: MockHub, repo: str, filename: str, data: bytes):
    """Serve ``data`` as ``repo``/``filename`` and return the catalog entry that describes it."""
    from engine.host.hub import CatalogEntry

    return CatalogEntry(repo=repo, filename=filename, size=len(data), sha256=server.add(repo, filename, data),
                        generation=7, parameters=0.1, context=4096, tags=("Official",), visibility="visible")
