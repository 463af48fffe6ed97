"""PyTorch reference for `cargo bench -p evoprune-nn --bench lenet`: the Caffe LeNet's forward
of 10,000 images (batch 256) and one training epoch of 2,048 images (batch 64, SGD momentum
0.9, weight decay 5e-4), min of 5 runs, on 1 and 2 threads.

    python3 scripts/bench_lenet_torch.py
"""
import time
import torch
import torch.nn as nn


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))


def best(f, n=5):
    t = []
    for _ in range(n):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    return min(t)


def main():
    torch.manual_seed(0)
    x = torch.rand(10_000, 1, 28, 28)
    xt = torch.rand(2048, 1, 28, 28)
    yt = torch.arange(2048) % 10
    for threads in (1, 2):
        torch.set_num_threads(threads)
        net = lenet().eval()

        def fwd():
            with torch.no_grad():
                for c in x.split(256):
                    net(c)

        def epoch():
            m = lenet()
            opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            loss = nn.CrossEntropyLoss()
            for i in range(0, 2048, 64):
                opt.zero_grad()
                loss(m(xt[i:i + 64]), yt[i:i + 64]).backward()
                opt.step()

        fwd(); epoch()
        tf, te = best(fwd), best(epoch)
        print(f"threads {threads}: forward 10k {tf:.3f} s ({10_000 / tf:.0f} img/s); "
              f"train epoch of 2048 {te:.3f} s ({2048 / te:.0f} img/s)")


if __name__ == "__main__":
    main()
