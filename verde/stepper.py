"""Install the one-step machine (OpStep.vy) on a Game that has none yet.

Game pins OpStep's code by hash, so any account may deploy and install it, once; the first
player that needs it does (docs/verde.md). The compiled artifact is cached per process.
"""

from __future__ import annotations

from functools import lru_cache

import trio
from web3 import Web3

from protocol.chain.artifacts import Artifact, compile_source
from protocol.chain.client import ChainClient
from protocol.errors import ProtocolError

ZERO_ADDRESS = "0x" + "00" * 20


@lru_cache(maxsize=1)
def op_step_artifact() -> Artifact:
    return compile_source("OpStep.vy")


def op_step_codehash() -> bytes:
    """keccak256 of OpStep's runtime code: what Game.OP_STEP_CODEHASH must be."""
    import vyper
    from vyper.compiler.input_bundle import FilesystemInputBundle

    from protocol.chain.artifacts import CONTRACTS_DIR, search_paths

    path = CONTRACTS_DIR / "OpStep.vy"
    out = vyper.compile_code(path.read_text(), contract_path=str(path), input_bundle=FilesystemInputBundle(search_paths()),
                             output_formats=["bytecode_runtime"])
    return bytes(Web3.keccak(hexstr=out["bytecode_runtime"]))


async def ensure_stepper(client: ChainClient) -> str:
    """The installed OpStep's address, deploying and installing it first if needed."""
    game = client.game.contract
    current = await trio.to_thread.run_sync(game.functions.stepper().call)
    if current != ZERO_ADDRESS:
        return current
    art = await trio.to_thread.run_sync(op_step_artifact)
    ctor = client.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor()
    deployed = await client.worker.transact("deploy OpStep", ctor)
    address = Web3.to_checksum_address(deployed.contract_address)
    try:
        await client.worker.transact("Game.set_stepper", game.functions.set_stepper(address))
    except ProtocolError:
        # someone else installed one meanwhile: theirs is the same pinned code
        current = await trio.to_thread.run_sync(game.functions.stepper().call)
        if current == ZERO_ADDRESS:
            raise
        return current
    return address


__all__ = ["ensure_stepper", "op_step_artifact", "op_step_codehash"]
