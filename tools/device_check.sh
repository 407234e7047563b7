#!/usr/bin/env bash
# The GPU check (see DEVICE.md): on a machine with a GPU, in well under 5 minutes,
#   1. configure and build everything in build-gpu (Ninja, -j16, sm_90, no OpenCV);
#   2. run every GPU test (ctest -L gpu: each kernel against its CPU twin);
#   3. run the conv GPU test's small shapes under compute-sanitizer memcheck (the hand-written
#      kernels only) and the small cases of the suites in $AULENS_SANITIZE (default: the ops);
#   4. run every benchmark found: build-gpu/aulens_bench* and build-gpu/bench_* executables, and
#      the PyTorch peers tools/bench/*.py, each with --json $OUT/<name>.json;
#   5. write logs and $OUT/device_check.json (step results + every benchmark JSON), then print a
#      short table last.
# Usage: OUT=/some/dir tools/device_check.sh      (OUT defaults to ./device_out)
# Exit status: 0 when every step passed, 1 otherwise (all steps run regardless).
set -u -o pipefail

cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/device_out}"
mkdir -p "$OUT"
BUILD="${AULENS_DEVICE_BUILD_DIR:-build-gpu}"  # overridable for a dry run elsewhere
JOBS="${AULENS_DEVICE_JOBS:-16}"
declare -a STEP_NAMES=() STEP_STATUS=() STEP_SECONDS=() STEP_LOGS=()

