"""Verde: trace commitments, bisection strategy, one-step proofs and the game driver."""

from verde.errors import VerdeError

__all__ = ["VerdeError"]
