#!/usr/bin/env python3
"""Inference throughput side by side, in one run on this machine: evoprune's fast executor,
its reference executor, burn (flex), onnxruntime and PyTorch (the ONNX model converted by
onnx2torch), all on the same ONNX files, threads and batch, with the same protocol (warm-up
passes, then the median of timed passes; burn, the slowest, gets `--burn-repeats` passes after
one warm-up pass).

    python scripts/bench_executors.py [--models DIR] [--threads 2] [--repeats 10] [--warmup 3]
        [--rounds 3] [--evoprune target/release/evoprune] [--cases "ResNet-20;EfficientNet"]
        [--skip-reference] [--skip-burn]

Each executor is measured `--rounds` times, the executors taking turns, and the median round
is reported: on a shared machine a slow spell then hits every column alike.

DIR holds `export_models.py --large`'s TorchScript exports (batch norm folded); the networks
PyTorch's own packages do not define here (EfficientNet-Lite0, ResNet-50 at 32 px with 10
classes) are written from evoprune's zoo by `evoprune inspect ZOO --onnx` into the same
folder. Needs onnxruntime, torch and onnx2torch (the CI venv has them). Prints a Markdown
table.
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
ap.add_argument("--skip-burn", action="store_true")
ap.add_argument("--burn-repeats", type=int, default=3)
ap.add_argument("--cases", default="",
                help="semicolon-separated substrings of the case labels to run (default: all)")
ap.add_argument("--rounds", type=int, default=3,
                help="measure every executor this many times, alternating; report the median")
a = ap.parse_args()

# (label, ONNX file stem, batch, zoo architecture and input to write it from, or None)
CASES = []
for label, stem, zoo in [
    ("ResNet-20, 32 px", "resnet20-ts", None),
    ("ResNet-56, 32 px", "resnet56-ts", None),
    ("VGG-16-bn, 32 px", "vgg16bn-ts", None),
    ("ResNet-50, 32 px", "zoo-resnet50-32", ("resnet50", "3,32,32", 10)),
    ("ResNet-50, 224 px", "resnet50-ts", None),
    ("MobileNetV2, 224 px", "mobilenetv2-ts", None),
    ("EfficientNet-Lite0, 96 px", "zoo-efficientnet-lite0-96", ("efficientnet-lite0", "3,96,96", 1000)),
    ("EfficientNet-Lite0, 224 px", "zoo-efficientnet-lite0-224", ("efficientnet-lite0", "3,224,224", 1000)),
]:
    for batch in (32, 1):
        CASES.append((label, stem, batch, zoo))
if a.cases:
    wanted = [c.strip() for c in a.cases.split(";") if c.strip()]
    CASES = [c for c in CASES if any(w in c[0] for w in wanted)]


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
    # PyTorch's and onnxruntime's worker threads spin for a while after their last pass and
    # would take the cores from the next measurement: let them fall asleep first
    time.sleep(1.0)
    repeats, warmup = (a.burn_repeats, 1) if executor == "burn" else (a.repeats, a.warmup)
    out = subprocess.run(
        [a.evoprune, "bench", str(model), "--batch", str(batch), "--threads", str(a.threads),
         "--repeats", str(repeats), "--warmup", str(warmup), "--executor", executor,
         "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["images_per_second"]


torch.set_num_threads(a.threads)
print(f"threads {a.threads}, median of {a.repeats} passes after {a.warmup} warm-up passes; "
      f"onnxruntime {ort.__version__}, torch {torch.__version__}")
print()
print("| network | batch | evoprune fast | evoprune reference | burn (flex) | onnxruntime | PyTorch | fast / onnxruntime | fast / PyTorch | fast / burn |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
def one_round(path, batch):
    # evoprune first, while this process holds no onnxruntime or PyTorch threads
    r_fast = evoprune(path, batch, "fast")
    r_ref = float("nan") if a.skip_reference else evoprune(path, batch, "reference")
    r_burn = float("nan") if a.skip_burn else evoprune(path, batch, "burn")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    shape = [batch] + [int(d) for d in inp.shape[1:]]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    time.sleep(1.0)
    r_ort = median_rate(lambda: s.run(None, {inp.name: x}), batch)
    del s
    net = convert(onnx.load(str(path))).eval()
    xt = torch.from_numpy(x)

    def torch_run():
        with torch.inference_mode():
            net(xt)

    time.sleep(1.0)
    r_torch = median_rate(torch_run, batch)
    return r_fast, r_ref, r_burn, r_ort, r_torch


for label, stem, batch, zoo in CASES:
    path = Path(a.models) / f"{stem}.onnx"
    if zoo is not None and not path.exists():
        arch, inp, classes = zoo
        subprocess.run([a.evoprune, "inspect", arch, "--input", inp, "--classes", str(classes),
                        "--onnx", str(path)], check=True, capture_output=True)
    rounds = [one_round(path, batch) for _ in range(max(a.rounds, 1))]
    r_fast, r_ref, r_burn, r_ort, r_torch = (float(np.median([r[k] for r in rounds]))
                                             for k in range(5))
    print(f"| {label} | {batch} | {r_fast:,.0f} | {r_ref:,.0f} | {r_burn:,.1f} | {r_ort:,.0f} "
          f"| {r_torch:,.0f} | {r_fast / r_ort:.2f} | {r_fast / r_torch:.2f} "
          f"| {r_fast / r_burn:.1f} |", flush=True)
