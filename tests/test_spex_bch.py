"""BCH construction and batched decoding used by SPEX, checked against reference arithmetic and brute force."""

import itertools

import numpy as np
import pytest

from interspect.algorithms.spex.bch import PRIMITIVE_POLYS, bch_code, code_dimensions, galois_field, generator_poly
from interspect.algorithms.spex.decoder import chase_words, decode, hard_decisions


def _all_error_patterns(length: int, t: int) -> np.ndarray:
    pats = [()] + [s for w in range(1, t + 1) for s in itertools.combinations(range(length), w)]
    out = np.zeros((len(pats), length), dtype=np.uint8)
    for row, s in enumerate(pats):
        out[row, list(s)] = 1
    return out


def _clmul_mod(a: int, b: int, poly: int, m: int) -> int:
    """Reference GF(2^m) product: carry-less multiply, then reduce by the primitive polynomial."""
    out = 0
    for i in range(b.bit_length()):
        if b >> i & 1:
            out ^= a << i
    for i in range(out.bit_length() - 1, m - 1, -1):
        if out >> i & 1:
            out ^= poly << (i - m)
    return out


def _poly_mod(a: int, g: int) -> int:
    """Reference remainder of GF(2) polynomials stored as ints (long division)."""
    dg = g.bit_length() - 1
    while a.bit_length() - 1 >= dg:
        a ^= g << (a.bit_length() - 1 - dg)
    return a


@pytest.mark.parametrize("m", [4, 8, 13])
def test_field_tables_match_reference_arithmetic(m):
    field, poly, q = galois_field(m), PRIMITIVE_POLYS[m], (1 << m) - 1
    power = 1
    for i in range(q):  # alpha^i by repeated multiplication by x
        assert field.exp[i] == power
        power = _clmul_mod(power, 2, poly, m)
    assert power == 1  # alpha has order exactly q (the table check above rules out a shorter cycle)
    rng = np.random.default_rng(m)
    a, b = rng.integers(0, q + 1, size=200), rng.integers(0, q + 1, size=200)
    want = [_clmul_mod(int(x), int(y), poly, m) for x, y in zip(a, b, strict=True)]
    assert np.array_equal(field.mul(a, b), want)
    nz = b != 0
    assert np.array_equal(field.mul(field.div(a[nz], b[nz]), b[nz]), a[nz])


def test_generators_match_textbook_codes():
    # primitive BCH codes of length 15 over x^4 + x + 1 (Lin & Costello, Error Control Coding, ch. 6)
    assert generator_poly(4, 1) == 0b10011  # Hamming (15, 11)
    assert generator_poly(4, 2) == 0b111010001  # (15, 7): 1 + x^4 + x^6 + x^7 + x^8
    assert generator_poly(4, 3) == 0b10100110111  # (15, 5): 1 + x + x^2 + x^4 + x^5 + x^8 + x^10


@pytest.mark.parametrize(("n", "t"), [(20, 2), (64, 5), (1000, 4)])
def test_parity_is_the_systematic_bch_remainder(n, t):
    code = bch_code(n, t)
    rng = np.random.default_rng(n)
    for msg in rng.integers(0, 2, size=(5, n)):
        m_poly = sum(1 << (code.n_parity + int(i)) for i in np.flatnonzero(msg))  # message bit i at x^(P+i)
        rem = _poly_mod(m_poly, code.generator)
        assert np.array_equal(msg @ code.parity % 2, [(rem >> p) & 1 for p in range(code.n_parity)])
        assert _poly_mod(m_poly ^ rem, code.generator) == 0  # message + parity is a codeword


@pytest.mark.parametrize(("m", "t"), [(4, 2), (8, 4), (10, 5), (14, 6)])
def test_generator_vanishes_on_designed_roots(m, t):
    field, g = galois_field(m), generator_poly(m, t)
    coefs = np.array([(g >> i) & 1 for i in range(g.bit_length())])
    powers = np.arange(len(coefs))
    for j in range(1, 2 * t + 1):
        terms = field.pow_alpha(j * powers)[coefs == 1]
        assert np.bitwise_xor.reduce(terms) == 0
    assert g.bit_length() - 1 <= m * t


def test_code_dimensions_and_speed():
    assert code_dimensions(1024, 5) == (11, 55)  # 3 * 56 * 2^8 = 43,008 queries, as in the SPEX paper
    assert code_dimensions(64, 5) == (7, 35)
    m, p = code_dimensions(10_000, 5)
    assert (1 << m) - 1 >= 10_000 + p
    code = bch_code(10_000, 5)
    assert code.parity.shape == (10_000, p)
    # shortened-code parity columns are distinct and non-zero (every single-feature message is decodable)
    assert len(np.unique(np.packbits(code.parity, axis=1), axis=0)) == 10_000


@pytest.mark.parametrize(("n", "t"), [(16, 3), (40, 2)])
def test_every_error_pattern_up_to_t_decodes(n, t):
    code = bch_code(n, t)
    errors = _all_error_patterns(code.length, t)
    parity_err, message_err = errors[:, : code.n_parity], errors[:, code.n_parity :]
    received = (message_err.astype(np.int64) @ code.parity % 2).astype(np.uint8) ^ parity_err
    out = decode(code, received)
    assert out.ok.all()
    expected = np.full((len(errors), t), -1)
    rows, cols = np.nonzero(message_err)
    rank = np.cumsum(message_err, axis=1)[rows, cols] - 1
    expected[rows, rank] = cols
    assert np.array_equal(out.support, expected)
    assert np.array_equal(out.n_parity_errors, parity_err.sum(axis=1))


def test_beyond_t_errors_are_flagged_or_miscorrected_never_crash():
    code = bch_code(16, 2)
    rng = np.random.default_rng(1)
    received = rng.integers(0, 2, size=(500, code.n_parity)).astype(np.uint8)
    out = decode(code, received)
    # whatever was accepted must be a codeword within distance t of the received word
    ok = np.flatnonzero(out.ok)
    msg = np.zeros((len(ok), 16), dtype=np.int64)
    rows, cols = np.nonzero(out.support[ok] >= 0)
    msg[rows, out.support[ok][rows, cols]] = 1
    dist = (msg @ code.parity % 2 != received[ok]).sum(axis=1) + msg.sum(axis=1)
    assert np.all(dist <= 2)
    assert np.array_equal(dist - msg.sum(axis=1), out.n_parity_errors[ok])
    assert (~out.ok).any()


def test_chase_recovers_what_hard_decoding_misses():
    code = bch_code(30, 3)
    support = np.array([[4, 17, 25]])  # weight 3 = t: hard decoding tolerates no sign error at all
    signs = 1.0 - 2.0 * np.concatenate([[0], code.parity_of(support)[0]])
    values = np.tile(2.5 * signs, (3, 1))
    values[0, [5, 9]] *= -0.1  # two weak, wrong sign bits
    values[1, [0]] *= -0.2  # the reference itself is wrong: every hard parity bit flips
    values[2, [3, 11, 16]] *= -0.05
    hard = decode(code, hard_decisions(values))
    assert not np.any(hard.ok & (hard.support == support).all(axis=1))
    words, owner = chase_words(values, depth=4)
    assert words.shape == (3 * 16, code.n_parity) and np.array_equal(owner, np.repeat(np.arange(3), 16))
    soft = decode(code, words)
    hits = soft.ok & (soft.support == support).all(axis=1)
    assert set(owner[hits]) == {0, 1, 2}
