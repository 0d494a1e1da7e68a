"""Coded delays for q-SFT: ``r ≈ 2t·log_q n`` delays instead of ``n``, for frequencies with ``≤ t`` non-zero digits.

A singleton bin ``F(k) ω^{⟨k, d⟩}`` gives, for each delay ``d_j``, the symbol ``y_j = ⟨k, d_j⟩ mod q`` (a rounded
phase ratio against delay 0). With the delays the parity columns of a systematic BCH code over GF(p),
``y`` are the parity symbols of the codeword of ``k``, and decoding the received word ``[y, 0]`` returns ``k``
(``docs/qary.md``, "Coded delays"). ``Z_q`` is not a field unless ``q`` is prime, so:

* ``q = p^e``: the delays are the GF(p) code's (entries ``0 … p-1``). Digit ``s`` of ``k`` in base ``p``
  (``k = Σ_s p^s k_s``, each ``k_s`` supported inside ``supp k``) is decoded from
  ``((y − D κ_s) mod q) / p^s mod p = D k_s mod p``, ``κ_s = k mod p^s`` known from the earlier stages.
* ``q`` with several prime factors: the delays are the Chinese-remainder combination of each factor's code,
  and ``k mod p^e`` is decoded factor by factor.

After a stage, ``y`` modulo what has been decoded is known exactly (the corrected codeword), so each later stage
rounds the phase to the nearest value consistent with it: soft information carried between stages. Wrong
symbols are corrected like message symbols (``|supp k| + #errors ≤ t``); with noise, Chase decoding also tries
the other neighbour of the least reliable symbols.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from .gf import BCHCode, bch_code, redundancy

DEFAULT_DEGREE = 3  # non-zero digits per frequency the coded design decodes when max_order is not given
CHASE_SYMBOLS = 4  # with noise, bins that fail retry the 2^4 − 1 flips of their four least reliable symbols


def prime_powers(q: int) -> list[tuple[int, int]]:
    """``[(p, e), …]`` with ``q = Π p^e``."""
    out, p = [], 2
    while p * p <= q:
        e = 0
        while q % p == 0:
            q //= p
            e += 1
        if e:
            out.append((p, e))
        p += 1
    return out + ([(q, 1)] if q > 1 else [])


def code_rows(q: int, n: int, t: int) -> int:
    """Number of coded delays (besides delay 0) for ``n`` features over ``Z_q`` and ``t`` non-zero digits."""
    return max(redundancy(p, n, t)[1] for p, _ in prime_powers(q))


def _crt(a: np.ndarray, m1: int, b: np.ndarray, m2: int) -> np.ndarray:
    """The ``x mod m1·m2`` with ``x ≡ a (mod m1)``, ``x ≡ b (mod m2)`` (coprime moduli)."""
    if m1 == 1:
        return b % m2
    return a + m1 * (((b - a) * pow(m1, -1, m2)) % m2)


@dataclass(frozen=True, eq=False)
class DelayCode:
    """``r`` delays ``matrix[j] ∈ Z_q^n`` from which frequencies with at most ``t`` non-zero digits decode."""

    q: int
    n: int
    t: int
    matrix: np.ndarray  # (r, n) int64 in Z_q
    codes: tuple[tuple[int, int, BCHCode], ...]  # (p, e, code over GF(p)) per prime power of q

    @property
    def r(self) -> int:
        return len(self.matrix)

    def decode(self, turns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frequencies ``(N, n)`` from the phases of the ``r`` delays, in units of ``2π/q`` ``(N, r)``, and whether each
        decoded."""
        q, n_words = self.q, len(turns)
        k = np.zeros((n_words, self.n), dtype=np.int64)
        ok = np.ones(n_words, dtype=bool)
        known, modulus = np.zeros(turns.shape, dtype=np.int64), 1  # y mod `modulus`, from the decoded stages
        done, k_done = 1, k  # product of the decoded prime powers, and k modulo it
        for p, e, code in self.codes:
            part = np.zeros_like(k)  # k mod p^s
            for s in range(e):
                # the value nearest the phase among those consistent with what is known of y
                y = known + modulus * (np.rint((turns - known) / modulus).astype(np.int64) % (q // modulus))
                digit = (((y - part @ self.matrix.T) % p ** (s + 1)) // p**s)[:, : code.r]
                found, good = code.decode(digit)
                part = part + p**s * found
                ok &= good
                modulus = done * p ** (s + 1)
                known = _crt(known % done, done, (part @ self.matrix.T) % p ** (s + 1), p ** (s + 1))
            k_done = _crt(k_done, done, part, p**e)
            done *= p**e
        return k_done, ok

    def chase(self, z: np.ndarray, flips: int = CHASE_SYMBOLS) -> tuple[np.ndarray, np.ndarray]:
        """Candidates ``(N, 2^L − 1, n)`` and whether each decoded: phase evidence ``z`` ``(N, r)`` with its ``L``
        least reliable symbols (nearest a sector boundary) moved to their other neighbouring value, every subset."""
        q = self.q
        turns = np.angle(z) * (q / (2 * np.pi))
        nearest = np.rint(turns)
        off = turns - nearest
        reliability = np.abs(z) * np.sin(np.pi * (1 - 2 * np.abs(off)) / q)  # distance to the sector's edge
        flips = min(flips, self.r)
        weakest = np.argpartition(reliability, flips - 1, axis=1)[:, :flips]
        rows = np.arange(len(z))[:, None]
        other = nearest[rows, weakest] + np.where(off[rows, weakest] >= 0, 1.0, -1.0)
        patterns = ((np.arange(1, 1 << flips)[:, None] >> np.arange(flips)) & 1).astype(bool)  # (M, L)
        tries = np.repeat(nearest[:, None, :], len(patterns), axis=1)  # (N, M, r)
        moved = np.where(patterns[None], other[:, None, :], nearest[rows, weakest][:, None, :])  # (N, M, L)
        np.put_along_axis(tries, np.broadcast_to(weakest[:, None, :], moved.shape), moved, axis=2)
        k, ok = self.decode(tries.reshape(-1, self.r))
        return k.reshape(len(z), len(patterns), self.n), ok.reshape(len(z), len(patterns))


@cache
def delay_code(q: int, n: int, t: int) -> DelayCode:
    """The coded delays for ``n`` features over ``Z_q`` decoding up to ``t`` errors (support plus wrong symbols)."""
    codes = tuple((p, e, bch_code(p, n, t)) for p, e in prime_powers(q))
    r = max(code.r for _, _, code in codes)
    matrix, done = np.zeros((r, n), dtype=np.int64), 1
    for p, e, code in codes:
        padded = np.zeros((r, n), dtype=np.int64)
        padded[: code.r] = code.parity
        matrix = _crt(matrix, done, padded, p**e)
        done *= p**e
    matrix.flags.writeable = False
    return DelayCode(q, n, t, matrix, codes)
