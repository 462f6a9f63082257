"""RepOps vs plain torch, side by side in one run: per-op ratios (matmul, softmax, layernorm,
ReLU, GELU, cross-entropy, AdamW) at the tiny policy's shapes, then a whole training step of
the policy (default config: ReLU; `--activation gelu` for the GELU variant) against the same
architecture in plain torch (bench.torch_twin, same activation): forward + backward +
AdamW alone ("core"), and repops.step.train_step (which also hashes the checkpoint before
and after) with tracing off and on.

    .venv/bin/python -m bench.repops_step [--json] [--threads N] [--repeat R] [--activation relu|gelu]
        [--native on|off|both]

`--native` picks RepOps' fused C++ CPU kernels (repops/ops/native) or the torch programs;
`both` (the default) times the whole step both ways in the same interleaved loop (same
bits either way) and runs the per-op table with native on.

Each figure is the median of R timed runs after one warm-up, interleaved (ours, theirs,
ours, ...), so machine load affects both sides alike. Times are process CPU time
(time.process_time: all threads of this process), which other processes on a shared machine
disturb far less than wall-clock time; `--clock wall` gives wall-clock time instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as TF

from repops import functional as F
from repops.ops import kernels as K
from repops.ops import native
from repops.optim import AdamW


CLOCK = time.process_time


def _median_pair(ours: Callable[[], object], theirs: Callable[[], object], repeat: int) -> tuple[float, float]:
    ours()
    theirs()
    a, b = [], []
    for _ in range(repeat):
        t0 = CLOCK()
        ours()
        t1 = CLOCK()
        theirs()
        t2 = CLOCK()
        a.append(t1 - t0)
        b.append(t2 - t1)
    return statistics.median(a), statistics.median(b)


def _median_many(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median time of each function, run interleaved (one of each per round)."""
    for f in fns:
        f()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for f, acc in zip(fns, times):
            t0 = CLOCK()
            f()
            acc.append(CLOCK() - t0)
    return [statistics.median(a) for a in times]


