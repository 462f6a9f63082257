"""Reading a snapshot that another process wrote: every accessor returns None (never raises)
when a field is missing or has the wrong type, and every formatter turns None into a dash.

Snapshots come over a socket from a peer that may be older, newer or buggy, so the dashboard
trusts no field's presence or type.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

DASH = "-"


def dig(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]... or None when any step is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def as_map(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def as_list(value: Any) -> Sequence[Any] | None:
    return value if isinstance(value, (list, tuple)) else None


def as_num(value: Any) -> float | None:
    """A finite number (bools are not numbers here); numeric strings are accepted because
    token amounts travel as decimal strings to survive JSON's float precision."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    number = as_num(value)
    return int(number) if number is not None and number.is_integer() else None


def as_str(value: Any, limit: int = 200) -> str | None:
    """A printable one-line string, cut to `limit` characters (a peer can send anything)."""
    if not isinstance(value, str):
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in value[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sum_counts(value: Any) -> int | None:
    """Sum of a {name: count} mapping's integer values (garbage entries are skipped)."""
    counts = as_map(value)
    if counts is None:
        return None
    return sum(n for n in (as_int(v) for v in counts.values()) if n is not None and n >= 0)


def fmt_int(value: Any) -> str:
    number = as_int(value)
    return DASH if number is None else f"{number:,}"


def fmt_num(value: Any, digits: int = 2) -> str:
    number = as_num(value)
    return DASH if number is None else f"{number:,.{digits}f}"


def fmt_rate(value: Any) -> str:
    number = as_num(value)
    if number is None:
        return DASH
    return f"{number:.1f}/s" if number < 100 else f"{number:,.0f}/s"


def fmt_ms(value: Any) -> str:
    number = as_num(value)
    if number is None:
        return DASH
    return f"{number:.0f} ms" if number < 10_000 else f"{number / 1000:.1f} s"


def fmt_bytes(value: Any) -> str:
    number = as_num(value)
    if number is None or number < 0:
        return DASH
    for unit in ("B", "KB", "MB", "GB"):
        if number < 1024 or unit == "GB":
            return f"{number:.0f} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1024
    return DASH  # unreachable: the loop returns at GB


def fmt_duration(seconds: Any) -> str:
    """4s, 1m05s, 2h03m, 3d04h."""
    number = as_num(seconds)
    if number is None or number < 0:
        return DASH
    s = int(number)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def fmt_clock(epoch_s: float) -> str:
    """HH:MM:SS in UTC, the time zone of every log line the peer prints."""
    return time.strftime("%H:%M:%S", time.gmtime(epoch_s))


def fmt_ago(ms: Any, now_s: float) -> str:
    stamp = as_num(ms)
    if stamp is None:
        return DASH
    return fmt_duration(max(0.0, now_s - stamp / 1000)) + " ago"


def fmt_tokens(value: Any, decimals: Any = 18, symbol: str = "AI") -> str:
    """A token amount in base units (an int or decimal string) as '1,234.50 AI'."""
    amount = as_int(value)
    places = as_int(decimals)
    if amount is None or places is None or not 0 <= places <= 36:
        return DASH
    whole, frac = divmod(abs(amount), 10**places)
    cents = frac * 100 // 10**places if places else 0
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole:,}.{cents:02d} {symbol}"


def short_id(peer_id: Any, width: int = 14) -> str:
    """A peer id cut to `width` characters keeping its end: libp2p Ed25519 ids all begin
    with '12D3KooW', so the tail is the part that tells peers apart."""
    text = as_str(peer_id)
    if text is None:
        return "?"
    if len(text) <= width:
        return text
    if width < 6:
        return text[-width:]
    return "…" + text[-(width - 1):]


def short_addr(address: Any) -> str:
    """An Ethereum address as 0x1234…abcd."""
    text = as_str(address)
    if text is None:
        return DASH
    return text if len(text) <= 14 else f"{text[:6]}…{text[-4:]}"
