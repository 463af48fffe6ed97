#!/usr/bin/env python3
"""Test accuracy, size on disk and latency of ONNX digit classifiers in onnxruntime, on the
10,000 MNIST test images fed as evoprune feeds them (pixels / 255; a larger input gets the 28x28
digit zero-padded centred; one channel repeated to the model's channels).

    python scripts/ort_mnist.py MNIST_DIR MODEL.onnx [MODEL.onnx ...] [--threads 2]

Latency: the median of 50 single-image passes after 5 warm-up passes; throughput: images/s
over the test set at batch 64. One JSON line per model.
"""
import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fit(x, shape):
    c, h, w = shape
    n = x.shape[0]
    out = np.zeros((n, c, h, w), dtype=np.float32)
    top, left = (h - 28) // 2, (w - 28) // 2
    out[:, :, top : top + 28, left : left + 28] = x[:, None, :, :]
    return out


ap = argparse.ArgumentParser()
ap.add_argument("mnist")
ap.add_argument("models", nargs="+")
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
images = idx(os.path.join(a.mnist, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
labels = idx(os.path.join(a.mnist, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
for path in a.models:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    shape = [int(d) for d in inp.shape[1:]]
    x = fit(images, shape)
    t0 = time.perf_counter()
    logits = np.concatenate(
        [s.run(None, {inp.name: x[i : i + 64]})[0] for i in range(0, len(x), 64)]
    )
    throughput = len(x) / (time.perf_counter() - t0)
    one = x[:1]
    for _ in range(5):
        s.run(None, {inp.name: one})
    times = []
    for _ in range(50):
        t = time.perf_counter()
        s.run(None, {inp.name: one})
        times.append(time.perf_counter() - t)
    size = os.path.getsize(path)
    data = path + ".data"
    if os.path.exists(data):
        size += os.path.getsize(data)
    print(json.dumps({
        "model": path,
        "test_accuracy": float((logits.argmax(1) == labels).mean()),
        "bytes": size,
        "latency_ms": statistics.median(times) * 1e3,
        "images_per_second_batch64": throughput,
        "threads": a.threads,
    }))
