"""The file a conversation is exported to, and read back from: one safetensors state file.

The file is an ordinary state (:meth:`engine.State.save`) of the active branch's last saved
checkpoint, so the engine checks it against the model like any other state; the conversation
rides along in its metadata under :data:`EXPORT_KEY` as JSON: the conversation's fields, every
message of every branch (text, tokens, flags, stats) and which message the state belongs to.
The database side (ids, transactions, state files) stays in :mod:`engine.service.store`.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from engine.errors import StateFormatError, StateNotFoundError
from engine.models.checkpoint import model_name
from engine.models.state import State
from engine.service.store import Conversation, pack_tokens, unpack_tokens
from engine.text.chat import THINK_MODES

EXPORT_KEY = "rwkv_desktop_conversation"
EXPORT_VERSION = 1          # 2: the file also holds the state the conversation started from
MAX_MESSAGES = 200_000
# Every stop reason the engine writes on a message: generation's (stop, eos, length, cancelled), a
# chat's (interrupted, error) and an edited reply's (engine.text.tree.MessageTree.edit_reply).
STOP_REASONS = {"stop", "eos", "length", "cancelled", "error", "interrupted", "edited"}


def _unreadable(path: Path, error: Exception) -> StateFormatError:
    """Why ``path`` cannot be read as a saved conversation: cut short (a copy or download that stopped),
    or not one at all."""
    import struct

    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 8 + n > size or "not fully covered" in str(error) or "incomplete" in str(error):
            return StateFormatError("'{name}' is a saved conversation cut short ({size:,} bytes): the copy or "
                                    "download probably stopped. Copy it again from where it was saved.",
                                    name=path.name, size=size)
    return StateFormatError("'{name}' is not a saved conversation (an .rwkvchat file made by File ▸ Save "
                            "conversation and state).", name=path.name)


@dataclass
class Imported:
    """An export file's conversation, checked and ready for the database (its state is read apart)."""

    title: str
    created: float
    system_prompt: str
    settings: dict
    tuning_path: str | None
    model_path: str                 # the exporting machine's model, by name (checkpoint.model_name): for messages
    rows: list[tuple]               # the columns of a message row between the conversation id and state file
    state_message: int | None


def write_export(path: Path, conv: Conversation, rows: list[sqlite3.Row], state: State, state_message: int | None,
                 initial: State | None = None) -> None:
    """Write ``conv`` with its message ``rows``, ``state`` (the state after ``state_message``; None:
    the conversation's start) and, for a conversation that did not start from the model's own state,
    ``initial`` (a state-tuning file's), so the copy needs no file of this machine."""
    state = state.clone()
    state.meta = {}
    fields = {k: v for k, v in vars(conv).items() if k not in ("id", "deleted_at", "initial_state", "root_active")}
    messages = [{"id": r["id"], "parent": r["parent"], "role": r["role"], "text": r["text"],
                 "tokens": unpack_tokens(r["tokens"]), "created": r["created"], "complete": bool(r["complete"]),
                 "stop_reason": r["stop_reason"], "think": r["think"], "active_child": r["active_child"],
                 "stats": json.loads(r["stats"]) if r["stats"] else None} for r in rows]
    payload = {"version": EXPORT_VERSION if initial is None else 2, "conversation": fields, "messages": messages,
               "state_message": state_message}
    state.save(path, {EXPORT_KEY: json.dumps(payload, ensure_ascii=False)},
               companions={"initial": initial} if initial is not None else None)


def read_export(path: Path, now: float, vocab_size: int = 2**31) -> Imported:
    """The conversation in an export file, every field checked; a damaged or crafted one is a
    StateFormatError and nothing of it is used.

    An export comes from another machine, perhaps from someone else: it must not be able to name a
    file here (a tuning file's path in it is dropped), put a token the model cannot read into the
    chat, or make a tree the chat cannot walk (a parent after its child, a cycle)."""
    payload = _read_payload(path)
    try:
        fields, state_message = payload["conversation"], payload["state_message"]
        messages = payload["messages"]
        if not isinstance(fields, dict) or not isinstance(messages, list) or len(messages) > MAX_MESSAGES:
            raise ValueError("the conversation or its message list is malformed")
        rows = [_import_row(m, now, vocab_size) for m in messages]
        _check_tree(rows)
        ids = {row[0] for row in rows}
        if state_message is not None and (isinstance(state_message, bool) or state_message not in ids):
            raise ValueError("the state belongs to no message")
        title = str(fields["title"]).strip()[:200] or "Imported conversation"
        return Imported(
            title=title, created=_time(fields.get("created"), now),
            system_prompt=str(fields.get("system_prompt", "")), settings=dict(fields.get("settings") or {}),
            tuning_path=None, model_path=model_name(str(fields.get("model_path", "another model"))),
            rows=rows, state_message=state_message)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as e:
        raise StateFormatError("'{name}' has a damaged conversation in it ({error}).", name=path.name, error=e) from e


