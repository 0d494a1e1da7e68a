"""Persistent store of model answers so an interrupted explanation resumes without re-querying.

Answers live in one SQLite table keyed by ``(fingerprint, packed mask)``. The fingerprint identifies the
value function and its input (model, text, settings); the same database can hold many explanations.
Every batch is committed as soon as the model returns it, so a crash loses at most the batch in flight.
"""

from __future__ import annotations

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


class DiskCache:
    """SQLite-backed ``mask -> value`` store for one fingerprint."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        if not fingerprint:
            raise ValueError("an on-disk cache needs a non-empty fingerprint (pass cache_key=...)")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = str(fingerprint)
        self._db = sqlite3.connect(self.path)
        self._db.execute(_SCHEMA)
        self._db.commit()

    def load(self, key_bytes: int) -> tuple[np.ndarray, np.ndarray]:
        """All stored ``(packed masks (M, key_bytes) uint8, values (M,))`` of this fingerprint."""
        rows = self._db.execute(
            "SELECT mask, value FROM answers WHERE fingerprint = ? AND length(mask) = ?", (self.fingerprint, key_bytes)
        ).fetchall()
        if not rows:
            return np.zeros((0, key_bytes), dtype=np.uint8), np.zeros(0)
        blob = b"".join(r[0] for r in rows)
        return np.frombuffer(blob, dtype=np.uint8).reshape(len(rows), key_bytes), np.array([r[1] for r in rows])

    def store(self, packed: np.ndarray, values: np.ndarray) -> None:
        """Insert answers and commit at once."""
        fp = self.fingerprint
        self._db.executemany(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
            zip([fp] * len(values), map(bytes, packed), values.tolist(), strict=True),
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()
