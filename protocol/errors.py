"""The protocol package's one error type.

Every failure in protocol/ (wire decoding, signatures, chain calls) raises
`ProtocolError` with a machine-readable `reason` (a member of one of the
package's reason enums) and a human-readable `detail`.
"""

from __future__ import annotations

import enum


class ProtocolError(Exception):
    """A protocol rule was broken; `reason` says which, `detail` says how."""

    def __init__(self, reason: enum.Enum, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else str(reason.value))
