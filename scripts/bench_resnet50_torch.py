"""PyTorch reference for `cargo bench -p evoprune-vision --bench resnet`: ResNet-50 pooled
features of a batch of 16 at 224x224, min of 5, on 1 and 2 threads. Uses the plain-PyTorch
torchvision-layout copy in make_resnet50_fixture.py (torchvision is not needed).

    python3 scripts/bench_resnet50_torch.py
"""
import time
import torch
from make_resnet50_fixture import ResNet50


def main():
    m = ResNet50().eval()
    x = torch.rand(16, 3, 224, 224)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.no_grad():
            m.features(x)
            best = float("inf")
            for _ in range(5):
                s = time.perf_counter()
                m.features(x)
                best = min(best, time.perf_counter() - s)
        print(f"threads {threads}: batch 16 at 224: {best:.3f} s ({16 / best:.1f} img/s)")


if __name__ == "__main__":
    main()
