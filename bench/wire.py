"""Wire codec benchmark: encode (validate + sign) and decode (validate + verify) cost per kind.

    .venv/bin/python -m bench.wire [--seconds 1.0] [--json]

Bodies are synthetic but shaped like the real ones: rollout batches of about 2 KB and
200 KB (groups of 8 completions of ~400 characters), a capabilities advert, an announcement,
a claim and a dispute notice. Each figure is the median of 5 timing windows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time

from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.wire import (
    Capabilities,
    Claim,
    DisputeNotice,
    Rollout,
    RolloutAnnounce,
    RolloutBatch,
    RolloutGroup,
    Signer,
    decode_message,
    encode_message,
)

NOW = 1_790_000_000_000


def _batch(target_bytes: int) -> RolloutBatch:
    text = "The answer is 42 because 6 * 7 = 42. " * 11  # ~400 characters
    group = RolloutGroup(task="arith", params={"digits": 3, "ops": ["+", "*"]}, seed=1, completions=[Rollout(text, 120)] * 8)
    groups = max(1, target_bytes // (8 * (len(text) + 8)))
    return RolloutBatch(round=1, checkpoint=b"\1" * 32, groups=[group] * groups)


def bodies(signer: Signer) -> dict[str, object]:
    return {
        "caps": Capabilities(
            device_kind="cuda", device_name="NVIDIA H100", memory_bytes=80 << 30, throughput=1500.0,
            model="tiny-char-v1", software="swarm 0.1.0", chain_address=b"\1" * 20,
            listen_addrs=["/ip4/10.0.0.1/tcp/4001"], specialties=["arith", "sort"], rollout_mode="broadcast",
            shards=[0, 1],
        ),
        "rollouts-2KB": _batch(2_000),
        "rollouts-200KB": _batch(200_000),
        "announce": RolloutAnnounce(round=1, batch_id=b"\2" * 32, tasks=["arith"], groups=25, size=200_000),
        "claim": Claim(
            round=1, ckpt_before=b"\3" * 32, ckpt_after=b"\4" * 32, batch_digest=b"\5" * 32,
            hparams={"lr": 1e-4, "clip": 0.2, "epochs": 1}, trace_root=b"\6" * 32, op_count=12_345,
            local_samples=4, external_samples=4,
        ),
        "dispute": DisputeNotice(
            claim_digest=b"\7" * 32, accused=signer.peer_id, game_id=1, chain_id=1337, tx_hash=b"\x08" * 32,
            reason="trace root mismatch",
        ),
    }


def _per_call_us(fn, seconds: float) -> float:
    windows = []
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 5:
            fn()
            n += 1
        windows.append(elapsed / n * 1e6)
    return statistics.median(windows)


def run(seconds: float) -> list[dict]:
    signer = Signer(create_new_key_pair(hashlib.sha256(b"bench").digest()))
    rows = []
    for name, body in bodies(signer).items():
        data = encode_message(signer, body, seq=1, ts=NOW)
        enc = _per_call_us(lambda: encode_message(signer, body, seq=1, ts=NOW), seconds)
        dec = _per_call_us(lambda: decode_message(data, now_ms=NOW), seconds)
        rows.append({
            "kind": name, "bytes": len(data), "encode_us": round(enc, 1), "decode_us": round(dec, 1),
            "decode_MB_s": round(len(data) / dec, 1),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="timing budget per figure")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(args.seconds)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'kind':<16}{'bytes':>9}{'encode µs':>12}{'decode µs':>12}{'decode MB/s':>13}")
    for r in rows:
        print(f"{r['kind']:<16}{r['bytes']:>9}{r['encode_us']:>12}{r['decode_us']:>12}{r['decode_MB_s']:>13}")


if __name__ == "__main__":
    main()
