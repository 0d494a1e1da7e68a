"""Binary BCH codes shortened to ``n`` message bits, built with GF(2^m) tables in milliseconds.

SPEX reads the support of a Fourier coefficient off the parity bits of a systematic BCH codeword: the delay
``d_p`` is the ``p``-th column of the parity part of the generator matrix, so ``<d_p, k> = parity bit p of k``.
Layout of a codeword (length ``N = P + n``): positions ``0..P-1`` hold the parity bits (coefficients of
``x^p``), positions ``P..P+n-1`` hold the message bits. The generator polynomial ``g`` is the product of the
distinct minimal polynomials of ``alpha, alpha^3, ..., alpha^(2t-1)`` (designed distance ``2t + 1``).

Everything is vectorised: the field's exponent table is built by doubling (``log2 q`` rounds of ``m`` vector
operations), and the parity rows ``x^(P+i) mod g`` by doubling with ``P x P`` companion-matrix powers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

#: primitive polynomials of GF(2^m) (bit i = coefficient of x^i); primitivity is re-checked on construction
PRIMITIVE_POLYS = {
    2: 0b111,
    3: 0b1011,
    4: 0x13,
    5: 0x25,
    6: 0x43,
    7: 0x83,
    8: 0x11D,
    9: 0x211,
    10: 0x409,
    11: 0x805,
    12: 0x1053,
    13: 0x201B,
    14: 0x4443,
    15: 0x8003,
    16: 0x1100B,
    17: 0x20009,
    18: 0x40081,
    19: 0x80027,
    20: 0x100009,
}


@dataclass(frozen=True, eq=False)
class GaloisField:
    """GF(2^m) as exponent/logarithm tables; elements are ints ``0..2^m-1`` (bit i = coefficient of alpha^i)."""

    m: int
    exp: np.ndarray  # (4q+1,) int64: alpha^(i mod q) for i < 2q, then 0 (so sums involving log 0 give 0)
    log: np.ndarray  # (q+1,) int64: log[a] for a != 0; log[0] = ZERO_LOG

    @property
    def order(self) -> int:
        """``q = 2^m - 1``, the multiplicative order of alpha."""
        return (1 << self.m) - 1

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Elementwise product (broadcasting)."""
        return self.exp[self.log[a] + self.log[b]]

    def div(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Elementwise ``a / b`` for ``b != 0``."""
        return self.exp[self.log[a] + (self.order - self.log[b]) % self.order]

    def pow_alpha(self, e: np.ndarray) -> np.ndarray:
        """``alpha^e`` for integer exponents of any sign."""
        return self.exp[np.mod(e, self.order)]


def _times_alpha(a: np.ndarray, m: int, poly: int) -> np.ndarray:
    a = a << 1
    return np.where(a >> m, a ^ poly, a)


@cache
def galois_field(m: int) -> GaloisField:
    """The field GF(2^m) with the primitive polynomial of :data:`PRIMITIVE_POLYS` (cached)."""
    if m not in PRIMITIVE_POLYS:
        raise ValueError(f"GF(2^m) is available for m in {min(PRIMITIVE_POLYS)}..{max(PRIMITIVE_POLYS)}, got {m}")
    poly, q = PRIMITIVE_POLYS[m], (1 << m) - 1
    exp = np.ones(1, dtype=np.int64)
    while len(exp) < q:  # exp[s:2s] = exp[0:s] * alpha^s, the product taken bit by bit of alpha^s
        s = len(exp)
        step, acc, cur = int(exp[-1]), np.zeros(s, dtype=np.int64), exp.copy()
        step = int(_times_alpha(np.array([step]), m, poly)[0])  # alpha^s
        for bit in range(m):
            if step >> bit & 1:
                acc ^= cur
            cur = _times_alpha(cur, m, poly)
        exp = np.concatenate([exp, acc])
    exp = exp[:q]
    if len(np.unique(exp)) != q or exp.min() < 1:
        raise RuntimeError(f"polynomial {poly:#x} is not primitive for m={m}")
    log = np.zeros(q + 1, dtype=np.int64)
    log[exp] = np.arange(q)
    log[0] = 2 * q
    table = np.zeros(4 * q + 1, dtype=np.int64)
    table[:q], table[q : 2 * q] = exp, exp
    return GaloisField(m, table, log)


def _poly_mul_gf2(a: int, b: int) -> int:
    """Carry-less product of two GF(2) polynomials stored as ints."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a, b = a << 1, b >> 1
    return out


def _minimal_poly(field: GaloisField, coset: list[int]) -> int:
    """``prod_{j in coset} (x + alpha^j)``; its coefficients lie in GF(2), returned as an int."""
    coefs = np.array([1], dtype=np.int64)  # ascending powers, GF(2^m) entries
    for j in coset:
        root = field.exp[j]
        shifted = np.concatenate([[0], coefs])  # x * c(x)
        scaled = np.concatenate([field.mul(coefs, np.full(len(coefs), root)), [0]])  # alpha^j * c(x)
        coefs = shifted ^ scaled
    if np.any(coefs > 1):
        raise RuntimeError("minimal polynomial has coefficients outside GF(2)")
    return int(sum(int(c) << i for i, c in enumerate(coefs)))


@lru_cache(maxsize=256)
def generator_poly(m: int, t: int) -> int:
    """Generator polynomial of the narrow-sense primitive binary BCH code of length ``2^m - 1``, distance ``2t+1``."""
    field, q = galois_field(m), (1 << m) - 1
    seen: set[int] = set()
    g = 1
    for i in range(1, 2 * t, 2):
        if i % q in seen:
            continue
        coset, j = [], i % q
        while j not in coset:
            coset.append(j)
            j = (2 * j) % q
        seen.update(coset)
        g = _poly_mul_gf2(g, _minimal_poly(field, coset))
    return g


@dataclass(frozen=True, eq=False)
class BCHCode:
    """A binary BCH code shortened to ``n_message`` bits, with everything SPEX needs precomputed.

    Attributes
    ----------
    parity : (n_message, n_parity) uint8
        ``parity[i, p]`` is parity bit ``p`` of the unit message ``e_i``; parity is linear, so the SPEX delay
        rows are ``parity.T`` and the parity bits of a support ``k`` are the XOR of its rows.
    syndrome_matrix : (n_parity, t * m) float32
        Maps received parity bits to the bits of the odd syndromes ``S_1, S_3, ..., S_(2t-1)`` (mod 2).
    """

    n_message: int
    t: int
    field: GaloisField
    generator: int
    parity: np.ndarray
    syndrome_matrix: np.ndarray

    @property
    def m(self) -> int:
        return self.field.m

    @property
    def n_parity(self) -> int:
        """``P = deg g``, the number of parity bits (= non-trivial delay rows)."""
        return self.generator.bit_length() - 1

    @property
    def length(self) -> int:
        """Length ``P + n`` of the shortened codeword."""
        return self.n_parity + self.n_message

    def parity_of(self, idx: np.ndarray) -> np.ndarray:
        """Parity bits ``(r, P)`` of supports given as a padded ``(r, w)`` index matrix (``-1`` = padding)."""
        idx = np.asarray(idx)
        ext = np.vstack([self.parity, np.zeros((1, self.n_parity), dtype=np.uint8)])
        gather = np.where(idx < 0, self.n_message, idx)
        if idx.shape[1] == 0:
            return np.zeros((len(idx), self.n_parity), dtype=np.uint8)
        return np.bitwise_xor.reduce(ext[gather], axis=1)


def _parity_rows(g: int, n_parity: int, n_rows: int) -> np.ndarray:
    """Rows ``x^(P+i) mod g`` for ``i < n_rows`` as ``(n_rows, P)`` bits, by doubling with companion powers."""
    low = np.array([(g >> p) & 1 for p in range(n_parity)], dtype=np.float32)  # x^P mod g
    comp = np.zeros((n_parity, n_parity), dtype=np.float32)  # row vector r -> r * x mod g
    comp[np.arange(n_parity - 1), np.arange(1, n_parity)] = 1
    comp[n_parity - 1] = low
    rows, power = low[None, :], comp  # power = multiplication by x^len(rows)
    while len(rows) < n_rows:
        rows = np.vstack([rows, (rows @ power) % 2])
        power = (power @ power) % 2
    return rows[:n_rows].astype(np.uint8)


@lru_cache(maxsize=256)
def code_dimensions(n_message: int, t: int) -> tuple[int, int]:
    """``(m, P)``: the smallest field degree whose BCH code holds ``n_message`` bits, and its parity count."""
    if int(n_message) < 1 or int(t) < 1:
        raise ValueError(f"need n_message >= 1 and t >= 1, got n_message={n_message}, t={t}")
    for m in range(3, max(PRIMITIVE_POLYS) + 1):
        if 2 * t + 1 <= (1 << m) - 1:
            n_parity = generator_poly(m, t).bit_length() - 1
            if n_parity + n_message <= (1 << m) - 1:
                return m, n_parity
    raise ValueError(f"no supported BCH code holds {n_message} message bits with t={t}")


@lru_cache(maxsize=32)
def bch_code(n_message: int, t: int) -> BCHCode:
    """The shortest primitive binary BCH code correcting ``t`` errors, shortened to ``n_message`` bits (cached)."""
    m, n_parity = code_dimensions(int(n_message), int(t))
    field, g = galois_field(m), generator_poly(m, int(t))
    parity = _parity_rows(g, n_parity, int(n_message))
    odd = np.arange(1, 2 * int(t), 2)
    powers = field.pow_alpha(odd[None, :] * np.arange(n_parity)[:, None])  # (P, t): alpha^(j p)
    bits = (powers[:, :, None] >> np.arange(m)) & 1  # (P, t, m)
    synd = bits.reshape(n_parity, -1).astype(np.float32)
    return BCHCode(int(n_message), int(t), field, g, parity, synd)
