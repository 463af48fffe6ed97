"""PyTorch reference for `cargo bench -p evoprune-nn --bench head`.

Trains MO-EvoPruneDeepTL's head the straightforward way: one candidate at a time, the full-width
input multiplied by the mask, Dense 512 (ReLU, no bias) -> Dense 5, SGD lr 1e-3 momentum 0.9
Nesterov, batch 32, 3 epochs over 2,000 samples of 1,280 features (same sizes and data recipe as
the Rust bench). Prints training samples per second at 25/50/100% active inputs.

Run: python3 scripts/bench_head_torch.py [--threads N]
"""
import argparse
import time

import numpy as np
import torch

N, D, C, EPOCHS = 2000, 1280, 5, 3


def data():
    rng = np.random.default_rng(1)
    x = (rng.random((N, D), dtype=np.float32) ** 3) * 4.0
    teacher = rng.random((D, C), dtype=np.float32) - 0.5
    y = np.argmax(x @ teacher, axis=1)
    return torch.from_numpy(x), torch.from_numpy(y).long()


def train_once(x, y, mask):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(D, 512, bias=False), torch.nn.ReLU(), torch.nn.Linear(512, C))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    xm = x * mask
    for _ in range(EPOCHS):
        perm = torch.randperm(N)
        for i in range(0, N, 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(model(xm[idx]), y[idx])
            loss.backward()
            opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x, y = data()
    print(f"torch {torch.__version__}, {a.threads} thread(s)")
    for pct in (25, 50, 100):
        mask = torch.zeros(D)
        mask[: D * pct // 100] = 1.0
        train_once(x, y, mask)  # warm-up
        times = []
        for _ in range(a.repeats):
            t = time.perf_counter()
            train_once(x, y, mask)
            times.append(time.perf_counter() - t)
        best = min(times)
        print(f"active {pct:3d}%: {best * 1000:.1f} ms per candidate (min of {a.repeats}), {N * EPOCHS / best / 1000:.1f} k samples/s")


if __name__ == "__main__":
    main()
