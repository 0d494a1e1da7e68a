"""BCH construction and batched decoding used by SPEX, checked against galois and by brute force."""

import itertools

import galois
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


@pytest.mark.parametrize("m", [8, 14])
def test_field_tables_match_galois(m):
    field = galois_field(m)
    gf = galois.GF(2**m, irreducible_poly=galois.Poly.Int(PRIMITIVE_POLYS[m]))
    q = (1 << m) - 1
    alpha = gf.primitive_element
    assert int(alpha) == 2
    e = np.arange(0, q, max(1, q // 500))
    assert np.array_equal(field.exp[e], np.array(alpha**e, dtype=np.int64))
    a, b = np.array([1, 2, 3, q, q - 1]), np.array([q, 5, 7, 2, 1])
    assert np.array_equal(field.mul(a, b), np.array(gf(a) * gf(b), dtype=np.int64))
    assert np.array_equal(field.mul(np.array([0, 4]), np.array([q, 0])), [0, 0])


@pytest.mark.parametrize(("n", "t"), [(64, 5)])
def test_code_matches_galois_bch(n, t):
    code = bch_code(n, t)
    gf = galois.GF(2**code.m, irreducible_poly=galois.Poly.Int(PRIMITIVE_POLYS[code.m]))
    ref = galois.BCH((1 << code.m) - 1, d=2 * t + 1, extension_field=gf)
    assert int(ref.generator_poly) == generator_poly(code.m, t) == code.generator
    assert ref.n - ref.k == code.n_parity
    rng = np.random.default_rng(0)
    msgs = rng.integers(0, 2, size=(6, n))
    # galois lists coefficients from the highest power down; ours put message bit i at x^(P+i), parity p at x^p
    words = np.asarray(ref.encode(galois.GF2(msgs[:, ::-1].copy())))
    parity_ref = words[:, n:][:, ::-1]
    assert np.array_equal(msgs @ code.parity % 2, parity_ref)


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
