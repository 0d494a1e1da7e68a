"""GF(p^m) as tables and systematic narrow-sense BCH codes over GF(p), decoded many words at a time.

A field element is an integer whose base-``p`` digits are its coordinates in the basis ``1, α, …, α^{m-1}``
(digit ``d`` is the coefficient of ``α^d``), so the elements of GF(p) are ``0 … p-1``. Products go through
exponent/logarithm tables; sums are digit-wise mod ``p``; maps that are GF(p)-linear in the digits (syndromes,
the Chien search) are integer matrix products.

The code of length ``N_c = r + n`` has designed distance ``2t + 1`` (roots ``α^1 … α^{2t}``). A message
``k ∈ GF(p)^n`` sits at positions ``r … r+n-1`` of its codeword and its ``r`` parity symbols at ``0 … r-1``;
parity symbol ``j`` is ``⟨parity[j], k⟩ mod p``. Received ``[y, 0]`` (the parity symbols only) differs from the
codeword of ``k`` in the support of ``k`` plus any wrong parity symbol, so decoding finds ``k`` whenever
``|supp k| + #errors ≤ t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True, eq=False)
class Field:
    """GF(p^m): ``exp[i] = α^i`` for ``i < 2N`` then zeros (``N = p^m − 1``), ``log[0] = 2N`` so that a product
    with zero indexes the zeros, ``digits[a]`` the ``m`` coordinates of ``a``."""

    p: int
    m: int
    exp: np.ndarray
    log: np.ndarray
    digits: np.ndarray

    @property
    def order(self) -> int:
        return self.p**self.m - 1

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.exp[self.log[a] + self.log[b]]

    def inv(self, a: np.ndarray) -> np.ndarray:
        """``a⁻¹`` (``a ≠ 0``)."""
        return self.exp[(self.order - self.log[a]) % self.order]

    def pack(self, digits: np.ndarray) -> np.ndarray:
        """Elements from coordinates ``(..., m)`` (any integers; reduced mod ``p``)."""
        return (digits.astype(np.int64) % self.p) @ (self.p ** np.arange(self.m, dtype=np.int64))

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.p == 2:
            return np.bitwise_xor(a, b)
        return self.pack(self.digits[a] + self.digits[b])

    def scale(self, a: np.ndarray, c: np.ndarray | int) -> np.ndarray:
        """``c · a`` for ``c`` in GF(p) (integers, reduced mod ``p``)."""
        return self.pack(self.digits[a] * np.asarray(c, dtype=np.int64)[..., None])

    def power_digits(self, e: np.ndarray) -> np.ndarray:
        """Coordinates of ``α^e`` ``(..., m)`` for integer exponents ``e`` (any sign)."""
        return self.digits[self.exp[np.mod(e, self.order)]]


def _polymod_p(a: np.ndarray, f: np.ndarray, p: int) -> np.ndarray:
    """``a mod f`` over GF(p) (coefficient arrays, lowest degree first; ``f`` monic)."""
    a = a.copy() % p
    m = len(f) - 1
    for d in range(len(a) - 1, m - 1, -1):
        if a[d]:
            a[d - m : d + 1] = (a[d - m : d + 1] - a[d] * f) % p
    return a[:m]


def _x_power_is_one(e: int, f: np.ndarray, p: int) -> bool:
    """Whether ``x^e ≡ 1 (mod f)`` over GF(p), by square-and-multiply."""
    m = len(f) - 1
    result, base = np.eye(1, m, 0, dtype=np.int64)[0], _polymod_p(np.eye(1, 2, 1, dtype=np.int64)[0], f, p)
    while e:
        if e & 1:
            result = _polymod_p(np.convolve(result, base), f, p)
        base = _polymod_p(np.convolve(base, base), f, p)
        e >>= 1
    return bool(result[0] == 1 and not result[1:].any())


def _prime_factors(x: int) -> list[int]:
    out, d = [], 2
    while d * d <= x:
        if x % d == 0:
            out.append(d)
            while x % d == 0:
                x //= d
        d += 1
    return out + ([x] if x > 1 else [])


def _primitive_poly(p: int, m: int) -> np.ndarray:
    """The first monic degree-``m`` polynomial over GF(p) (lowest degree first) of which ``x`` has order
    ``p^m − 1``: then the quotient ring has that many units, so it is the field and ``x`` is primitive."""
    order = p**m - 1
    for code in range(p**m):
        low = np.array([(code // p**i) % p for i in range(m)], dtype=np.int64)
        if low[0] == 0:
            continue
        f = np.append(low, 1)
        if _x_power_is_one(order, f, p) and not any(_x_power_is_one(order // r, f, p) for r in _prime_factors(order)):
            return f
    raise ValueError(f"no primitive polynomial of degree {m} over GF({p})")  # cannot happen


@cache
def field(p: int, m: int) -> Field:
    """GF(p^m), its exponent table built by doubling (``α^{i+s} = α^i · α^s`` as a digit matrix product)."""
    f = _primitive_poly(p, m)
    order = p**m - 1
    companion = np.zeros((m, m), dtype=np.int64)  # row d: coordinates of α^{d+1}
    companion[: m - 1, 1:] = np.eye(m - 1, dtype=np.int64)
    companion[m - 1] = (-f[:m]) % p
    powers = np.zeros((order, m), dtype=np.int64)
    powers[0, 0] = 1
    step, filled = companion, 1
    while filled < order:
        take = min(filled, order - filled)
        powers[filled : filled + take] = (powers[:take] @ step) % p
        filled += take
        step = (step @ step) % p
    weights = p ** np.arange(m, dtype=np.int64)
    ints = powers @ weights
    exp = np.zeros(4 * order + 1, dtype=np.int64)
    exp[:order], exp[order : 2 * order] = ints, ints
    log = np.full(order + 1, 2 * order, dtype=np.int64)
    log[ints] = np.arange(order)
    digits = (np.arange(order + 1)[:, None] // weights) % p
    return Field(p, m, exp, log, digits)


def _cosets(p: int, order: int, t: int) -> list[list[int]]:
    """The distinct cyclotomic cosets ``{i p^s mod order}`` of ``i = 1 … 2t``."""
    seen: set[int] = set()
    out = []
    for i in range(1, 2 * t + 1):
        if i % order in seen:
            continue
        coset, j = [], i % order
        while j not in coset:
            coset.append(j)
            j = (j * p) % order
        seen.update(coset)
        out.append(coset)
    return out


def redundancy(p: int, n: int, t: int) -> tuple[int, int]:
    """``(m, r)``: the smallest field GF(p^m) whose BCH code with ``2t`` roots fits ``r + n`` positions, and ``r``."""
    m = 1
    while True:
        order = p**m - 1
        if order > 2 * t:
            r = sum(len(c) for c in _cosets(p, order, t))
            if r + n <= order:
                return m, r
        m += 1


@dataclass(frozen=True, eq=False)
class BCHCode:
    """Systematic BCH code over GF(p) for ``n`` message symbols correcting ``t`` errors (module docstring)."""

    gf: Field
    t: int
    n: int
    parity: np.ndarray  # (r, n) in 0..p-1
    syndromes: np.ndarray  # (r, 2t·m) float: y @ this gives the coordinates of S_1 … S_2t (mod p)
    chien: np.ndarray  # ((t+1)·m, (r+n)·m) float: coordinates of Λ @ this gives those of Λ(α^{-pos}) (mod p)

    @property
    def r(self) -> int:
        return len(self.parity)

    def encode(self, k: np.ndarray) -> np.ndarray:
        """Parity symbols ``(N, r)`` of messages ``k`` ``(N, n)``."""
        return (k @ self.parity.T) % self.gf.p

    def decode(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Messages ``(N, n)`` of received parity symbols ``y`` ``(N, r)``, and whether each decoded (Berlekamp–Massey,
        Chien search, Forney); a word with more than ``t`` errors fails or decodes to a wrong message."""
        gf, t, p = self.gf, self.t, self.gf.p
        n_words = len(y)
        if n_words == 0:
            return np.zeros((0, self.n), dtype=np.int64), np.zeros(0, dtype=bool)
        synd = gf.pack(np.rint(y.astype(np.float64) @ self.syndromes).astype(np.int64).reshape(n_words, 2 * t, gf.m))
        lam, length = _berlekamp_massey(gf, synd, t)
        ok = (length <= t) & ~lam[:, t + 1 :].any(axis=1)
        lam = lam[:, : t + 1]
        values = np.rint(gf.digits[lam].reshape(n_words, -1).astype(np.float64) @ self.chien).astype(np.int64)
        roots = ~(values.reshape(n_words, -1, gf.m) % p).any(axis=2)  # (N, r + n)
        ok &= roots.sum(axis=1) == length
        k = np.zeros((n_words, self.n), dtype=np.int64)
        word, pos = np.nonzero(roots & ok[:, None])
        if len(word):
            e = _forney(gf, synd[word], lam[word], pos, t)
            bad = (e == 0) | (e >= p)  # an error value outside GF(p): not a word of this code
            ok[word[bad]] = False
            msg = (pos >= self.r) & ~bad
            k[word[msg], pos[msg] - self.r] = (-e[msg]) % p
        k[~ok] = 0
        return k, ok


