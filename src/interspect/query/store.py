"""In-memory store of model answers keyed by exact input rows, with vectorised de-duplication.

Each input row arrives packed into ``W`` 64-bit words (bit-packed masks, digit-packed q-ary inputs). Rows are
kept sorted by a 64-bit hash of their words, so finding repeats within a batch is one sort of integers and
looking a batch up is one ``searchsorted``, whatever ``W`` is. Hashes only propose matches: rows sharing a
hash are always compared word by word, and two different rows that share one (a collision) simply sit next
to each other, ordered by their words. So de-duplication is exact by construction, whatever the hash, and no
loop waits for hashes to come out distinct. The hash only decides speed: with one word it is a bijection
(no collision at all), with more it mixes every word through two multiplications, so no pattern of bit
differences collides for every input.
"""

from __future__ import annotations

import functools

import numpy as np

# Odd 64-bit constants of SplitMix64 (Steele, Lea & Flood 2014): a multiply by either is a bijection.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_FINAL = np.uint64(0x94D049BB133111EB)
_SHIFT = np.uint64(32)


def pack_bytes(rows: np.ndarray) -> np.ndarray:
    """``(m, B)`` uint8 rows -> ``(m, ceil(B / 8))`` uint64 words (zero padded)."""
    rows = np.asarray(rows, dtype=np.uint8)
    width = -(-rows.shape[1] // 8) * 8
    if width == rows.shape[1] and rows.flags.c_contiguous:
        return rows.view(np.uint64)
    padded = np.zeros((len(rows), max(width, 8)), dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    return padded.view(np.uint64)


def hash_rows(words: np.ndarray) -> np.ndarray:
    """64-bit hash of each ``(m, W)`` row. Each word is absorbed by ``h = M2·xs(M1·(h ^ w))`` with ``xs(x) =
    x ^ (x >> 32)``: every step is invertible (rows differing in one word never collide), and the second
    multiply turns the one bit difference a multiply passes on unchanged (the top bit) into a carry-dependent
    one, which a later word cannot cancel for every input."""
    h = np.full(len(words), _GOLDEN, dtype=np.uint64)
    scratch = np.empty_like(h)
    for j in range(words.shape[1]):
        h ^= words[:, j]
        h *= _MIX
        np.right_shift(h, _SHIFT, out=scratch)
        h ^= scratch
        h *= _FINAL
    np.right_shift(h, _SHIFT, out=scratch)
    h ^= scratch
    return h


def argsort_hashes(h: np.ndarray) -> np.ndarray:
    """Stable argsort of 64-bit hashes, several times faster than ``np.argsort``.

    Stable radix passes (NumPy sorts 16-bit keys by radix) order the rows by their top 16 bits, or top 32
    bits when there are more rows than 16-bit values; random hashes then agree there only by rare chance, so
    a final stable sort of the full keys meets runs that are already in order (timsort: linear time).
    """
    if len(h) > 1 << 16:
        order = np.argsort((h >> np.uint64(32)).astype(np.uint16), kind="stable")
        order = order[np.argsort((h[order] >> np.uint64(48)).astype(np.uint16), kind="stable")]
    else:
        order = np.argsort((h >> np.uint64(48)).astype(np.uint16), kind="stable")
    return order[np.argsort(h[order], kind="stable")]


def _rows_equal(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether ``left[i]`` and ``right[i]`` are equal rows, for each ``i`` (one test when they all are)."""
    equal = left == right
    return np.ones(len(left), dtype=bool) if equal.all() else equal.all(axis=1)


class Distinct:
    """The distinct rows of a batch: ``first`` lists the first row of each distinct row in (hash, words) order,
    ``sorted_hashes = h[first]`` (non-decreasing; equal only for different rows that collide), and ``inverse``
    (computed when first asked for: a scatter over every row) maps each row to its place in ``first``.
    ``all_distinct`` says no row repeats; ``collisions`` counts distinct rows that share their hash with the
    previous one.

    Without ``words`` the hashes themselves are the keys (for keys known to be collision-free).
    """

    def __init__(self, h: np.ndarray, words: np.ndarray | None = None) -> None:
        self.hashes = h
        self._order = order = argsort_hashes(h)
        ordered = h[order]
        ties = np.flatnonzero(ordered[1:] == ordered[:-1])
        self.collisions = 0
        if len(ties) == 0:
            self._starts = None
            self.all_distinct = True
            self.first, self.sorted_hashes = order, ordered
            return
        starts = np.ones(len(h), dtype=bool)
        starts[ties + 1] = False
        if words is not None:
            same = _rows_equal(np.take(words, order[ties], axis=0), np.take(words, order[ties + 1], axis=0))
            if not same.all():  # different rows share a hash: order those runs by their words too
                self.collisions = self._split_collisions(words, ordered, starts, ties[~same])
        self._starts = starts
        self.all_distinct = bool(starts.all())
        self.first = order[starts]
        self.sorted_hashes = ordered[starts]

    def _split_collisions(self, words: np.ndarray, ordered: np.ndarray, starts: np.ndarray, where: np.ndarray) -> int:
        """Re-order the runs of equal hashes around sorted positions ``where`` by their rows and mark where each
        distinct row starts in ``starts`` (in place). Returns how many distinct rows share their run's hash."""
        run = np.cumsum(ordered[1:] != ordered[:-1])
        run = np.concatenate(([0], run))  # run number of each sorted position
        chosen = np.flatnonzero(np.isin(run, run[where]))  # every position in a run with a collision
        rows = self._order[chosen]
        sub = np.take(words, rows, axis=0)
        resort = np.lexsort((*sub.T[::-1], run[chosen]))  # by run, then by the row's words
        self._order[chosen] = rows = rows[resort]
        sub = sub[resort]
        new = np.ones(len(chosen), dtype=bool)
        new[1:] = (run[chosen][1:] != run[chosen][:-1]) | (sub[1:] != sub[:-1]).any(axis=1)
        starts[chosen] = new
        return int(new.sum() - len(np.unique(run[chosen])))

    @functools.cached_property
    def inverse(self) -> np.ndarray:
        inverse = np.empty(len(self.hashes), dtype=np.intp)
        inverse[self._order] = np.arange(len(self.hashes)) if self._starts is None else np.cumsum(self._starts) - 1
        return inverse


class AnswerStore:
    """Answers (``values``) and "requested" flags (``asked``) for distinct rows of ``n_words`` words.

    ``hashes``, ``values`` and ``asked`` are sorted by hash (rows sharing a hash sit side by side); the rows
    themselves (``words``) are kept in the order they arrived, and ``slot[i]`` is the row of sorted position
    ``i``. So adding a batch appends its rows in one sequential pass instead of gathering them in hash order.
    ``collisions`` counts stored rows whose hash equals their predecessor's (zero but for rare collisions).
    """

    def __init__(self, n_words: int) -> None:
        self.n_words = int(n_words)
        self.hashes = np.zeros(0, dtype=np.uint64)  # sorted
        self.words = np.zeros((0, self.n_words), dtype=np.uint64)  # in arrival order
        self.slot = np.zeros(0, dtype=np.intp)  # row of words at each sorted position
        self.values = np.zeros(0)
        self.asked = np.zeros(0, dtype=bool)
        self.collisions = 0

    def __len__(self) -> int:
        return len(self.hashes)

    def hash(self, words: np.ndarray) -> np.ndarray:
        """The hash of each row (:func:`hash_rows`)."""
        return hash_rows(words)

    def distinct(self, words: np.ndarray) -> Distinct:
        """The distinct rows of a batch, exactly: ``words[d.first]`` are the distinct rows in hash order,
        ``words[d.first][d.inverse] == words``."""
        return Distinct(self.hash(words), words)

    def locate(
        self, words: np.ndarray, hashes: np.ndarray | None = None, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Position of each row in the store and whether it is there (exact: stored rows are compared).

        The rows are ``words`` (or ``words[rows]``, without gathering them); ``hashes`` are theirs if known.
        """
        size = len(hashes) if hashes is not None else len(words) if rows is None else len(rows)
        if len(self.hashes) == 0:
            return np.zeros(size, dtype=np.intp), np.zeros(size, dtype=bool)
        if hashes is None:
            hashes = self.hash(words if rows is None else np.take(words, rows, axis=0))
        rows = np.arange(size) if rows is None else rows
        pos = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        found = self.hashes[pos] == hashes
        hit = np.flatnonzero(found)
        same = _rows_equal_to(self, pos[hit], words, rows[hit])
        if not same.all():  # a stored row shares the hash but differs
            miss = hit[~same]
            found[miss] = False
            if self.collisions:  # the row may be further along the run of its hash
                self._search_runs(pos, found, miss, hashes, words, rows)
        return pos, found

    def _search_runs(
        self, pos: np.ndarray, found: np.ndarray, miss: np.ndarray, hashes: np.ndarray, words: np.ndarray, rows
    ) -> None:
        """For rows ``miss`` whose hash's first stored row differs, compare them with the run's later rows, one
        step along every run at a time (as many steps as the longest run: rows sharing a hash are rare);
        sets ``pos`` and ``found`` where a row is there."""
        end = np.searchsorted(self.hashes, hashes[miss], side="right")
        at = pos[miss] + 1
        active = np.flatnonzero(at < end)
        while len(active):
            equal = _rows_equal_to(self, at[active], words, rows[miss[active]])
            done = active[equal]
            pos[miss[done]], found[miss[done]] = at[done], True
            active = active[~equal]
            at[active] += 1
            active = active[at[active] < end[active]]

    def positions(self, words: np.ndarray, hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Positions of rows ``words[rows]`` (hashes ``hashes``) known to be stored."""
        if self.collisions == 0:  # hashes are unique in the store
            return np.searchsorted(self.hashes, hashes)
        return self.locate(words, hashes, rows)[0]

    def insert(
        self,
        words: np.ndarray,
        values: np.ndarray,
        *,
        asked: bool = False,
        hashes: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        """Add rows that are distinct and not yet stored: ``words``, or ``words[rows]`` (without gathering them in
        that order); ``values`` and ``hashes`` (if already computed) follow the rows' order.

        Rows given in hash order (as :meth:`distinct` lists them) are merged in linear time. When every row of
        ``words`` is added, the store keeps ``words`` itself: callers hand over arrays nobody modifies afterwards.
        """
        rows = np.arange(len(words)) if rows is None else np.asarray(rows)
        if len(rows) == 0:
            return
        hashes = self.hash(np.take(words, rows, axis=0)) if hashes is None else hashes
        if not np.all(hashes[1:] >= hashes[:-1]):
            order = argsort_hashes(hashes)
            hashes, values, rows = hashes[order], values[order], rows[order]
        if len(rows) == len(words):  # every row, appended as it is
            slots, appended = len(self.words) + rows, words
        else:
            keep = np.zeros(len(words), dtype=bool)
            keep[rows] = True
            slots = len(self.words) + (np.cumsum(keep) - 1)[rows]  # where each row lands once appended
            appended = words[keep]
        flags = np.full(len(rows), asked)
        run_start = np.concatenate(([True], hashes[1:] != hashes[:-1]))
        collisions = len(run_start) - int(np.count_nonzero(run_start))
        if len(self.hashes) == 0:
            self.hashes, self.words, self.slot, self.values, self.asked = hashes, appended, slots, values, flags
        else:
            pos = np.searchsorted(self.hashes, hashes)
            joins = (pos < len(self.hashes)) & run_start  # a new run of rows whose hash is already stored
            joins[joins] = self.hashes[pos[joins]] == hashes[joins]
            collisions += int(np.count_nonzero(joins))
            self.hashes = np.insert(self.hashes, pos, hashes)
            self.words = np.concatenate([self.words, appended])
            self.slot = np.insert(self.slot, pos, slots)
            self.values = np.insert(self.values, pos, values)
            self.asked = np.insert(self.asked, pos, flags)
        self.collisions += collisions


def _rows_equal_to(store: AnswerStore, positions: np.ndarray, words: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether the stored rows at sorted ``positions`` equal ``words[rows]``."""
    return _rows_equal(np.take(store.words, store.slot[positions], axis=0), np.take(words, rows, axis=0))
