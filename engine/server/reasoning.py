"""A G1 reply's thinking apart from its answer: ``<think>…</think>`` at the start of a reply goes to
``reasoning_content``, the rest to ``content`` (the field DeepSeek's API introduced and OpenAI
clients read), in streamed pieces as in a whole reply.

Text is pushed as it streams; what cannot be placed yet (a ``<thi`` that may become ``<think>``, a
``</th`` that may close it, whitespace that may end the thinking) is held back until it can. The
whitespace around either part is not shown. A whole reply is the same pushes followed by
:meth:`ReplySplitter.flush`, so a stream's pieces always add up to the non-streamed reply.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"
REASONING, CONTENT = "reasoning", "content"

Piece = tuple[str, str]             # (REASONING or CONTENT, text)


class ReplySplitter:
    """``strip_space``: drop the reply's leading whitespace and look for a think block (the reply
    follows the assistant's role name); without it the text is a continuation, all content."""

    def __init__(self, strip_space: bool = True):
        self._mode = "start" if strip_space else CONTENT
        self._held = ""

    def push(self, text: str) -> list[Piece]:
        self._held += text
        out: list[Piece] = []
        while True:
            if self._mode == "start":
                head = self._held.lstrip()
                if not head or (OPEN.startswith(head) and head != OPEN):
                    return out          # maybe the start of "<think>": wait for more
                if head.startswith(OPEN):
                    self._mode, self._held = "reasoning-start", head[len(OPEN):]
                else:
                    self._mode, self._held = "content-start", head
            elif self._mode in ("reasoning-start", "content-start"):
                self._held = self._held.lstrip()
                if not self._held:
                    return out
                self._mode = REASONING if self._mode == "reasoning-start" else CONTENT
            elif self._mode == REASONING:
                end = self._held.find(CLOSE)
                if end >= 0:
                    _add(out, REASONING, self._held[:end].rstrip())
                    self._mode, self._held = "content-start", self._held[end + len(CLOSE):]
                    continue
                keep = _partial_suffix(self._held, CLOSE)
                body = self._held[:len(self._held) - keep]
                shown = body.rstrip()
                _add(out, REASONING, shown)
                self._held = self._held[len(shown):]
                return out
            else:
                _add(out, CONTENT, self._held)
                self._held = ""
                return out

    def flush(self) -> list[Piece]:
        """The reply ended: whatever is held back is shown as what it looked like."""
        held, self._held = self._held, ""
        if self._mode == REASONING:
            return [(REASONING, held.rstrip())] if held.strip() else []
        if self._mode == "reasoning-start" or not held.strip():
            return []
        return [(CONTENT, held.lstrip() if self._mode != CONTENT else held)]


def split_reply(text: str, strip_space: bool = True) -> tuple[str, str]:
    """(reasoning, content) of a whole reply."""
    splitter = ReplySplitter(strip_space)
    parts = {REASONING: "", CONTENT: ""}
    for kind, piece in [*splitter.push(text), *splitter.flush()]:
        parts[kind] += piece
    return parts[REASONING], parts[CONTENT]


def _add(out: list[Piece], kind: str, text: str) -> None:
    if text:
        out.append((kind, text))


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest end of ``text`` that is the beginning of ``marker``."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:n]):
            return n
    return 0


__all__ = ["CONTENT", "REASONING", "ReplySplitter", "split_reply"]
