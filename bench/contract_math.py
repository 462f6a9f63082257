"""Gas of the on-chain math libraries (protocol/contracts/lib): float32, float64, merkle, ed25519.

    .venv/bin/python -m bench.contract_math [--samples N] [--json]

Gas is execution gas measured inside the EVM by the test harnesses (msg.gas before and after
one library call), on the embedded py-evm chain: it excludes the transaction's 21,000 base
and calldata, and includes the internal call into the library. float32 figures are the
median and the maximum over N random normal operands (values spread over 2**-30..2**30;
positive ones for sqrt, ones inside the int32 range for to_int32) and,
separately, the maximum over edge operands (subnormals, zeros, infinities, NaNs).
float64 figures are measured the same way on binary64 operands (2**-60..2**60; widen takes
binary32 operands, narrow binary64 values inside binary32's range, pow2 exponents in
-1022..1023, trunc_int64 values below 2**62, from_int64 random int64), and scaled_narrow on
the (S, E+F-2s) pairs of random 64-long float32 dot products (repops.reference's matmul
program).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics

import numpy as np
import web3

from protocol.chain.artifacts import compile_source
from protocol.chain.backends import embedded_web3

FLOAT32_OPS = ["add", "sub", "mul", "div", "sqrt", "lt", "le", "eq", "min", "max",
               "to_int32", "from_int32", "neg", "abs", "is_nan"]  # harness op codes 0..14
EDGES = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x00000001, 0x007FFFFF,
         0x00800000, 0x7F7FFFFF, 0x3F800000, 0x00400001, 0x80000003]


def deploy(w3: web3.Web3, relative_path: str):
    art = compile_source(relative_path)
    tx = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor().transact()
    address = w3.eth.wait_for_transaction_receipt(tx).contractAddress
    return w3.eth.contract(address=address, abi=art.abi).functions


def embedded_chain() -> web3.Web3:
    w3 = embedded_web3()
    w3.eth.default_account = w3.eth.accounts[0]
    return w3


def float32_gas(w3, samples: int) -> dict:
    f = deploy(w3, "test_harness/float32_harness.vy")
    rng = np.random.default_rng(1)
    values = (rng.standard_normal(2 * samples) * np.exp2(rng.integers(-30, 30, 2 * samples))).astype(np.float32)
    bits = values.view(np.uint32)
    ints = rng.integers(-(2**31), 2**31, samples, dtype=np.int64).astype(np.int32).view(np.uint32)
    # sqrt of a positive value, to_int32 of a value inside the int32 range: the work paths.
    positive = np.abs(values[:samples]).view(np.uint32)
    in_range = (rng.standard_normal(samples) * np.exp2(rng.integers(0, 24, samples))).astype(np.float32).view(np.uint32)
    operands = {"from_int32": ints, "sqrt": positive, "to_int32": in_range}
    out = {}
    for code, op in enumerate(FLOAT32_OPS):
        a = operands.get(op, bits[:samples])
        typical = [f.gas_of(code, int(a[i]), int(bits[samples + i])).call() for i in range(samples)]
        edge = [f.gas_of(code, x, y).call() for x in EDGES for y in EDGES[::3]]
        out[op] = {"median": int(statistics.median(typical)), "max": max(typical), "edge_max": max(edge)}
    return out


FLOAT64_OPS = ["add", "sub", "mul", "div", "round_even", "lt", "le", "eq", "min", "max", "neg",
               "abs", "is_nan", "widen", "narrow", "pow2", "frexp_exponent", "trunc_int64",
               "from_int64", "exp_table"]  # float64 harness op codes 0..19
EDGES64 = [0x0, 0x8000000000000000, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000,
           0x1, 0x000FFFFFFFFFFFFF, 0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0x3FF0000000000000,
           0x0008000000000001, 0x8000000000000003]


def float64_gas(w3, samples: int) -> dict:
    f = deploy(w3, "test_harness/float64_harness.vy")
    rng = np.random.default_rng(2)
    values = rng.standard_normal(2 * samples) * np.exp2(rng.integers(-60, 60, 2 * samples))
    bits = values.view(np.uint64)
    f32 = values[:samples].astype(np.float32).view(np.uint32).astype(np.uint64)
    in_f32_range = (rng.standard_normal(samples) * np.exp2(rng.integers(-120, 120, samples))).view(np.uint64)
    exponents = rng.integers(-1022, 1024, samples).astype(np.int64).view(np.uint64)
    below_2_62 = (rng.standard_normal(samples) * np.exp2(rng.integers(0, 60, samples))).view(np.uint64)
    ints = rng.integers(-(2**63), 2**63 - 1, samples, dtype=np.int64).view(np.uint64)
    operands = {"widen": f32, "narrow": in_f32_range, "pow2": exponents, "trunc_int64": below_2_62,
                "from_int64": ints, "exp_table": exponents}
    out = {}
    for code, op in enumerate(FLOAT64_OPS):
        a = operands.get(op, bits[:samples])
        typical = [f.gas_of(code, int(a[i]), int(bits[samples + i])).call() for i in range(samples)]
        edge = [f.gas_of(code, x, y).call() for x in EDGES64 for y in EDGES64[::3]]
        out[op] = {"median": int(statistics.median(typical)), "max": max(typical), "edge_max": max(edge)}
    # scaled_narrow on real matmul elements: S and E+F-2s of random float32 dot products
    from repops import reference

    k = 64
    s = reference.matmul_slice_bits(k)
    typical = []
    for _ in range(samples):
        a = (rng.standard_normal(k) * np.exp2(rng.integers(-20, 20))).astype(np.float64)
        b = (rng.standard_normal(k) * np.exp2(rng.integers(-20, 20))).astype(np.float64)
        ea, eb = int(np.frexp(np.abs(a).max())[1]), int(np.frexp(np.abs(b).max())[1])
        total = sum(int(x) * int(y) for x, y in zip(np.rint(a * 2.0 ** (s - ea)), np.rint(b * 2.0 ** (s - eb))))
        typical.append(f.gas_of_scaled_narrow(total, ea + eb - 2 * s).call())
    edge = [f.gas_of_scaled_narrow(v, e).call() for v in (0, 1, -1, 2**255 - 1, -(2**255), 2**60 + 1)
            for e in (-3000, -200, -150, 0, 100, 3000)]
    out["scaled_narrow"] = {"median": int(statistics.median(typical)), "max": max(typical), "edge_max": max(edge)}
    return out


def merkle_gas(w3) -> dict:
    m = deploy(w3, "test_harness/merkle_harness.vy")
    out = {}
    for depth in (0, 8, 16, 24):
        numel = 256 << depth  # n_chunks = 2**depth, every chunk full
        header = bytes([1, 1]) + numel.to_bytes(8, "little")
        chunk = bytes(range(256)) * 4
        siblings = [hashlib.sha256(bytes([k])).digest() for k in range(depth)]
        index = (1 << depth) - 1
        node = hashlib.sha256(b"\x00" + chunk).digest()
        for k, s in enumerate(siblings):
            node = hashlib.sha256(b"\x01" + (s + node if (index >> k) & 1 else node + s)).digest()
        root = hashlib.sha256(b"\x02" + header + node).digest()
        element = index * 256 + 7
        assert m.open_float32(root, header, chunk, siblings, element).call()[0]
        out[f"open_float32 depth {depth} ({numel:,} elements)"] = m.open_float32_gas(root, header, chunk, siblings, element).call()
    return out


def ed25519_gas(w3) -> dict:
    from nacl.signing import SigningKey

    e = deploy(w3, "test_harness/ed25519_harness.vy")
    key = SigningKey(b"\x05" * 32)
    pk = bytes(key.verify_key)
    binding = b"swarm-registry/1" + (31337).to_bytes(32, "big") + b"\x11" * 20 + b"\x22" * 20
    out = {}
    for label, msg in (("verify, empty message", b""), ("verify, 88-byte registry binding", binding),
                       ("verify, 256-byte message", bytes(256))):
        ok, gas = e.verify_gas(pk, msg, key.sign(msg).signature).call({"gas": 30_000_000})
        assert ok
        out[label] = gas
    art = compile_source("lib/Ed25519Verifier.vy")
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor().transact())
    caller = deploy(w3, "test_harness/ed25519_caller.vy")
    ok, gas = caller.check(receipt.contractAddress, pk, binding, key.sign(binding).signature).call({"gas": 30_000_000})
    assert ok
    out["Ed25519Verifier via staticcall, 88-byte binding"] = gas
    out["Ed25519Verifier deployment"] = receipt.gasUsed
    out["Ed25519Verifier runtime code bytes"] = len(w3.eth.get_code(receipt.contractAddress))
    one = e.sha512(b"").estimate_gas()
    two = e.sha512(bytes(200)).estimate_gas()
    out["sha512 per extra 128-byte block"] = two - one
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    w3 = embedded_chain()
    result = {"float32": float32_gas(w3, args.samples), "float64": float64_gas(w3, args.samples),
              "merkle": merkle_gas(w3), "ed25519": ed25519_gas(w3)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"float32 (gas per op; {args.samples} random normal operands, plus edge operands)")
    print(f"  {'op':<11}{'median':>8}{'max':>8}{'edge max':>10}")
    for op, g in result["float32"].items():
        print(f"  {op:<11}{g['median']:>8}{g['max']:>8}{g['edge_max']:>10}")
    print(f"float64 (gas per op; {args.samples} random normal operands, plus edge operands)")
    print(f"  {'op':<15}{'median':>8}{'max':>8}{'edge max':>10}")
    for op, g in result["float64"].items():
        print(f"  {op:<15}{g['median']:>8}{g['max']:>8}{g['edge_max']:>10}")
    for section in ("merkle", "ed25519"):
        print(section)
        for label, gas in result[section].items():
            print(f"  {label:<48}{gas:>10,}")


if __name__ == "__main__":
    main()
