"""SQLite persistence: one table of JSON documents, WAL with synchronous=FULL.

One table of documents rather than a table per resource keeps the schema stable while
the control plane grows; queries run against the in-memory view, so SQLite is only the
durable log of record. `synchronous=FULL` makes each commit reach the disk before the
API answers.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from .base import Key, Resource, Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
"""


class SqlitePersistence:
    def __init__(self, path: Path):
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def load(self) -> Iterable[tuple[str, str, str]]:
        return self._db.execute("SELECT kind, id, body FROM resources ORDER BY rowid").fetchall()

    def commit(self, puts: list[Resource], deletes: list[Key]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO resources (kind, id, account, region, body) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                [(o.kind, o.id, o.account, o.region, o.to_json()) for o in puts],
            )
            db.executemany("DELETE FROM resources WHERE kind = ? AND id = ?", deletes)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()


def open_store(state_dir: Path, kinds: Iterable[type[Resource]]) -> Store:
    """The store of `state_dir`, serving `kinds` (`vpclab.model.KINDS`)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    return Store(SqlitePersistence(state_dir / "state.db"), kinds)
