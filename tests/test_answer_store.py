"""The answer store and the q-ary engine's keys: exact de-duplication even when hashes collide."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interspect.query.engine import QueryEngine
from interspect.query.qary import QaryQueryEngine
from interspect.query.store import AnswerStore, pack_bytes


class WeakHashStore(AnswerStore):
    """A store whose hash keeps only the lowest bit of the first word: nearly every pair of rows collides."""

    def hash(self, words):
        return words[:, 0] & np.uint64(1)


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
    assert len(np.unique(words[d.first], axis=0)) == len(d.first)  # no row listed twice
    assert not d.all_distinct and np.all(np.diff(d.sorted_hashes.astype(np.float64)) >= 0)
    assert (d.collisions > 0) == (store_type is WeakHashStore)


@pytest.mark.parametrize("chunks", [1, 5])
def test_colliding_rows_sit_side_by_side_and_lookups_stay_exact(chunks):
    store = WeakHashStore(2)
    rows = np.unique(_rows(200, 2, seed=1), axis=0)
    values = np.arange(len(rows), dtype=float)
    for part in np.array_split(np.random.default_rng(0).permutation(len(rows)), chunks):
        pos, found = store.locate(rows[part])
        assert not found.any()
        d = store.distinct(rows[part])
        store.insert(rows[part][d.first], values[part][d.first], hashes=d.sorted_hashes)
    assert len(store) == len(rows) and store.collisions == len(rows) - 2  # two hash values in all
    probe = np.vstack([rows[::3], rows[:5] + np.uint64(100)])
    pos, found = store.locate(probe)
    np.testing.assert_array_equal(found, [True] * len(rows[::3]) + [False] * 5)
    np.testing.assert_array_equal(store.values[pos[found]], values[::3])
    h = store.hash(rows[::3])
    np.testing.assert_array_equal(store.positions(rows, h, np.arange(0, len(rows), 3)), pos[found])


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
    monkeypatch.setattr(AnswerStore, "hash", WeakHashStore.hash)
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
    assert engine._store.collisions > 0
    np.testing.assert_array_equal(engine.seen(y), np.ones(len(y), dtype=bool))


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


def _feature_at(word: int, bit: int) -> int:
    """The feature whose packed bit is bit ``bit`` of word ``word`` (np.packbits is big-endian per byte)."""
    return 64 * word + 8 * (bit // 8) + 7 - bit % 8


def _engine_is_exact(masks: np.ndarray) -> None:
    weights = np.random.default_rng(0).normal(size=masks.shape[1])
    seen = []

    def f(batch):
        seen.append(batch.copy())
        return batch @ weights

    engine = QueryEngine(f, masks.shape[1], batch_size=64)
    np.testing.assert_allclose(engine(masks), masks @ weights)
    asked = np.vstack(seen)
    assert len(asked) == len(np.unique(asked, axis=0)) == len(np.unique(masks, axis=0)) == engine.n_queries
    np.testing.assert_allclose(engine(masks[::-1]), masks[::-1] @ weights)  # answered from the store
    assert engine.n_evaluated == len(asked)


def test_masks_that_collided_under_the_old_hash_are_told_apart():
    """The old per-word hash let a flipped top bit cancel against bits 63 and 32 of the next word, for every
    salt: "all but feature 56" and "all but features 120 and 103" at n = 128 made its re-hash loop spin forever."""
    assert (_feature_at(0, 63), _feature_at(1, 63), _feature_at(1, 32)) == (56, 120, 103)
    masks = np.ones((2, 128), dtype=bool)
    masks[0, 56] = False
    masks[1, [120, 103]] = False
    _engine_is_exact(masks)
    store = AnswerStore(2)
    words = pack_bytes(np.packbits(masks, axis=1))
    assert store.hash(words)[0] != store.hash(words)[1]


# Packed bits a multiply passes on unchanged (the top one) or that a shift by 32 or 31 moves it to.
_SPECIAL_BITS = (63, 62, 32, 31, 0, 1)


@settings(max_examples=60, deadline=None)
@given(
    n_words=st.integers(2, 5),
    base=st.sampled_from(["ones", "zeros", "random"]),
    flips=st.lists(
        st.lists(st.tuples(st.integers(0, 4), st.sampled_from(_SPECIAL_BITS)), min_size=1, max_size=4),
        min_size=2,
        max_size=12,
    ),
)
def test_adversarial_mask_pairs_are_deduplicated_exactly(n_words, base, flips):
    n = 64 * n_words
    rng = np.random.default_rng(len(flips))
    start = {"ones": np.ones(n, bool), "zeros": np.zeros(n, bool), "random": rng.random(n) < 0.5}[base]
    masks = np.tile(start, (len(flips), 1))
    for row, bits in enumerate(flips):
        features = [_feature_at(word % n_words, bit) for word, bit in bits]
        masks[row, features] ^= True
    _engine_is_exact(np.vstack([masks, masks[:3]]))
