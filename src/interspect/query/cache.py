"""Persistent store of model answers so an interrupted explanation resumes without re-querying.

Answers live in one SQLite table keyed by ``(fingerprint, packed mask)``. The fingerprint identifies the
value function and its input (model, text, settings); the same database can hold many explanations.
Every batch is committed as soon as the model returns it, so a crash loses at most the batch in flight.

Several processes may share one file: it is opened in write-ahead-log mode (readers never block the writer)
and a writer that finds the file busy waits for the other's commit instead of failing. The file is marked as
an interspect cache (SQLite's ``application_id``), so a file of another program, a corrupt one, a directory
or a path that cannot be written is refused with a :class:`CacheError` naming the path.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    fingerprint TEXT NOT NULL,
    mask BLOB NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (fingerprint, mask)
) WITHOUT ROWID
"""
_COLUMNS = ["fingerprint", "mask", "value"]
# "ISPX" in ASCII: the 32-bit tag SQLite keeps in the file header for the application that owns the file.
_APPLICATION_ID = 0x49535058
# Seconds a writer waits while another process holds the write lock (SQLite's busy handler). A commit of
# one batch takes milliseconds; a minute covers many processes queueing behind a slow disk.
_BUSY_TIMEOUT_S = 60.0


class CacheError(ValueError):
    """The cache file cannot be used: not an interspect cache, corrupt, a directory, or not writable."""


class DiskCache:
    """SQLite-backed ``mask -> value`` store for one fingerprint."""

    def __init__(self, path: str | Path, fingerprint: str | None) -> None:
        if not fingerprint:
            raise ValueError("an on-disk cache needs a non-empty fingerprint (pass cache_key=...)")
        self.path = Path(path)
        self.fingerprint = str(fingerprint)
        self._check_path()
        try:
            self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except (sqlite3.Error, ValueError) as exc:  # ValueError: a NUL byte in the path
            raise self._error(exc) from exc
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._db.close()
            raise self._error(exc) from exc
        except CacheError:
            self._db.close()
            raise

    def _check_path(self) -> None:
        """Refuse paths SQLite cannot use, with the reason (SQLite itself only says "unable to open")."""
        path = self.path
        try:
            if path.is_dir():
                raise CacheError(
                    f"cache path {str(path)!r} is a directory; give a file, e.g. {str(path / 'answers.sqlite')!r}"
                )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CacheError(
                    f"cache path {str(path)!r}: cannot create its directory ({exc.strerror or exc})"
                ) from exc
            if path.exists() and not os.access(path, os.R_OK | os.W_OK):
                raise CacheError(f"cache path {str(path)!r} is not readable and writable")
            if not os.access(path.parent, os.W_OK | os.X_OK):  # SQLite writes its log next to the file
                raise CacheError(f"cache path {str(path)!r}: its directory is not writable")
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long, a loop of links ...
            if isinstance(exc, CacheError):
                raise
            raise CacheError(f"cache path {str(path)!r} cannot be used: {exc}") from exc

    def _error(self, exc: sqlite3.Error | ValueError) -> CacheError:
        reason = str(exc)
        if "locked" in reason or "busy" in reason:
            reason += f" (another process held it for more than {_BUSY_TIMEOUT_S:g} s)"
        elif "not a database" in reason or "malformed" in reason:
            reason = f"not an SQLite database, or a corrupt one ({reason}); delete it or choose another path"
        return CacheError(f"cache {str(self.path)!r} cannot be used: {reason}")

    def _prepare(self) -> None:
        """Check the file is an interspect cache (or empty, then make it one) and switch to write-ahead logging."""
        db = self._db
        app = db.execute("PRAGMA application_id").fetchone()[0]
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        ours = app == _APPLICATION_ID or (
            app == 0
            and tables == ["answers"]  # made before files were tagged
            and [row[1] for row in db.execute("PRAGMA table_info(answers)")] == _COLUMNS
        )
        if not ours and (app != 0 or tables):
            listed = ", ".join(tables[:5]) or "none"
            raise CacheError(
                f"cache {str(self.path)!r} is an SQLite database of another program (tables: {listed}); "
                "interspect will not write into it: choose another path"
            )
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # with WAL: a killed process loses no committed batch
        if app != _APPLICATION_ID:
            db.execute("BEGIN IMMEDIATE")
            db.execute(_SCHEMA)
            db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            db.execute("COMMIT")

    def load(self, key_bytes: int) -> tuple[np.ndarray, np.ndarray]:
        """All stored ``(packed masks (M, key_bytes) uint8, values (M,))`` of this fingerprint."""
        try:
            rows = self._db.execute(
                "SELECT mask, value FROM answers WHERE fingerprint = ? AND length(mask) = ?",
                (self.fingerprint, key_bytes),
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        if not rows:
            return np.zeros((0, key_bytes), dtype=np.uint8), np.zeros(0)
        blob = b"".join(r[0] for r in rows)
        return np.frombuffer(blob, dtype=np.uint8).reshape(len(rows), key_bytes), np.array([r[1] for r in rows])

    def store(self, packed: np.ndarray, values: np.ndarray) -> None:
        """Insert answers and commit at once (waiting while another process writes)."""
        fp = self.fingerprint
        try:
            self._db.execute("BEGIN IMMEDIATE")  # take the write lock now: the busy handler waits for it
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
                    zip([fp] * len(values), map(bytes, packed), values.tolist(), strict=True),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        self._db.close()
