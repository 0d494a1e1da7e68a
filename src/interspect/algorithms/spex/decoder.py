"""Batched BCH decoding: syndromes as a GF(2) matrix product, Berlekamp–Massey and Chien search vectorised
over all received words at once, and Chase soft decoding as a batch of flipped hard decisions.

SPEX only ever receives the parity part of a word (the message part is implicitly all zero), so the error
positions that land in the message part are exactly the support of the Fourier coefficient being decoded,
and those in the parity part are sign errors caused by noise or aliasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bch import BCHCode

_CHIEN_CHUNK = 1 << 22  # received words x codeword positions evaluated per Chien chunk


@dataclass
class Decoded:
    """Outcome of decoding ``B`` received parity words.

    ``ok[r]`` says decoding succeeded (at most ``t`` errors found, all roots inside the shortened code);
    ``support[r]`` lists the message-part error positions, i.e. feature indices (``-1`` padding, ascending);
    ``n_parity_errors[r]`` counts corrected parity bits.
    """

    ok: np.ndarray
    support: np.ndarray
    n_parity_errors: np.ndarray


def syndromes(code: BCHCode, bits: np.ndarray) -> np.ndarray:
    """``(B, 2t)`` syndromes ``S_1..S_2t`` of received parity words ``bits`` ``(B, P)`` (message part zero)."""
    t, m, field = code.t, code.m, code.field
    odd_bits = (np.asarray(bits, dtype=np.float32) @ code.syndrome_matrix) % 2
    odd = (odd_bits.reshape(len(bits), t, m).astype(np.int64) << np.arange(m)).sum(axis=2)
    s = np.zeros((len(bits), 2 * t), dtype=np.int64)
    s[:, 0::2] = odd  # S_j sits at column j - 1
    for i in range(1, t + 1):  # binary code: S_2i = S_i^2
        s[:, 2 * i - 1] = field.mul(s[:, i - 1], s[:, i - 1])
    return s


def berlekamp_massey(code: BCHCode, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error-locator polynomials ``(B, 2t+2)`` (ascending powers) and their lengths ``L`` for syndromes ``s``.

    The textbook iteration, run on all rows at once; ``x^m B(x)`` is kept pre-shifted so every row does the
    same array operations whatever its state.
    """
    field, two_t = code.field, s.shape[1]
    rows, width = s.shape[0], two_t + 2
    lam = np.zeros((rows, width), dtype=np.int64)
    lam[:, 0] = 1
    shifted = np.zeros_like(lam)  # x^m B(x)
    shifted[:, 1] = 1
    length = np.zeros(rows, dtype=np.int64)
    prev = np.ones(rows, dtype=np.int64)  # last non-zero discrepancy b
    for r in range(two_t):
        d = s[:, r].copy()
        for i in range(1, r + 1):
            d ^= field.mul(lam[:, i], s[:, r - i])
        coef = field.div(d, prev)
        new_lam = lam ^ field.mul(coef[:, None], shifted)
        change = (d != 0) & (2 * length <= r)
        base = np.where(change[:, None], lam, shifted)
        shifted = np.zeros_like(lam)
        shifted[:, 1:] = base[:, :-1]
        prev = np.where(change, d, prev)
        length = np.where(change, r + 1 - length, length)
        lam = new_lam
    return lam, length


def chien(code: BCHCode, lam: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Roots of the error locators among the ``P + n`` codeword positions.

    Returns ``positions`` ``(B, t)`` (ascending, ``-1`` padding) and ``ok`` (exactly ``L`` roots found).
    """
    field, t, n_pos = code.field, code.t, code.length
    q = field.order
    rows = len(lam)
    positions = np.full((rows, t), -1, dtype=np.int64)
    n_roots = np.zeros(rows, dtype=np.int64)
    if rows == 0:
        return positions, n_roots == length
    # int32 throughout: the gathers below are memory-bound, and every log or field element is below 2^21
    neg = ((-np.arange(1, t + 1)[:, None] * np.arange(n_pos)[None, :]) % q).astype(np.int32)  # log alpha^(-j pos)
    exp = field.exp.astype(np.int32)
    loglam = field.log[lam[:, 1 : t + 1]].astype(np.int32)  # zero coefficients map past the table (value 0)
    step = max(1, _CHIEN_CHUNK // n_pos)
    for lo in range(0, rows, step):
        hi = min(lo + step, rows)
        acc = np.ones((hi - lo, n_pos), dtype=np.int32)
        for j in np.flatnonzero(np.any(lam[lo:hi, 1 : t + 1], axis=0)):  # all-zero coefficients add nothing
            acc ^= exp[loglam[lo:hi, j, None] + neg[j]]
        r, c = np.nonzero(acc == 0)  # row-major: the roots of each row come in ascending position order
        n_roots[lo:hi] = np.bincount(r, minlength=hi - lo)
        rank = np.arange(len(r)) - np.searchsorted(r, r)
        keep = rank < t
        positions[lo + r[keep], rank[keep]] = c[keep]
    return positions, n_roots == length


def decode(code: BCHCode, bits: np.ndarray) -> Decoded:
    """Hard-decision decoding of ``(B, P)`` received parity words (message part taken as all zero)."""
    bits = np.asarray(bits, dtype=np.uint8).reshape(-1, code.n_parity)
    rows, t = len(bits), code.t
    lam, length = berlekamp_massey(code, syndromes(code, bits))
    valid = (length <= t) & ~np.any(lam[:, t + 1 :], axis=1)
    ok = np.zeros(rows, dtype=bool)
    positions = np.full((rows, t), -1, dtype=np.int64)
    todo = np.flatnonzero(valid)
    positions[todo], ok[todo] = chien(code, lam[todo], length[todo])
    positions[~ok] = -1
    in_message = positions >= code.n_parity
    support = np.where(in_message, positions - code.n_parity, -1)
    order = np.argsort(np.where(support < 0, np.iinfo(np.int64).max, support), axis=1)
    support = np.take_along_axis(support, order, axis=1)
    n_parity_errors = ((positions >= 0) & ~in_message).sum(axis=1)
    return Decoded(ok, support, n_parity_errors)


def hard_decisions(values: np.ndarray) -> np.ndarray:
    """Parity bits ``(B, P)`` read off observations ``(B, P+1)`` whose column 0 has parity 0 by construction."""
    neg = values < 0
    return (neg[:, 1:] ^ neg[:, :1]).astype(np.uint8)


def chase_words(values: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Chase-II test words: hard decisions with every subset of the ``depth`` least reliable positions flipped.

    ``values`` ``(B, P+1)`` are real observations of ``±F`` (column 0 is the reference with parity 0, so
    flipping it flips every parity bit). Returns ``words`` ``(B * 2^depth, P)`` and ``owner`` (row of
    ``values`` each word came from); trial 0 of every row is the plain hard decision.
    """
    rows, width = values.shape
    depth = int(min(max(depth, 0), width))
    weak = np.argsort(np.abs(values), axis=1, kind="stable")[:, :depth]  # (B, L)
    trials = np.arange(1 << depth)
    patterns = ((trials[:, None] >> np.arange(depth)) & 1).astype(np.uint8)  # (2^L, L)
    flips = np.zeros((rows, 1 << depth, width), dtype=np.uint8)
    flips[np.arange(rows)[:, None, None], trials[None, :, None], weak[:, None, :]] = patterns[None]
    words = hard_decisions(values)[:, None, :] ^ flips[:, :, 1:] ^ flips[:, :, :1]
    owner = np.repeat(np.arange(rows), 1 << depth)
    return words.reshape(-1, width - 1), owner
