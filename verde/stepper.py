"""Install the one-step machine (OpStep.vy) on a Game that has none yet.

Game pins OpStep's code by hash, so any account may deploy and install it, once; the first
player that needs it does (docs/verde.md; protocol.chain.scalar_trace.install_op_step).
"""

from __future__ import annotations

from web3 import Web3

from protocol.chain.client import ChainClient
from protocol.chain.scalar_trace import install_op_step


def op_step_codehash(name: str = "OpStep") -> bytes:
    """keccak256 of OpStep's (or CopyStep's) runtime code: what Game pins."""
    import vyper
    from vyper.compiler.input_bundle import FilesystemInputBundle

    from protocol.chain.artifacts import CONTRACTS_DIR, search_paths

    path = CONTRACTS_DIR / f"{name}.vy"
    out = vyper.compile_code(path.read_text(), contract_path=str(path), input_bundle=FilesystemInputBundle(search_paths()),
                             output_formats=["bytecode_runtime"])
    return bytes(Web3.keccak(hexstr=out["bytecode_runtime"]))


async def ensure_stepper(client: ChainClient) -> str:
    """The installed OpStep's address, deploying and installing it first if needed."""
    return await install_op_step(client)


__all__ = ["ensure_stepper", "op_step_codehash"]
