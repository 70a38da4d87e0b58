#!/usr/bin/env python3
"""Plain-PyTorch reference for the benchmark (bench/run.mjs calls it; never used by tests).

    /usr/bin/python3 bench/reference.py --model mnist --weights examples/mnist/digit_cnn.onnx \
        --input examples/mnist/samples/digit_7.npy --method integrated_gradients --steps 50 \
        --batch 50 --warmup 1 --repeats 5 --threads 2 --map bench/out/ref.npy

Computes one attribution map with plain autograd (weights frozen, torch.autograd.grad w.r.t. the
input only) in float32, times `repeats` runs after `warmup` untimed ones and prints one line of
JSON. With --map, for the agreement check, it then computes the map once more, untimed, on a
float64 copy of the model and saves that as float32 .npy: float32 rounding breaks MaxPool ties
differently from float64 (see test/fixtures/reference/digit_cnn/meta.json), so the float64 map
is the better reference; `f32_rel_l2` says how far the timed float32 map is from it.
Methods, as Captum defines them:
  saliency              |d logits[target] / d x|
  integrated_gradients  (x - 0) * sum_k w_k grad(0 + a_k x), Gauss-Legendre (a_k, w_k), the steps
                        evaluated in batches of --batch, plus the convergence delta (two forwards)
Threads: --threads, default one per core (torch's own default is 1 with Debian's build).
"""
import argparse
import json
import os
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn as nn


class DigitCNN(nn.Module):
    """examples/mnist/digit_cnn.onnx as test/fixtures/make_models.py defines it (dropout: eval)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def load_model(name, weights):
    if name == "mnist":  # the ONNX initializers carry the PyTorch parameter names
        import onnx
        from onnx import numpy_helper
        model = DigitCNN()
        state = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(weights).graph.initializer}
        model.load_state_dict(state)
    elif name in ("resnet18", "mobilenet_v2", "densenet121"):  # written by bench/make_models.py next to NAME.onnx
        import torchvision
        model = getattr(torchvision.models, name)()
        model.load_state_dict(torch.load(weights))
    else:
        raise SystemExit(f"unknown model {name}")
    return model.eval().requires_grad_(False)


def input_gradient(model, x, target):
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(model(x)[:, target].sum(), x)[0]


def saliency(model, x, target, _args):
    return input_gradient(model, x, target).abs(), None


def integrated_gradients(model, x, target, args):
    nodes, w = np.polynomial.legendre.leggauss(args.steps)
    alphas = torch.tensor(0.5 * (1 + nodes), dtype=x.dtype).view(-1, *[1] * (x.dim() - 1))
    weights = torch.tensor(0.5 * w, dtype=x.dtype).view_as(alphas)
    baseline = torch.zeros_like(x)
    total = torch.zeros_like(x)
    for start in range(0, args.steps, args.batch):
        a = alphas[start:start + args.batch]
        g = input_gradient(model, baseline + a * (x - baseline), target)
        total += (weights[start:start + args.batch] * g).sum(0, keepdim=True)
    ig = (x - baseline) * total
    with torch.no_grad():
        delta = float(ig.sum()) - float(model(x)[0, target] - model(baseline)[0, target])
    return ig, delta


def smoothgrad(model, x, target, args):
    """SmoothGrad on saliency (Captum NoiseTunnel smoothgrad): mean of |grad| over --steps noisy
    copies, sigma = 0.15 * (max - min), all copies in batches of --batch."""
    sigma = 0.15 * float(x.max() - x.min())
    generator = torch.Generator().manual_seed(0)
    total = torch.zeros_like(x)
    for start in range(0, args.steps, args.batch):
        count = min(args.batch, args.steps - start)
        noisy = x + sigma * torch.randn((count, *x.shape[1:]), generator=generator, dtype=x.dtype)
        total += input_gradient(model, noisy, target).abs().sum(0, keepdim=True)
    return total / args.steps, None


def occlusion(model, x, target, args, window=4, stride=4 // 2):
    """Captum Occlusion, window 4x4 over all channels, stride 2, zero baseline: each value gets the
    mean of F(x) - F(occluded) over the windows covering it; all windows in one forward batch."""
    _, _, h, w = x.shape
    rows = range(0, h - window + 1 + (1 if (h - window) % stride else 0) * stride, stride)
    cols = range(0, w - window + 1 + (1 if (w - window) % stride else 0) * stride, stride)
    r = torch.tensor([r for r in rows for _ in cols]).view(-1, 1, 1, 1)
    c = torch.tensor([c for _ in rows for c in cols]).view(-1, 1, 1, 1)
    ii = torch.arange(h).view(1, 1, h, 1)
    jj = torch.arange(w).view(1, 1, 1, w)
    args.batch = len(r)  # every window in one forward batch
    covered = ((ii >= r) & (ii < r + window) & (jj >= c) & (jj < c + window)).to(x.dtype)  # [K,1,h,w]
    with torch.no_grad():
        diff = model(x)[0, target] - model(x * (1 - covered))[:, target]
        total = (diff.view(-1, 1, 1, 1) * covered).sum(0)[0]
        count = covered.sum(0)[0]
    return (total / count).expand_as(x[0]).unsqueeze(0).clone(), None


def forward(model, x, target, args):
    """Sensitivity-n's model work: --steps copies of x, each with a random subset of pixels zeroed
    (subset sizes spread like the curve's n), through the model in batches of --batch."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for start in range(0, args.steps, args.batch):
            count = min(args.batch, args.steps - start)
            keep = torch.rand((count, 1, *x.shape[2:]), generator=generator) >= torch.rand((count, 1, 1, 1), generator=generator)
            model(x * keep)[:, target]
    return None, None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--method", choices=["saliency", "integrated_gradients", "smoothgrad", "occlusion", "forward"], required=True)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=50, help="IG steps evaluated per backward pass")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--map", help="where to save the float64 attribution map (.npy)")
    args = p.parse_args()

    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    model = load_model(args.model, args.weights)
    x = torch.from_numpy(np.load(args.input).astype(np.float32))
    with torch.no_grad():
        target = int(model(x).argmax(1)[0])
    method = {"saliency": saliency, "integrated_gradients": integrated_gradients, "smoothgrad": smoothgrad, "occlusion": occlusion, "forward": forward}[args.method]

    times = []
    for i in range(args.warmup + args.repeats):
        start = time.perf_counter()
        attribution, delta = method(model, x, target, args)
        if i >= args.warmup:
            times.append((time.perf_counter() - start) * 1000)
    f32_rel_l2 = None
    if args.map:
        exact, _ = method(load_model(args.model, args.weights).double(), x.double(), target, args)
        np.save(args.map, exact.numpy().astype(np.float32))
        f32_rel_l2 = float((attribution.double() - exact).norm() / exact.norm())
    print(json.dumps({
        "median_ms": statistics.median(times),
        "times_ms": times,
        "target": target,
        "delta": delta,
        "f32_rel_l2": f32_rel_l2,
        "batch": args.batch if args.method in ("integrated_gradients", "smoothgrad", "forward", "occlusion") else 1,
        "threads": torch.get_num_threads(),
        "default_threads": default_threads,
        "torch": torch.__version__,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
