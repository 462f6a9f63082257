"""argparse `type=` validators shared by the subcommands: a number, parsed, then range-checked,
so a bad flag gets argparse's one-line usage error with the reason."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def number_in(kind: type, low: float, high: float | None = None, *, low_open: bool = False, note: str = ""):
    """A validator for `kind` (int or float) values in [low, high], or (low, high] with `low_open`."""
    noun = "an integer" if kind is int else "a number"
    if high is not None:
        rule = f"must be between {low:g} and {high:g}" + (f" ({note})" if note else "")
    else:
        rule = f"must be > {low:g}" if low_open else f"must be >= {low:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(rule)
        return value

    return parse


positive_int: Callable[[str], int] = number_in(int, 1)
positive_float: Callable[[str], float] = number_in(float, 0, low_open=True)
