"""The swarmclient package's one error type."""

from __future__ import annotations


class SwarmError(Exception):
    """An operator-facing failure: `reason` is a short code, `detail` a one-line explanation."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)
