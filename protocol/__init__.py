"""What independent swarm peers must agree on: wire messages, signatures, topics,
contracts and the chain client. Imports nothing from repops/ or above."""

from protocol.errors import ProtocolError

__all__ = ["ProtocolError"]
