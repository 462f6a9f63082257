"""Cost of tracing a RepOps training step: the same step untraced and traced (what a dispute's
replay pays; peers train untraced); plus raw tensor-root throughput.

    .venv/bin/python -m bench.repops_trace [--rows 32] [--seq 64] [--repeat 5] [--threads 1] [--json]

Each figure is the best of `repeat` runs, the modes taken in turn (the machine is shared; the
minimum is the least disturbed run). Step times include the two checkpoint hashes every step computes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import torch

from repops import merkle
from repops.model import Policy, PolicyConfig
from repops.step import Batch, StepConfig, make_optimizer, train_step


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cfg = StepConfig(model=PolicyConfig(context=max(64, args.seq)))
    model = Policy(cfg.model, seed=0)
    opt = make_optimizer(model, cfg)
    g = torch.Generator().manual_seed(0)
    toks = torch.randint(0, cfg.model.vocab_size, (args.rows, args.seq + 1), generator=g)
    batch = Batch(toks[:, :-1].contiguous(), toks[:, 1:].contiguous(), torch.ones(args.rows, args.seq), torch.ones(args.rows))

    train_step(model, opt, batch)  # warm-up
    modes = ("untraced", "traced")
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.repeat):  # round robin, so load drift on a shared machine hits all modes
        for mode in modes:
            start = time.perf_counter()
            train_step(model, opt, batch, trace_ops=mode == "traced")
            times[mode].append(time.perf_counter() - start)
    result = {mode + "_s": min(times[mode]) for mode in modes}
    r = train_step(model, opt, batch)
    result["ops_per_step"] = r.op_count
    result["overhead_pct"] = round(100 * (result["traced_s"] / result["untraced_s"] - 1), 1)

    x = torch.randn(32, 4, 64, 64)  # one attention-score tensor of the default batch (2 MiB)
    mib = x.numel() * 4 / 2**20
    result["tensor_root_MiB_per_s"] = round(mib / _best(lambda: merkle.tensor_root(x), args.repeat), 1)
    flat = x.numpy().tobytes()
    result["flat_sha256_MiB_per_s"] = round(mib / _best(lambda: hashlib.sha256(flat).digest(), args.repeat), 1)
    result.update(rows=args.rows, seq=args.seq, threads=args.threads)

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:28s} {value:.4g}" if isinstance(value, float) else f"{key:28s} {value}")


if __name__ == "__main__":
    main()
