"""A conversation as a file people and other programs read: Markdown or JSON, without states.

Unlike :meth:`~engine.service.store.ConversationStore.export` (the whole tree and the state, to go
on chatting elsewhere with the same model), these files hold the active branch as text: to read,
to paste into a document, or to feed another tool. They are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes
from engine.errors import EngineError
from engine.service.views import ConversationView

FORMATS = ("markdown", "json")
ROLE_HEADINGS = {"user": "You", "assistant": "Assistant", "system": "System"}


def markdown(conv: ConversationView) -> str:
    """The title as a heading, the system prompt, then each message of the active branch under its
    role's heading; message text is Markdown already and is kept as it is."""
    out = [f"# {conv.title}", "", f"*Model: {conv.model_name}*", ""]
    for msg in conv.path():
        out += [f"## {ROLE_HEADINGS.get(msg.role, msg.role)}", "", msg.text.strip(), ""]
    return "\n".join(out)


def json_document(conv: ConversationView) -> dict[str, Any]:
    """``messages`` is the active branch as OpenAI-style ``{"role", "content"}`` pairs (what chat
    APIs and most tools read); ``tree`` has every message of every branch with its parent."""
    return {
        "format": "rwkv-desktop-transcript",
        "version": 1,
        "title": conv.title,
        "model": conv.model_name,
        "system_prompt": conv.system_prompt,
        "settings": conv.settings.to_dict(),
        "messages": [{"role": m.role, "content": m.text} for m in conv.path()],
        "tree": [{"id": m.id, "parent": m.parent, "role": m.role, "content": m.text,
                  "stop_reason": m.stop_reason, "think": m.think,
                  "stats": m.stats.to_dict() if m.stats is not None else None} for m in conv.messages],
    }


def write(conv: ConversationView, path: Path, format: str) -> None:
    """Write ``conv`` to ``path`` in ``format`` (one of :data:`FORMATS`), atomically."""
    if format == "markdown":
        text = markdown(conv)
    elif format == "json":
        text = json.dumps(json_document(conv), ensure_ascii=False, indent=2) + "\n"
    else:
        raise EngineError("Unknown export format '{format}'; use one of {choices}.",
                          format=format, choices=", ".join(FORMATS))
    atomic_write_bytes(Path(path), text.encode("utf-8"))
