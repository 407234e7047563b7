#!/usr/bin/env bash
# The GPU check (see DEVICE.md): on a machine with a GPU, inside one deadline
# ($AULENS_DEVICE_DEADLINE_S, default 480 s, so that one device call leaves time for a second),
#   1. configure and build the GPU targets in build-gpu (Ninja, -j16, sm_90, no OpenCV);
#   2. run every GPU test (ctest -L gpu: each kernel against its CPU twin);
#   3. run the PyTorch peer (tools/bench/pytorch_peer.py) and the benchmarks (aulens_bench_train,
#      _records, _sweep, aulens_bench, aulens_bench_ops), each with --json <name>.json;
#   4. run the conv GPU test's small shapes under compute-sanitizer memcheck (the hand-written
#      kernels only) and the small cases of the suites in $AULENS_SANITIZE (default: the ops);
#   5. train on the synthetic default set when devdata/ was carried (tools/make_devdata.sh), then
#      visualize and sweep on the GPU with the models of $AULENS_DEVICE_ANALYSE (default: fastest);
#   6. write device_check.json (step results + every benchmark JSON), targets.txt (each target of
#      DESIGN §5 met or not, tools/bench/targets.py) and print a short table last.
# The steps run in this order of importance unless $AULENS_DEVICE_STEPS and the variables beside it
# (below) choose others; a step that would pass the deadline is cut to the time left, and one with
# under 10 s left is recorded as SKIPPED.
# Output: the device tool brings back at most 8 files from $OUT, so $OUT receives exactly four:
#   device_check.json, targets.txt, summary.txt (the table), device_check.tar.gz (every log and
#   JSON).
# Usage: OUT=/some/dir AULENS_COMMIT=<sha> tools/device_check.sh     (OUT defaults to ./device_out)
# Exit status: 0 when every step passed, 1 otherwise (all steps run regardless).
set -u -o pipefail

cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/device_out}"
WORK="${AULENS_DEVICE_WORK:-$PWD/device_work}"  # logs and JSONs, packed into $OUT at the end
rm -rf "$WORK"  # a warm machine keeps it between calls: no result of an earlier run may count
mkdir -p "$OUT" "$WORK"
BUILD="${AULENS_DEVICE_BUILD_DIR:-build-gpu}"  # overridable for a dry run elsewhere
JOBS="${AULENS_DEVICE_JOBS:-16}"
DEADLINE_S="${AULENS_DEVICE_DEADLINE_S:-480}"
PACK_RESERVE_S=15  # kept back for the packing at the end
COMMIT="${AULENS_COMMIT:-$(git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)}"
declare -a STEP_NAMES=() STEP_STATUS=() STEP_SECONDS=() STEP_LOGS=()

record() {  # record NAME STATUS SECONDS LOG
  STEP_NAMES+=("$1"); STEP_STATUS+=("$2"); STEP_SECONDS+=("$3"); STEP_LOGS+=("$4")
}

# step NAME LOG TIMEOUT_S COMMAND...: runs COMMAND with a time limit (cut to what the deadline
# leaves), output to $WORK/LOG.
step() {
  local name="$1" log="$2" limit="$3"
  shift 3
  local left=$((DEADLINE_S - PACK_RESERVE_S - SECONDS))
  if [ "$left" -lt 10 ]; then
    echo "== $name: SKIPPED (${left}s left before the deadline)"
    record "$name" SKIPPED 0 "$log"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local start=$SECONDS status
  echo "== $name (limit ${limit}s, log $log)"
  timeout --kill-after=10 "$limit" "$@" >"$WORK/$log" 2>&1
  status=$?
  local result="ok"
  if [ $status -eq 124 ] || [ $status -eq 137 ]; then result="TIMEOUT"; elif [ $status -ne 0 ]; then result="FAIL($status)"; fi
  record "$name" "$result" $((SECONDS - start)) "$log"
  echo "   -> $result in $((SECONDS - start))s"
  return $status
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $COMMIT"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -1
} >"$WORK/machine.txt"
cat "$WORK/machine.txt"

# 1. configure + build (keep going past failures so that what builds can still run). Only what
# runs here: the CLI, the GPU tests and the benchmarks (the CPU suites run in CI, and so do the GPU
# suites' emulated builds, test_*_gpu_emulated).
run_build() {  # run_build [TARGETS]
  step configure configure.log 120 \
    cmake -S . -B "$BUILD" -G Ninja -DAULENS_OPENCV=OFF -DAULENS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
  local targets="${1:-}"
  [ -n "$targets" ] || targets=$(ninja -C "$BUILD" -t targets all 2>/dev/null |
    sed -n -E 's/^(aulens|aulens_bench[a-z_]*|test_[a-z_]*_gpu): .*/\1/p' | sort -u | tr '\n' ' ')
  echo "targets: $targets"
  step build build.log 300 cmake --build "$BUILD" -j "$JOBS" --target $targets -- -k 0
}

