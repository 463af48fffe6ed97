"""PyTorch reference for `cargo bench -p evoprune-vision --bench efficientnet`: EfficientNet-Lite0
pooled-feature extraction, batch 32, eval mode, no grad, at input sizes 224/128/96/64.

Needs: torch and efficientnet-lite-pytorch (PyPI). Weights do not affect timing, so the model is
built from its name (random init).
Run: python3 scripts/bench_efficientnet_torch.py [--threads N]
"""
import argparse
import time

import torch
from efficientnet_lite_pytorch import EfficientNet


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = EfficientNet.from_name("efficientnet-lite0").eval()
    print(f"torch {torch.__version__}, {a.threads} thread(s)")
    for size in (224, 128, 96, 64):
        x = torch.randn(32, 3, size, size)
        with torch.no_grad():
            m.extract_features(x).mean(dim=(2, 3))  # warm-up
            times = []
            for _ in range(a.repeats):
                t = time.perf_counter()
                m.extract_features(x).mean(dim=(2, 3))
                times.append(time.perf_counter() - t)
        best = min(times)
        print(f"size {size:3d}: {best * 1000:.1f} ms per batch of 32 (min of {a.repeats}), {32 / best:.1f} images/s")


if __name__ == "__main__":
    main()
