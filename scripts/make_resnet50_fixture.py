"""Fixture for ResNet-50's forward pass (crates/evoprune-vision/tests/resnet50.rs).

No ImageNet weights for ResNet-50 are available here, so both sides build the same weights from
an integer formula (exact in float32 on both sides): tensor t (in torchvision's state-dict
order), element i, gets u = ((i * 2654435761 + 97 * t + 1) mod 2^32) / 2^32 in [0, 1), and
  conv / fc weights: (2u - 1) * sqrt(3 / fan_in)      (He-uniform scale)
  bn weight 0.5 + u, bias (u - 0.5) * 0.2, running_mean (u - 0.5) * 0.2, running_var 0.5 + u
  fc bias (u - 0.5) * 0.2
The input is 2 images of 3x64x64 with u from the same formula at t = 100000, times 2 minus 1.
The model is a plain-PyTorch copy of torchvision's resnet50 (same module names), in eval mode.
Writes tests/fixtures/resnet50_forward.json: pooled features [2, 2048] and logits [2, 1000].

    python3 scripts/make_resnet50_fixture.py
"""
import json
import math
import pathlib
import numpy as np
import torch
import torch.nn as nn


class Bottleneck(nn.Module):
    def __init__(self, c_in, width, stride, down):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU()
        self.downsample = nn.Sequential(nn.Conv2d(c_in, width * 4, 1, stride, bias=False),
                                        nn.BatchNorm2d(width * 4)) if down else None

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + idt)


class ResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for s, n in enumerate([3, 4, 6, 3]):
            w = 64 << s
            blocks = []
            for i in range(n):
                blocks.append(Bottleneck(c, w, 2 if (i == 0 and s > 0) else 1, i == 0))
                c = w * 4
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(2048, 1000)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for s in range(4):
            x = getattr(self, f"layer{s + 1}")(x)
        return x.mean((2, 3))


def formula(t, n):
    i = np.arange(n, dtype=np.uint64)
    return ((i * np.uint64(2654435761) + np.uint64(97 * t + 1)) % np.uint64(2**32)).astype(np.float64) / 2.0**32


def value(name, shape, t):
    n = int(np.prod(shape))
    u = formula(t, n)
    if name.endswith("running_var") or (name.endswith(".weight") and len(shape) == 1):
        v = 0.5 + u
    elif name.endswith("weight"):
        fan_in = int(np.prod(shape[1:]))
        v = (2 * u - 1) * math.sqrt(3.0 / fan_in)
    else:  # biases and running means
        v = (u - 0.5) * 0.2
    return torch.tensor(v.astype(np.float32).reshape(shape))


def main():
    m = ResNet50().eval()
    sd = {k: v for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
    new = {k: value(k, list(v.shape), t) for t, (k, v) in enumerate(sd.items())}
    m.load_state_dict(new, strict=False)
    x = torch.tensor((formula(100000, 2 * 3 * 64 * 64) * 2 - 1).astype(np.float32).reshape(2, 3, 64, 64))
    with torch.no_grad():
        f = m.features(x)
        z = m.fc(f)
    out = pathlib.Path(__file__).resolve().parent.parent / "crates/evoprune-graph/tests/fixtures/resnet50_forward.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "names": list(sd.keys()),
        "shapes": [list(v.shape) for v in sd.values()],
        "features": [round(float(v), 7) for v in f.flatten()],
        "logits": [round(float(v), 7) for v in z.flatten()],
    }))
    print(f"wrote {out}: features |max| {f.abs().max():.4f}, logits |max| {z.abs().max():.4f}")


if __name__ == "__main__":
    main()
