"""What a report says in words: how much to trust the explanation, and how to read its numbers.

Shared by the HTML page, the terminal summary and the CLI's warnings on stderr, so every output gives the
same verdict on the same explanation.
"""

from __future__ import annotations

from typing import Any

#: index name -> (first-order attribution, interaction index that generalises it: SII's singletons are the
#: Shapley values and BII's the Banzhaf values, so the two lists of a report agree on single units)
INDEX_CHOICES: dict[str, tuple[str, str]] = {
    "shapley": ("shapley", "sii"),
    "banzhaf": ("banzhaf", "bii"),
    "mobius": ("shapley", "mobius"),
    "fourier": ("shapley", "fourier"),
    "sii": ("shapley", "sii"),
    "k-sii": ("shapley", "k-sii"),
    "stii": ("shapley", "stii"),
    "fsii": ("shapley", "fsii"),
    "bii": ("banzhaf", "bii"),
    "fbii": ("banzhaf", "fbii"),
}
#: terms smaller than this share of the largest value shown are noise-level and left out of "strongest" lists
NEGLIGIBLE_SHARE = 0.05

ATTRIBUTION_WORDS = {
    "shapley": "A unit's Shapley value is its fair share of the output: its average effect when it is added to "
    "the input, over every order in which the units could be added. The values of all units add up to the change "
    "from everything removed to everything kept. Red raises the explained output, blue lowers it.",
    "banzhaf": "A unit's Banzhaf value is its average effect on the output when it is added to a random half of "
    "the other units. Red raises the explained output, blue lowers it.",
}
INTERACTION_WORDS = (
    "An interaction is what units do together beyond their separate effects. A positive interaction is a "
    "synergy: together the units raise the output more than the sum of their separate effects (for example two "
    "facts that are both needed for the answer). A negative interaction is a redundancy: together they do less "
    "than apart (for example two sentences that say the same thing, where either one is enough)."
)
INDEX_WORDS = {
    "mobius": "Values are Möbius coefficients (Harsanyi dividends): the part of the output that exactly this set "
    "of units produces together and no smaller set explains.",
    "fourier": "Values are Fourier (Walsh–Hadamard) coefficients of the surrogate, in the ±1 encoding.",
    "sii": "Values are Shapley interaction indices (SII): the pair's joint effect averaged like a Shapley value.",
    "k-sii": "Values are k-Shapley interaction indices (k-SII): Shapley-style interactions that add up to the output.",
    "stii": "Values are Shapley–Taylor interaction indices (STII).",
    "fsii": "Values are Faithful Shapley interaction indices (FSII): the best additive-plus-interactions fit of "
    "the output, Shapley-weighted.",
    "bii": "Values are Banzhaf interaction indices (BII): the pair's joint effect averaged like a Banzhaf value.",
    "fbii": "Values are Faithful Banzhaf interaction indices (FBII).",
}


def r2_words() -> str:
    """What R² says about trust, with the thresholds the warnings use."""
    from ..explanation.base import RELIABLE_R2, WARN_R2

    return (
        f"R² (faithfulness) is the share of the model's variation over masked inputs that the surrogate "
        f"reproduces, measured on masks the fit did not see (or on every mask for exact runs). Near 1 the values "
        f"above describe the model well; below {WARN_R2} read them with care; below {RELIABLE_R2} they are "
        f"unreliable and a larger budget is needed."
    )


QARY_WORDS = (
    "Each feature takes one of q values. A feature's importance is the share of the output's variance (over "
    "uniformly random inputs) in which it takes part; a pair's importance is the share the two features "
    "produce only jointly (their interaction)."
)


def choose_index(index: str) -> tuple[str, str]:
    """``(attribution, interaction index)`` for a user's ``--index`` choice, or a ValueError naming the choices."""
    from ..indices import canonical_index

    key = str(index).strip().lower()
    if key not in INDEX_CHOICES:
        try:
            key = canonical_index(key)
        except ValueError:
            raise ValueError(f"unknown index {index!r}; choose one of {', '.join(INDEX_CHOICES)}") from None
    return INDEX_CHOICES[key]


def relation(value: float, order: int) -> str:
    """``synergy`` / ``redundancy`` for interactions of two or more units, ``raises`` / ``lowers`` for one."""
    if order < 2:
        return "raises" if value >= 0 else "lowers"
    return "synergy" if value > 0 else "redundancy"


def crosses_zero(term: Any) -> bool:
    """Whether a term's interval (``low``/``high``, when known) contains 0: its sign is not established."""
    low, high = getattr(term, "low", None), getattr(term, "high", None)
    return low is not None and high is not None and low <= 0 <= high


def trust_warnings(explanation: Any) -> list[str]:
    """Every warning the explanation carries, plus the faithfulness and reliability verdicts (no duplicates)."""
    from ..explanation.base import RELIABLE_R2, faithfulness_warnings

    messages = [str(m) for m in getattr(explanation, "warnings", [])]
    for message in faithfulness_warnings(explanation.faithfulness, explanation.n_queries):
        if not any(message.split(";")[0] in m for m in messages):
            messages.append(message)
    if not explanation.reliable:
        r2 = explanation.faithfulness.r2
        why = "its faithfulness is unknown" if r2 is None else f"R² = {r2:.2f} is below {RELIABLE_R2}"
        messages.append(f"this explanation is unreliable ({why}): do not read its rankings as the model's reasons")
    return messages
