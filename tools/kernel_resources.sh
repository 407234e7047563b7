#!/usr/bin/env bash
# What ptxas gives each kernel, without a GPU: registers, spill stores/loads, stack and static
# shared memory per kernel of cuda/*.cu, for one architecture (default sm_90). Kernels that spill
# are marked; library kernels (CUB, Thrust) are listed after the project's.
#
# Usage: tools/kernel_resources.sh [BUILD_DIR] [ARCH]
#   BUILD_DIR  a configured build with CUDA on (default: the repository's build/); its
#              compile_commands.json gives
#              the include paths and defines, so the kernels compile as in the product.
#   ARCH       e.g. 90 (default) or 75.
# Takes about 80 s on two cores; writes nothing outside a temporary folder.
set -euo pipefail

BUILD="$(realpath "${1:-$(dirname "$0")/../build}")"
cd "$(dirname "$0")/.."
ARCH="${2:-90}"
DB="$BUILD/compile_commands.json"
[ -f "$DB" ] || { echo "kernel_resources: $DB not found (configure $BUILD with CUDA on first)" >&2; exit 2; }
NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
[ -x "$NVCC" ] || { echo "kernel_resources: nvcc not found" >&2; exit 2; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# The flags of conv2d.cu's compile command, minus its architecture, input and output.
FLAGS="$(python3 - "$DB" <<'PY'
import json, shlex, sys
for entry in json.load(open(sys.argv[1])):
    if entry["file"].endswith("cuda/conv2d.cu"):
        args = shlex.split(entry["command"])[1:]
        keep, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-o", "-x"):  # each takes the next argument
                skip = True
                continue
            if a == "-c":
                continue
            if a.startswith(("--generate-code", "-gencode", "-arch", "-lineinfo")) or a.endswith(".cu"):
                continue
            keep.append(a)
        print(shlex.join(keep))
        break
else:
    sys.exit("no CUDA compile command in the build (configured with CUDA off?)")
PY
)"

ls cuda/*.cu | xargs -P "${AULENS_JOBS:-2}" -I{} sh -c \
  "$NVCC $FLAGS --generate-code=arch=compute_$ARCH,code=sm_$ARCH --resource-usage -x cu -c {} \
     -o $TMP/\$(basename {} .cu).o > $TMP/\$(basename {} .cu).txt 2>&1 || { cat $TMP/\$(basename {} .cu).txt >&2; exit 255; }"

python3 - "$TMP" "$ARCH" <<'PY'
import glob, os, re, subprocess, sys
tmp, arch = sys.argv[1], sys.argv[2]
rows = []
for path in sorted(glob.glob(os.path.join(tmp, "*.txt"))):
    unit = os.path.basename(path)[:-4] + ".cu"
    name = None
    for line in open(path):
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            name = m.group(1)
            row = {"unit": unit, "mangled": name, "stack": 0, "spill_st": 0, "spill_ld": 0}
            rows.append(row)
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and name:
            row["stack"], row["spill_st"], row["spill_ld"] = map(int, m.groups())
        m = re.search(r"Used (\d+) registers", line)
        if m and name:
            row["regs"] = int(m.group(1))
            s = re.search(r"(\d+) bytes smem", line)
            row["smem"] = int(s.group(1)) if s else 0
demangled = subprocess.run(["c++filt"], input="\n".join(r["mangled"] for r in rows),
                           capture_output=True, text=True).stdout.splitlines()
for r, d in zip(rows, demangled):
    d = re.sub(r"\(anonymous namespace\)::|aulens::|cuda_detail::", "", d)
    r["name"] = d.split("(")[0] if "<" not in d.split("(")[0] else d[: d.index(">(") + 1]
    r["library"] = d.startswith(("cub::", "thrust::", "void cub::", "void thrust::")) or "CUB_" in r["mangled"]
rows.sort(key=lambda r: (r["library"], r["unit"], r["name"]))
print(f"sm_{arch}: {len(rows)} kernels ({sum(not r['library'] for r in rows)} the project's)")
print(f"{'unit':<26} {'regs':>4} {'smem B':>7} {'stack':>5} {'spill st/ld':>11}  kernel")
for r in rows:
    mark = "  <- spills" if r["spill_st"] or r["spill_ld"] else ""
    name = ("[library] " if r["library"] else "") + r["name"]
    if len(name) > 110:
        name = name[:107] + "..."
    print(f"{r['unit']:<26} {r.get('regs', 0):>4} {r.get('smem', 0):>7} {r['stack']:>5} "
          f"{r['spill_st']:>5}/{r['spill_ld']:<5}  {name}{mark}")
spilling = [r for r in rows if not r["library"] and (r["spill_st"] or r["spill_ld"])]
print(f"{len(spilling)} of the project's kernels spill registers to local memory")
PY
