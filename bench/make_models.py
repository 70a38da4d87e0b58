#!/usr/bin/env python3
"""Benchmark models that are too big to commit, generated on demand (offline, deterministic).

    /usr/bin/python3 bench/make_models.py

Writes into bench/out/:
  resnet18.onnx        torchvision resnet18() with torch.manual_seed(0) weights, eval mode,
                       opset 13, input "input" [N,3,224,224] (dynamic batch), output "logits" [N,1000]
  resnet18.pt          the same weights as a torch state_dict (bench/reference.py rebuilds the model)
  resnet18_input.npy   a seeded random float32 input [1,3,224,224] (standard normal, seed 1)
"""
import os
import warnings

import numpy as np
import torch
import torchvision

warnings.filterwarnings("ignore")  # exporter TracerWarnings

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()  # random init, no download
    torch.save(model.state_dict(), os.path.join(OUT, "resnet18.pt"))

    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    np.save(os.path.join(OUT, "resnet18_input.npy"), x)

    onnx_path = os.path.join(OUT, "resnet18.onnx")
    torch.onnx.export(
        model, torch.from_numpy(x), onnx_path, opset_version=13,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        do_constant_folding=True,
    )
    print(f"wrote resnet18.onnx, resnet18.pt, resnet18_input.npy into {OUT}")


if __name__ == "__main__":
    main()
