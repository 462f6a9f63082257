"""One SAPO round of the tiny policy on this machine: generate (sample tasks, G completions per
instance, record logp_old) and update (rescore, advantages, PPO epochs on RepOps), per peer.
Target (issue 5): generate + update <= 10 s per peer per round on a 2-core CPU.

    .venv/bin/python -m bench.sapo_round [--rounds R] [--threads N] [--json] [--cache DIR]

The warm start is built (or loaded from the cache) first and not timed. Figures: per round,
wall-clock and process-CPU seconds of generate and update; the median over R rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.update import SapoLearner, mean_reward
from swarmclient.sapo.warmstart import warm_start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default=".swarm-cache")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SapoConfig(device="cpu")
    learner = SapoLearner("bench-peer", cfg, warm_start(cfg, args.cache, "cpu"), "cpu")
    other = SapoLearner("bench-other", cfg, learner.model, "cpu")
    rows = []
    for r in range(args.rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        local = [g.group for g in learner.generate(r)]
        w1, c1 = time.perf_counter(), time.process_time()
        external = [g.group for g in other.generate(r)]  # another peer's rollouts (untimed)
        w2, c2 = time.perf_counter(), time.process_time()
        record = learner.update(r, local, external)
        w3, c3 = time.perf_counter(), time.process_time()
        rows.append({"generate_s": w1 - w0, "generate_cpu_s": c1 - c0, "update_s": w3 - w2, "update_cpu_s": c3 - c2,
                     "round_s": (w1 - w0) + (w3 - w2), "reward": mean_reward(local), "samples": record.local_samples + record.external_samples})
    med = {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}
    result = {
        "model": {k: getattr(cfg.model, k) for k in ("context", "d_model", "n_layer", "n_head", "d_mlp")},
        "instances": cfg.instances_per_round, "group_size": cfg.group_size, "batch_groups": cfg.local_groups + cfg.external_groups,
        "epochs": cfg.epochs, "threads": args.threads, "rounds": args.rounds, "median": med,
        "meets_10s_target": med["round_s"] <= 10.0,
    }
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
