"""Counter-based random numbers defined by integer operations only (Philox4x32-10).

Philox (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11) maps a 128-bit
counter and a 64-bit key to 128 random bits with 32-bit multiplies, XORs and adds. Here every
32-bit word lives in an int64 tensor and every product is split into 16-bit halves, so no
intermediate exceeds 2^49: the same bits on any device and with any thread count, with no
reliance on signed-overflow wrapping. Floats are made from integer bits exactly.

Stream layout (docs/repops.md, "RNG"): `bits(key, counter, n)` returns the 4 output words of
block 0, then block 1, ..., where block j runs Philox on the counter words
(j mod 2^32, j div 2^32, counter mod 2^32, counter div 2^32) with key words
(key mod 2^32, key div 2^32). Different `counter` values give independent streams.
"""

from __future__ import annotations

import hashlib

import torch

from repops.errors import RepOpsError

MASK32 = 0xFFFFFFFF
_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # Philox4x32 multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # Weyl key increments (golden ratio, sqrt(3) - 1)
ROUNDS = 10


def _mulhilo(m: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(high, low) 32-bit words of the 64-bit product m * x, for a 32-bit constant m and
    32-bit words x, with every intermediate below 2^49."""
    p_lo = (x & 0xFFFF) * m  # < 2^48
    p_hi = (x >> 16) * m  # < 2^48
    t = (p_lo >> 16) + p_hi  # product = t * 2^16 + (p_lo mod 2^16), t < 2^48
    low = ((t & 0xFFFF) << 16) | (p_lo & 0xFFFF)
    return t >> 16, low


def philox4x32(counter: torch.Tensor, key: tuple[int, int], rounds: int = ROUNDS) -> torch.Tensor:
    """Philox4x32-R on int64 tensors holding 32-bit words: counter (..., 4) -> (..., 4)."""
    if counter.dtype != torch.int64 or counter.shape[-1:] != (4,):
        raise RepOpsError("bad_rng_input", "counter is an int64 tensor of shape (..., 4)")
    k0, k1 = key[0] & MASK32, key[1] & MASK32
    c0, c1, c2, c3 = (counter[..., i] & MASK32 for i in range(4))
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + _W0) & MASK32, (k1 + _W1) & MASK32
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return torch.stack([c0, c1, c2, c3], dim=-1)


def _check_u64(name: str, value: int, bits: int = 64) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise RepOpsError("bad_rng_input", f"{name} must be an integer in [0, 2^{bits})")
    return value


def bits(key: int, counter: int, n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """n random 32-bit words (int64 tensor, values in [0, 2^32)) of stream (key, counter)."""
    _check_u64("key", key)
    _check_u64("counter", counter)
    if n < 0:
        raise RepOpsError("bad_rng_input", "n must be non-negative")
    blocks = -(-n // 4)
    j = torch.arange(blocks, dtype=torch.int64, device=device)
    ctr = torch.stack(
        [j & MASK32, j >> 32, torch.full_like(j, counter & MASK32), torch.full_like(j, counter >> 32)],
        dim=-1,
    )
    return philox4x32(ctr, (key & MASK32, key >> 32)).reshape(-1)[:n]


def uniform(key: int, counter: int, shape, device: torch.device | str | None = None) -> torch.Tensor:
    """float32 uniform in [0, 1): the top 24 bits of each word times 2^-24 (both exact)."""
    shape = torch.Size(shape if isinstance(shape, (tuple, list, torch.Size)) else (shape,))
    words = bits(key, counter, shape.numel(), device)
    return ((words >> 8).to(torch.float32) * (2.0**-24)).reshape(shape)


def derive_key(*parts: str | bytes | int) -> int:
    """A 64-bit key from labels (e.g. peer id, round, purpose): the first 8 bytes (little-endian)
    of sha256 over the length-prefixed parts."""
    h = hashlib.sha256(b"swarm-rng-v1")
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, (str, bytes, int)):
            raise RepOpsError("bad_rng_input", f"key parts are str, bytes or int, got {type(part).__name__}")
        if isinstance(part, int):
            data = b"i" + part.to_bytes(16, "little", signed=True)
        elif isinstance(part, str):
            data = b"s" + part.encode("utf-8")
        else:
            data = b"b" + part
        h.update(len(data).to_bytes(8, "little") + data)
    return int.from_bytes(h.digest()[:8], "little")


def categorical(probs: torch.Tensor, key: int, counter: int) -> torch.Tensor:
    """One sample per row of `probs` (..., V), non-negative float32 weights (need not sum to
    one). Row r draws u_r = uniform(key, counter, rows)[r], accumulates the weights left to
    right in float32 (c_k = c_{k-1} + p_k, one correctly rounded add at a time), and returns
    the first k with c_k > u_r * c_{V-1}; if rounding leaves none, the last k with p_k > 0."""
    if probs.dtype != torch.float32 or probs.dim() < 1 or probs.shape[-1] < 1:
        raise RepOpsError("bad_rng_input", "probs is a float32 tensor of shape (..., V)")
    if bool((probs < 0).any()) or not bool(torch.isfinite(probs).all()):
        raise RepOpsError("bad_rng_input", "probs must be finite and non-negative")
    lead = probs.shape[:-1]
    flat = probs.reshape(-1, probs.shape[-1])
    rows, vocab = flat.shape
    # Left-to-right running sum, one elementwise float32 add per column: a fixed order that
    # every device rounds identically (torch.cumsum may use a parallel scan on GPUs).
    cdf = torch.empty_like(flat)
    running = flat[:, 0].clone()
    cdf[:, 0] = running
    for k in range(1, vocab):
        running = running + flat[:, k]
        cdf[:, k] = running
    total = cdf[:, -1]
    if bool((total <= 0).any()):
        raise RepOpsError("bad_rng_input", "every row needs positive total weight")
    threshold = uniform(key, counter, (rows,), flat.device) * total
    index = (cdf <= threshold[:, None]).sum(dim=-1)
    positions = torch.arange(vocab, device=flat.device).expand(rows, vocab)
    last_positive = torch.where(flat > 0, positions, torch.full_like(positions, -1)).amax(dim=-1)
    index = torch.where(index >= vocab, last_positive, index)
    return index.reshape(lead)


__all__ = ["bits", "categorical", "derive_key", "philox4x32", "uniform"]
