"""A stand-in for the Hugging Face Hub on 127.0.0.1: just what ``hf_hub_download`` of one file needs.

``huggingface_hub`` 2.4 makes two kinds of request for a file in a model repo, both on
``/{repo_id}/resolve/{revision}/{filename}``: a HEAD whose headers give the commit
(``X-Repo-Commit``), the etag (``X-Linked-Etag`` / ``ETag``, the sha256 for LFS files) and the size
(``X-Linked-Size`` / ``Content-Length``), then a GET for the bytes, with ``Range: bytes=N-`` when it
resumes. The files are deterministic pseudo-random bytes made by the tests, not model weights.

Switches, settable between requests: ``slow`` (bytes per second), ``cut_after`` (close the next GET
after that many body bytes, once), ``fail_gets`` (answer the next N GETs with 503), ``corrupt``
(serve other bytes than the advertised etag says). ``bytes_served`` counts body bytes sent,
``served`` holds the body bytes of each GET in order, and ``requests`` records
``(method, path, range header)``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
_RANGE = re.compile(r"^bytes=(\d+)-$")
_PIECE = 64 * 1024


def make_bytes(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that do not compress: sha256 in counter mode."""
    blocks = (hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


class MockHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.slow: int | None = None
        self.cut_after: int | None = None
        self.fail_gets = 0
        self.corrupt = False
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

    def gets(self) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET"]

    def __enter__(self) -> MockHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
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
            match = _RESOLVE.match(self.path)
            data = hub.files.get((match["repo"], match["filename"])) if match else None
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with hub._lock:
                fail = body and hub.fail_gets > 0
                hub.fail_gets -= fail
            if fail:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            sha = hashlib.sha256(data).hexdigest()
            if hub.corrupt:
                data = bytes(b ^ 0xFF for b in data[:1024]) + data[1024:]
            start = 0
            ranged = _RANGE.match(self.headers.get("Range") or "")
            if ranged:
                start = int(ranged.group(1))
            self.send_response(206 if ranged else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{sha}"')
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if ranged:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if body:
                self._send_body(data[start:])

        def _send_body(self, data: bytes) -> None:
            with hub._lock:
                cut, hub.cut_after = hub.cut_after, None
                index = len(hub.served)
                hub.served.append(0)
            limit = len(data) if cut is None else min(cut, len(data))
            sent = 0
            try:
                while sent < limit:
                    piece = data[sent : min(sent + _PIECE, limit)]
                    self.wfile.write(piece)
                    sent += len(piece)
                    with hub._lock:
                        hub.bytes_served += len(piece)
                        hub.served[index] += len(piece)
                    if hub.slow:
                        time.sleep(len(piece) / hub.slow)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True

    return Handler
