"""The conversation database's schema, and the migrations that bring an older file up to date.

``PRAGMA user_version`` counts the migrations a file has had; each entry of :data:`MIGRATIONS` is
one version's statements, run in one transaction, so a file is never left half migrated. A file
from a newer app (a higher version) is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3

from engine.errors import EngineError


class StoreError(EngineError):
    """The conversation database cannot be used as it is; the message says why (re-exported by
    :mod:`engine.service.store`)."""


# One tuple of statements per schema version; PRAGMA user_version says how many have run.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            model_path TEXT NOT NULL,
            model_fingerprint TEXT NOT NULL,
            system_prompt TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}',
            tuning_path TEXT,
            deleted_at REAL)""",
        "CREATE INDEX conversations_by_recency ON conversations (updated DESC) WHERE deleted_at IS NULL",
        # parent 0 is the session's root, which is never stored; hence no foreign key on parent.
        """CREATE TABLE messages (
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            id INTEGER NOT NULL,
            parent INTEGER,
            role TEXT NOT NULL,
            text TEXT NOT NULL,
            tokens BLOB NOT NULL,
            created REAL NOT NULL,
            complete INTEGER NOT NULL,
            stop_reason TEXT,
            think TEXT NOT NULL,
            active_child INTEGER,
            stats TEXT,
            state_file TEXT,
            PRIMARY KEY (conversation_id, id)) WITHOUT ROWID""",
    ),
    (
        # The state a conversation starts from when it is not the model's own (a state-tuning file's).
        "ALTER TABLE conversations ADD COLUMN initial_state TEXT",
        # Which first message the active branch starts with (the root is not a row of messages).
        "ALTER TABLE conversations ADD COLUMN root_active INTEGER",
    ),
)


def migrate(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")    # read the version inside the lock, in case two apps start at once
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError("The conversation database was written by a newer RWKV Desktop (schema {version}, "
                             "this version knows {known}); update the app to open it.",
                             version=version, known=len(MIGRATIONS))
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for sql in statements:
                db.execute(sql)
            db.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
