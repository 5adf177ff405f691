"""The file a conversation is exported to, and read back from: one safetensors state file.

The file is an ordinary state (:meth:`engine.State.save`) of the active branch's last saved
checkpoint, so the engine checks it against the model like any other state; the conversation
rides along in its metadata under :data:`EXPORT_KEY` as JSON: the conversation's fields, every
message of every branch (text, tokens, flags, stats) and which message the state belongs to.
The database side (ids, transactions, state files) stays in :mod:`engine.service.store`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import StateFormatError, StateNotFoundError
from engine.models.state import State
from engine.service.store import Conversation, pack_tokens, unpack_tokens

EXPORT_KEY = "rwkv_desktop_conversation"
EXPORT_VERSION = 1


@dataclass
class Imported:
    """An export file's conversation, checked and ready for the database (its state is read apart)."""

    title: str
    created: float
    system_prompt: str
    settings: dict
    tuning_path: str | None
    model_path: str                 # where the exporting machine had the model: for messages only
    rows: list[tuple]               # the columns of a message row between the conversation id and state file
    state_message: int | None


def write_export(path: Path, conv: Conversation, rows: list[sqlite3.Row],
                 checkpoint: Callable[[int], State | None], new_state: Callable[[], State]) -> None:
    """Write ``conv`` with its message ``rows`` and the latest checkpoint of its active branch
    (``checkpoint(message id)``; ``new_state()`` when no message on it has one)."""
    state, state_message = None, None
    for row in reversed(active_path(rows)):
        state = checkpoint(row["id"])
        if state is not None:
            state_message = row["id"]
            break
    if state is None:
        state = new_state()
    state.meta = {}
    fields = {k: v for k, v in vars(conv).items() if k not in ("id", "deleted_at")}
    messages = [{"id": r["id"], "parent": r["parent"], "role": r["role"], "text": r["text"],
                 "tokens": unpack_tokens(r["tokens"]), "created": r["created"], "complete": bool(r["complete"]),
                 "stop_reason": r["stop_reason"], "think": r["think"], "active_child": r["active_child"],
                 "stats": json.loads(r["stats"]) if r["stats"] else None} for r in rows]
    payload = {"version": EXPORT_VERSION, "conversation": fields, "messages": messages,
               "state_message": state_message}
    state.save(path, {EXPORT_KEY: json.dumps(payload, ensure_ascii=False)})


def read_export(path: Path, now: float) -> Imported:
    """The conversation in an export file, every field checked; a damaged one is a StateFormatError."""
    payload = _read_payload(path)
    try:
        fields, state_message = payload["conversation"], payload["state_message"]
        rows = [_import_row(m) for m in payload["messages"]]
        ids = [row[0] for row in rows]
        if len(set(ids)) != len(ids) or (state_message is not None and state_message not in ids):
            raise ValueError("message ids are repeated or the state belongs to no message")
        return Imported(
            title=str(fields["title"]), created=float(fields.get("created", now)),
            system_prompt=str(fields.get("system_prompt", "")), settings=dict(fields.get("settings") or {}),
            tuning_path=None if fields.get("tuning_path") is None else str(fields["tuning_path"]),
            model_path=str(fields.get("model_path", "another model")), rows=rows, state_message=state_message)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise StateFormatError(f"'{path.name}' has a damaged conversation in it ({e!r}).") from e


def active_path(rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """The active branch as ``ChatSession.restore`` rebuilds it: a saved choice, else the newest child."""
    by_id = {r["id"]: r for r in rows}
    children: dict[int, list[int]] = {}
    for r in rows:
        children.setdefault(r["parent"] if r["parent"] is not None else 0, []).append(r["id"])
    path, node = [], 0
    while children.get(node):
        saved = by_id[node]["active_child"] if node in by_id else None
        node = saved if saved in children[node] else children[node][-1]
        path.append(by_id[node])
    return path


def _read_payload(path: Path) -> dict:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise StateNotFoundError(f"No file at '{path}'.")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            info = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise StateFormatError(f"'{path.name}' is not an exported conversation ({e}).") from e
    if EXPORT_KEY not in info:
        raise StateFormatError(f"'{path.name}' holds a state but no conversation; it was not made by Export.")
    try:
        payload = json.loads(info[EXPORT_KEY])
    except ValueError as e:
        raise StateFormatError(f"'{path.name}' has a damaged conversation in it ({e}).") from e
    if not isinstance(payload, dict) or int(payload.get("version", 0)) > EXPORT_VERSION:
        raise StateFormatError(f"'{path.name}' was exported by a newer RWKV Desktop; update the app to import it.")
    return payload


def _import_row(m: dict) -> tuple:
    """An exported message as the message columns between the conversation id and the state file."""
    return (int(m["id"]), None if m["parent"] is None else int(m["parent"]), str(m["role"]), str(m["text"]),
            pack_tokens(int(t) for t in m["tokens"]), float(m["created"]), int(bool(m["complete"])),
            m["stop_reason"], str(m["think"]), None if m["active_child"] is None else int(m["active_child"]),
            json.dumps(m["stats"]) if m.get("stats") is not None else None)
