"""The quantization values asserted in crates/evoprune-nn/src/quant.rs, computed by PyTorch.

Run: python3 scripts/check_quant_torch.py (needs torch). Expected output:
  per-channel int8 [[127, 0, 2, 0], [0, 0, 0, 0], [-127, 64, 0, 32]]
  dynamic weights [127, -128, 0, 2, 0] scale 1.0
  dynamic activations [0.0, 0.0, 2.0, 127.0, 33.0]
"""
import warnings

import torch
from torch.ao.quantization import MinMaxObserver

warnings.filterwarnings("ignore")

w = torch.tensor([[127.0, -0.5, 1.5, 0.0], [0, 0, 0, 0], [-254.0, 127.0, 0.0, 63.0]])
q = torch.quantize_per_channel(w, torch.tensor([1.0, 1.0, 2.0]), torch.tensor([0, 0, 0]), 0, torch.qint8)
print("per-channel int8", q.int_repr().tolist())

v = torch.tensor([127.5, -127.5, 0.5, 1.5, 0.0])
o = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
o(v)
s, _ = o.calculate_qparams()
print("dynamic weights", torch.quantize_per_tensor(v, s.item(), 0, torch.qint8).int_repr().tolist(), "scale", s.item())

x = torch.tensor([0.0, 0.5, 1.5, 127.0, 33.3])
o = MinMaxObserver(dtype=torch.quint8, reduce_range=True)
o(x)
s, z = o.calculate_qparams()
print("dynamic activations", torch.quantize_per_tensor(x, s.item(), int(z.item()), torch.quint8).dequantize().tolist())
