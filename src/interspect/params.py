"""Declarative checks of public parameters: one table per entry point, one message format.

Each rule names what is allowed; :func:`validate` returns the normalised values or raises a ``ValueError``
(``TypeError`` for a wrong type) that names the parameter, the value given and what is allowed. Integers must
be integers (``4.5`` and ``True`` are refused, ``4.0`` and NumPy integers accepted).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Rule:
    """A check of one parameter; ``__call__`` returns the normalised value."""

    def __call__(self, name: str, value: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Rule):
    minimum: int | None = None
    maximum: int | None = None
    optional: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        allowed = "an integer" + (f" >= {self.minimum}" if self.minimum is not None else "")
        allowed += f" and <= {self.maximum}" if self.maximum is not None else ""
        allowed += " or None" if self.optional else ""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be {allowed}; got {_show(value)}")
        if isinstance(value, numbers.Integral):
            out = int(value)
        elif float(value).is_integer():
            out = int(float(value))
        else:
            raise ValueError(f"{name} must be {allowed}; got {_show(value)}")
        if (self.minimum is not None and out < self.minimum) or (self.maximum is not None and out > self.maximum):
            raise ValueError(f"{name} must be {allowed}; got {_show(value)}")
        return out


@dataclass(frozen=True)
class Real(Rule):
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        bounds = f" in [{self.minimum}, {self.maximum}]" if self.minimum is not None else ""
        allowed = f"a finite number{bounds}" + (" or None" if self.optional else "")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be {allowed}; got {_show(value)}")
        out = float(value)
        low_bad = self.minimum is not None and out < self.minimum
        high_bad = self.maximum is not None and out > self.maximum
        if out != out or out in (float("inf"), float("-inf")) or low_bad or high_bad:
            raise ValueError(f"{name} must be {allowed}; got {_show(value)}")
        return out


@dataclass(frozen=True)
class Choice(Rule):
    choices: tuple[str, ...]

    def __call__(self, name: str, value: Any) -> Any:
        if not isinstance(value, str) or value not in self.choices:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, self.choices))}; got {_show(value)}")
        return value


@dataclass(frozen=True)
class Flag(Rule):
    optional: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False{' or None' if self.optional else ''}; got {_show(value)}")
        return value


@dataclass(frozen=True)
class IntOr(Rule):
    """An integer under ``rule`` or one of a few literal strings (e.g. ``holdout="auto"``)."""

    rule: Int
    literals: tuple[str, ...]

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            if value in self.literals:
                return value
            choices = ", ".join(map(repr, self.literals))
            raise ValueError(f"{name} must be an integer or one of {choices}; got {value!r}")
        return self.rule(name, value)


@dataclass(frozen=True)
class Seed(Rule):
    """``None``, a non-negative integer or a ``numpy.random.Generator`` (scikit-learn's ``random_state``)."""

    def __call__(self, name: str, value: Any) -> Any:
        import numpy as np

        if value is None or isinstance(value, np.random.Generator | np.random.SeedSequence):
            return value
        return Int(minimum=0)(name, value)


@dataclass(frozen=True)
class Names(Rule):
    """``None`` or a sequence of strings (one per feature; the length is checked where ``n`` is known)."""

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
            raise TypeError(f"{name} must be a list of strings or None; got {_show(value)}")
        return [str(v) for v in value]


def validate(rules: Mapping[str, Rule], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every value checked by its rule; the normalised values, in the rules' order."""
    return {name: rule(name, values[name]) for name, rule in rules.items()}
