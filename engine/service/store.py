"""Conversations on disk: one SQLite database for the message trees, one state file per turn.

The database holds everything that is text (titles, the tree, the tokens each message fed the
model); the states, megabytes each for real models, live beside it as
``states/<conversation>/<message>-<tokens seen>.safetensors``. A state file is always written
before the row that names it and removed only after that row stops naming it, so a crash at any
point leaves rows that point at complete files (at worst an unreferenced file, swept by
:meth:`ConversationStore.purge_deleted`). The file name carries the number of tokens the state has
read, so a reply that grows (continue) gets a new file instead of overwriting the one its old row
still names.

``updated`` is when the conversation's content last changed: a message added or grown, or the
system prompt, model or tuning changed. A rename, a settings change, a branch switch, delete and
undelete leave it alone, so the list does not jump under the user's pointer.

A conversation that started from a state-tuning file keeps that initial state beside its turns
(``states/<conversation>/0-initial.safetensors``), so it reopens and exports without the file.

The schema and its migrations are in :mod:`engine.service.store_schema`, the export file's format
in :mod:`engine.service.store_io`; this module is the only one that opens the database. The engine
service owns the store (it writes from its own thread); reads such as the conversation list may
come from any thread, since the connection is guarded by a lock.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import IncompatibleStateError, StateFormatError
from engine.models.state import State
from engine.service.store_schema import StoreError, migrate
from engine.text.chat import Message

if TYPE_CHECKING:
    from engine.models.model import Model

_UPDATABLE = {"title", "system_prompt", "settings", "tuning_path", "model_path", "model_fingerprint", "root_active"}
_CONTENT = {"system_prompt", "tuning_path", "model_path", "model_fingerprint"}   # these bump `updated`

_UPSERT = """INSERT INTO messages (conversation_id, id, parent, role, text, tokens, created, complete,
        stop_reason, think, active_child, stats, state_file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (conversation_id, id) DO UPDATE SET parent = excluded.parent, role = excluded.role,
        text = excluded.text, tokens = excluded.tokens, complete = excluded.complete,
        stop_reason = excluded.stop_reason, think = excluded.think, active_child = excluded.active_child,
        stats = COALESCE(excluded.stats, messages.stats), state_file = excluded.state_file"""


DATABASE = "conversations.sqlite3"
IMPORTED = " (imported)"
TEMP_AGE = 600          # seconds: a temp file this old is what an interrupted write left behind


class DamagedStoreError(StoreError):
    """The database file is not a sound SQLite database (random bytes, cut short, corrupted)."""

    def __init__(self, message: str, path: Path, **values):
        super().__init__(message, **values)
        self.path = path


class UnwritableFolderError(StoreError):
    """The data folder (or its database) cannot be written."""


def set_aside(data_dir: Path, clock: Callable[[], float] = time.time) -> Path:
    """Move a damaged database (and its WAL files and state folder) aside, never deleting anything,
    so that a new store can start in ``data_dir``; returns where the database went."""
    data_dir = Path(data_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    target = data_dir / f"{DATABASE}.damaged-{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = data_dir / f"{DATABASE}.damaged-{stamp}-{n}"
    suffix = target.name[len(DATABASE):]
    for name in (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", "states"):
        if (data_dir / name).exists():
            os.replace(data_dir / name, data_dir / f"{name}{suffix}")
    return target


def _check_writable(folder: Path) -> None:
    """Raise OSError if a file cannot be created in ``folder`` (read-only media, permissions)."""
    fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
    os.close(fd)
    os.unlink(probe)


class ConversationNotFoundError(StoreError, KeyError):
    """No conversation with that id (never created, or purged)."""

    def __str__(self) -> str:      # KeyError would show the message in quotes
        return str(self.args[0])


@dataclass
class Conversation:
    id: int
    title: str
    created: float
    updated: float
    model_path: str
    model_fingerprint: str
    system_prompt: str
    settings: dict
    tuning_path: str | None
    deleted_at: float | None
    initial_state: str | None = None    # the state file it starts from, when not the model's own
    root_active: int | None = None      # the first message of the active branch (None: the newest)


def pack_tokens(tokens: Iterable[int]) -> bytes:
    """Tokens as little-endian int32: a quarter of the size of JSON, the same on every machine."""
    tokens = list(tokens)
    return struct.pack(f"<{len(tokens)}i", *tokens)


def unpack_tokens(blob: bytes) -> list[int]:
    if len(blob) % 4:
        raise StoreError("A token list of {size} bytes is damaged (not a multiple of 4).", size=len(blob))
    return list(struct.unpack(f"<{len(blob) // 4}i", blob))


class ConversationStore:
    """``data_dir/conversations.sqlite3`` (WAL, foreign keys on) and ``data_dir/states/``."""

    def __init__(self, data_dir: Path, *, clock: Callable[[], float] = time.time):
        """Open (or create) the store; :class:`UnwritableFolderError` if the folder cannot be written,
        :class:`DamagedStoreError` if the database is not a sound SQLite file (see :func:`set_aside`)."""
        self.data_dir = Path(data_dir)
        self.states = self.data_dir / "states"
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self.states.mkdir(parents=True, exist_ok=True)
            _check_writable(self.data_dir)
        except OSError as e:
            raise UnwritableFolderError("The data folder '{folder}' cannot be written ({error}). "
                                        "Choose another folder, or make this one writable.",
                                        folder=self.data_dir, error=e.strerror or e) from e
        path = self.data_dir / DATABASE
        try:
            db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise UnwritableFolderError("The conversation database in '{folder}' cannot be opened ({error}). "
                                        "Choose another folder, or make this one writable.",
                                        folder=self.data_dir, error=e) from e
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            db.create_function("casefold", 1, _casefold, deterministic=True)
            migrate(db)
        except sqlite3.DatabaseError as e:
            db.close()
            if isinstance(e, sqlite3.OperationalError) and "readonly" in str(e):
                raise UnwritableFolderError("The conversation database in '{folder}' is read-only ({error}). "
                                            "Choose another folder, or make this one writable.",
                                            folder=self.data_dir, error=e) from e
            raise DamagedStoreError("The conversation database '{database}' is damaged ({error}).", path,
                                    database=path, error=e) from e
        except BaseException:
            db.close()
            raise
        self._db: sqlite3.Connection | None = db
        self._sweep_temp_files()

    def _sweep_temp_files(self) -> None:
        """Remove the temp files of state writes that a crash interrupted (the state they were for
        is rebuilt when needed); recent ones may belong to another app on this folder."""
        cutoff = self._clock() - TEMP_AGE
        for tmp in self.states.glob("*/.*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                continue

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- conversations -------------------------------------------------------------------------

    def create(self, *, title: str, model_path: str, model_fingerprint: str, system_prompt: str = "",
               settings: dict | None = None, tuning_path: str | None = None) -> Conversation:
        now = self._clock()
        with self._write() as db:
            conv_id = self._insert_conversation(db, title, now, now, model_path, model_fingerprint,
                                                system_prompt, settings or {}, tuning_path)
        return self.get(conv_id)

    def get(self, conv_id: int) -> Conversation:
        """Also a deleted conversation (until purged), so the UI can show what Undo brings back."""
        with self._lock:
            row = self._conn().execute("SELECT * FROM conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None:
            raise ConversationNotFoundError("No conversation {conversation}: it was never saved or has been purged.",
                                            conversation=conv_id)
        return _conversation(row)

    def list(self, search: str | None = None) -> list[Conversation]:
        """Conversations not deleted, most recently changed first.

        ``search`` matches the title or the text of any message, on any branch. Matching uses
        Python's ``casefold`` rather than SQL ``LIKE``: LIKE folds only ASCII case ("Привет" would
        miss "привет") and treats ``%`` and ``_`` as wildcards; ``instr`` takes the text literally.
        """
        sql = "SELECT * FROM conversations c WHERE c.deleted_at IS NULL"
        args: tuple = ()
        if search:
            sql += (" AND (instr(casefold(c.title), ?1) > 0 OR EXISTS (SELECT 1 FROM messages m"
                    " WHERE m.conversation_id = c.id AND instr(casefold(m.text), ?1) > 0))")
            args = (search.casefold(),)
        with self._lock:
            rows = self._conn().execute(sql + " ORDER BY c.updated DESC, c.id DESC", args).fetchall()
        return [_conversation(r) for r in rows]

    def update(self, conv_id: int, **fields: Any) -> None:
        """Change conversation fields; see the module docstring for which ones bump ``updated``."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"Cannot update {', '.join(sorted(unknown))}; updatable: {', '.join(sorted(_UPDATABLE))}.")
        with self._write() as db:
            old = self._row(db, conv_id)
            changed = {k: v for k, v in fields.items() if getattr(old, k) != v}
            if not changed:
                return
            values = {k: json.dumps(v) if k == "settings" else v for k, v in changed.items()}
            if _CONTENT & set(changed):
                values["updated"] = self._clock()
            assignments = ", ".join(f"{k} = ?" for k in values)
            db.execute(f"UPDATE conversations SET {assignments} WHERE id = ?", (*values.values(), conv_id))

    def delete(self, conv_id: int) -> None:
        """Soft delete: hidden from :meth:`list` until :meth:`undelete` or :meth:`purge_deleted`."""
        with self._write() as db:
            self._row(db, conv_id)
            db.execute("UPDATE conversations SET deleted_at = COALESCE(deleted_at, ?) WHERE id = ?",
                       (self._clock(), conv_id))

    def undelete(self, conv_id: int) -> None:
        with self._write() as db:
            self._row(db, conv_id)
            db.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conv_id,))

    def purge_deleted(self) -> int:
        """Remove deleted conversations for good, rows first, then their state files; return how many.

        Also sweeps state files that no row names (left by a crash between a file and its row).
        """
        with self._lock:
            with self._write() as db:
                purged = db.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL").rowcount
            db = self._conn()
            alive = {str(r[0]) for r in db.execute("SELECT id FROM conversations")}
            named = {r[0] for r in db.execute("SELECT state_file FROM messages WHERE state_file IS NOT NULL")}
            named |= {r[0] for r in db.execute("SELECT initial_state FROM conversations "
                                               "WHERE initial_state IS NOT NULL")}
            for folder in self.states.iterdir():
                if folder.is_dir() and folder.name not in alive:
                    shutil.rmtree(folder, ignore_errors=True)
                elif folder.is_dir():
                    for file in folder.glob("*.safetensors"):
                        if f"{folder.name}/{file.name}" not in named:
                            file.unlink(missing_ok=True)
        return purged

    # -- messages --------------------------------------------------------------------------------

    def save_message(self, conv_id: int, msg: Message, *, state: State | None = None,
                     stats: dict | None = None) -> None:
        """Insert or update one message, with the state after it when given (written only if new).

        Without a state the message keeps its state file while its tokens are unchanged; a message
        whose tokens changed (a reply still growing) loses the old one, which no longer fits it."""
        self._save(conv_id, [(msg, state)], {msg.id: stats} if stats is not None else {})

    def save_messages(self, conv_id: int, items: Iterable[tuple[Message, State | None]], *,
                      stats: dict[int, dict] | None = None) -> None:
        """Several messages (with their states where given) in one transaction: a finished turn."""
        self._save(conv_id, items, stats or {})

    def save_tree(self, conv_id: int, messages: Iterable[Message], *, stats: dict[int, dict] | None = None) -> None:
        """Save every message in one transaction: after a branch switch only ``active_child`` changes.
        ``stats`` (by message id) replaces those messages' stats; the others keep theirs."""
        self._save(conv_id, [(m, None) for m in messages], stats or {})

    def delete_messages(self, conv_id: int, ids: Iterable[int]) -> None:
        """Remove messages and their state files: a system prompt replaced before the chat began, or a
        message deleted with everything below it (``ids`` must then hold the whole subtree)."""
        ids = list(ids)
        with self._write() as db:
            files = [r[0] for i in ids for r in db.execute(
                "SELECT state_file FROM messages WHERE conversation_id = ? AND id = ? AND state_file IS NOT NULL",
                (conv_id, i))]
            db.executemany("DELETE FROM messages WHERE conversation_id = ? AND id = ?", [(conv_id, i) for i in ids])
        for name in files:
            (self.states / name).unlink(missing_ok=True)

    def save_initial_state(self, conv_id: int, state: State) -> None:
        """The state a conversation starts from (a state-tuning file's), kept with the conversation so
        it reopens without the file it came from."""
        name = f"{conv_id}/0-initial.safetensors"
        state.save(self.states / name, {"conversation": conv_id, "message": 0})
        with self._write() as db:
            self._row(db, conv_id)
            db.execute("UPDATE conversations SET initial_state = ? WHERE id = ?", (name, conv_id))

    def load_initial_state(self, conv_id: int, model: Model) -> State | None:
        """The state kept by :meth:`save_initial_state`, checked against ``model``; None: the model's own."""
        with self._lock:
            row = self._conn().execute("SELECT initial_state FROM conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None or row["initial_state"] is None:
            return None
        return State.load(self.states / row["initial_state"], model)

    def load_messages(self, conv_id: int) -> list[Message]:
        """The stored tree by id; checkpoints stay on disk (see :meth:`load_checkpoint`)."""
        with self._lock:
            self._row(self._conn(), conv_id)
            rows = self._conn().execute("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id",
                                        (conv_id,)).fetchall()
        return [Message(r["id"], r["role"], r["text"], r["parent"], unpack_tokens(r["tokens"]), [],
                        r["active_child"], bool(r["complete"]), r["stop_reason"], r["think"]) for r in rows]

    def load_stats(self, conv_id: int) -> dict[int, dict]:
        """What :meth:`save_message` kept with each message (token counts, speed), by message id."""
        with self._lock:
            rows = self._conn().execute("SELECT id, stats FROM messages WHERE conversation_id = ? "
                                        "AND stats IS NOT NULL", (conv_id,)).fetchall()
        return {r["id"]: json.loads(r["stats"]) for r in rows}

    def load_checkpoint(self, conv_id: int, msg_id: int, model: Model) -> State | None:
        """The state after a message, checked against ``model``; None if none was saved."""
        with self._lock:
            row = self._conn().execute("SELECT state_file FROM messages WHERE conversation_id = ? AND id = ?",
                                       (conv_id, msg_id)).fetchone()
        if row is None or row["state_file"] is None or not (self.states / row["state_file"]).is_file():
            return None
        return State.load(self.states / row["state_file"], model)

    # -- moving a conversation to another machine ------------------------------------------------

    def export(self, conv_id: int, path: Path, model: Model, state: State, state_message: int | None) -> None:
        """One safetensors file: ``state`` (after ``state_message``, the end of the active branch), the
        whole tree in its metadata, and the state the conversation started from when it is not the
        model's own (the format is :mod:`engine.service.store_io`'s)."""
        from engine.service.store_io import write_export

        conv = self.get(conv_id)
        with self._lock:
            rows = self._conn().execute("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id",
                                        (conv_id,)).fetchall()
        write_export(Path(path), conv, rows, state, state_message, self.load_initial_state(conv_id, model))

    def import_(self, path: Path, model: Model) -> Conversation:
        """A new conversation from :meth:`export`'s file; nothing is written unless ``model`` fits it.

        The copy is tied to the local model's path (the exporting machine's path means nothing
        here) and counts as just changed, so it appears at the top of the list; its title says it
        is an imported copy (:func:`imported_title`), so it is not mistaken for the original.
        """
        from engine.service.store_io import check_vocabulary, read_export, tokens_to

        path = Path(path)
        now = self._clock()
        imp = read_export(path, now)
        try:
            state = State.load(path, model)
        except IncompatibleStateError as e:
            raise IncompatibleStateError("“{title}” was saved with {model}, and the "
                                         "loaded model {loaded} cannot continue it. {error}",
                                         title=imp.title, model=imp.model_path, loaded=model.info.name, error=e) from e
        check_vocabulary(path, imp, model.info.vocab_size)
        initial = State.load_companion(path, model, "initial")
        if imp.state_message is not None and tokens_to(imp.rows, imp.state_message) != state.tokens_seen:
            raise StateFormatError("'{name}' has a damaged conversation in it: its state has read "
                                   "{tokens} tokens, but the messages up to the one it belongs to "
                                   "hold {held}.",
                                   name=path.name, tokens=state.tokens_seen,
                                   held=tokens_to(imp.rows, imp.state_message))
        with self._write() as db:
            conv_id = self._insert_conversation(db, imported_title(imp.title), imp.created, now,
                                                str(model.info.path),
                                                model.info.fingerprint, imp.system_prompt, imp.settings,
                                                imp.tuning_path)
            state_file = None
            if imp.state_message is not None:
                state_file = f"{conv_id}/{imp.state_message}-{state.tokens_seen}.safetensors"
                state.meta = {}
                state.save(self.states / state_file, {"conversation": conv_id, "message": imp.state_message})
            db.executemany(_UPSERT, [(conv_id, *row, state_file if row[0] == imp.state_message else None)
                                     for row in imp.rows])
        if initial is not None:
            self.save_initial_state(conv_id, initial)
        return self.get(conv_id)

    # -- inside ------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("The conversation store has been closed.")
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; rolled back if anything in it raises."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _row(self, db: sqlite3.Connection, conv_id: int) -> Conversation:
        row = db.execute("SELECT * FROM conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None:
            raise ConversationNotFoundError("No conversation {conversation}: it was never saved or has been purged.",
                                            conversation=conv_id)
        return _conversation(row)

    def _insert_conversation(self, db: sqlite3.Connection, title: str, created: float, updated: float,
                             model_path: str, fingerprint: str, system_prompt: str, settings: dict,
                             tuning_path: str | None) -> int:
        cur = db.execute("INSERT INTO conversations (title, created, updated, model_path, model_fingerprint, "
                         "system_prompt, settings, tuning_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (title, created, updated, model_path, fingerprint, system_prompt, json.dumps(settings),
                          tuning_path))
        conv_id = int(cur.lastrowid)
        # An id whose insert never committed (a crash) is handed out again: drop what it left behind.
        shutil.rmtree(self.states / str(conv_id), ignore_errors=True)
        return conv_id

    def _save(self, conv_id: int, items: Iterable[tuple[Message, State | None]], stats: dict[int, dict]) -> None:
        items = [(m, s) for m, s in items if m.role != "root"]
        with self._lock:
            db = self._conn()
            self._row(db, conv_id)
            ids = [m.id for m, _ in items]
            old = {r["id"]: r for r in db.execute(
                "SELECT id, text, tokens, state_file FROM messages WHERE conversation_id = ? AND id IN "
                f"({','.join('?' * len(ids))})", (conv_id, *ids))}
            now, rows, stale, changed = self._clock(), [], [], False
            for msg, state in items:
                blob, prev = pack_tokens(msg.tokens), old.get(msg.id)
                same = prev is not None and prev["tokens"] == blob
                changed |= not same or prev["text"] != msg.text
                state_file = prev["state_file"] if same else None     # other tokens: the old state is stale
                if state is not None:
                    name = f"{conv_id}/{msg.id}-{state.tokens_seen}.safetensors"
                    if not (same and state_file == name and (self.states / name).is_file()):
                        state.save(self.states / name, {"conversation": conv_id, "message": msg.id})
                    state_file = name
                if prev is not None and prev["state_file"] not in (None, state_file):
                    stale.append(prev["state_file"])
                st = stats.get(msg.id)
                rows.append((conv_id, msg.id, msg.parent, msg.role, msg.text, blob, now, int(msg.complete),
                             msg.stop_reason, msg.think, msg.active_child,
                             json.dumps(st) if st is not None else None, state_file))
            with self._write() as db:
                db.executemany(_UPSERT, rows)
                if changed:
                    db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conv_id))
            for name in stale:
                (self.states / name).unlink(missing_ok=True)


def imported_title(title: str) -> str:
    """An imported copy's title, told apart from the conversation it was exported from."""
    return title if title.endswith(IMPORTED) else f"{title}{IMPORTED}"


def _casefold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(row["id"], row["title"], row["created"], row["updated"], row["model_path"],
                        row["model_fingerprint"], row["system_prompt"], json.loads(row["settings"]),
                        row["tuning_path"], row["deleted_at"], row["initial_state"], row["root_active"])
