"""Talking to an OpenAI-compatible server over HTTP: its model list, and a streamed chat completion
read on a helper thread.

The engine thread must never wait on the network, so :class:`ChatStream` runs the request on a
thread of its own and puts what arrives (the stream began, text pieces, the end, an error) into a
queue the engine thread polls; ``wake()`` tells the engine something is there. :meth:`ChatStream.close`
shuts the connection's socket down at once, so a stopped reply frees the server within a moment.

The API key goes to the URL's host only: redirects are not followed (a redirect is reported with
its target, for the user to type in), and no proxy from the environment is used.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2

from engine.errors import EngineError

log = logging.getLogger(__name__)
RWKV_DESKTOP, OPENAI = "rwkv-desktop", "openai-compatible"     # the kinds of server told apart
CONNECT_SECONDS = 10.0
READ_SECONDS = 600.0            # between two pieces of a stream: a long prompt may take minutes to read
LIST_SECONDS = 15.0


class RemoteError(EngineError):
    """The remote server could not be used: unreachable, a refused key, an unknown model, a broken stream."""


def normalize_url(url: str) -> str:
    """The API's base URL, as the user typed it without the trailing slash or an endpoint they
    pasted; a bare ``http://host:port`` gets ``/v1``. Credentials in the URL are refused: the key
    has its own field, so it is never shown or stored as part of the address."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError("'{url}' is not an http:// or https:// address (for example http://host:8000/v1).", url=url)
    if parts.username or parts.password:
        raise RemoteError("Put the API key in its own field, not in the address.")
    if parts.query or parts.fragment:
        raise RemoteError("'{url}' has a query or fragment; give the API's base address (…/v1).", url=url)
    for tail in ("/chat/completions", "/completions", "/models"):
        if parts.path.endswith(tail):
            url = url[: -len(tail)]
            break
    return url if urlsplit(url).path not in ("", "/") else url + "/v1"


def host_of(url: str) -> str:
    return urlsplit(url).netloc


@dataclass(frozen=True)
class Listing:
    """What ``GET {url}/models`` said: the model ids, and whether the server is RWKV Desktop's own."""

    url: str
    models: tuple[str, ...]
    kind: str = OPENAI

    @property
    def ours(self) -> bool:
        """RWKV Desktop's own server (its state cache makes a resent history cheap)."""
        return self.kind == RWKV_DESKTOP


def client(read_seconds: float = READ_SECONDS) -> httpx2.Client:
    timeout = httpx2.Timeout(read_seconds, connect=CONNECT_SECONDS, write=CONNECT_SECONDS, pool=CONNECT_SECONDS)
    return httpx2.Client(timeout=timeout, follow_redirects=False, trust_env=False)


def headers(api_key: str | None) -> dict[str, str]:
    out = {"Accept": "application/json, text/event-stream"}
    if api_key:
        out["Authorization"] = f"Bearer {api_key}"
    return out


def list_models(url: str, api_key: str | None = None) -> Listing:
    """``GET {url}/models`` (blocking: call it from a thread that may wait)."""
    url = normalize_url(url)
    with client(LIST_SECONDS) as http:
        try:
            response = http.get(f"{url}/models", headers=headers(api_key))
        except httpx2.HTTPError as e:
            raise network_error(url, e) from None
    if response.status_code != 200:
        raise status_error(url, response, "listing its models")
    try:
        data = response.json()["data"]
        models = tuple(str(m["id"]) for m in data)
    except (ValueError, KeyError, TypeError):
        raise RemoteError("{url}/models did not answer with a list of models (is it an OpenAI-compatible API? "
                          "Most servers have it at …/v1, Ai00 at …/api/oai/v1).", url=url) from None
    ours = any(isinstance(m, dict) and isinstance(m.get("rwkv"), dict) and m["rwkv"].get("server") == RWKV_DESKTOP
               for m in data)
    return Listing(url, models, RWKV_DESKTOP if ours else OPENAI)


def network_error(url: str, error: httpx2.HTTPError) -> RemoteError:
    if isinstance(error, httpx2.TimeoutException):
        return RemoteError("The server at {host} did not answer in time ({kind}).",
                           host=host_of(url), kind=type(error).__name__)
    if isinstance(error, httpx2.ConnectError):
        return RemoteError("Cannot reach {host}: {error}. Check the address and "
                           "that the server is running.", host=host_of(url), error=error or "connection refused")
    return RemoteError("The connection to {host} failed: {error}.",
                       host=host_of(url), error=error or type(error).__name__)


def status_error(url: str, response: httpx2.Response, doing: str) -> RemoteError:
    """A clear message for an answer other than 200 (the server's own message included when it gave one)."""
    status = response.status_code
    said = _error_message(response)
    said = f" It said: {said}" if said else ""
    if status in (301, 302, 303, 307, 308):
        return RemoteError("The server redirects {doing} to {location}; the key is "
                           "not sent there. Use that address instead if you trust it.",
                           doing=doing, location=response.headers.get("location", "?"))
    if status == 401:
        return RemoteError("The server at {host} refused the API key (401) while {doing}. Check the key.{said}",
                           host=host_of(url), doing=doing, said=said)
    if status == 403:
        return RemoteError("The server at {host} refused the request (403) while {doing}.{said}",
                           host=host_of(url), doing=doing, said=said)
    if status == 404:
        return RemoteError("Not found (404) while {doing} at {url}. The address must be the API's base "
                           "(…/v1; Ai00: …/api/oai/v1), and the model one the server lists.{said}",
                           doing=doing, url=url, said=said)
    if status == 429:
        return RemoteError("The server at {host} is busy (429); try again shortly.{said}", host=host_of(url), said=said)
    return RemoteError("The server at {host} answered {status} while {doing}.{said}",
                       host=host_of(url), status=status, doing=doing, said=said)


