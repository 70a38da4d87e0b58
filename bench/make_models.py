#!/usr/bin/env python3
"""Benchmark models that are too big to commit, generated on demand (offline, deterministic).

    /usr/bin/python3 bench/make_models.py [resnet18 mobilenet_v2 densenet121]

Writes into bench/out/, for each torchvision architecture NAME (default: all three):
  NAME.onnx        torchvision NAME() with torch.manual_seed(0) weights, eval mode, opset 13,
                   input "input" [N,3,224,224] (dynamic batch), output "logits" [N,1000]
  NAME.pt          the same weights as a torch state_dict (bench/reference.py rebuilds the model)
  NAME_input.npy   a seeded random float32 input [1,3,224,224] (standard normal, seed 1)
Existing files are kept (delete them to regenerate).
"""
import os
import sys
import warnings

import numpy as np
import torch
import torchvision

warnings.filterwarnings("ignore")  # exporter TracerWarnings

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


ARCHITECTURES = ("resnet18", "mobilenet_v2", "densenet121")


def make(name):
    files = [os.path.join(OUT, f) for f in (f"{name}.onnx", f"{name}.pt", f"{name}_input.npy")]
    if all(os.path.exists(f) for f in files):
        return
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()  # random init, no download
    torch.save(model.state_dict(), files[1])
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    np.save(files[2], x)
    torch.onnx.export(
        model, torch.from_numpy(x), files[0], opset_version=13,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        do_constant_folding=True,
    )
    print(f"wrote {name}.onnx, {name}.pt, {name}_input.npy into {OUT}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in sys.argv[1:] or ARCHITECTURES:
        make(name)


if __name__ == "__main__":
    main()
