"""Reference hypervolumes of pymoo's C-TAEA (and NSGA-II) on C1-DTLZ1 and C2-DTLZ2.

The numbers the engine's C-TAEA is checked against
(crates/evoprune-problems/tests/it/quality.rs). Settings as the C-TAEA paper's first benchmarks:
three objectives, 91 Das-Dennis directions (12 partitions) = population, C1-DTLZ1 with k = 5
(7 variables) for 500 generations, C2-DTLZ2 with k = 10 (12 variables) for 250 generations,
seeds 1-5. The hypervolume is of the final population's feasible members against 1.1 x the
nadir point of the true front (0.55 for C1-DTLZ1, 1.1 for C2-DTLZ2).

    python -m venv /tmp/pymoo && /tmp/pymoo/bin/pip install pymoo
    /tmp/pymoo/bin/python scripts/reference/ctaea_pymoo.py
"""

import json
import sys
import time

import numpy as np
from pymoo.algorithms.moo.ctaea import CTAEA
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.indicators.hv import HV
from pymoo.optimize import minimize
from pymoo.problems.many.cdtlz import C1DTLZ1, C2DTLZ2
from pymoo.util.ref_dirs import get_reference_directions

CASES = [
    ("c1-dtlz1", lambda: C1DTLZ1(n_var=7, n_obj=3), 500, 0.55),
    ("c2-dtlz2", lambda: C2DTLZ2(n_var=12, n_obj=3), 250, 1.1),
]


def feasible_hv(pop, ref):
    F, CV = pop.get("F"), pop.get("CV").flatten()
    F = F[CV <= 0]
    return float(HV(ref_point=np.full(3, ref))(F)) if len(F) else 0.0


def main():
    import pymoo

    out = {"pymoo": pymoo.__version__, "cases": {}}
    ref_dirs = get_reference_directions("das-dennis", 3, n_partitions=12)
    for name, make, gens, ref in CASES:
        row = {}
        for algo_name in ["ctaea", "nsga2"]:
            hvs, secs = [], []
            for seed in range(1, 6):
                algo = CTAEA(ref_dirs=ref_dirs) if algo_name == "ctaea" else NSGA2(pop_size=91)
                t = time.perf_counter()
                res = minimize(make(), algo, ("n_gen", gens), seed=seed, verbose=False)
                secs.append(time.perf_counter() - t)
                hvs.append(feasible_hv(res.algorithm.pop, ref))
            row[algo_name] = {"hv": hvs, "mean": float(np.mean(hvs)), "secs": float(np.mean(secs))}
            print(name, algo_name, row[algo_name], file=sys.stderr, flush=True)
        out["cases"][name] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
