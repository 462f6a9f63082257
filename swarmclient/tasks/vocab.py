"""The fixed character vocabulary of the built-in tasks and of the tiny policy's tokenizer.

Every prompt and answer of a character-level task is made of these characters only, and every
checkpoint of the tiny policy has one embedding row per id below, so the table is frozen:
changing it is a new VOCAB_VERSION (and new checkpoints), never an edit in place.

Id 0 is PAD, which is no character (it fills the tail of short sequences). Ids 1.. are the
characters of CHARSET in order. An answer ends at ANSWER_END ("\\n"), which the policy learns
to emit like any other character.
"""

from __future__ import annotations

from collections.abc import Iterable

from swarmclient.errors import SwarmError

VOCAB_VERSION = 1

# Newline first (the answer terminator), then space, digits, lower-case letters and the few
# punctuation marks the task formats use. Upper case is left out: no task needs it, and a
# smaller softmax trains faster on a CPU.
CHARSET = "\n 0123456789abcdefghijklmnopqrstuvwxyz+-*=,.:?"
PAD_ID = 0
ANSWER_END = "\n"
VOCAB_SIZE = len(CHARSET) + 1

# Every built-in task keeps prompt + answer + ANSWER_END within this many characters at the
# largest parameters it accepts, so a policy with this context never truncates a problem.
CONTEXT_CHARS = 64

_CHAR_TO_ID = {ch: i + 1 for i, ch in enumerate(CHARSET)}
_ID_TO_CHAR = {i + 1: ch for i, ch in enumerate(CHARSET)}


def in_vocab(text: str) -> bool:
    """True when every character of `text` is in CHARSET."""
    return all(ch in _CHAR_TO_ID for ch in text)


def check_in_vocab(text: str, what: str = "text") -> None:
    """Raise SwarmError('out-of-vocab') naming the first character outside CHARSET."""
    for pos, ch in enumerate(text):
        if ch not in _CHAR_TO_ID:
            raise SwarmError("out-of-vocab", f"{what} has {ch!r} at position {pos}, outside the task charset")


def encode(text: str) -> list[int]:
    """Character ids of `text` (1..VOCAB_SIZE-1); SwarmError('out-of-vocab') on a foreign character."""
    if not isinstance(text, str):
        raise SwarmError("out-of-vocab", f"expected str, got {type(text).__name__}")
    check_in_vocab(text)
    return [_CHAR_TO_ID[ch] for ch in text]


def decode(ids: Iterable[int], *, skip_pad: bool = True) -> str:
    """The text of `ids`. PAD is dropped (or refused with skip_pad=False); unknown ids are refused."""
    chars = []
    for i in ids:
        # numpy and torch integer scalars are fine; bools and floats are not ids.
        if isinstance(i, bool) or not hasattr(i, "__index__"):
            raise SwarmError("out-of-vocab", f"token id {i!r} is not an integer")
        i = i.__index__()
        if i == PAD_ID:
            if skip_pad:
                continue
            raise SwarmError("out-of-vocab", "PAD inside a sequence")
        ch = _ID_TO_CHAR.get(i)
        if ch is None:
            raise SwarmError("out-of-vocab", f"token id {i} outside 0..{VOCAB_SIZE - 1}")
        chars.append(ch)
    return "".join(chars)
