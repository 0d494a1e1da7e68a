"""The answer store and the q-ary engine's keys: exact de-duplication even when hashes collide."""

import numpy as np
import pytest

from interspect.query.engine import QueryEngine
from interspect.query.qary import QaryQueryEngine
from interspect.query.store import AnswerStore, pack_bytes


class WeakHashStore(AnswerStore):
    """A store whose first hash functions collide on purpose (only the lowest bit of the first word)."""

    def __init__(self, n_words: int, weak_salts: int = 2) -> None:
        super().__init__(n_words)
        self.weak_salts = weak_salts

    def hash(self, words):
        if self.salt < self.weak_salts:
            return words[:, 0] & np.uint64(1)
        return super().hash(words)


def _rows(m, n_words, seed=0, distinct_values=4):
    return np.random.default_rng(seed).integers(0, distinct_values, size=(m, n_words)).astype(np.uint64)


def _reference_unique(words):
    _, first, inverse = np.unique(words, axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


@pytest.mark.parametrize("store_type", [AnswerStore, WeakHashStore])
def test_distinct_matches_numpy_unique_even_with_colliding_hashes(store_type):
    words = _rows(300, 3)
    store = store_type(3)
    d = store.distinct(words)
    np.testing.assert_array_equal(words[d.first][d.inverse], words)
    assert len(d.first) == len(_reference_unique(words)[0])
    assert not d.all_distinct and np.all(np.diff(d.sorted_hashes.astype(np.float64)) > 0)


def test_collisions_in_the_store_force_a_new_hash_and_lookups_stay_exact():
    store = WeakHashStore(2)
    rows = np.unique(_rows(200, 2, seed=1), axis=0)
    values = np.arange(len(rows), dtype=float)
    d = store.distinct(rows)
    store.insert(rows[d.first], values[d.first], hashes=d.sorted_hashes)
    assert store.salt >= store.weak_salts  # the weak hashes collided, so new ones were drawn
    probe = np.vstack([rows[::3], rows[:5] + np.uint64(100)])
    pos, found = store.locate(probe)
    np.testing.assert_array_equal(found, [True] * len(rows[::3]) + [False] * 5)
    np.testing.assert_array_equal(store.values[pos[found]], values[::3])


def test_incremental_inserts_keep_every_answer():
    store = AnswerStore(2)
    rows = np.unique(_rows(500, 2, seed=2, distinct_values=1000), axis=0)
    values = rows[:, 0].astype(float) * 3 + rows[:, 1]
    for chunk in np.array_split(np.arange(len(rows)), 7):
        pos, found = store.locate(rows[chunk])
        assert not found.any()
        store.insert(rows[chunk], values[chunk])
    pos, found = store.locate(rows)
    assert found.all() and len(store) == len(rows)
    np.testing.assert_array_equal(store.values[pos], values)
    assert np.all(np.diff(store.hashes.astype(np.float64)) >= 0)


def test_pack_bytes_pads_to_whole_words():
    rows = np.arange(30, dtype=np.uint8).reshape(3, 10)
    words = pack_bytes(rows)
    assert words.shape == (3, 2)
    np.testing.assert_array_equal(words.view(np.uint8)[:, :10], rows)
    assert not words.view(np.uint8)[:, 10:].any()


@pytest.mark.parametrize("q", [2, 3, 4, 5, 16, 17, 256])
@pytest.mark.parametrize("n", [1, 7, 9, 64, 65, 200])
def test_qary_keys_hold_every_digit(q, n):
    """Unpacking the engine's words gives back the inputs, so keys are exact (injective)."""
    engine = QaryQueryEngine(lambda x: np.zeros(len(x)), n, q)
    x = np.random.default_rng(q * 1000 + n).integers(0, q, size=(200, n)).astype(np.uint8)
    packed = engine._words(x).view(np.uint8)
    bits = next(b for b in (1, 2, 4, 8) if q <= 1 << b)
    per_byte, k = 8 // bits, np.arange(n)
    digits = (packed[:, k // per_byte] >> (bits * (k % per_byte)).astype(np.uint8)) & np.uint8((1 << bits) - 1)
    np.testing.assert_array_equal(digits, x)


def test_qary_engine_sends_uint8_and_resumes_from_disk(tmp_path):
    calls = []

    def f(x):
        calls.append(x.copy())
        return x.astype(np.int64) @ np.arange(1, x.shape[1] + 1)

    x = np.random.default_rng(0).integers(0, 5, size=(50, 9))
    first = QaryQueryEngine(f, 9, 5, batch_size=7, cache=tmp_path / "c.sqlite", cache_key="f")
    np.testing.assert_allclose(first(x), x @ np.arange(1, 10))
    assert all(c.dtype == np.uint8 for c in calls)
    first.close()
    calls.clear()
    again = QaryQueryEngine(f, 9, 5, cache=tmp_path / "c.sqlite", cache_key="f")
    np.testing.assert_allclose(again(x), x @ np.arange(1, 10))
    assert not calls and again.n_queries == len(np.unique(x, axis=0)) and again.n_evaluated == 0


@pytest.mark.parametrize("m", [0, 1, 2, 1000, 70_000])
def test_distinct_keys_match_numpy(m):
    from interspect.query.store import Distinct, argsort_hashes

    rng = np.random.default_rng(m)
    h = rng.integers(0, 2**63, size=m, dtype=np.uint64)
    if m > 10:  # repeats, and keys that agree in their top 32 bits
        h[rng.integers(0, m, size=m // 3)] = h[rng.integers(0, m, size=m // 3)]
        h[: m // 10] = (h[: m // 10] & np.uint64(0xFFFFFFFF00000000)) | np.uint64(7)
        h[m // 10 : m // 5] = h[: m // 10] ^ np.uint64(1)
    np.testing.assert_array_equal(argsort_hashes(h), np.argsort(h, kind="stable"))
    keys, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    ours = Distinct(h)
    np.testing.assert_array_equal(ours.first, first)
    np.testing.assert_array_equal(ours.sorted_hashes, keys)
    np.testing.assert_array_equal(ours.inverse, inverse.ravel())
    assert ours.all_distinct == (len(keys) == m)


def test_engines_stay_exact_when_hashes_collide(monkeypatch):
    from interspect.query.engine import QueryEngine

    strong = AnswerStore.hash

    def weak_then_strong(self, words):  # the first three hash functions collide on purpose
        return words[:, 0] & np.uint64(1) if self.salt < 3 else strong(self, words)

    monkeypatch.setattr(AnswerStore, "hash", weak_then_strong)
    seen = []

    def f(masks):
        seen.append(masks.copy())
        return masks @ np.arange(1.0, masks.shape[1] + 1)

    engine = QueryEngine(f, 12, batch_size=16)
    x = np.random.default_rng(0).random((120, 12)) < 0.5
    np.testing.assert_allclose(engine(x), x @ np.arange(1.0, 13))
    y = np.vstack([x[:30], np.random.default_rng(1).random((40, 12)) < 0.5])
    np.testing.assert_allclose(engine(y), y @ np.arange(1.0, 13))
    asked = np.vstack(seen)
    assert len(np.unique(asked, axis=0)) == len(asked) == engine.n_queries
    assert engine.n_queries == len(np.unique(np.vstack([x, y]), axis=0))
    assert engine._store.salt >= 3


@pytest.mark.parametrize("n", [1, 7, 64, 65, 130])
def test_answered_lists_every_mask_asked_once_in_arrival_order(n):
    x = np.random.default_rng(n).random((50, n)) < 0.5
    engine = QueryEngine(lambda m: m.sum(axis=1) * 1.0, n)
    engine(x[:30])
    engine(x[20:])
    masks, values = engine.answered()
    first = np.sort(np.unique(x, axis=0, return_index=True)[1])
    assert masks.dtype == bool
    np.testing.assert_array_equal(masks, x[first])
    np.testing.assert_allclose(values, masks.sum(axis=1))


@pytest.mark.parametrize(("q", "n"), [(2, 9), (3, 5), (4, 33), (5, 1), (17, 9), (200, 4)])
def test_qary_answered_unpacks_the_digits(q, n):
    x = np.random.default_rng(q).integers(0, q, size=(40, n)).astype(np.uint8)
    engine = QaryQueryEngine(lambda z: z.astype(float) @ np.arange(1, n + 1), n, q)
    engine(x)
    inputs, values = engine.answered()
    first = np.sort(np.unique(x, axis=0, return_index=True)[1])
    np.testing.assert_array_equal(inputs, x[first])
    np.testing.assert_allclose(values, inputs.astype(float) @ np.arange(1, n + 1))
