#!/usr/bin/env bash
# aulens' CPU reference beside PyTorch on the same CPU, in one run: the "cpu reference" rows of
# aulens_bench_train, aulens_bench_records and aulens_bench_sweep, and tools/bench/pytorch_peer.py
# --device cpu on the same network, sizes and thread count; then one table of ratios. This is
# the CPU figure issue #4 asks for (it bounds the built-in default job), read beside PyTorch.
#
#   tools/bench/cpu_peer.sh OUT_DIR [NET]
#
# NET is SIZE,CONV1,CONV2,CONV3,FC (default 96,16,32,64,256: the network configs/default.yaml
# trains on a CPU; 96,64,128,256,1024 is DESIGN §1.1's). Environment: BUILD_DIR (default build,
# holding the benchmarks), PYTHON (default python3; it needs torch), BATCH (training batch,
# default 32 as the CPU job), STEPS (timed training steps, default 5), IMAGES (records, default
# 512), PROJECTION_MAPS (maps the peer projects, 9 neurons each, default 8: full-image autograd is
# slow on a CPU). Threads: every core for both (aulens: OpenMP; PyTorch: torch.set_num_threads).
# Writes OUT_DIR/{aulens_bench_train,aulens_bench_records,aulens_bench_sweep,pytorch_peer}.json,
# the logs, and OUT_DIR/summary.txt (the table, also printed).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: tools/bench/cpu_peer.sh OUT_DIR [NET]" >&2; exit 2; }
OUT="$1"
NET="${2:-96,16,32,64,256}"
BUILD="${BUILD_DIR:-build}"
PY="${PYTHON:-python3}"
BATCH="${BATCH:-32}"
STEPS="${STEPS:-5}"
IMAGES="${IMAGES:-512}"
PROJECTION_MAPS="${PROJECTION_MAPS:-8}"
for bench in aulens_bench_train aulens_bench_records aulens_bench_sweep; do
  [ -x "$BUILD/$bench" ] || { echo "cpu_peer: $BUILD/$bench not built" >&2; exit 2; }
done
"$PY" -c "import torch" 2>/dev/null || { echo "cpu_peer: $PY cannot import torch" >&2; exit 2; }
mkdir -p "$OUT"

run() {  # run NAME COMMAND...: output to OUT/NAME.log, echoed
  local name="$1"
  shift
  echo "== $name"
  "$@" 2>&1 | tee "$OUT/$name.log"
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
  echo "net: $NET"
} | tee "$OUT/machine.txt"

# The GPU rows need a GPU: without one each benchmark times its CPU reference alone.
run aulens_bench_train "$BUILD/aulens_bench_train" --net "$NET" --batches "$BATCH" \
  --cpu-steps "$STEPS" --no-cudnn --json "$OUT/aulens_bench_train.json"
run aulens_bench_records "$BUILD/aulens_bench_records" --net "$NET" --cpu-images "$IMAGES" \
  --batch 512 --no-cudnn --json "$OUT/aulens_bench_records.json"
run aulens_bench_sweep "$BUILD/aulens_bench_sweep" --json "$OUT/aulens_bench_sweep.json"
run pytorch_peer "$PY" tools/bench/pytorch_peer.py --device cpu --net "$NET" --batches "$BATCH" \
  --steps "$STEPS" --records-images "$IMAGES" --projection-maps "$PROJECTION_MAPS" --quick \
  --json "$OUT/pytorch_peer.json"

"$PY" - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, sys
out = sys.argv[1]
load = lambda name: json.load(open(f"{out}/{name}.json"))
train, records, sweep, peer = (load(n) for n in (
    "aulens_bench_train", "aulens_bench_records", "aulens_bench_sweep", "pytorch_peer"))
cpu = lambda bench: next(r for r in bench["results"] if r["backend"] == "cpu reference")
t, r = cpu(train), cpu(records)
pt = next(x for x in peer["training"] if x["batch"] == t["batch"] and not x["tf32"])
pr = peer["records"][0]
pb = next(x for x in peer["projections"] if x["mode"] == "batched")
po = next(x for x in peer["projections"] if x["mode"] == "one per call")
ps = peer["sweep"]
print(f"aulens CPU reference vs PyTorch {peer['torch']} on {peer['device']}, net {peer['net']}")
print(f"{'':34s} {'aulens':>12s} {'PyTorch':>12s} {'aulens/PyTorch':>15s}")
def line(name, ours, theirs, higher_is_better):
    speed = ours / theirs if higher_is_better else theirs / ours
    print(f"{name:34s} {ours:12.4g} {theirs:12.4g} {speed:14.3g}x")
line(f"training b{t['batch']} (img/s)", t["images_per_s"], pt["images_per_s"], True)
line("conv3 records (img/s)", r["records_images_per_s"], pr["images_per_s"], True)
line("projection, batched (ms each)", r["projection_ms"] / r["projections"],
     pb["ms"] / pb["projections"], False)
line("projection, one per call (ms each)", r["projection_ms"] / r["projections"],
     po["ms"] / po["projections"], False)
line("AU sweep 16384x30x256 (ms)", sweep["cpu_sweep_ms"], ps["sweep_ms"], False)
line("1,000 permutations (ms, scaled)", sweep["cpu_permutations_ms_scaled"],
     ps["permutations_1000_ms_scaled"], False)
print("aulens/PyTorch is a speed ratio: above 1, aulens is faster. aulens projects a 32x32 window,")
print("PyTorch the whole image (autograd), as a PyTorch user would.")
PY
