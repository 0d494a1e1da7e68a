"""The on-disk answer cache: shared by concurrent processes, and refusing files it cannot trust."""

import multiprocessing
import os
import sqlite3

import numpy as np
import pytest

from interspect.query import CacheError, QueryEngine
from interspect.query.cache import DiskCache

N_FEATURES = 12


def _weights(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=N_FEATURES)


def _masks(seed: int, m: int = 400) -> np.ndarray:
    return np.unique(np.random.default_rng(100 + seed).random((m, N_FEATURES)) < 0.5, axis=0)


def _writer(path: str, seed: int, queue) -> None:
    """One process: explains its own function through the shared cache one mask per batch (a commit each)."""
    try:
        weights = _weights(seed)
        engine = QueryEngine(lambda m: m @ weights, N_FEATURES, batch_size=1, cache=path, cache_key=f"f{seed}")
        engine(_masks(seed))
        engine.close()
        queue.put((seed, "ok"))
    except Exception as exc:  # reported to the parent, which fails the test with the message
        queue.put((seed, f"{type(exc).__name__}: {exc}"))


def test_concurrent_writers_wait_instead_of_failing(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_writer, args=(path, seed, queue)) for seed in range(6)]
    for w in workers:
        w.start()
    results = dict(queue.get(timeout=120) for _ in workers)
    for w in workers:
        w.join(timeout=60)
    assert results == {seed: "ok" for seed in range(6)}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    for seed in range(6):  # every answer is there: a rerun asks the model nothing
        model = _Never()
        engine = QueryEngine(model, N_FEATURES, cache=path, cache_key=f"f{seed}")
        np.testing.assert_allclose(engine(_masks(seed)), _masks(seed) @ _weights(seed))
        assert engine.n_evaluated == 0
        engine.close()


class _Never:
    def __call__(self, masks):
        raise AssertionError("the cache should have answered")


def test_a_file_that_is_not_a_database_is_refused_with_its_path(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not SQLite " * 300)
    with pytest.raises(CacheError, match=r"junk\.sqlite.*not an SQLite database"):
        QueryEngine(lambda m: m.sum(1), 4, cache=path, cache_key="k")
    assert path.read_bytes().startswith(b"this is not SQLite")  # left untouched


def test_a_corrupt_cache_is_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    engine = QueryEngine(lambda m: m.sum(1) * 1.0, 40, cache=path, cache_key="k")
    engine(np.random.default_rng(0).random((2000, 40)) < 0.5)
    engine.close()
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)  # keep the header page, wreck every other one
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError, match=r"c\.sqlite"):
        QueryEngine(lambda m: m.sum(1), 40, cache=path, cache_key="k")


def test_a_database_of_another_program_is_not_written_into(tmp_path):
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(CacheError, match=r"app\.db.*another program \(tables: users\)"):
        DiskCache(path, "k")
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["users"]


def test_a_cache_made_before_files_were_tagged_still_resumes(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)  # the layout earlier versions wrote, with no application_id
    db.execute(
        "CREATE TABLE answers (fingerprint TEXT NOT NULL, mask BLOB NOT NULL, value REAL NOT NULL, "
        "PRIMARY KEY (fingerprint, mask)) WITHOUT ROWID"
    )
    db.execute("INSERT INTO answers VALUES ('k', ?, 7.0)", (bytes([0b10100000, 0, 0, 0, 0, 0, 0, 0]),))
    db.commit()
    db.close()
    engine = QueryEngine(lambda m: np.zeros(len(m)), 4, cache=path, cache_key="k")
    assert engine(np.array([[1, 0, 1, 0]], dtype=bool)).tolist() == [7.0] and engine.n_evaluated == 0


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(CacheError, match="is a directory"):
        QueryEngine(lambda m: m.sum(1), 4, cache=tmp_path, cache_key="k")


@pytest.mark.parametrize("name", ["bad\0name.sqlite", "x" * 5000])
def test_a_junk_path_is_refused_with_the_path(tmp_path, name):
    with pytest.raises(CacheError, match=r"cache (path )?.*cannot be used"):
        DiskCache(tmp_path / name, "k")


def test_a_path_below_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheError, match=r"file/c\.sqlite.*cannot create its directory"):
        QueryEngine(lambda m: m.sum(1), 4, cache=tmp_path / "file" / "c.sqlite", cache_key="k")


def test_a_read_only_cache_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "c.sqlite"
    DiskCache(path, "k").close()
    path.chmod(0o444)
    real_access = os.access
    # what a user without write permission sees (root, running the tests here, may write anyway)
    monkeypatch.setattr(
        os, "access", lambda p, mode: real_access(p, mode) and not (str(p) == str(path) and mode & os.W_OK)
    )
    with pytest.raises(CacheError, match=r"c\.sqlite' is not readable and writable"):
        DiskCache(path, "k")


def test_a_write_that_fails_names_the_cache(tmp_path):
    cache = DiskCache(tmp_path / "c.sqlite", "k")
    cache._db.execute("PRAGMA query_only = ON")  # every write now fails inside SQLite
    with pytest.raises(CacheError, match=r"c\.sqlite.*readonly"):
        cache.store(np.zeros((1, 8), dtype=np.uint8), np.ones(1))
