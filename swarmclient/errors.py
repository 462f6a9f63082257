"""The swarmclient package's one error type."""

from __future__ import annotations


class SwarmError(Exception):
    """An operator-facing failure: `reason` is a short code, `detail` a one-line explanation."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def leaf_error(exc: BaseException, kinds: type | tuple[type, ...]) -> BaseException | None:
    """The first exception of `kinds` in `exc`, looking inside (nested) exception groups: a
    trio nursery wraps what its tasks raise, and the operator should read the failure's one
    line, not a group's traceback."""
    if isinstance(exc, kinds):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = leaf_error(inner, kinds)
            if found is not None:
                return found
    return None
