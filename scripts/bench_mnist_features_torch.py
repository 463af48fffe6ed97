"""PyTorch peer of `cargo run --release -p evoprune-deeptl --example mnist_features`: the 1,280
pooled EfficientNet-Lite0 features (ImageNet weights) of all 70,000 MNIST images, as
MO-EvoPruneDeepTL extracts them: grey 28x28 resized bilinearly (pixel centres, as evoprune's
preprocessing) to SIZE px, copied to three channels, ImageNet-normalised, batch 32,
`inference_mode`. The network is evoprune's zoo EfficientNet-Lite0 with the real weights,
written as ONNX by `evoprune inspect --onnx` and converted to PyTorch by onnx2torch (batch norms
kept, run by PyTorch), cut at the pooled features. The wall time includes the preprocessing,
as the Rust example's does.

With `--compare FILE` (written by the Rust example's 4th argument) it prints the largest
difference between both sides' features of the first 64 images.

Needs torch, onnx, onnx2torch (the CI venv has them) and ../shared/data.
Run: python scripts/bench_mnist_features_torch.py [--threads 2] [--size 96] [--limit N]
     [--compare features.f32]
"""
import argparse
import gzip
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx2torch import convert

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--size", type=int, default=96)
ap.add_argument("--limit", type=int, default=70_000)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--compare", type=Path)
ap.add_argument("--evoprune", default=str(ROOT / "target" / "release" / "evoprune"))
a = ap.parse_args()


def idx_images(name):
    with gzip.open(SHARED / "mnist" / name) as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[o:o + 4], "big") for o in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, h, w)


def network():
    path = ROOT / "target" / f"efficientnet-lite0-imagenet-{a.size}.onnx"
    if not path.exists():
        subprocess.run(
            [a.evoprune, "inspect", "efficientnet-lite0", "--weights",
             str(SHARED / "efficientnet-lite0" / "efficientnet-lite0.safetensors"),
             "--input", f"3,{a.size},{a.size}", "--classes", "1000", "--onnx", str(path)],
            check=True, capture_output=True)
    cut = path.with_suffix(".pooled.onnx")
    onnx.utils.extract_model(str(path), str(cut), ["input"], ["pooled"])
    return convert(onnx.load(str(cut))).eval()


def main():
    torch.set_num_threads(a.threads)
    images = np.concatenate([idx_images("train-images-idx3-ubyte.gz"),
                             idx_images("t10k-images-idx3-ubyte.gz")])[:a.limit]
    net = network()
    feats = []
    t = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(images), a.batch):
            x = torch.from_numpy(images[s:s + a.batch].astype(np.float32) / 255.0).unsqueeze(1)
            x = F.interpolate(x, size=(a.size, a.size), mode="bilinear", align_corners=False)
            x = (x.expand(-1, 3, -1, -1) - MEAN) / STD
            f = net(x)
            if s < 64:
                feats.append(f.numpy().copy())
    secs = time.perf_counter() - t
    print(f"torch {torch.__version__}: {len(images)} images at {a.size} px, {a.threads} "
          f"thread(s): {secs:.1f} s, {len(images) / secs:.1f} images/s")
    if a.compare:
        ours = np.fromfile(a.compare, dtype="<f4").reshape(-1, 1280)
        theirs = np.concatenate(feats)[:len(ours)]
        print(f"max |feature difference| over the first {len(ours)} images: "
              f"{np.abs(ours - theirs).max():.2e} (largest feature {np.abs(theirs).max():.2f})")


if __name__ == "__main__":
    main()
