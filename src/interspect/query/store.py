"""In-memory store of model answers keyed by exact input rows, with vectorised de-duplication.

Each input row arrives packed into ``W`` 64-bit words (bit-packed masks, digit-packed q-ary inputs). Rows are
kept sorted by a 64-bit hash of their words, so finding repeats within a batch is one sort of integers and
looking a batch up is one ``searchsorted``, whatever ``W`` is. Hashes only propose matches: rows
with equal hashes are compared word by word, so de-duplication is exact. Should two different rows ever
share a hash (about one chance in 2^64 per pair), a new hash function is drawn and the store re-sorted.
"""

from __future__ import annotations

import functools

import numpy as np

_GOLDEN = 0x9E3779B97F4A7C15
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_FINAL = np.uint64(0x94D049BB133111EB)


def pack_bytes(rows: np.ndarray) -> np.ndarray:
    """``(m, B)`` uint8 rows -> ``(m, ceil(B / 8))`` uint64 words (zero padded)."""
    rows = np.asarray(rows, dtype=np.uint8)
    width = -(-rows.shape[1] // 8) * 8
    if width == rows.shape[1] and rows.flags.c_contiguous:
        return rows.view(np.uint64)
    padded = np.zeros((len(rows), max(width, 8)), dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    return padded.view(np.uint64)


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


class Distinct:
    """The distinct keys of a batch of 64-bit hashes ``h``: ``first`` lists the first row of each distinct key in
    key order, ``sorted_hashes = h[first]``, and ``inverse`` (computed when first asked for: a scatter over every
    row) maps each row to its key's place in ``first``. ``all_distinct`` says no key repeats."""

    def __init__(self, h: np.ndarray) -> None:
        self.hashes = h
        self._order = argsort_hashes(h)
        ordered = h[self._order]
        repeats = ordered[1:] == ordered[:-1]
        self.all_distinct = not repeats.any()
        if self.all_distinct:
            self._starts = None
            self.first, self.sorted_hashes = self._order, ordered
        else:
            self._starts = np.concatenate(([True], ~repeats))
            self.first, self.sorted_hashes = self._order[self._starts], ordered[self._starts]

    @functools.cached_property
    def inverse(self) -> np.ndarray:
        inverse = np.empty(len(self.hashes), dtype=np.intp)
        inverse[self._order] = np.arange(len(self.hashes)) if self._starts is None else np.cumsum(self._starts) - 1
        return inverse


class AnswerStore:
    """Answers (``values``) and "requested" flags (``asked``) for distinct rows of ``n_words`` words.

    ``hashes``, ``values`` and ``asked`` are sorted by hash; the rows themselves (``words``) are kept in the order
    they arrived, and ``slot[i]`` is the row of sorted position ``i``. So adding a batch appends its rows in
    one sequential pass instead of gathering them in hash order.
    """

    def __init__(self, n_words: int) -> None:
        self.n_words = int(n_words)
        self._salt = 0
        self.hashes = np.zeros(0, dtype=np.uint64)  # sorted
        self.words = np.zeros((0, self.n_words), dtype=np.uint64)  # in arrival order
        self.slot = np.zeros(0, dtype=np.intp)  # row of words at each sorted position
        self.values = np.zeros(0)
        self.asked = np.zeros(0, dtype=bool)

    @property
    def salt(self) -> int:
        """Which hash function is in use; it changes only when a collision forces a new one."""
        return self._salt

    def __len__(self) -> int:
        return len(self.hashes)

    def hash(self, words: np.ndarray) -> np.ndarray:
        """64-bit hash of each row: every word is absorbed by an invertible multiply-xorshift step, so rows that
        differ in a single word never collide."""
        h = np.full(len(words), (_GOLDEN * (2 * self._salt + 1)) % 2**64, dtype=np.uint64)
        for j in range(words.shape[1]):
            h ^= words[:, j]
            h *= _MIX
            h ^= h >> np.uint64(31)
        h *= _FINAL
        h ^= h >> np.uint64(29)
        return h

    def _rehash(self) -> None:
        """Draw new hash functions until the stored rows' hashes are distinct, and re-sort (on a collision)."""
        values, asked = np.empty_like(self.values), np.empty_like(self.asked)
        values[self.slot], asked[self.slot] = self.values, self.asked  # back to arrival order
        while True:
            self._salt += 1
            hashes = self.hash(self.words)
            order = argsort_hashes(hashes)
            hashes = hashes[order]
            if not np.any(hashes[1:] == hashes[:-1]):
                break
        self.hashes, self.slot, self.values, self.asked = hashes, order, values[order], asked[order]

    def distinct(self, words: np.ndarray) -> Distinct:
        """The distinct rows of a batch (exact: rows sharing a hash are compared, and a collision draws a new hash
        function): ``words[d.first]`` are the distinct rows in hash order, ``words[d.first][d.inverse] == words``."""
        while True:
            d = Distinct(self.hash(words))
            if d.all_distinct:  # every hash differs, so every row does: nothing to compare
                return d
            rep = d.first[d.inverse]
            repeats = np.flatnonzero(rep != np.arange(len(words)))
            if np.array_equal(np.take(words, repeats, axis=0), np.take(words, rep[repeats], axis=0)):
                return d
            self._rehash()

    def locate(
        self, words: np.ndarray, hashes: np.ndarray | None = None, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Position of each distinct row in the store and whether it is there.

        The rows are ``words`` (or ``words[rows]``, without gathering them); ``hashes`` are theirs if known.
        """
        if len(self.hashes) == 0:
            size = len(hashes) if hashes is not None else len(words) if rows is None else len(rows)
            return np.zeros(size, dtype=np.intp), np.zeros(size, dtype=bool)
        while True:
            if hashes is None:
                hashes = self.hash(words if rows is None else np.take(words, rows, axis=0))
            pos = np.searchsorted(self.hashes, hashes)
            found = np.zeros(len(hashes), dtype=bool)
            inside = pos < len(self.hashes)
            found[inside] = self.hashes[pos[inside]] == hashes[inside]
            hit = np.flatnonzero(found)
            mine = np.take(self.words, self.slot[pos[hit]], axis=0)
            if np.array_equal(mine, np.take(words, hit if rows is None else rows[hit], axis=0)):
                return np.minimum(pos, max(len(self.hashes) - 1, 0)), found
            self._rehash()
            hashes = None

    def positions(self, hashes: np.ndarray) -> np.ndarray:
        """Positions of rows known to be stored, from their hashes (unique in the store)."""
        return np.searchsorted(self.hashes, hashes)

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
        increasing = bool(np.all(hashes[1:] > hashes[:-1]))
        if not increasing:
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
        if len(self.hashes) == 0:
            self.hashes, self.words, self.slot, self.values, self.asked = hashes, appended, slots, values, flags
            if increasing:  # distinct hashes: no collision to look for
                return
        else:
            pos = np.searchsorted(self.hashes, hashes)
            self.hashes = np.insert(self.hashes, pos, hashes)
            self.words = np.concatenate([self.words, appended])
            self.slot = np.insert(self.slot, pos, slots)
            self.values = np.insert(self.values, pos, values)
            self.asked = np.insert(self.asked, pos, flags)
        if np.any(self.hashes[1:] == self.hashes[:-1]):  # two different rows share a hash: draw a new hash
            self._rehash()