def _error_message(response: httpx2.Response) -> str:
    try:
        response.read()
    except httpx2.HTTPError:
        return ""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or "")[:500]
        if isinstance(error, str):
            return error[:500]
    return ""


def parse_sse(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each server-sent event (lines joined with ``\\n``); comments and other fields
    are skipped, and an event is complete at its blank line (or at the end of the stream)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


@dataclass(frozen=True)
class Started:
    """The server accepted the request (200) and the stream began."""


@dataclass(frozen=True)
class Ended:
    """The reply ended: ``finish_reason`` as the server said it ("stop", "length", ...; None if it did
    not say), and the usage when it sent one."""

    finish_reason: str | None
    usage: dict[str, Any] | None


Item = Started | Ended | RemoteError | str


class ChatStream:
    """``POST {url}/chat/completions`` with ``stream: true``, read on a helper thread. :meth:`poll`
    hands over what has arrived, one item at a time, never waiting; ``wake`` is called after every
    item is queued."""

    def __init__(self, url: str, api_key: str | None, body: dict[str, Any], wake: Callable[[], None] = lambda: None):
        self.url = url
        self._items: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._wake = wake
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, args=(api_key, body), name="remote-chat", daemon=True)
        self._thread.start()

    def poll(self) -> Item | None:
        try:
            return self._items.get_nowait()
        except queue.Empty:
            return None

    def close(self) -> None:
        """End the request now (from any thread): the socket is shut down, so the server sees the
        client leave and the reading thread ends; nothing more is queued."""
        with self._lock:
            self._closed.set()
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _put(self, item: Item) -> None:
        if not self._closed.is_set():
            self._items.put(item)
            self._wake()

    def _run(self, api_key: str | None, body: dict[str, Any]) -> None:
        url = self.url
        try:
            with client() as http, http.stream("POST", f"{url}/chat/completions", json=body,
                                               headers=headers(api_key)) as response:
                if response.status_code != 200:
                    self._put(status_error(url, response, f"asking model '{body.get('model')}' for a reply"))
                    return
                stream = response.extensions.get("network_stream")
                with self._lock:
                    self._sock = stream.get_extra_info("socket") if stream is not None else None
                    if self._closed.is_set():
                        return
                self._put(Started())
                if response.headers.get("content-type", "").startswith("application/json"):
                    self._whole(response)        # a server that does not stream answers in one piece
                else:
                    self._read(response)
        except httpx2.HTTPError as e:
            if not self._closed.is_set():
                self._put(RemoteError("The stream from {host} broke off: {error}.",
                                      host=host_of(url), error=e or type(e).__name__)
                          if isinstance(e, (httpx2.RemoteProtocolError, httpx2.ReadError)) else network_error(url, e))
        except Exception as e:  # a bug or a hostile server: told, never raised on a thread nobody watches
            log.exception("reading the remote stream failed")
            self._put(RemoteError("Reading the reply from {host} failed: {kind}: {error}",
                                  host=host_of(url), kind=type(e).__name__, error=e))

    def _read(self, response: httpx2.Response) -> None:
        think = _ThinkText()
        finish: str | None = None
        usage = None
        for data in parse_sse(response.iter_lines()):
            if self._closed.is_set():
                return
            if data.strip() == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                self._put(RemoteError("The server sent something that is not JSON in its stream: {data!r}",
                                      data=data[:80]))
                return
            if not isinstance(chunk, dict):
                continue
            if isinstance(chunk.get("error"), dict | str):
                error = chunk["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                self._put(RemoteError("The server stopped the reply with an error: {message}", message=message))
                return
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text = think.push(delta.get("reasoning_content") or delta.get("reasoning"), delta.get("content"))
                if text:
                    self._put(text)
                finish = choice.get("finish_reason") or finish
        else:
            if finish is None:
                self._put(RemoteError("The stream from {host} ended before the reply did.", host=host_of(self.url)))
                return
        tail = think.close()
        if tail:
            self._put(tail)
        self._put(Ended(finish, usage if isinstance(usage, dict) else None))


    def _whole(self, response: httpx2.Response) -> None:
        response.read()
        try:
            choice = response.json()["choices"][0]
            message = choice["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            self._put(RemoteError("The server at {host} answered with something that is not a chat "
                                  "completion.", host=host_of(self.url)))
            return
        think = _ThinkText()
        text = think.push(message.get("reasoning_content"), message.get("content")) + think.close()
        if text:
            self._put(text)
        usage = response.json().get("usage")
        self._put(Ended(choice.get("finish_reason"), usage if isinstance(usage, dict) else None))


class _ThinkText:
    """A reply's thinking (``reasoning_content``, as RWKV Desktop's server and DeepSeek's API send it)
    written into its text as ``<think>…</think>``, as a local G1 reply has it."""

    def __init__(self) -> None:
        self.thinking = False

    def push(self, reasoning: str | None, content: str | None) -> str:
        out = ""
        if reasoning:
            if not self.thinking:
                out += "<think>\n"
                self.thinking = True
            out += reasoning
        if content:
            out += self.close() + content
        return out

    def close(self) -> str:
        if self.thinking:
            self.thinking = False
            return "\n</think>\n"
        return ""


__all__ = ["OPENAI", "RWKV_DESKTOP", "ChatStream", "Ended", "Listing", "RemoteError", "Started", "list_models",
           "normalize_url", "parse_sse"]
