#!/usr/bin/env python3
"""onnxruntime's inference throughput on an ONNX model, for `evoprune bench` side by side.

    python scripts/bench_ort.py MODEL.onnx [--batch 32] [--threads 2] [--repeats 10] [--warmup 3]

Prints the same JSON keys as `evoprune bench --json` (median of the timed passes after the
warm-up passes, random inputs): the same protocol as `evoprune bench`.
"""
import argparse
import json
import time

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=10)
ap.add_argument("--warmup", type=int, default=3)
a = ap.parse_args()
opts = ort.SessionOptions()
opts.intra_op_num_threads = a.threads
opts.inter_op_num_threads = 1
s = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
inp = s.get_inputs()[0]
shape = [a.batch] + [int(d) for d in inp.shape[1:]]
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
for _ in range(max(a.warmup, 1)):
    s.run(None, {inp.name: x})
times = []
for _ in range(a.repeats):
    t = time.perf_counter()
    s.run(None, {inp.name: x})
    times.append(time.perf_counter() - t)
times.sort()
med = times[len(times) // 2]
print(json.dumps({"model": a.model, "executor": f"onnxruntime {ort.__version__}",
                  "input": shape[1:], "batch": a.batch, "threads": a.threads,
                  "repeats": a.repeats, "seconds_per_batch": med,
                  "images_per_second": a.batch / med}, indent=2))