# step NAME LOG TIMEOUT_S COMMAND...: runs COMMAND with a time limit, output to $OUT/LOG.
step() {
  local name="$1" log="$2" limit="$3"
  shift 3
  local start=$SECONDS status
  echo "== $name (limit ${limit}s, log $log)"
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$log" 2>&1
  status=$?
  local result="ok"
  if [ $status -eq 124 ] || [ $status -eq 137 ]; then result="TIMEOUT"; elif [ $status -ne 0 ]; then result="FAIL($status)"; fi
  STEP_NAMES+=("$name"); STEP_STATUS+=("$result"); STEP_SECONDS+=($((SECONDS - start))); STEP_LOGS+=("$log")
  echo "   -> $result in $((SECONDS - start))s"
  return $status
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -1
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

# 1. configure + build (keep going past failures so that what builds can still run)
step configure configure.log 120 \
  cmake -S . -B "$BUILD" -G Ninja -DAULENS_OPENCV=OFF -DAULENS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
# Only what runs here: the CLI, the GPU tests and the benchmarks (the CPU suites run in CI).
GPU_TARGETS=$(ninja -C "$BUILD" -t targets all 2>/dev/null |
  sed -n -E 's/^(aulens|aulens_bench[a-z_]*|test_[a-z_]*gpu[a-z_]*): .*/\1/p' | sort -u | tr '\n' ' ')
echo "targets: $GPU_TARGETS"
step build build.log 300 cmake --build "$BUILD" -j "$JOBS" --target $GPU_TARGETS -- -k 0

# 2. every GPU test
step "ctest -L gpu" ctest_gpu.log 240 \
  ctest --test-dir "$BUILD" -L gpu --output-on-failure --timeout 200 --output-junit "$OUT/ctest_gpu.xml"

# 3. sanitizers on small shapes
SANITIZER="$(command -v compute-sanitizer || true)"
for candidate in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  [ -z "$SANITIZER" ] && [ -x "$candidate" ] && SANITIZER="$candidate"
done
if [ -n "$SANITIZER" ]; then
  if [ -x "$BUILD/test_conv_gpu" ]; then
    step "memcheck conv" sanitizer_memcheck_conv.log 120 env AULENS_CONV_TEST_BACKENDS=hand \
      "$SANITIZER" --tool memcheck --error-exitcode 9 "$BUILD/test_conv_gpu" \
      --gtest_filter='Small/*:ConvGpuShapes.*'
  fi
  # The other GPU suites' small cases under memcheck; AULENS_SANITIZE lists which (default: ops).
  for test_bin in ${AULENS_SANITIZE:-$BUILD/test_ops_gpu}; do
    [ -x "$test_bin" ] || continue
    name="$(basename "$test_bin")"
    [ "$name" = test_conv_gpu ] && continue
    step "memcheck $name" "sanitizer_memcheck_$name.log" 90 \
      "$SANITIZER" --tool memcheck --error-exitcode 9 "$test_bin" --gtest_filter="${AULENS_SANITIZE_FILTER:-*}"
  done
else
  echo "compute-sanitizer not found: sanitizer steps skipped"
fi

# 3b. training on the synthetic default set, when a prepared dataset cache was carried along in
#     devdata/ (the GPU machine has no OpenCV, so it cannot run synth/prepare itself):
#     devdata/dataset.safetensors, devdata/gpu.yaml (hand-written kernels, FFMA),
#     devdata/gpu_3xtf32.yaml (hand-written, 3×TF32 tensor cores), devdata/gpu_cudnn.yaml.
#     Make it here (git ignores devdata/), then pass carry ["devdata"] to the device tool. The
#     carried paths may hold 64 MiB in all: the images go outside devdata/, only the 42 MB cache
#     and the YAML files travel (checked 2026-12-02: synth 17 s, prepare 6 s on 2 cores):
#       build/aulens synth --out /tmp/aulens-devsynth
#       printf 'output: devdata\ndataset: {path: /tmp/aulens-devsynth}\ntrain: {device: cuda}\n' > devdata/prep.yaml
#       build/aulens prepare devdata/prep.yaml     # train.device cuda: the paper-sized set, no cpu: overrides
#       printf 'output: devdata/run_handwritten\ntrain: {device: cuda, max_epochs: 40, patience: 8}\n' > devdata/gpu.yaml
#       printf 'output: devdata/run_handwritten_3xtf32\ntrain: {device: cuda, fp32_conv: 3xtf32, max_epochs: 40, patience: 8}\n' > devdata/gpu_3xtf32.yaml
#       printf 'output: devdata/run_cudnn\ntrain: {device: cuda, conv_backend: cudnn, max_epochs: 40, patience: 8}\n' > devdata/gpu_cudnn.yaml
if [ -f devdata/dataset.safetensors ] && [ -x "$BUILD/aulens" ]; then
  for backend in handwritten handwritten_3xtf32 cudnn; do
    config=devdata/gpu.yaml
    [ "$backend" = handwritten_3xtf32 ] && config=devdata/gpu_3xtf32.yaml
    [ "$backend" = cudnn ] && config=devdata/gpu_cudnn.yaml
    [ -f "$config" ] || continue
    mkdir -p "devdata/run_$backend"
    ln -sf ../dataset.safetensors "devdata/run_$backend/dataset.safetensors"
    step "train $backend" "train_$backend.log" 150 "$BUILD/aulens" train "$config"
    [ -f "devdata/run_$backend/metrics.json" ] && cp "devdata/run_$backend/metrics.json" "$OUT/metrics_$backend.json"
  done
fi

# 4. benchmarks
declare -a BENCH_JSONS=()
for bench_bin in "$BUILD"/aulens_bench* "$BUILD"/bench_*; do
  [ -x "$bench_bin" ] && [ -f "$bench_bin" ] || continue
  name="$(basename "$bench_bin")"
  step "bench $name" "$name.log" 120 "$bench_bin" --json "$OUT/$name.json"
  [ -f "$OUT/$name.json" ] && BENCH_JSONS+=("$OUT/$name.json")
done
# The aulens_bench executable is the conv benchmark; DEVICE.md names its JSON bench_conv.json.
[ -f "$OUT/aulens_bench.json" ] && cp "$OUT/aulens_bench.json" "$OUT/bench_conv.json"
for peer in tools/bench/*.py; do
  [ -f "$peer" ] || continue
  name="$(basename "$peer" .py)"
  step "peer $name" "$name.log" 120 python3 "$peer" --json "$OUT/$name.json"
  [ -f "$OUT/$name.json" ] && BENCH_JSONS+=("$OUT/$name.json")
done

# 5. one JSON and the table
failed=0
{
  echo "{"
  echo "  \"commit\": \"$(git rev-parse HEAD 2>/dev/null || echo unknown)\","
  echo "  \"gpu\": \"$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)\","
  echo "  \"steps\": ["
  for i in "${!STEP_NAMES[@]}"; do
    sep=","; [ "$i" -eq $((${#STEP_NAMES[@]} - 1)) ] && sep=""
    echo "    {\"name\": \"${STEP_NAMES[$i]}\", \"status\": \"${STEP_STATUS[$i]}\", \"seconds\": ${STEP_SECONDS[$i]}, \"log\": \"${STEP_LOGS[$i]}\"}$sep"
  done
  echo "  ],"
  echo "  \"benchmarks\": {"
  for i in "${!BENCH_JSONS[@]}"; do
    sep=","; [ "$i" -eq $((${#BENCH_JSONS[@]} - 1)) ] && sep=""
    echo "    \"$(basename "${BENCH_JSONS[$i]}" .json)\": $(cat "${BENCH_JSONS[$i]}")$sep"
  done
  echo "  }"
  echo "}"
} >"$OUT/device_check.json"

echo
for bench_log in "$OUT"/aulens_bench*.log "$OUT"/bench_*.log; do
  [ -f "$bench_log" ] || continue
  echo "---- $(basename "$bench_log" .log)"
  tail -n 15 "$bench_log"
done
grep -h -E "tests passed|tests failed" "$OUT/ctest_gpu.log" 2>/dev/null | sed 's/^/ctest: /'
echo
printf "%-36s %-12s %6s  %s\n" "step" "result" "s" "log"
for i in "${!STEP_NAMES[@]}"; do
  printf "%-36s %-12s %6s  %s\n" "${STEP_NAMES[$i]}" "${STEP_STATUS[$i]}" "${STEP_SECONDS[$i]}" "${STEP_LOGS[$i]}"
  [ "${STEP_STATUS[$i]}" = ok ] || failed=1
done
echo "total ${SECONDS}s; logs and device_check.json in $OUT"
exit $failed
