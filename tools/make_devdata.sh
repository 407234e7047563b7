#!/usr/bin/env bash
# Makes devdata/ for tools/device_check.sh: the paper-sized synthetic dataset cache and one training
# config per GPU mode. The GPU machine has no OpenCV, so synth/prepare run here and the result
# travels with the device call (carry ["devdata"]). The synthetic images go to a temporary folder
# outside devdata/, because a device call carries at most 64 MiB; only the ~42 MB cache travels.
# Needs build/aulens built with OpenCV (bash tools/test.sh or tools/run_default.sh builds it).
# Usage: bash tools/make_devdata.sh            (git ignores devdata/)
set -euo pipefail

cd "$(dirname "$0")/.."
AULENS="${AULENS:-build/aulens}"
[ -x "$AULENS" ] || { echo "make_devdata: $AULENS not found; build first (bash tools/test.sh)" >&2; exit 1; }
SYNTH="$(mktemp -d /tmp/aulens-devsynth.XXXXXX)"
trap 'rm -rf "$SYNTH"' EXIT

rm -rf devdata
mkdir -p devdata
"$AULENS" synth --out "$SYNTH/synthetic"
# train.device cuda selects the paper-sized set (the config's cpu: overrides stay out).
printf 'output: devdata\ndataset: {path: %s}\ntrain: {device: cuda}\n' "$SYNTH/synthetic" >devdata/prep.yaml
"$AULENS" prepare devdata/prep.yaml

# One config per mode; device_check.sh trains devdata/gpu_<mode>.yaml into devdata/run_<mode>.
write_config() {  # write_config MODE TRAIN_KEYS
  printf 'output: devdata/run_%s\ntrain: {device: cuda, max_epochs: 40, patience: 8%s}\n' "$1" "$2" \
    >"devdata/gpu_$1.yaml"
}
write_config handwritten ""
write_config handwritten_3xtf32 ", fp32_conv: 3xtf32"
write_config handwritten_fastest ", fp32_conv: fastest"
write_config handwritten_tf32 ", tf32: true"
write_config cudnn ", conv_backend: cudnn"

du -sh devdata
ls devdata
