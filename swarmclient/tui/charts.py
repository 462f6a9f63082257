"""Unicode block charts for a terminal: a one-line sparkline and a multi-line column chart."""

from __future__ import annotations

from collections.abc import Sequence

# Eighth blocks: index k draws a column k/8 of a cell high.
BLOCKS = " ▁▂▃▄▅▆▇█"


def _resample(values: Sequence[float], width: int) -> list[float]:
    """The last `width` values; when there are more, each column is the mean of a bucket
    so the whole history stays visible (oldest left)."""
    if len(values) <= width:
        return list(values)
    out = []
    for i in range(width):
        lo = i * len(values) // width
        hi = max(lo + 1, (i + 1) * len(values) // width)
        bucket = values[lo:hi]
        out.append(sum(bucket) / len(bucket))
    return out


def _scale(values: Sequence[float], lo: float | None, hi: float | None) -> tuple[float, float]:
    low = min(values) if lo is None else lo
    high = max(values) if hi is None else hi
    if high <= low:
        high = low + 1.0  # a flat series draws as a low line, not a division by zero
    return low, high


def sparkline(values: Sequence[float], width: int, *, lo: float | None = None, hi: float | None = None) -> str:
    if width <= 0 or not values:
        return ""
    cols = _resample(values, width)
    low, high = _scale(cols, lo, hi)
    chars = []
    for v in cols:
        frac = min(1.0, max(0.0, (v - low) / (high - low)))
        chars.append(BLOCKS[1 + round(frac * 7)])
    return "".join(chars)


def column_chart(
    values: Sequence[float], width: int, height: int, *, lo: float | None = None, hi: float | None = None
) -> list[str]:
    """`height` lines of `width` columns, top line first; each value is a column whose
    height is drawn in eighths of a cell."""
    if width <= 0 or height <= 0:
        return []
    if not values:
        return [" " * width for _ in range(height)]
    cols = _resample(values, width)
    low, high = _scale(cols, lo, hi)
    eighths = [1 + round(min(1.0, max(0.0, (v - low) / (high - low))) * (height * 8 - 1)) for v in cols]
    lines = []
    for row in range(height - 1, -1, -1):  # top row first
        base = row * 8
        line = "".join(BLOCKS[min(8, max(0, e - base))] for e in eighths)
        lines.append(line.ljust(width))
    return lines
