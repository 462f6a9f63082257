"""Every revert reason string in the contracts maps to a typed ChainReason."""

import re

from protocol.chain.artifacts import CONTRACTS_DIR
from protocol.chain.reasons import REVERT_MESSAGES, ChainReason, member_name, reason_for_revert

OURS = re.compile(r'"((?:Token|Registry|Ledger|Game|Tree): [^"]+)"')


def _source_messages() -> set[str]:
    found = set()
    for path in CONTRACTS_DIR.rglob("*.vy"):
        if "lib" in path.relative_to(CONTRACTS_DIR).parts or "test_harness" in path.parts:
            continue
        found.update(OURS.findall(path.read_text()))
    return found


def test_every_contract_reason_is_typed():
    missing = _source_messages() - set(REVERT_MESSAGES)
    assert not missing, f"add these to protocol/chain/reasons.py: {sorted(missing)}"


def test_no_stale_reasons():
    stale = {m for m in REVERT_MESSAGES if not m.startswith("erc20")} - _source_messages()
    assert not stale, f"reasons no contract raises any more: {sorted(stale)}"


def test_members_are_unique_and_decoded():
    names = [member_name(m) for m in REVERT_MESSAGES]
    assert len(names) == len(set(names))
    for message in REVERT_MESSAGES:
        assert reason_for_revert(f"execution reverted: {message}") is ChainReason[member_name(message)]
    assert reason_for_revert("execution reverted") is ChainReason.REVERTED
