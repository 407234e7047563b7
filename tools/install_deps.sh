#!/usr/bin/env bash
# Installs the Debian packages aulens builds and tests with. Idempotent; needs root (or sudo).
# chromium is for the report's browser test (tests/test_report_browser.cpp); libjs-chart.js is
# copied into every report.
# The CUDA toolkit (nvcc, cuDNN, cuBLAS) is not a Debian package here: when nvcc is found the
# CUDA code is compiled too (AULENS_CUDA=AUTO), otherwise aulens builds for the CPU alone.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libopencv-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libopenblas-dev libgtest-dev libgmock-dev libbenchmark-dev libjs-chart.js
  chromium
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "install_deps: installing ${missing[*]}"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all Debian packages present"
fi