def check_vocabulary(path: Path, imp: Imported, vocab_size: int) -> None:
    """Refuse an export whose messages hold token ids the model has not got."""
    for row in imp.rows:
        tokens = unpack_tokens(row[4])
        if tokens and max(tokens) >= vocab_size:
            raise StateFormatError("'{name}' has a damaged conversation in it: message {message} holds the "
                                   "token id {token}, and the model's vocabulary ends at {last}.",
                                   name=path.name, message=row[0], token=max(tokens), last=vocab_size - 1)


def tokens_to(rows: list[tuple], message: int) -> int:
    """How many tokens the path from the start to ``message`` feeds (what its state has read)."""
    by_id = {row[0]: row for row in rows}
    count, node = 0, by_id.get(message)
    while node is not None:
        count += len(node[4]) // 4
        node = by_id.get(node[1])
    return count


def _check_tree(rows: list[tuple]) -> None:
    """Unique ids, every parent an earlier message (so no cycles), active children that are children."""
    seen: set[int] = set()
    for row in rows:
        msg_id, parent = row[0], row[1]
        if msg_id in seen:
            raise ValueError(f"message id {msg_id} is repeated")
        if parent not in (None, 0) and parent not in seen:
            raise ValueError(f"message {msg_id} comes before its parent {parent}")
        seen.add(msg_id)
    parents = {row[0]: row[1] for row in rows}
    for row in rows:
        if row[9] is not None and parents.get(row[9]) != row[0]:
            raise ValueError(f"message {row[0]} names {row[9]} as its active reply, which is not one of its own")


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
        raise StateNotFoundError("No file at '{path}'.", path=path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            info = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise _unreadable(path, e) from e
    if EXPORT_KEY not in info:
        raise StateFormatError("'{name}' holds a state but no conversation; it was not made by Save "
                               "conversation and state.", name=path.name)
    try:
        payload = json.loads(info[EXPORT_KEY])
    except ValueError as e:
        raise StateFormatError("'{name}' has a damaged conversation in it ({error}).", name=path.name, error=e) from e
    if not isinstance(payload, dict) or int(payload.get("version", 0)) > 2:
        raise StateFormatError("'{name}' was exported by a newer RWKV Desktop; update the app to import it.",
                               name=path.name)
    return payload


def _import_row(m: dict, now: float, vocab_size: int) -> tuple:
    """An exported message as the message columns between the conversation id and the state file."""
    msg_id = _int(m["id"], "message id", 1, 2**31 - 1)
    parent = None if m["parent"] in (None, 0) else _int(m["parent"], "parent", 1, msg_id - 1)
    role = str(m["role"])
    if role not in ("system", "user", "assistant"):
        raise ValueError(f"message {msg_id} has the role {role!r}")
    tokens = [_int(t, "token id", 0, vocab_size - 1) for t in m["tokens"]]
    stop = m.get("stop_reason")
    if stop is not None and stop not in STOP_REASONS:
        raise ValueError(f"message {msg_id} has the stop reason {stop!r}")
    think = str(m.get("think", "off"))
    if think not in THINK_MODES:
        think = "off"
    active = m.get("active_child")
    active = None if active is None else _int(active, "active reply", 1, 2**31 - 1)
    stats = m.get("stats")
    return (msg_id, parent, role, str(m["text"]), pack_tokens(tokens), _time(m.get("created"), now),
            int(bool(m["complete"])), stop, think, active, json.dumps(stats) if isinstance(stats, dict) else None)


def _int(value, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{what} {value!r} is not a whole number from {lo} to {hi}")
    return value


def _time(value, now: float) -> float:
    """A timestamp from the file, or ``now`` when it is missing or not a finite number."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        return now
    return t if math.isfinite(t) and 0 <= t < 1e11 else now
