"""The repops package's one error type."""

from __future__ import annotations


class RepOpsError(Exception):
    """A RepOps rule was broken (bad shape, dtype, device, or a trace/checkpoint mismatch)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)