# The groups of steps run in the order $AULENS_DEVICE_STEPS lists them (default: all five, "build
# tests bench sanitize train"), so that a second call can finish what a first one left. A group may
# name its items after a colon, commas between: "build:aulens,test_conv_gpu" (the targets built),
# "tests:SweepGpu,RecordsGpu" (the GPU tests matching any of them), "bench:aulens_bench,pytorch_peer"
# and "train:cudnn,handwritten". Those items replace, for that group:
#   AULENS_DEVICE_CTEST_REGEX   only the GPU tests matching it (ctest -R)
#   AULENS_DEVICE_BENCH         which benchmarks, in order (pytorch_peer is the PyTorch peer)
#   AULENS_DEVICE_TRAIN         which training modes of devdata/, in order
# Set only as variables:
#   AULENS_PEER_ARGS            more arguments for the PyTorch peer (e.g. --quick)
#   AULENS_DEVICE_ANALYSE       the modes whose model then runs visualize and sweep on the GPU too
#                               (default handwritten_fastest); their CSVs come back in the pack
#   AULENS_SANITIZE             the GPU test programs run under memcheck after the conv suite
export AULENS_REQUIRE_GPU=1
declare -a BENCH_JSONS=()

# 2. the GPU tests, four processes at a time (each pays CUDA's and cuDNN's start-up); a GPU test
# that cannot find a usable GPU fails here instead of skipping (tests/gpu/gpu_skip.h)
run_tests() {  # run_tests [REGEX]; a regex that matches no test fails the step
  local regex="${1:-${AULENS_DEVICE_CTEST_REGEX:-}}"
  step "ctest -L gpu${regex:+ -R $regex}" ctest_gpu.log 180 \
    ctest --test-dir "$BUILD" -L gpu ${regex:+-R "$regex"} --no-tests=error \
    -j 4 --output-on-failure --timeout 120 --output-junit "$WORK/ctest_gpu.xml"
}

# 3. benchmarks and their PyTorch peer: the peer first, then the programs whose rows carry the
# targets (train, records, sweep), then the per-layer and per-op tables; all but the quick per-op
# table rewrite their JSON after every row (the peer after every section), so one cut short by its
# limit still reports what it finished
run_bench() {  # run_bench [NAMES]
  local default="pytorch_peer aulens_bench_train aulens_bench_records aulens_bench_sweep"
  default+=" aulens_bench aulens_bench_ops"
  local name command
  for name in ${1:-${AULENS_DEVICE_BENCH:-$default}}; do
    if [ -f "tools/bench/$name.py" ]; then
      command=(python3 "tools/bench/$name.py" ${AULENS_PEER_ARGS:-})
      step "peer $name" "$name.log" 120 "${command[@]}" --json "$WORK/$name.json"
    elif [ -x "$BUILD/$name" ]; then
      step "bench $name" "$name.log" 120 "$BUILD/$name" --json "$WORK/$name.json"
    else
      echo "== $name: not found"
      record "$name" "FAIL(missing)" 0 "-"
      continue
    fi
    [ -f "$WORK/$name.json" ] && BENCH_JSONS+=("$WORK/$name.json")
  done
}

# 4. compute-sanitizer on small shapes
run_sanitize() {
  local sanitizer candidate test_bin name
  sanitizer="$(command -v compute-sanitizer || true)"
  for candidate in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    [ -z "$sanitizer" ] && [ -x "$candidate" ] && sanitizer="$candidate"
  done
  if [ -z "$sanitizer" ]; then
    echo "compute-sanitizer not found: sanitizer steps skipped"
    return
  fi
  if [ -x "$BUILD/test_conv_gpu" ]; then
    step "memcheck conv" sanitizer_memcheck_conv.log 120 env AULENS_CONV_TEST_BACKENDS=hand \
      "$sanitizer" --tool memcheck --error-exitcode 9 "$BUILD/test_conv_gpu" \
      --gtest_filter='Small/*:ConvGpuShapes.*'
  fi
  # The other GPU suites' small cases under memcheck; AULENS_SANITIZE lists which (default: ops).
  for test_bin in ${AULENS_SANITIZE:-$BUILD/test_ops_gpu}; do
    [ -x "$test_bin" ] || continue
    name="$(basename "$test_bin")"
    [ "$name" = test_conv_gpu ] && continue
    step "memcheck $name" "sanitizer_memcheck_$name.log" 90 \
      "$sanitizer" --tool memcheck --error-exitcode 9 "$test_bin" --gtest_filter="${AULENS_SANITIZE_FILTER:-*}"
  done
}

