#!/usr/bin/env python3
"""The PyTorch peer for aulens' benchmarks, run on the same GPU in the same device session.

With --device cpu it runs the same sections on the CPU (the TF32 rows are GPU-only and left out),
as the peer of the benchmarks' "cpu reference" rows on the same machine (tools/bench/cpu_peer.sh).

Measures, for the network of --net (default DESIGN §1.1's: 96×96 grey input, 64/128/256 conv,
fc 1024, 7 classes):
  * training steps (forward, cross-entropy, backward, SGD momentum 0.9 wd 1e-4) at batch 64 and 256,
    eager with TF32 off (the fp32-accurate peer) and on, and torch.compile'd with --compile;
  * conv3 activation records (forward to conv3+ReLU, max over positions) over 16,384 images;
  * the AU sweep (16,384 images × 30 AUs × 256 maps, torch.topk on masked values) and its
    permutations;
  * how accurate the convolutions timed above are (conv_accuracy): conv2 and conv3 at the training
    batch, forward and both gradients with the algorithms cudnn.benchmark picks, TF32 off and on,
    against float64 on the same device, as max |diff| / RMS(float64 result) — aulens_bench's diff
    column (on an H200 with cuDNN 9, 2026-12-04, cuDNN's fastest fp32 backward-filter algorithms
    were 5-10 % of RMS off at these shapes when called through aulens);
  * deconvnet projections of 256×9 conv3 neurons (autograd with every ReLU's backward replaced by
    ReLU of the gradient, DESIGN §1.5): batched (one image row per neuron) and one neuron per call
    (64 calls timed, scaled to 2,304).
Prints one JSON object (and writes it to --json, rewritten after every section, so a run cut short
keeps what it measured). Timings: CUDA events (the host clock on the CPU), warm-up, median of
repeats; training: rounds of 30 steps between two events, as aulens_bench_train times its steps.

    python3 tools/bench/pytorch_peer.py --json out.json [--quick] [--compile]
    python3 tools/bench/pytorch_peer.py --device cpu --batches 64 --steps 5 --records-images 512
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
    def __init__(self, classes=7, size=96, c1=64, c2=128, c3=256, fc=1024):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2)
        self.conv3 = nn.Conv2d(c2, c3, 5, padding=2)
        self.fc1 = nn.Linear(c3 * (size // 8) ** 2, fc)
        self.fc2 = nn.Linear(fc, classes)

    def conv3_relu(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.conv3(x))

    def forward(self, x):
        x = F.max_pool2d(self.conv3_relu(x), 2)
        x = F.dropout(F.relu(self.fc1(x.flatten(1))), 0.5, self.training)
        return self.fc2(x)


NET = {"size": 96, "c1": 64, "c2": 128, "c3": 256, "fc": 1024}  # set from --net in main()


def make_net():
    return Net(**NET).to(DEVICE)


DEVICE = "cuda"  # set from --device in main()


def time_ms(fn, warmup, repeats):
    """Median milliseconds of fn() after `warmup` calls: CUDA events on the GPU, the host clock on
    the CPU (where every op has finished when it returns; one warm-up call is enough there)."""
    if DEVICE == "cpu":
        warmup = min(warmup, 1)
    for _ in range(warmup):
        fn()
    if DEVICE == "cpu":
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times)
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


def set_tf32(tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def bench_training(batch, tf32, compiled, repeats, steps=30):
    set_tf32(tf32)
    torch.manual_seed(0)
    net = make_net().train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 1, NET["size"], NET["size"], device=DEVICE)
    y = torch.randint(0, 7, (batch,), device=DEVICE)
    model = torch.compile(net) if compiled else net

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    # As aulens_bench_train times its steps: rounds of `steps` (30) steps between two events, the
    # median round divided by `steps` (no synchronisation between the steps of a round).
    def round_of_steps():
        for _ in range(steps):
            step()

    for _ in range(10 if DEVICE == "cuda" else 2):
        step()
    ms = time_ms(round_of_steps, 0, max(3, repeats // 6)) / steps
    return {"batch": batch, "tf32": tf32, "compiled": compiled, "ms_per_step": ms,
            "images_per_s": batch / ms * 1e3}


def conv_accuracy(batch, tf32):
    """max |diff| / RMS of each conv2/conv3 result against float64 on the same device."""
    set_tf32(tf32)
    rows = []
    gen = torch.Generator().manual_seed(0)
    size = NET["size"]
    for name, c, k, hw in (("conv2", NET["c1"], NET["c2"], size // 2),
                           ("conv3", NET["c2"], NET["c3"], size // 4)):
        def uniform(*shape):  # U(-1, 1) in float32, as aulens' GPU tests and aulens_bench draw
            # their inputs; held in float64 so the reference sees the same values
            return (torch.rand(*shape, generator=gen) * 2 - 1).double().to(DEVICE)
        x64, w64, dy64 = uniform(batch, c, hw, hw), uniform(k, c, 5, 5), uniform(batch, k, hw, hw)
        results = {}
        for dtype in (torch.float64, torch.float32):
            x = x64.to(dtype).requires_grad_(True)
            w = w64.to(dtype).requires_grad_(True)
            for _ in range(2):  # the first call runs cudnn.benchmark's search
                y = F.conv2d(x, w, padding=2)
                dx, dw = torch.autograd.grad(y, (x, w), dy64.to(dtype))
            results[dtype] = (y.detach().double(), dx.double(), dw.double())
        for op, got, want in zip(("forward", "backward_data", "backward_filter"),
                                 results[torch.float32], results[torch.float64]):
            rms = want.pow(2).mean().sqrt().item()
            rows.append({"layer": name, "op": op, "batch": batch, "tf32": tf32,
                         "max_diff_per_rms": (got - want).abs().max().item() / max(rms, 1e-30)})
    return rows


def bench_records(images, batch, tf32, repeats):
    set_tf32(tf32)
    net = make_net().eval()
    data = torch.randn(images, 1, NET["size"], NET["size"], device=DEVICE)

    @torch.no_grad()
    def run():
        for i in range(0, images, batch):
            a = net.conv3_relu(data[i:i + batch])
            a.flatten(2).max(dim=2)

    ms = time_ms(run, 2, repeats)
    return {"images": images, "batch": batch, "tf32": tf32, "ms": ms,
            "images_per_s": images / ms * 1e3}


def bench_sweep(images, maps, aus, n, repeats, eps=1e-6):
    """The AU sweep peer: per (AU, map) torch.topk of the masked values over S and Sᶜ, the distance
    sum((R-Q)·log(R/Q)) with R, Q floored at eps; one permutation = the same on shuffled AU rows."""
    g = torch.Generator(device=DEVICE).manual_seed(1)
    values = torch.rand(images, maps, device=DEVICE, generator=g) * 5
    rates = torch.linspace(0.02, 0.4, aus, device=DEVICE)
    mask = torch.rand(images, aus, device=DEVICE, generator=g) < rates

    neg_inf = torch.tensor(float("-inf"), device=DEVICE)  # made once, outside the timed region

    def distances(m):
        masked = values.unsqueeze(0).expand(aus, -1, -1)  # (A, M, K)
        r = torch.where(m.T.unsqueeze(2), masked, neg_inf).topk(n, dim=1).values.clamp_min(eps)
        q = torch.where(~m.T.unsqueeze(2), masked, neg_inf).topk(n, dim=1).values.clamp_min(eps)
        return ((r - q) * torch.log(r / q)).sum(1)  # (A, K)

    sweep_ms = time_ms(lambda: distances(mask), 3, repeats)
    perms = 10
    perm_ms = time_ms(lambda: [distances(mask[torch.randperm(images, device=DEVICE)]).amax(1)
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
    set_tf32(tf32)
    net = make_net().eval()
    p = maps * n
    images = torch.randn(p, 1, NET["size"], NET["size"], device=DEVICE)
    idx = torch.arange(p, device=DEVICE)
    mp = idx // n
    side = NET["size"] // 4  # conv3's map
    yy = torch.randint(0, side, (p,), device=DEVICE)
    xx = torch.randint(0, side, (p,), device=DEVICE)

    def batched():
        x = images.clone().requires_grad_(True)
        a = deconv_conv3(net, x)
        seed = torch.zeros_like(a)
        seed[idx, mp, yy, xx] = a[idx, mp, yy, xx].detach()
        return torch.autograd.grad(a, x, seed)[0]

    calls = min(64, p)

    def one_per_call():
        for i in range(calls):
            x = images[i:i + 1].clone().requires_grad_(True)
            a = deconv_conv3(net, x)
            seed = torch.zeros_like(a)
            seed[0, mp[i], yy[i], xx[i]] = a[0, mp[i], yy[i], xx[i]].detach()
            torch.autograd.grad(a, x, seed)

    return [{"mode": "batched", "tf32": tf32, "projections": p,
             "ms": time_ms(batched, 2, repeats)},
            {"mode": "one per call", "tf32": tf32, "projections": p,
             "ms": time_ms(one_per_call, 1, 3) * p / calls,
             "note": f"{calls} calls timed, scaled to {p}"}]


def main():
    global DEVICE  # NET is updated in place
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--compile", action="store_true",
                    help="also time torch.compile'd steps at batch 64 (takes minutes to compile)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="where to run (default cuda); on the CPU the TF32 rows are left out")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="CPU threads (torch.set_num_threads; default: every core)")
    ap.add_argument("--net", default="96,64,128,256,1024",
                    help="SIZE,CONV1,CONV2,CONV3,FC as the aulens benchmarks' --net (default "
                         "DESIGN §1.1's network, which the targets are for)")
    ap.add_argument("--projection-maps", type=int,
                    help="conv3 maps projected, 9 neurons each (default: all of CONV3)")
    ap.add_argument("--batches", default="64,256", help="training batch sizes (default 64,256)")
    ap.add_argument("--steps", type=int, default=30,
                    help="training steps per timed round (default 30)")
    ap.add_argument("--records-images", type=int, default=16384,
                    help="images of the records section (default 16384)")
    ap.add_argument("--sweep-images", type=int, default=16384,
                    help="images of the AU sweep section, 30 AUs x 256 maps (default 16384)")
    args = ap.parse_args()
    DEVICE = args.device
    net = [int(v) for v in args.net.split(",")]
    if len(net) != 5 or net[0] % 8 or min(net) < 1:
        ap.error("--net needs 5 positive values SIZE,CONV1,CONV2,CONV3,FC, SIZE divisible by 8")
    NET.update(zip(("size", "c1", "c2", "c3", "fc"), net))
    batches = [int(b) for b in args.batches.split(",")]
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
        device_name = torch.cuda.get_device_name(0)
        tf32_modes = (False, True)
    else:
        torch.set_num_threads(args.threads)
        device_name = f"cpu ({torch.get_num_threads()} threads)"
        tf32_modes = (False,)
    repeats = 10 if args.quick else 30
    result = {"device": device_name, "torch": torch.__version__, "net": args.net,
              "cudnn": torch.backends.cudnn.version() if args.device == "cuda" else None,
              "training": [], "conv_accuracy": [], "records": [], "projections": []}

    def save():
        if args.json:
            with open(args.json + ".tmp", "w") as f:
                f.write(json.dumps(result, indent=1))
            os.replace(args.json + ".tmp", args.json)

    for batch in batches:
        for tf32 in tf32_modes:
            result["training"].append(bench_training(batch, tf32, False, repeats, args.steps))
            save()
            if args.compile and batch == 64:
                try:
                    result["training"].append(bench_training(batch, tf32, True, repeats,
                                                             args.steps))
                except Exception as e:  # compile is optional: record why it failed
                    result["training"].append({"batch": batch, "tf32": tf32, "compiled": True,
                                               "error": str(e)[:200]})
    for tf32 in tf32_modes:
        result["conv_accuracy"] += conv_accuracy(64, tf32)
    save()
    for tf32 in tf32_modes:
        result["records"].append(bench_records(args.records_images, 512, tf32,
                                               3 if args.quick else 5))
        save()
    result["sweep"] = bench_sweep(args.sweep_images, 256, 30, 9, repeats)
    save()
    result["projections"] = bench_projections(args.projection_maps or NET["c3"], 9, False,
                                              3 if args.quick else 10)
    save()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"pytorch_peer: {time.time() - t0:.1f} s", flush=True)