def _shift(poly: np.ndarray, by: np.ndarray) -> np.ndarray:
    """``x^by · poly`` row by row, truncated to the same length."""
    idx = np.arange(poly.shape[1])[None, :] - by[:, None]
    return np.where(idx >= 0, np.take_along_axis(poly, np.clip(idx, 0, None), axis=1), 0)


def _berlekamp_massey(gf: Field, synd: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Error locators ``(N, 2t+1)`` and their lengths ``L`` from syndromes ``(N, 2t)``, all words in step."""
    n_words = len(synd)
    lam = np.zeros((n_words, 2 * t + 1), dtype=np.int64)
    lam[:, 0] = 1
    prev = lam.copy()
    length = np.zeros(n_words, dtype=np.int64)
    gap = np.ones(n_words, dtype=np.int64)
    last = np.ones(n_words, dtype=np.int64)  # discrepancy when ``prev`` was last updated
    for r in range(2 * t):
        d = synd[:, r].copy()
        for i in range(1, r + 1):
            d = gf.add(d, gf.mul(lam[:, i], synd[:, r - i]))
        live = d != 0
        coef = gf.mul(d, gf.inv(np.where(live, last, 1)))
        update = gf.add(lam, gf.scale(gf.mul(coef[:, None], _shift(prev, gap)), gf.p - 1))
        grow = live & (2 * length <= r)
        prev = np.where(grow[:, None], lam, prev)
        last = np.where(grow, d, last)
        length = np.where(grow, r + 1 - length, length)
        gap = np.where(grow, 1, gap + 1)
        lam = np.where(live[:, None], update, lam)
    return lam, length


def _horner(gf: Field, coefs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``Σ_i coefs[:, i] x^i`` row by row."""
    acc = coefs[:, -1]
    for i in range(coefs.shape[1] - 2, -1, -1):
        acc = gf.add(gf.mul(acc, x), coefs[:, i])
    return acc


def _forney(gf: Field, synd: np.ndarray, lam: np.ndarray, pos: np.ndarray, t: int) -> np.ndarray:
    """Error values ``e = −Ω(X⁻¹) / Λ'(X⁻¹)`` at positions ``pos`` (one row per error; ``X = α^pos``), with
    ``Ω = S Λ mod x^t`` (``S(x) = Σ_i S_{i+1} x^i``; the error evaluator has degree below ``t``)."""
    omega = np.zeros((len(pos), t), dtype=np.int64)
    for i in range(t):
        for a in range(i + 1):
            omega[:, i] = gf.add(omega[:, i], gf.mul(synd[:, a], lam[:, i - a]))
    deriv = gf.scale(lam[:, 1:], np.arange(1, lam.shape[1]))  # formal derivative: i Λ_i x^{i-1}
    x_inv = gf.exp[np.mod(-pos, gf.order)]
    num, den = _horner(gf, omega, x_inv), _horner(gf, deriv, x_inv)
    e = gf.scale(gf.mul(num, gf.inv(np.where(den == 0, 1, den))), gf.p - 1)
    return np.where(den == 0, 0, e)


@cache
def bch_code(p: int, n: int, t: int) -> BCHCode:
    """The systematic BCH code over GF(p) for ``n`` message symbols correcting ``t`` errors (cached)."""
    m, r = redundancy(p, n, t)
    gf = field(p, m)
    g = np.ones(1, dtype=np.int64)
    for coset in _cosets(p, gf.order, t):
        minimal = np.ones(1, dtype=np.int64)  # Π (x − α^j) over the coset, coefficients in GF(p^m)
        for j in coset:
            root = gf.scale(gf.exp[j], p - 1)
            shifted = np.concatenate([[0], minimal])
            minimal = gf.add(shifted, np.concatenate([gf.mul(minimal, root), [0]]))
        assert (minimal < p).all(), "minimal polynomial outside GF(p)"
        g = np.convolve(g, minimal) % p
    assert len(g) == r + 1
    parity = np.zeros((r, n), dtype=np.int64)
    rem = np.zeros(r, dtype=np.int64)  # x^{r+i} mod g, starting from x^r = -(g - x^r)
    rem[:] = (-g[:r]) % p
    for i in range(n):
        parity[:, i] = (-rem) % p
        rem = (np.concatenate([[0], rem[:-1]]) - rem[-1] * g[:r]) % p
    length = r + n
    js = np.arange(1, 2 * t + 1)
    syndromes = gf.power_digits(np.arange(r)[:, None] * js[None, :]).reshape(r, -1).astype(np.float64)
    d, deg, pos = np.arange(gf.m), np.arange(t + 1), np.arange(length)
    chien = gf.power_digits(d[None, :, None] - deg[:, None, None] * pos[None, None, :])  # (t+1, m, N_c, m)
    return BCHCode(gf, t, n, parity, syndromes, chien.reshape((t + 1) * gf.m, length * gf.m).astype(np.float64))
