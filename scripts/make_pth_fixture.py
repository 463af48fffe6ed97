"""Fixture for the .pth reader (crates/evoprune-data/src/tensors.rs tests): a zip-format
PyTorch checkpoint `{"epoch": 3, "state_dict": {...}}` holding an F32 conv weight, an F32
transposed (strided) view, an F16 vector and an I64 counter, all with formula values:

    python3 scripts/make_pth_fixture.py
"""
import pathlib
import torch


def main():
    w = torch.arange(18, dtype=torch.float32).reshape(2, 1, 3, 3) / 8 - 1
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()  # strided view, shape [3, 2]
    sd = {
        "conv.weight": w,
        "proj.weight": t,
        "bn.bias": torch.tensor([0.5, -1.25, 3.0], dtype=torch.float16),
        "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
    }
    out = pathlib.Path(__file__).resolve().parent.parent / "crates/evoprune-data/tests/fixtures/tiny.pth"
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 3, "state_dict": sd}, out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
