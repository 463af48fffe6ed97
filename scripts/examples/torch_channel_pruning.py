"""Pruning the channels of your own PyTorch model with evoprune's ask/tell engine.

The user's side stays in PyTorch: the model, the data, the fine-tuning loop and the metric.
evoprune only proposes bit masks over the convolution channels and keeps the Pareto front of
(error, kept MACs). Needs torch (`pip install torch`) and the evoprune package.

    python scripts/examples/torch_channel_pruning.py [--generations 10] [--pop 16] [--seed 1]

Data: the UCI handwritten digits (8x8, 1,797 samples) shipped in the repository.
"""

import argparse
import copy
import gzip
import pathlib

import numpy as np
import torch
from torch import nn

import evoprune

ROOT = pathlib.Path(__file__).resolve().parents[2]


def digits():
    rows = np.loadtxt(gzip.open(ROOT / "crates/evoprune-data/assets/digits.csv.gz", "rt"), delimiter=",")
    x = torch.tensor(rows[:, :64] / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(rows[:, 64], dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    tr, va = perm[:1200], perm[1200:]
    return (x[tr], y[tr]), (x[va], y[va])


class Net(nn.Module):
    """Your model: two convolutions whose output channels we prune."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.head = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x, mask1=None, mask2=None):
        x = torch.relu(self.conv1(x))
        if mask1 is not None:
            x = x * mask1.view(1, -1, 1, 1)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        if mask2 is not None:
            x = x * mask2.view(1, -1, 1, 1)
        return self.head(x.flatten(1))


def train(model, data, epochs, masks=(None, None), lr=0.05):
    x, y = data
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=g).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx], *masks), y[idx]).backward()
            opt.step()


def accuracy(model, data, masks=(None, None)):
    x, y = data
    with torch.no_grad():
        return (model(x, *masks).argmax(1) == y).float().mean().item()


def macs(k1, k2):
    """Multiply-accumulates per image with k1 and k2 channels kept."""
    return 64 * 9 * 1 * k1 + 64 * 9 * k1 * k2 + 16 * k2 * 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--pop", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    train_set, val_set = digits()
    base = Net()
    train(base, train_set, epochs=8)
    full = macs(16, 32)
    print(f"dense model: validation accuracy {accuracy(base, val_set):.4f}, {full} MACs")

    engine = evoprune.Engine(evoprune.Bits(16 + 32), [("error", "min"), ("macs_kept", "min")],
                             pop_size=a.pop, seed=a.seed)

    def evaluate(bits):
        m1 = torch.tensor(bits[:16], dtype=torch.float32)
        m2 = torch.tensor(bits[16:], dtype=torch.float32)
        if m1.sum() == 0 or m2.sum() == 0:
            return [1.0, 0.0]
        model = copy.deepcopy(base)
        train(model, train_set, epochs=1, masks=(m1, m2), lr=0.01)  # the user's own fine-tuning
        return [1.0 - accuracy(model, val_set, (m1, m2)), macs(int(m1.sum()), int(m2.sum())) / full]

    while engine.stats()["generation"] < a.generations or engine.stats()["evaluations"] == 0:
        ids, X = engine.ask()
        engine.tell(ids, [evaluate(x) for x in X])
        st = engine.stats()
        print(f"generation {st['generation']}: {st['evaluations']} evaluations", flush=True)
    X, F, _, _, _ = engine.front()
    order = np.argsort(F[:, 1])
    print("\nfront (validation error, fraction of MACs kept, channels kept conv1/conv2):")
    for i in order:
        print(f"  {F[i, 0]:.4f}  {F[i, 1]:.3f}  {int(X[i, :16].sum())}/{int(X[i, 16:].sum())}")


if __name__ == "__main__":
    main()
