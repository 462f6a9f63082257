"""Typed chain errors: every revert reason string of our contracts, and every way talking to a
chain can fail, is one member of `ChainReason`; `ProtocolError(ChainReason.X, detail)` is what
callers catch.

Vyper has no custom errors, so the contracts revert with reason strings of the form
"<Contract>: <what>" (docs/contracts.md lists them). `REVERT_MESSAGES` is that list;
tests/chain/test_reasons.py fails when a contract gains a reason string missing here.
"""

from __future__ import annotations

import enum
import re

from protocol.errors import ProtocolError

REVERT_MESSAGES: tuple[str, ...] = (
    "Token: zero treasury",
    "Registry: already registered", "Registry: bad binding signature", "Registry: game already set",
    "Registry: insufficient stake", "Registry: not deployer", "Registry: not locked",
    "Registry: not registered", "Registry: not the game", "Registry: nothing unbonding",
    "Registry: peer key taken", "Registry: stake locked", "Registry: stake too low",
    "Registry: still unbonding", "Registry: transfer failed", "Registry: zero address",
    "Registry: zero amount", "Registry: zero peer key",
    "Ledger: already posted", "Ledger: bad batch proof", "Ledger: bad count", "Ledger: bad max batch",
    "Ledger: claim closed", "Ledger: claim in game", "Ledger: claim not in game",
    "Ledger: epoch already posted", "Ledger: game already set", "Ledger: index out of batch",
    "Ledger: not claimant", "Ledger: not deployer", "Ledger: not staked", "Ledger: not the game",
    "Ledger: transfer failed", "Ledger: unknown claim", "Ledger: window open", "Ledger: window over",
    "Ledger: zero address", "Ledger: zero amount", "Ledger: zero root", "Ledger: zero steps",
    "Game: at last level", "Game: bad assembly", "Game: bad attrs", "Game: bad checkpoint",
    "Game: bad head", "Game: bad length", "Game: bad levels", "Game: bad op proof",
    "Game: bad operand proof", "Game: bad part", "Game: bad share", "Game: bad stepper",
    "Game: bond transfer failed", "Game: clock expired", "Game: clock running",
    "Game: not an assembly", "Game: not an op transition", "Game: not at one step",
    "Game: not bisecting", "Game: not challenger", "Game: not claimant", "Game: not open",
    "Game: not picking", "Game: not your turn", "Game: op does not match", "Game: own claim",
    "Game: payout failed", "Game: points mismatch", "Game: pre-state mismatch",
    "Game: range is one step", "Game: range not one step", "Game: stepper set",
    "Game: wrong op index", "Game: wrong point count", "Game: zero clock",
    "Tree: index beyond proof depth",
    # snekmate's ERC-20 (the token's module)
    "erc20: insufficient allowance", "erc20: transfer amount exceeds balance",
    "erc20: burn amount exceeds balance", "erc20: transfer to the zero address",
    "erc20: approve to the zero address", "erc20: expired deadline", "erc20: invalid signature",
)

# Failures that are not reverts: each gives a one-line reason, never a traceback.
_GENERIC = {
    "RPC_UNREACHABLE": "rpc-unreachable",
    "WRONG_CHAIN": "wrong-chain",
    "NO_CONTRACT": "no-contract",
    "UNFUNDED": "unfunded-account",
    "NONCE": "nonce-conflict",
    "TX_TIMEOUT": "tx-timeout",
    "REVERTED": "reverted",  # a revert whose reason is not one of ours (or none)
    "BAD_DEPLOYMENT": "bad-deployment",
    "COMPILE": "compile-failed",
    "ANVIL": "anvil",
    "BAD_ARGUMENT": "bad-argument",
}


def member_name(message: str) -> str:
    """"Game: not your turn" -> "GAME_NOT_YOUR_TURN"; "erc20: ..." -> "TOKEN_..."."""
    prefix, _, rest = message.partition(": ")
    prefix = "TOKEN" if prefix == "erc20" else prefix.upper()
    return prefix + "_" + re.sub(r"[^A-Z0-9]+", "_", rest.upper()).strip("_")


def _slug(message: str) -> str:
    return member_name(message).lower().replace("_", "-")


ChainReason = enum.Enum(  # type: ignore[misc]
    "ChainReason",
    {**_GENERIC, **{member_name(m): _slug(m) for m in REVERT_MESSAGES}},
    module=__name__,
)
ChainReason.__doc__ = "Why a chain call failed: a contract's revert reason, or a transport/setup failure."

_BY_MESSAGE = {m: ChainReason[member_name(m)] for m in REVERT_MESSAGES}


def reason_for_revert(message: str) -> ChainReason:
    """Map a revert message (as web3 reports it, possibly wrapped) to its ChainReason."""
    for known, reason in _BY_MESSAGE.items():
        if known in message:
            return reason
    return ChainReason.REVERTED


def revert_error(message: str) -> ProtocolError:
    reason = reason_for_revert(message)
    return ProtocolError(reason, message.replace("execution reverted: ", "").strip())