def op_benchmarks(repeat: int, rows: int, d: int, heads: int, t: int, vocab: int) -> dict[str, dict[str, float]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, d, generator=g)
    w = torch.randn(3 * d, d, generator=g)
    att = torch.randn(rows // t, heads, t, t, generator=g)
    hid = torch.randn(rows, 4 * d, generator=g)
    lw, lb = torch.ones(d), torch.zeros(d)
    logits = torch.randn(rows, vocab, generator=g)
    targets = torch.randint(0, vocab, (rows,), generator=g)
    params = [torch.nn.Parameter(torch.randn(3 * d, d, generator=g)) for _ in range(8)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, q in zip(twins, params):
        p.grad = q.grad.clone()
    ours_opt = AdamW(params, lr=1e-3)
    torch_opt = torch.optim.AdamW(twins, lr=1e-3)

    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        f"matmul {rows}x{d}x{3 * d}": (lambda: K.matmul(x, w.t()), lambda: x @ w.t()),
        f"softmax {tuple(att.shape)}": (lambda: K.softmax(att), lambda: torch.softmax(att, -1)),
        f"layer_norm {rows}x{d}": (lambda: K.layer_norm(x, lw, lb, 1e-5), lambda: TF.layer_norm(x, (d,), lw, lb)),
        f"relu {rows}x{4 * d}": (lambda: K.relu(hid), lambda: torch.relu(hid)),
        f"gelu {rows}x{4 * d}": (lambda: K.gelu(hid), lambda: TF.gelu(hid, approximate="tanh")),
        f"cross_entropy {rows}x{vocab}": (lambda: F.cross_entropy(logits, targets), lambda: TF.cross_entropy(logits, targets)),
        f"adamw 8x{3 * d}x{d}": (ours_opt.step, torch_opt.step),
    }
    out = {}
    for name, (ours, theirs) in cases.items():
        a, b = _median_pair(ours, theirs, repeat)
        out[name] = {"repops_ms": a * 1e3, "torch_ms": b * 1e3, "ratio": a / b}
    return out


def step_benchmark(repeat: int, batch: int, seq: int, activation: str = "relu", modes: tuple[bool, ...] = (True,)) -> dict[str, float] | None:
    try:
        from bench.torch_twin import twin_of
        from repops import step as S
        from repops.model import Policy, PolicyConfig
    except ImportError:
        return None
    cfg = PolicyConfig(activation=activation)
    seq = min(seq, cfg.context)
    model = Policy(cfg, seed=1)
    twin = twin_of(model)
    opt = S.make_optimizer(model, S.StepConfig(model=cfg))
    torch_opt = torch.optim.AdamW(twin.parameters(), lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
    b = S.Batch(tokens, torch.roll(tokens, -1, 1), torch.ones(batch, seq), torch.ones(batch))

    def torch_step() -> None:
        torch_opt.zero_grad()
        twin.loss(b.tokens, b.targets, b.weights, b.mask).backward()
        torch_opt.step()

    def core_step() -> None:
        """forward + backward + AdamW only: what the torch twin does (train_step also hashes
        the checkpoint before and after)."""
        opt.zero_grad()
        S.policy_loss(model, b, batch).backward()
        opt.step()

    def under(flag: bool, fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with native.use(flag):
                fn()
        return run

    def train(tracing: bool) -> Callable[[], object]:
        return lambda: S.train_step(model, opt, b, trace_ops=tracing)

    plain, *cores = _median_many([torch_step] + [under(m, core_step) for m in modes], repeat)
    untraced = _median_many([under(m, train(False)) for m in modes], repeat)
    traced = _median_many([under(m, train(True)) for m in modes], repeat)
    out: dict = {"batch": batch, "seq": seq, "activation": activation, "torch_ms": plain * 1e3}
    for m, core, u, tr in zip(modes, cores, untraced, traced):
        key = "native_on" if m else "native_off"
        out[key] = {
            "repops_core_ms": core * 1e3,
            "repops_ms": u * 1e3,
            "repops_traced_ms": tr * 1e3,
            "core_ratio": core / plain,
            "step_ratio": u / plain,
            "tracing_overhead": tr / u - 1.0,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--batch", type=int, default=16, help="rows of the policy step")
    ap.add_argument("--seq", type=int, default=64, help="positions per row")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--activation", choices=("relu", "gelu"), default="relu", help="the policy's MLP activation")
    ap.add_argument("--native", choices=("on", "off", "both"), default="both",
                    help="fused C++ CPU kernels (repops/ops/native) on, off, or both side by side")
    args = ap.parse_args(argv)
    modes = {"on": (True,), "off": (False,), "both": (True, False)}[args.native]
    if modes[0] and native.load() is None:
        print("native kernels unavailable (see the log); timing the torch programs only")
        modes = (False,)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {
        "threads": torch.get_num_threads(),
        "clock": args.clock,
        "native_ops": modes[0],
    }
    with native.use(modes[0]):
        result["ops"] = op_benchmarks(args.repeat, rows=args.batch * args.seq, d=64, heads=4, t=args.seq, vocab=97)
    result["step"] = step_benchmark(args.repeat, args.batch, args.seq, args.activation, modes)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"threads: {result['threads']}, clock: {args.clock}, per-op table with native {'on' if modes[0] else 'off'}")
    for name, r in result["ops"].items():
        print(f"{name:34s} repops {r['repops_ms']:8.2f} ms  torch {r['torch_ms']:7.2f} ms  ratio {r['ratio']:6.1f}x")
    s = result["step"]
    if s:
        print(f"step B={s['batch']} T={s['seq']} {s['activation']}: torch {s['torch_ms']:.1f} ms")
        for key in ("native_on", "native_off"):
            if key in s:
                r = s[key]
                print(f"  {key:10s}: repops forward+backward+AdamW {r['repops_core_ms']:.1f} ms ({r['core_ratio']:.2f}x); "
                      f"train_step with checkpoint hashes {r['repops_ms']:.1f} ms ({r['step_ratio']:.2f}x); "
                      f"tracing +{100 * r['tracing_overhead']:.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
