"""The verde package's one error type."""

from __future__ import annotations


class VerdeError(Exception):
    """A dispute-game rule was broken or a game could not proceed."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)
