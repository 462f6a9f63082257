"""Event subscriptions by polling: every new log of the deployment's contracts, decoded.

Polling `eth_getLogs` over block ranges works the same on the embedded chain, anvil and any
RPC node (filters expire on public nodes; ranges do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import trio
from web3 import Web3

from protocol.chain.client import EventDecoder
from protocol.chain.worker import CHAIN_ERRORS, classify


@dataclass(frozen=True)
class ChainEvent:
    name: str
    args: dict
    block: int
    tx_hash: str
    contract: str


def fetch_events(w3: Web3, decoder: EventDecoder, addresses: list[str], from_block: int, to_block: int) -> list[ChainEvent]:
    try:
        logs = w3.eth.get_logs({"fromBlock": from_block, "toBlock": to_block, "address": addresses})
    except CHAIN_ERRORS as exc:
        raise classify(exc) from exc
    events = []
    for log in logs:
        decoded = decoder.decode_log(log)
        if decoded is not None:
            events.append(ChainEvent(decoded[0], decoded[1], log["blockNumber"],
                                     "0x" + bytes(log["transactionHash"]).hex(), log["address"]))
    return events


async def watch_events(w3: Web3, decoder: EventDecoder, addresses: list[str], send: trio.MemorySendChannel,
                       *, from_block: int = 0, poll_interval: float = 0.5,
                       task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Send every decoded event from `from_block` on into `send`, in chain order, until cancelled."""
    next_block = from_block
    task_status.started()
    async with send:
        while True:
            head = await trio.to_thread.run_sync(lambda: w3.eth.block_number)
            if head >= next_block:
                for event in await trio.to_thread.run_sync(fetch_events, w3, decoder, addresses, next_block, head):
                    await send.send(event)
                next_block = head + 1
            await trio.sleep(poll_interval)
