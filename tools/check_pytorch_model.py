#!/usr/bin/env python3
"""aulens' analysis of a model checked against PyTorch and NumPy, written independently of aulens.

Two uses:

  tools/check_pytorch_model.py BUILD_DIR/aulens WORK_DIR
      A model made in PyTorch, analysed by aulens as the README's "A model trained elsewhere" says.
      ctest runs it as PyTorchExchange.ModelMadeInPyTorchIsAnalysed when AULENS_PYTHON has torch
      (skipped otherwise; .ci/run does not install torch). It
      (a) makes a tiny synthetic set with `aulens synth` and `aulens prepare`;
      (b) builds the network the README describes as a PyTorch module of its own (not aulens'
          code), with PyTorch's default initialisation and a few SGD steps, and saves its
          state_dict with safetensors.torch.save_file as the README says;
      (c) runs `aulens visualize CONFIG --checkpoint FILE --images all`, checks that the outputs
          name the file, and checks the run (below);
      (d) runs visualize again on the training split and `aulens sweep` (a subset, so records rows
          must be matched to dataset rows through image_index), and checks the sweep (below);
      (e) checks that a state_dict with a layer the network lacks, and one saved under
          DataParallel's "module." prefix, are refused with the messages the README promises.

  tools/check_pytorch_model.py --run-folder DIR
      Checks an existing run folder (after `aulens run`, or visualize and sweep) the same way,
      with the model its records name (checkpoints/best.safetensors or a --checkpoint file).

What is checked, against the model in float64 on the input the README describes (centre crop,
/255, standardized per image):
  records      conv3_value of every analysed image and map against the forward pass's maximum;
               conv3_position where the maximum is clear of the runner-up;
  projections  every (map, rank) of projections.safetensors against PyTorch's deconvnet: the
               input gradient of the one conv3 activation with every ReLU's backward replaced by
               ReLU of the gradient (DESIGN §1.5), on the full image, cut to the window's origin.
               A pool window whose two largest inputs lie within SWITCH_MARGIN of each other may
               switch the other way in float32; a projection through one may differ, and is
               counted, not failed;
  sweep        when sweep.safetensors covers the records' images: the distance and AUC matrices
               against NumPy from the definitions (DESIGN §1.6) on the dataset's AU matrix, and
               each best map.
Exit status 0 when every check passes, 1 otherwise.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import safetensors.numpy
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import DeconvReLU  # noqa: E402  (the golden files' deconvnet rectification)

# The tiny run: the network's widths and input, the dataset's crop size.
MODEL = dict(input_size=32, conv1=4, conv2=8, conv3=16, fc=16, classes=7)
CROP = 41  # an odd margin: the centre crop's offset (41 - 32) / 2 rounds down, to 4
FLAT = (0, 5, 11)  # images made near-flat (grey 100/101), where the σ floor 1/S and the /255 count
SYNTH = ["--subjects", "6", "--seed", "1", "--sequences-per-subject", "3",
         "--min-frames", "4", "--max-frames", "4"]
SWEEP_TOL = 1e-5  # relative: float32 sums of n terms against float64
PROJECTION_TOL = 1e-5  # of the projection's largest |value|
SWITCH_MARGIN = 1e-5  # of the largest pool input: a closer runner-up is a near tie
VALUE_TOL = 1e-4  # of the largest record: fp32 sums of at most 200 products per layer, 3 layers
CLEAR_MARGIN = 1e-3  # of the largest record: a maximum this far above the runner-up is clear


class Net(nn.Module):
    """The README's module: three 5x5 convs (pad 2) each with ReLU and 2x2 max pooling, fc1 on the
    flattened (N, C, H, W) pool3 output, ReLU, dropout, fc2."""

    def __init__(self, m):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m["conv1"], 5, padding=2)
        self.conv2 = nn.Conv2d(m["conv1"], m["conv2"], 5, padding=2)
        self.conv3 = nn.Conv2d(m["conv2"], m["conv3"], 5, padding=2)
        self.fc1 = nn.Linear(m["conv3"] * (m["input_size"] // 8) ** 2, m["fc"])
        self.fc2 = nn.Linear(m["fc"], m["classes"])

    def conv3_maps(self, x):
        h = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2, 2)
        return F.relu(self.conv3(h))

    def forward(self, x):
        h = F.max_pool2d(self.conv3_maps(x), 2, 2)
        return self.fc2(F.dropout(F.relu(self.fc1(h.flatten(1))), 0.5, self.training))


def config_text(run_dir):
    m = MODEL
    return (f"output: {run_dir}\n"
            "dataset:\n"
            "  source: synthetic\n"
            "  synth: {subjects: 6, sequences_per_subject: 3, min_frames: 4, max_frames: 4}\n"
            f"  crop_size: {CROP}\n"
            "  folds: 3\n"
            f"model: {{input_size: {m['input_size']}, conv1: {m['conv1']}, conv2: {m['conv2']}, "
            f"conv3: {m['conv3']}, fc: {m['fc']}}}\n"
            "train: {device: cpu, batch: 16, max_epochs: 1, augment: {input_size: 32}}\n"
            "visualize: {top_n: 3}\n"
            "sweep: {top_n: 3, min_images: 2, permutations: 20}\n")


def run(args, expect_ok=True):
    result = subprocess.run(args, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if expect_ok and result.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {result.returncode}:\n{output}")
    return result.returncode, output


def read(path):
    with safe_open(path, "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


def network_inputs(crops, s):
    """The README's input: the centre s x s of each crop, /255, (v - mean) / max(sigma, 1/s)."""
    off = (crops.shape[1] - s) // 2
    x = crops[:, off:off + s, off:off + s].astype(np.float64) / 255.0
    mean = x.mean(axis=(1, 2), keepdims=True)
    sigma = x.std(axis=(1, 2), keepdims=True)  # population
    return torch.from_numpy((x - mean) / np.maximum(sigma, 1.0 / s)).unsqueeze(1)


