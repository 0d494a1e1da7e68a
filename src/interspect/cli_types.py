"""Value types of the command line's options: argparse converters with one-line messages."""

from __future__ import annotations

import argparse


def int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def positive_float(text: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def labels_list(text: str) -> list[str]:
    """Two or more comma-separated labels."""
    labels = [label.strip() for label in text.split(",")]
    if len(labels) < 2 or not all(labels):
        raise argparse.ArgumentTypeError(f"expected at least two comma-separated labels, got {text!r}")
    return labels


def holdout_count(text: str) -> int | str:
    """``auto`` or a number of held-out masks."""
    return text if text == "auto" else non_negative_int(text)
