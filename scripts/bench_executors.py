#!/usr/bin/env python3
"""Inference throughput side by side, in one run on this machine: evoprune's fast executor,
its reference executor, onnxruntime and PyTorch (the ONNX model converted by onnx2torch), all
on the same ONNX files, threads and batch, with the same protocol (warm-up passes, then the
median of timed passes).

    python scripts/bench_executors.py [--models DIR] [--threads 2] [--repeats 10] [--warmup 3]
        [--rounds 3] [--evoprune target/release/evoprune]

Each executor is measured `--rounds` times, the executors taking turns, and the median round
is reported: on a shared machine a slow spell then hits every column alike.

DIR holds `export_models.py --large`'s TorchScript exports (batch norm folded). Needs
onnxruntime, torch and onnx2torch (the CI venv has them). Prints a Markdown table.
"""
import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx2torch import convert

ap = argparse.ArgumentParser()
ap.add_argument("--models", default="target/fixtures-large")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=10)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--evoprune", default="target/release/evoprune")
ap.add_argument("--skip-reference", action="store_true")
ap.add_argument("--rounds", type=int, default=3,
                help="measure every executor this many times, alternating; report the median")
a = ap.parse_args()

CASES = [
    ("ResNet-20, 32 px", "resnet20", 32),
    ("ResNet-20, 32 px", "resnet20", 1),
    ("ResNet-56, 32 px", "resnet56", 32),
    ("VGG-16-bn, 32 px", "vgg16bn", 32),
    ("MobileNetV2, 224 px", "mobilenetv2", 32),
    ("ResNet-50, 224 px", "resnet50", 32),
]


def median_rate(run, batch):
    for _ in range(max(a.warmup, 1)):
        run()
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    times.sort()
    return batch / times[len(times) // 2]


def evoprune(model, batch, executor):
    out = subprocess.run(
        [a.evoprune, "bench", str(model), "--batch", str(batch), "--threads", str(a.threads),
         "--repeats", str(a.repeats), "--warmup", str(a.warmup), "--executor", executor,
         "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["images_per_second"]


torch.set_num_threads(a.threads)
print(f"threads {a.threads}, median of {a.repeats} passes after {a.warmup} warm-up passes; "
      f"onnxruntime {ort.__version__}, torch {torch.__version__}")
print()
print("| network | batch | evoprune fast | evoprune reference | onnxruntime | PyTorch | fast / onnxruntime | fast / PyTorch |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
def one_round(path, batch):
    # evoprune first, while this process holds no onnxruntime or PyTorch threads
    r_fast = evoprune(path, batch, "fast")
    r_ref = float("nan") if a.skip_reference else evoprune(path, batch, "reference")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    shape = [batch] + [int(d) for d in inp.shape[1:]]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    r_ort = median_rate(lambda: s.run(None, {inp.name: x}), batch)
    del s
    net = convert(onnx.load(str(path))).eval()
    xt = torch.from_numpy(x)

    def torch_run():
        with torch.inference_mode():
            net(xt)

    r_torch = median_rate(torch_run, batch)
    return r_fast, r_ref, r_ort, r_torch


for label, name, batch in CASES:
    path = Path(a.models) / f"{name}-ts.onnx"
    rounds = [one_round(path, batch) for _ in range(max(a.rounds, 1))]
    r_fast, r_ref, r_ort, r_torch = (float(np.median([r[k] for r in rounds])) for k in range(4))
    print(f"| {label} | {batch} | {r_fast:,.0f} | {r_ref:,.0f} | {r_ort:,.0f} | {r_torch:,.0f} "
          f"| {r_fast / r_ort:.2f} | {r_fast / r_torch:.2f} |", flush=True)
