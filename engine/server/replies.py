"""The OpenAI protocol, write side: whole replies, stream chunks and their server-sent-event framing.

Shapes follow OpenAI's chat completion / chat completion chunk / text completion objects; a G1
model's thinking goes in ``reasoning_content`` beside ``content`` (in deltas too). A stream is
``data: {json}\\n\\n`` events ending with ``data: [DONE]\\n\\n``; with
``stream_options.include_usage`` every chunk has ``"usage": null`` and one last chunk, with no
choices, carries the usage.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.server.reasoning import CONTENT, REASONING, Piece
from engine.service.events import CompletionFinished

DONE = b"data: [DONE]\n\n"


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def usage(done: CompletionFinished) -> dict[str, Any]:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": done.cached_tokens}}


def finish_reason(done: CompletionFinished) -> str:
    return "length" if done.stop_reason == "length" else "stop"


@dataclass
class Reply:
    """One reply's identity, shared by its whole body or every chunk of its stream."""

    chat: bool
    model: str
    fingerprint: str
    include_usage: bool = False
    id: str = field(default="")
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        if not self.id:
            self.id = ("chatcmpl-" if self.chat else "cmpl-") + uuid.uuid4().hex[:24]

    def _head(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": self.fingerprint}

    # -- a whole reply -------------------------------------------------------------------------------

    def body(self, done: CompletionFinished, reasoning: str, content: str) -> dict[str, Any]:
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if reasoning:
                message["reasoning_content"] = reasoning
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(done)}
            return {**self._head("chat.completion"), "choices": [choice], "usage": usage(done)}
        choice = {"index": 0, "text": content, "logprobs": None, "finish_reason": finish_reason(done)}
        return {**self._head("text_completion"), "choices": [choice], "usage": usage(done)}

    # -- a stream ------------------------------------------------------------------------------------

    def first_chunk(self) -> bytes | None:
        """A chat stream begins with the role (a text completion has nothing to say yet)."""
        return self._chunk({"role": "assistant", "content": ""}) if self.chat else None

    def piece_chunk(self, piece: Piece) -> bytes:
        kind, text = piece
        if not self.chat:
            return self._chunk(text)
        return self._chunk({"reasoning_content": text} if kind == REASONING else {CONTENT: text})

    def last_chunks(self, done: CompletionFinished) -> bytes:
        out = self._chunk({} if self.chat else "", finish_reason(done))
        if self.include_usage:
            obj = self._head("chat.completion.chunk" if self.chat else "text_completion")
            out += sse({**obj, "choices": [], "usage": usage(done)})
        return out + DONE

    def _chunk(self, delta: dict[str, Any] | str, finish: str | None = None) -> bytes:
        if self.chat:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            obj = {**self._head("chat.completion.chunk"), "choices": [choice]}
        else:
            choice = {"index": 0, "text": delta, "logprobs": None, "finish_reason": finish}
            obj = {**self._head("text_completion"), "choices": [choice]}
        if self.include_usage:
            obj["usage"] = None
        return sse(obj)


__all__ = ["DONE", "Reply", "finish_reason", "sse", "usage"]
