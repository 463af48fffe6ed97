#!/usr/bin/env python3
"""Training-step throughput side by side, in one run on this machine: evoprune's native
trainer, burn's autodiff (through `evoprune bench --train --executor burn`) and PyTorch, on the
same architectures, threads and batch, with the same protocol (warm-up steps, then the median
of timed steps).

    python scripts/bench_train.py [--threads 2] [--batch 64] [--repeats 5] [--warmup 2]
        [--rounds 1] [--cases "resnet20;ResNet-50, 32 px;..."] [--skip-burn]
        [--evoprune target/release/evoprune]

A step is what `model.train()` fine-tuning does per batch: forward with batch statistics,
cross-entropy, backward, SGD with momentum 0.9 and weight decay 5e-4. The PyTorch networks are
the definitions `scripts/fixtures/export_models.py` exports (CIFAR ResNets with option-A
shortcuts, CIFAR VGG-16-bn), torchvision's MobileNetV2 / ResNet-50, and for EfficientNet-Lite0
evoprune's own zoo network converted by onnx2torch; evoprune runs its zoo networks of the same
names (same layers, parameter names and shapes). With `--rounds` > 1 the
frameworks take turns and the median round is reported. Needs torch and torchvision (the CI
venv has them). Prints a Markdown table.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from export_models import CifarResNet, CifarVGG  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--rounds", type=int, default=1)
ap.add_argument("--evoprune", default="target/release/evoprune")
ap.add_argument("--skip-burn", action="store_true")
ap.add_argument("--cases", default="", help="semicolon-separated zoo names or labels, e.g. \"resnet20;ResNet-50, 32 px\"")
a = ap.parse_args()


def torchvision_net(name):
    import torchvision

    return getattr(torchvision.models, name)(num_classes=10)


def zoo_in_torch(name, shape):
    """evoprune's zoo network written as ONNX (`evoprune inspect --onnx`, batch norms kept) and
    converted to a trainable PyTorch module by onnx2torch: for the architectures no PyTorch
    package here defines (EfficientNet-Lite0)."""
    import onnx
    from onnx2torch import convert

    path = Path("target") / f"zoo-{name}-{shape.replace(',', 'x')}-c10.onnx"
    if not path.exists():
        subprocess.run([a.evoprune, "inspect", name, "--input", shape, "--classes", "10",
                        "--onnx", str(path)], check=True, capture_output=True)
    return convert(onnx.load(str(path)))


# label, evoprune zoo name, input C,H,W, PyTorch constructor
CASES = [
    ("ResNet-20, 32 px", "resnet20", "3,32,32", lambda: CifarResNet(20)),
    ("ResNet-56, 32 px", "resnet56", "3,32,32", lambda: CifarResNet(56)),
    ("VGG-16-bn, 32 px", "vgg16-bn", "3,32,32", lambda: CifarVGG()),
    ("ResNet-50, 32 px", "resnet50", "3,32,32", lambda: torchvision_net("resnet50")),
    ("MobileNetV2, 224 px", "mobilenet-v2", "3,224,224", lambda: torchvision_net("mobilenet_v2")),
    ("ResNet-50, 224 px", "resnet50", "3,224,224", lambda: torchvision_net("resnet50")),
    ("EfficientNet-Lite0, 96 px", "efficientnet-lite0", "3,96,96",
     lambda: zoo_in_torch("efficientnet-lite0", "3,96,96")),
    ("EfficientNet-Lite0, 224 px", "efficientnet-lite0", "3,224,224",
     lambda: zoo_in_torch("efficientnet-lite0", "3,224,224")),
]
if a.cases:
    keep = a.cases.split(";")
    CASES = [c for c in CASES if c[1] in keep or c[0] in keep]


def evoprune(name, shape, executor):
    # PyTorch's worker threads spin for a while after its last step and would take the cores
    # from the next measurement: let them fall asleep first
    time.sleep(1.0)
    out = subprocess.run(
        [a.evoprune, "bench", name, "--input", shape, "--classes", "10", "--train",
         "--batch", str(a.batch), "--threads", str(a.threads), "--repeats", str(a.repeats),
         "--warmup", str(a.warmup), "--executor", executor, "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["images_per_second"]


def pytorch(make, shape):
    time.sleep(1.0)
    torch.manual_seed(0)
    net = make().train()
    c, h, w = (int(v) for v in shape.split(","))
    x = torch.randn(a.batch, c, h, w)
    y = torch.arange(a.batch) % 10
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    for _ in range(max(a.warmup, 1)):
        step()
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    return a.batch / times[len(times) // 2]


torch.set_num_threads(a.threads)
print(f"training steps at batch {a.batch}, {a.threads} threads, median of {a.repeats} steps "
      f"after {a.warmup} warm-up steps; torch {torch.__version__}")
print()
print("| network | evoprune native | burn (flex) | PyTorch | native / PyTorch | native / burn |")
print("| --- | --- | --- | --- | --- | --- |")
for label, name, shape, make in CASES:
    rounds = []
    for _ in range(max(a.rounds, 1)):
        r_nat = evoprune(name, shape, "fast")
        r_burn = float("nan") if a.skip_burn else evoprune(name, shape, "burn")
        r_torch = pytorch(make, shape)
        rounds.append((r_nat, r_burn, r_torch))
    r_nat, r_burn, r_torch = (float(np.median([r[k] for r in rounds])) for k in range(3))
    print(f"| {label} | {r_nat:,.1f} | {r_burn:,.1f} | {r_torch:,.1f} | {r_nat / r_torch:.2f} "
          f"| {r_nat / r_burn:.2f} |", flush=True)