# 5. training on the synthetic default set, when tools/make_devdata.sh made devdata/ here and it
#    was carried along (carry ["devdata"]; the GPU machine has no OpenCV, so it cannot run
#    synth/prepare itself): devdata/dataset.safetensors and one YAML per configuration. For the
#    modes in AULENS_DEVICE_ANALYSE, visualize (no PNGs without OpenCV) and sweep follow on the GPU.
run_train() {  # run_train [MODES]
  if [ ! -f devdata/dataset.safetensors ] || [ ! -x "$BUILD/aulens" ]; then
    echo "no devdata/ or no $BUILD/aulens: training skipped (tools/make_devdata.sh, carry devdata)"
    return
  fi
  local run config dir file trained
  for run in ${1:-${AULENS_DEVICE_TRAIN:-handwritten_fastest handwritten_3xtf32 handwritten_tf32 handwritten cudnn}}; do
    config="devdata/gpu_$run.yaml"
    dir="devdata/run_$run"
    [ -f "$config" ] || continue
    mkdir -p "$dir"
    ln -sf ../dataset.safetensors "$dir/dataset.safetensors"
    trained=0
    step "train $run" "train_$run.log" 150 "$BUILD/aulens" train "$config" && trained=1
    [ -f "$dir/metrics.json" ] && cp "$dir/metrics.json" "$WORK/metrics_$run.json"
    # Only a model this call trained to its end (a warm machine keeps older runs in devdata/).
    [ "$trained" = 1 ] || continue
    case " ${AULENS_DEVICE_ANALYSE:-handwritten_fastest} " in *" $run "*) ;; *) continue ;; esac
    rm -f "$dir/topk.csv" "$dir/sweep.csv" "$dir/best_maps.csv"  # none from an earlier call
    step "visualize $run" "visualize_$run.log" 90 "$BUILD/aulens" visualize "$config" &&
      step "sweep $run" "sweep_$run.log" 90 "$BUILD/aulens" sweep "$config"
    mkdir -p "$WORK/run_$run"
    for file in topk.csv sweep.csv best_maps.csv; do  # not the model: 155 MB, over the pack's limit
      [ -f "$dir/$file" ] && cp "$dir/$file" "$WORK/run_$run/"
    done
  done
}

for group in ${AULENS_DEVICE_STEPS:-build tests bench sanitize train}; do
  items=""
  case "$group" in *:*) items="${group#*:}"; items="${items//,/ }"; group="${group%%:*}" ;; esac
  case "$group" in
    build) run_build "$items" ;;
    tests) run_tests "${items// /|}" ;;  # tests:A,B runs the tests matching A or B
    bench) run_bench "$items" ;;
    sanitize) run_sanitize ;;
    train) run_train "$items" ;;
    *) echo "unknown step group '$group' (build, tests, bench, sanitize, train)"; record "$group" "FAIL(unknown)" 0 "-" ;;
  esac
done

# 6. one JSON, the table, and the pack
STEPS_TSV="$WORK/steps.tsv"
: >"$STEPS_TSV"
failed=0
for i in "${!STEP_NAMES[@]}"; do
  printf "%s\t%s\t%s\t%s\n" "${STEP_NAMES[$i]}" "${STEP_STATUS[$i]}" "${STEP_SECONDS[$i]}" "${STEP_LOGS[$i]}" >>"$STEPS_TSV"
  [ "${STEP_STATUS[$i]}" = ok ] || failed=1
done
GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
python3 - "$OUT/device_check.json" "$COMMIT" "$GPU_NAME" "$STEPS_TSV" ${BENCH_JSONS[@]+"${BENCH_JSONS[@]}"} <<'PY'
import json, os, sys
out, commit, gpu, steps_tsv, *benches = sys.argv[1:]
steps = []
for line in open(steps_tsv):
    name, status, seconds, log = line.rstrip("\n").split("\t")
    steps.append({"name": name, "status": status, "seconds": int(seconds), "log": log})
results = {}
for path in benches:
    key = os.path.basename(path)[: -len(".json")]
    try:
        results[key] = json.load(open(path))
    except (OSError, ValueError) as err:  # a benchmark cut off mid-write: say so, keep the rest
        results[key] = {"error": f"unreadable JSON: {err}"}
json.dump({"commit": commit, "gpu": gpu, "steps": steps, "benchmarks": results},
          open(out, "w"), indent=2)
PY

python3 tools/bench/targets.py "$OUT/device_check.json" >"$OUT/targets.txt" 2>&1 ||
  echo "targets.py failed (see above)" >>"$OUT/targets.txt"

{
  for bench_log in "$WORK"/aulens_bench*.log "$WORK"/bench_*.log; do
    [ -f "$bench_log" ] || continue
    echo "---- $(basename "$bench_log" .log)"
    tail -n 15 "$bench_log"
  done
  grep -h -E "tests passed|tests failed" "$WORK/ctest_gpu.log" 2>/dev/null | sed 's/^/ctest: /'
  echo
  cat "$OUT/targets.txt"
  echo
  printf "%-36s %-12s %6s  %s\n" "step" "result" "s" "log"
  for i in "${!STEP_NAMES[@]}"; do
    printf "%-36s %-12s %6s  %s\n" "${STEP_NAMES[$i]}" "${STEP_STATUS[$i]}" "${STEP_SECONDS[$i]}" "${STEP_LOGS[$i]}"
  done
  echo "total ${SECONDS}s (deadline ${DEADLINE_S}s); every log and JSON in device_check.tar.gz"
} >"$OUT/summary.txt"
cp "$OUT/summary.txt" "$OUT/device_check.json" "$OUT/targets.txt" "$WORK/" 2>/dev/null
tar -czf "$OUT/device_check.tar.gz" -C "$WORK" .
cat "$OUT/summary.txt"
exit $failed
