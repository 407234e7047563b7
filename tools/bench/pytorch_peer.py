#!/usr/bin/env python3
"""The PyTorch peer for aulens' benchmarks, run on the same GPU in the same device session.

Measures, for the DESIGN §1.1 network (96×96 grey input, 64/128/256 conv, fc 1024, 7 classes):
  * training steps (forward, cross-entropy, backward, SGD momentum 0.9 wd 1e-4) at batch 64 and 256,
    eager with TF32 off (the fp32-accurate peer) and on, and torch.compile'd with --compile;
  * conv3 activation records (forward to conv3+ReLU, max over positions) over 16,384 images;
  * deconvnet projections of 256×9 conv3 neurons (autograd with every ReLU's backward replaced by
    ReLU of the gradient, DESIGN §1.5): batched (one image row per neuron) and one neuron per call
    (64 calls timed, scaled to 2,304).
Prints one JSON object (and writes it to --json, rewritten after every section, so a run cut short
keeps what it measured). Timings: CUDA events, warm-up, median of repeats; training: rounds of 30
steps between two events, as aulens_bench_train times its steps.

    python3 tools/bench/pytorch_peer.py --json out.json [--quick]
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, classes=7, size=96):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 128, 5, padding=2)
        self.conv3 = nn.Conv2d(128, 256, 5, padding=2)
        self.fc1 = nn.Linear(256 * (size // 8) ** 2, 1024)
        self.fc2 = nn.Linear(1024, classes)

    def conv3_relu(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.conv3(x))

    def forward(self, x):
        x = F.max_pool2d(self.conv3_relu(x), 2)
        x = F.dropout(F.relu(self.fc1(x.flatten(1))), 0.5, self.training)
        return self.fc2(x)


def time_cuda(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def bench_training(batch, tf32, compiled, repeats):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)
    net = Net().cuda().train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 1, 96, 96, device="cuda")
    y = torch.randint(0, 7, (batch,), device="cuda")
    model = torch.compile(net) if compiled else net

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    # As aulens_bench_train times its steps: rounds of 30 steps between two events, the median
    # round divided by 30 (no synchronisation between the steps of a round).
    steps = 30

    def round_of_steps():
        for _ in range(steps):
            step()

    for _ in range(10):
        step()
    ms = time_cuda(round_of_steps, 0, max(3, repeats // 6)) / steps
    return {"batch": batch, "tf32": tf32, "compiled": compiled, "ms_per_step": ms,
            "images_per_s": batch / ms * 1e3}


def bench_records(images, batch, tf32, repeats):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    net = Net().cuda().eval()
    data = torch.randn(images, 1, 96, 96, device="cuda")

    @torch.no_grad()
    def run():
        for i in range(0, images, batch):
            a = net.conv3_relu(data[i:i + batch])
            a.flatten(2).max(dim=2)

    ms = time_cuda(run, 2, repeats)
    return {"images": images, "batch": batch, "tf32": tf32, "ms": ms,
            "images_per_s": images / ms * 1e3}


def bench_sweep(images, maps, aus, n, repeats, eps=1e-6):
    """The AU sweep peer: per (AU, map) torch.topk of the masked values over S and Sᶜ, the distance
    sum((R-Q)·log(R/Q)) with R, Q floored at eps; one permutation = the same on shuffled AU rows."""
    g = torch.Generator(device="cuda").manual_seed(1)
    values = torch.rand(images, maps, device="cuda", generator=g) * 5
    rates = torch.linspace(0.02, 0.4, aus, device="cuda")
    mask = torch.rand(images, aus, device="cuda", generator=g) < rates

    neg_inf = torch.tensor(float("-inf"), device="cuda")  # made once, outside the timed region

    def distances(m):
        masked = values.unsqueeze(0).expand(aus, -1, -1)  # (A, M, K)
        r = torch.where(m.T.unsqueeze(2), masked, neg_inf).topk(n, dim=1).values.clamp_min(eps)
        q = torch.where(~m.T.unsqueeze(2), masked, neg_inf).topk(n, dim=1).values.clamp_min(eps)
        return ((r - q) * torch.log(r / q)).sum(1)  # (A, K)

    sweep_ms = time_cuda(lambda: distances(mask), 3, repeats)
    perms = 10
    perm_ms = time_cuda(lambda: [distances(mask[torch.randperm(images, device="cuda")]).amax(1)
                                 for _ in range(perms)], 1, 3) / perms
    return {"images": images, "maps": maps, "aus": aus, "top_n": n, "sweep_ms": sweep_ms,
            "permutation_ms": perm_ms, "permutations_1000_ms_scaled": perm_ms * 1000}


class DeconvReLU(torch.autograd.Function):
    """ReLU whose backward is ReLU of the incoming gradient (the deconvnet's rectification)."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        return g.clamp_min(0)


def deconv_conv3(net, x):
    x = F.max_pool2d(DeconvReLU.apply(net.conv1(x)), 2)
    x = F.max_pool2d(DeconvReLU.apply(net.conv2(x)), 2)
    return DeconvReLU.apply(net.conv3(x))


def bench_projections(maps, n, tf32, repeats):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    net = Net().cuda().eval()
    p = maps * n
    images = torch.randn(p, 1, 96, 96, device="cuda")
    idx = torch.arange(p, device="cuda")
    mp = idx // n
    yy = torch.randint(0, 24, (p,), device="cuda")
    xx = torch.randint(0, 24, (p,), device="cuda")

    def batched():
        x = images.clone().requires_grad_(True)
        a = deconv_conv3(net, x)
        seed = torch.zeros_like(a)
        seed[idx, mp, yy, xx] = a[idx, mp, yy, xx].detach()
        return torch.autograd.grad(a, x, seed)[0]

    calls = 64

    def one_per_call():
        for i in range(calls):
            x = images[i:i + 1].clone().requires_grad_(True)
            a = deconv_conv3(net, x)
            seed = torch.zeros_like(a)
            seed[0, mp[i], yy[i], xx[i]] = a[0, mp[i], yy[i], xx[i]].detach()
            torch.autograd.grad(a, x, seed)

    return [{"mode": "batched", "tf32": tf32, "projections": p,
             "ms": time_cuda(batched, 2, repeats)},
            {"mode": "one per call", "tf32": tf32, "projections": p,
             "ms": time_cuda(one_per_call, 1, 3) * p / calls,
             "note": f"{calls} calls timed, scaled to {p}"}]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--compile", action="store_true",
                    help="also time torch.compile'd steps at batch 64 (takes minutes to compile)")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    repeats = 10 if args.quick else 30
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "cudnn": torch.backends.cudnn.version(), "training": [], "records": [],
              "projections": []}

    def save():
        if args.json:
            with open(args.json + ".tmp", "w") as f:
                f.write(json.dumps(result, indent=1))
            os.replace(args.json + ".tmp", args.json)

    for batch in (64, 256):
        for tf32 in (False, True):
            result["training"].append(bench_training(batch, tf32, False, repeats))
            save()
            if args.compile and batch == 64:
                try:
                    result["training"].append(bench_training(batch, tf32, True, repeats))
                except Exception as e:  # compile is optional: record why it failed
                    result["training"].append({"batch": batch, "tf32": tf32, "compiled": True,
                                               "error": str(e)[:200]})
    for tf32 in (False, True):
        result["records"].append(bench_records(16384, 512, tf32, 3 if args.quick else 5))
        save()
    result["sweep"] = bench_sweep(16384, 256, 30, 9, repeats)
    save()
    result["projections"] = bench_projections(256, 9, False, 3 if args.quick else 10)
    save()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"pytorch_peer: {time.time() - t0:.1f} s", flush=True)
