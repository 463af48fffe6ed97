"""PyTorch side of `cargo bench -p evoprune-nn --bench head_vs_torch`.

Trains MO-EvoPruneDeepTL's head the straightforward way on the same features: one candidate at
a time, the full-width input multiplied by the mask (first k features active), Dense 512 (ReLU,
no bias) -> Dense C, SGD lr 0.01 momentum 0.9 Nesterov, batch 32, the same epochs, first 80% of
the samples for training and the rest for accuracy. Reads evoprune's safetensors feature files
(`features` [n, d], `labels` [n]) with numpy alone.

Run: python3 scripts/bench_head_torch_features.py [--features FILE] [--epochs 5] [--threads N]
"""
import argparse
import json
import struct
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"])
    return out


def synthetic():
    rng = np.random.default_rng(1)
    x = (rng.random((2000, 1280), dtype=np.float32) ** 3) * 4.0
    teacher = rng.random((1280, 5), dtype=np.float32) - 0.5
    return x, np.argmax(x @ teacher, axis=1)


def train_once(x, y, mask, c, epochs):
    torch.manual_seed(0)
    d = x.shape[1]
    model = torch.nn.Sequential(torch.nn.Linear(d, 512, bias=False), torch.nn.ReLU(), torch.nn.Linear(512, c))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    xm = x * mask
    n = x.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(model(xm[idx]), y[idx])
            loss.backward()
            opt.step()
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.features:
        t = read_safetensors(a.features)
        x, y = t["features"], t["labels"].astype(np.int64)
    else:
        x, y = synthetic()
    c = int(y.max()) + 1
    n_train = len(y) * 4 // 5
    xt, yt = torch.from_numpy(np.ascontiguousarray(x[:n_train])), torch.from_numpy(y[:n_train]).long()
    xe, ye = torch.from_numpy(np.ascontiguousarray(x[n_train:])), torch.from_numpy(y[n_train:]).long()
    d = x.shape[1]
    print(f"torch {torch.__version__}, {a.threads} thread(s): {n_train} train / {len(y) - n_train} eval, {d} features, {c} classes, {a.epochs} epochs")
    for pct in (25, 50, 100):
        mask = torch.zeros(d)
        mask[: d * pct // 100] = 1.0
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            model = train_once(xt, yt, mask, c, a.epochs)
            times.append(time.perf_counter() - t0)
        with torch.no_grad():
            acc = (model(xe * mask).argmax(1) == ye).float().mean().item()
        print(f"active {pct:3d}%: {min(times) * 1000:.1f} ms per candidate (min of {a.repeats}), eval accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
