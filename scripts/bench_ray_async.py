"""Asynchronous ask/tell on Ray workers: how busy the workers stay and what the coordinator
(engine tell + ask + Ray submit) costs per evaluation, with evaluations that sleep 200 ms.

    python scripts/bench_ray_async.py --workers 8 16 32 --evals-per-worker 60 [--json OUT]

Starts a private local Ray cluster (localhost only, no dashboard) with as many logical CPUs as
the largest worker count: the evaluations sleep, so they need no real CPU.
"""

import argparse
import json
import time

import numpy as np
import ray

import evoprune
import evoprune.ray as eray


def sleepy(x):
    time.sleep(0.2)
    k = float(np.sum(x))
    return [-k, k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--evals-per-worker", type=int, default=60)
    ap.add_argument("--genes", type=int, default=256)
    ap.add_argument("--json")
    a = ap.parse_args()
    ray.init(num_cpus=max(a.workers), include_dashboard=False, _node_ip_address="127.0.0.1")
    rows = []
    for w in a.workers:
        e = evoprune.Engine(evoprune.Bits(a.genes), 2, pop_size=max(32, w), seed=1, mode="asynchronous")
        m = eray.evaluate(e, sleepy, n_eval=w * a.evals_per_worker, workers=w)
        m["workers"] = w
        rows.append(m)
        by = ", ".join(f"{1e3 * v:.2f}" for v in m["coordinator_seconds_by_500"])
        print(
            f"workers {w:3d}: {m['evaluations']} evaluations in {m['wall_seconds']:.1f} s, "
            f"busy {100 * m['busy']:.1f}%, coordinator {1e3 * m['coordinator_seconds_per_evaluation']:.2f} ms"
            f"/evaluation (by 500: {by})",
            flush=True,
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