def made_in_pytorch(inputs):
    """The module with PyTorch's default init, after a few SGD steps on the set's own images."""
    torch.manual_seed(7)
    net = Net(MODEL)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    labels = torch.randint(0, MODEL["classes"], (inputs.shape[0],))
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(net(inputs.float()), labels).backward()
        opt.step()
    return net.eval()


def near_tie(pool_input):
    """Whether some 2x2 window's two largest values differ, but by less than SWITCH_MARGIN."""
    n, c, h, w = pool_input.shape
    windows = pool_input.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5)
    top2 = windows.reshape(n, c, h // 2, w // 2, 4).topk(2, dim=-1).values
    gap = top2[..., 0] - top2[..., 1]
    scale = float(pool_input.abs().max())
    return bool(((gap > 0) & (gap < SWITCH_MARGIN * scale)).any())


def check_projections(run_dir, net64, inputs, failures):
    proj, _ = read(os.path.join(run_dir, "projections.safetensors"))
    s = inputs.shape[-1]
    grid = s // 4
    worst, near, checked = 0.0, 0, 0
    maps, n = proj["top_images"].shape
    for k in range(maps):
        for r in range(n):
            image = int(proj["top_images"][k, r])
            gy, gx = divmod(int(proj["top_positions"][k, r]), grid)
            x = inputs[image:image + 1].clone().requires_grad_(True)
            c1 = DeconvReLU.apply(net64.conv1(x))
            c2 = DeconvReLU.apply(net64.conv2(F.max_pool2d(c1, 2, 2)))
            c3 = DeconvReLU.apply(net64.conv3(F.max_pool2d(c2, 2, 2)))
            seed = torch.zeros_like(c3)
            seed[0, k, gy, gx] = c3[0, k, gy, gx].detach()
            full = torch.autograd.grad(c3, x, seed)[0][0, 0].numpy()
            oy, ox = (int(v) for v in proj["origins"][k, r])
            expect = np.zeros((32, 32))
            y0, x0 = max(oy, 0), max(ox, 0)
            y1, x1 = min(oy + 32, s), min(ox + 32, s)
            expect[y0 - oy:y1 - oy, x0 - ox:x1 - ox] = full[y0:y1, x0:x1]
            if not (oy == 4 * gy - 14 and ox == 4 * gx - 14):
                failures.append(f"map {k} rank {r + 1}: origin ({oy}, {ox}) for conv3 ({gy}, {gx})")
            err = float(np.abs(proj["projections"][k, r] - expect).max())
            err /= max(float(np.abs(expect).max()), 1e-30)
            if err > PROJECTION_TOL and near_tie(c1.detach()) | near_tie(c2.detach()):
                near += 1
                continue
            checked += 1
            worst = max(worst, err)
    print(f"projections: {checked} of {maps * n} against PyTorch's, worst difference {worst:.3g} "
          f"of the largest value; {near} through a near-tied pool window")
    if worst > PROJECTION_TOL:
        failures.append(f"a projection differs from PyTorch's by {worst:.3g} of its largest value")
    if checked < (maps * n) * 3 // 4:
        failures.append(f"only {checked} of {maps * n} projections compared: the check says little")


def ranks(x):
    """Midranks (1-based) of the rows of x along axis 0."""
    order = np.argsort(x, axis=0, kind="stable")
    out = np.empty_like(x, dtype=np.float64)
    for k in range(x.shape[1]):
        v = x[order[:, k], k]
        r = np.arange(1, len(v) + 1, dtype=np.float64)
        start = 0
        while start < len(v):
            end = start
            while end + 1 < len(v) and v[end + 1] == v[start]:
                end += 1
            r[start:end + 1] = (start + end + 2) / 2.0
            start = end + 1
        out[order[:, k], k] = r
    return out


def check_sweep(records, sweep, meta, data, au_ids, failures):
    """The sweep's distance and AUC against the definitions, computed here from the records and the
    dataset's AU matrix (its columns are the AUs au_ids)."""
    images = records["image_index"]
    values = records["conv3_value"].astype(np.float64)  # (M, K)
    present = data["aus"][images] > 0  # (M, A_all)
    n, eps = int(meta["top_n"]), float(meta["epsilon"])
    ranked = ranks(values)
    worst_d = worst_auc = 0.0
    for row, au in enumerate(sweep["au_ids"]):
        s = present[:, au_ids.index(int(au))]
        top_r = np.maximum(-np.sort(-values[s], axis=0)[:n], eps)
        top_q = np.maximum(-np.sort(-values[~s], axis=0)[:n], eps)
        d = ((top_r - top_q) * np.log(top_r / top_q)).sum(axis=0)
        got = sweep["distance"][row].astype(np.float64)
        worst_d = max(worst_d, float((np.abs(got - d) / np.maximum(np.abs(d), 1e-6)).max()))
        pos = s.sum()
        auc = (ranked[s].sum(axis=0) - pos * (pos + 1) / 2) / (pos * (~s).sum())
        worst_auc = max(worst_auc, float(np.abs(sweep["auc"][row] - auc).max()))
        if int(sweep["best_map"][row]) != int(np.argmax(got)):
            failures.append(f"AU{au}: best_map is not the largest distance")
    print(f"sweep: {len(sweep['au_ids'])} AUs x {values.shape[1]} maps over {len(images)} images, "
          f"worst distance difference {worst_d:.3g} (relative), worst AUC difference "
          f"{worst_auc:.3g}")
    if len(sweep["au_ids"]) < 3:
        failures.append(f"only {len(sweep['au_ids'])} AUs analysed: the check says little")
    if worst_d > SWEEP_TOL:
        failures.append(f"sweep distances differ from the definition by {worst_d:.3g}")
    if worst_auc > 1e-5:
        failures.append(f"sweep AUCs differ from the definition by {worst_auc:.3g}")


def check_records(records, net64, inputs, failures):
    images = records["image_index"]
    with torch.no_grad():  # (M, K, G*G), in batches
        maps = torch.cat([net64.conv3_maps(inputs[images[i:i + 256]]).flatten(2)
                          for i in range(0, len(images), 256)]).numpy()
    expect = maps.max(axis=2)
    got = records["conv3_value"].astype(np.float64)
    scale = max(float(np.abs(expect).max()), 1e-30)
    worst = float(np.abs(got - expect).max()) / scale
    print(f"records: {got.shape[0]} images x {got.shape[1]} maps, largest value {scale:.4g}, "
          f"worst difference {worst:.3g} of it")
    if worst > VALUE_TOL:
        failures.append(f"conv3 records differ from PyTorch by {worst:.3g} of the largest "
                        f"(allowed {VALUE_TOL})")
    if (expect > 0).mean() < 0.25:
        failures.append("fewer than a quarter of the maxima are positive: the check says little")
    top2 = np.sort(maps, axis=2)[:, :, -2:]
    clear = (top2[:, :, 1] - top2[:, :, 0]) > CLEAR_MARGIN * scale
    same = records["conv3_position"] == maps.argmax(axis=2)
    print(f"positions: {int(clear.sum())} clear maxima, {int((clear & ~same).sum())} elsewhere")
    if clear.sum() < clear.size // 4:
        failures.append(f"only {int(clear.sum())} of {clear.size} maxima are clear")
    if (clear & ~same).any():
        failures.append(f"{int((clear & ~same).sum())} clear maxima are at another position")


def float64_net(model_cfg, state):
    """The module in float64 with `state` (name -> tensor or array)."""
    net64 = Net(model_cfg).double()
    net64.load_state_dict({k: torch.as_tensor(np.asarray(v)).double() for k, v in state.items()},
                          strict=True)
    return net64.eval()


def check_run(run_dir, failures, sweep_required=False):
    """Records, projections and (when it is of these records, or `sweep_required`) the sweep of
    `run_dir`."""
    records, meta = read(os.path.join(run_dir, "records.safetensors"))
    model_cfg = {k: int(meta["net." + k])
                 for k in ("input_size", "conv1", "conv2", "conv3", "fc", "classes")}
    checkpoint = meta["checkpoint"]
    print(f"{run_dir}: model {checkpoint} ({model_cfg}), images {meta.get('images')}")
    weights, _ = read(checkpoint)
    state = {k: weights[k] for k in Net(model_cfg).state_dict()}
    net64 = float64_net(model_cfg, state)
    data, data_meta = read(os.path.join(run_dir, "dataset.safetensors"))
    inputs = network_inputs(data["crops"], model_cfg["input_size"])
    check_records(records, net64, inputs, failures)
    check_projections(run_dir, net64, inputs, failures)
    sweep_file = os.path.join(run_dir, "sweep.safetensors")
    sweep, sweep_meta = read(sweep_file) if os.path.exists(sweep_file) else (None, {})
    if (sweep is not None and np.array_equal(sweep["images"], records["image_index"])
            and sweep_meta.get("checkpoint", checkpoint) == checkpoint):
        check_sweep(records, sweep, sweep_meta, data, json.loads(data_meta["au_ids"]), failures)
    elif sweep_required:
        failures.append("sweep.safetensors is missing or not of these records")
    else:
        print("sweep: none of these records (another visualize ran since, or none ran), "
              "not checked")


def self_test(aulens, work):
    work = os.path.abspath(work)  # aulens records the model's absolute path
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    run_dir = os.path.join(work, "run")
    config = os.path.join(work, "tiny.yaml")
    with open(config, "w") as f:
        f.write(config_text(run_dir))
    synthetic = os.path.join(work, "synthetic")
    run([aulens, "synth", "--out", synthetic] + SYNTH)
    run([aulens, "prepare", config, "--dataset", synthetic, "--device", "cpu"])
    cache = os.path.join(run_dir, "dataset.safetensors")
    data, cache_meta = read(cache)
    for i in FLAT:
        data["crops"][i] = 100 + (np.add.outer(np.arange(CROP), np.arange(CROP)) % 2)
    safetensors.numpy.save_file(data, cache, metadata=cache_meta)
    net = made_in_pytorch(network_inputs(data["crops"], MODEL["input_size"]))

    model = os.path.join(work, "my_model.safetensors")
    state = {k: v.float().contiguous() for k, v in net.state_dict().items()}
    save_file(state, model)  # as the README says
    run([aulens, "visualize", config, "--checkpoint", model, "--images", "all", "--no-images",
         "--device", "cpu"])
    _, meta = read(os.path.join(run_dir, "records.safetensors"))
    failures = []
    if meta.get("checkpoint") != model or meta.get("checkpoint_given") != "true":
        failures.append(f"records name {meta.get('checkpoint')!r} "
                        f"(given: {meta.get('checkpoint_given')!r}), not {model!r}")
    if os.path.exists(os.path.join(run_dir, "checkpoints")):
        failures.append("visualize --checkpoint made a checkpoints/ folder")
    check_run(run_dir, failures)

    # The sweep over the training split's records.
    run([aulens, "visualize", config, "--checkpoint", model, "--images", "train", "--no-images",
         "--device", "cpu"])
    run([aulens, "sweep", config, "--device", "cpu"])
    check_run(run_dir, failures, sweep_required=True)

    # What the README says is refused, and how.
    refused = [
        ({**state, "bn1.running_mean": torch.zeros(MODEL["conv1"])},
         '"bn1.running_mean" is not a parameter of the aulens network'),
        ({"module." + k: v for k, v in state.items()},
         '"conv1.weight" is missing; the file holds "module.'),
    ]
    for tensors, message in refused:
        save_file(tensors, model)
        status, output = run([aulens, "visualize", config, "--checkpoint", model, "--no-images",
                              "--device", "cpu"], expect_ok=False)
        if status == 0 or message not in output:
            failures.append(f"expected a refusal saying {message!r}, got status {status}:\n{output}")
    return failures


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--run-folder":
        failures = []
        check_run(sys.argv[2], failures)
        done = "the run folder's analysis agrees with PyTorch and NumPy"
    elif len(sys.argv) == 3 and not sys.argv[1].startswith("-"):
        failures = self_test(sys.argv[1], sys.argv[2])
        done = "a model made in PyTorch is analysed as the README says"
    else:
        sys.exit(__doc__)
    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print(done)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
