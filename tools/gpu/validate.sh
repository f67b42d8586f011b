#!/usr/bin/env bash
# ./build.sh gpu-validate: everything a GPU machine can tell about the CUDA backend, in one command
# that fits in minutes of device time (docs/gpu-validation.md).
#
#   tools/gpu/validate.sh [--rehearse]
#
# On a machine with an NVIDIA GPU (CUDA toolkit, CMake and a C++ compiler; PyTorch and the
# carried C# check are optional; no network needed):
#   1. builds the library, the CPU and GPU tests and the CUDA benchmark for the card's own
#      architecture only (NAB_CUDA_ARCHITECTURES), recording ptxas's register use and any warning;
#   2. runs the GPU tests (ctest -L gpu), one at a time;
#   3. the CUDA benchmark (step vs a device-to-device copy) and torch.optim.Adam(fused=True) at the
#      same sizes;
#   4. the prebuilt C# check, when artifacts/gpu-check was carried (./build.sh gpu-bundle);
#   5. the CPU suite (ctest -L cpu) with the time left;
# then prints one block to paste into docs/gpu-validation.md ("## Runs"). Every step has a time
# limit and the whole aims at NAB_GPU_VALIDATE_BUDGET seconds (420): a step that would start
# with less than a minute left is recorded as not run. Logs and the record go to
# build/gpu-validate/ (and to $OUT when that is set, as on the device machine).
#
# Exit status: 0 when every step ran and passed; 1 when a step failed or did not run (the record
# says which; the optional steps -- no torch, no C# check carried -- are recorded, not failed); 3 when this machine has no usable NVIDIA GPU -- checked first, in a second, before
# anything is built. --rehearse runs every step without a GPU (the device steps then skip or
# fail) to test this script itself; its record says REHEARSAL.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$root/build/gpu-validate"
build="$work/build"
jobs="${NAB_JOBS:-$(nproc 2>/dev/null || echo 4)}"
budget="${NAB_GPU_VALIDATE_BUDGET:-420}"
started="$(date +%s)"
rehearse=0
case "${1:-}" in
  --rehearse) rehearse=1 ;;
  "") ;;
  *) sed -n '2,/^set -uo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

say() { printf 'gpu-validate: %s\n' "$*"; }
no_gpu() {
  printf 'gpu-validate: %s\n' "$@" >&2
  printf 'gpu-validate: this command is for a machine with an NVIDIA GPU and its driver; nothing was built or run here. (See docs/gpu-validation.md; --rehearse tests the command itself without a GPU.)\n' >&2
  exit 3
}
stop() { printf 'gpu-validate: %s\n' "$*" >&2; exit 1; }
elapsed() { echo $(($(date +%s) - started)); }

# ---- 1. The GPU, first: no build on a machine that cannot run anything ----------------------
gpu_names="" compute_capability="" driver="" driver_cuda=""
smi="${NAB_NVIDIA_SMI:-nvidia-smi}"  # another nvidia-smi: for the test of this refusal (./build.sh test)
if [ "$rehearse" -eq 0 ]; then
  command -v "$smi" >/dev/null 2>&1 ||
    no_gpu "no NVIDIA GPU visible: $smi not found (no NVIDIA driver on this machine)"
  if ! query="$("$smi" --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>&1)"; then
    listing="$("$smi" -L 2>&1)" || no_gpu "no NVIDIA GPU visible: nvidia-smi failed: $(printf '%s' "$listing" | head -n 1)"
    query=""  # an older driver without the compute_cap field: the build asks CMake for "native"
    gpu_names="$(printf '%s\n' "$listing" | sed -n 's/^GPU [0-9]*: \(.*\) (UUID.*/\1/p' | sort -u | paste -sd, -)"
  fi
  if [ -n "$query" ]; then
    gpu_names="$(printf '%s\n' "$query" | cut -d, -f1 | sed 's/^ *//' | sort -u | paste -sd, -)"
    compute_capability="$(printf '%s\n' "$query" | cut -d, -f2 | tr -d ' ' | sort -u | head -n 1)"
    driver="$(printf '%s\n' "$query" | cut -d, -f3 | tr -d ' ' | head -n 1)"
  fi
  [ -n "$gpu_names" ] || no_gpu "no NVIDIA GPU visible: nvidia-smi lists none"
  driver_cuda="$("$smi" 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n 1)"
  say "GPU: $gpu_names (compute capability ${compute_capability:-?}, driver ${driver:-?}, CUDA ${driver_cuda:-?})"
else
  gpu_names="(rehearsal: no GPU)" compute_capability="9.0"
  say "REHEARSAL: running every step without a GPU, as if for compute capability $compute_capability"
fi

# ---- 2. The toolchain: nvcc, CMake, GoogleTest --------------------------------------------------
nvcc="${CUDACXX:-}"
[ -n "$nvcc" ] || nvcc="$(command -v nvcc 2>/dev/null || true)"
if [ -z "$nvcc" ]; then
  for candidate in /usr/local/cuda/bin/nvcc $(ls -d /usr/local/cuda-*/bin/nvcc 2>/dev/null | sort -V -r); do
    [ -x "$candidate" ] && { nvcc="$candidate"; break; }
  done
fi
[ -n "$nvcc" ] && [ -x "$nvcc" ] || stop "nvcc not found (not on PATH, not in /usr/local/cuda*/bin): install the CUDA toolkit or set CUDACXX"
nvcc_version="$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\), V\([0-9.]*\).*/\2/p')"
command -v cmake >/dev/null 2>&1 || stop "cmake not found: install CMake 3.22 or newer"
cmake_version="$(cmake --version | sed -n 's/^cmake version //p')"
gtest_dir=""
for candidate in "${NAB_GTEST_SOURCE_DIR:-}" "$root/artifacts/gpu-check/googletest"; do
  [ -n "$candidate" ] && [ -f "$candidate/CMakeLists.txt" ] && { gtest_dir="$candidate"; break; }
done
if [ -z "$gtest_dir" ] && [ ! -e /usr/lib/x86_64-linux-gnu/cmake/GTest ] && [ ! -e /usr/lib/cmake/GTest ] &&
  [ ! -e /usr/local/lib/cmake/GTest ] && [ ! -e /usr/local/lib64/cmake/GTest ]; then
  [ -f /usr/src/googletest/CMakeLists.txt ] && gtest_dir=/usr/src/googletest
fi
if [ -n "$compute_capability" ]; then
  architecture="$(printf '%s' "$compute_capability" | tr -d '.')-real"
else
  architecture=native
fi
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || cat "$root/artifacts/gpu-check/source-commit" 2>/dev/null || echo unknown)"
if git -C "$root" rev-parse HEAD >/dev/null 2>&1 && [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit+changes"
fi
say "nvcc $nvcc_version ($nvcc), CMake $cmake_version, $jobs jobs, architecture $architecture, GoogleTest ${gtest_dir:-from the system}"

mkdir -p "$work"
rm -f "$work"/*.log "$work/record.md"
declare -A result  # step -> one line for the record

# run_step NAME LIMIT LOG COMMAND...: runs COMMAND with a time limit (never past the budget),
# its output in LOG; returns its status (124 when the limit stopped it, 125 when not started).
run_step() {
  local name="$1" limit="$2" log="$3"
  shift 3
  local left=$((budget - $(elapsed)))
  if [ "$left" -lt 60 ]; then
    result[$name]="not run: the ${budget}s budget was spent"
    say "$name: not run (budget spent)"
    return 125
  fi
  [ "$limit" -le "$left" ] || limit="$left"
  say "$name (limit ${limit}s) ..."
  local begin status
  begin="$(date +%s)"
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  status=$?
  say "$name: exit $status after $(($(date +%s) - begin))s (log: ${log#"$root/"})"
  return "$status"
}

timed_out() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; }

# ---- 3. Build ---------------------------------------------------------------------------------------
configure=(cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNAB_CUDA=ON "-DCMAKE_CUDA_COMPILER=$nvcc"
  "-DNAB_CUDA_ARCHITECTURES=$architecture" -DNAB_CUDA_RESOURCE_USAGE=ON -DNAB_WARNINGS_AS_ERRORS=OFF
  -DNAB_BUILD_TESTS=ON -DNAB_BUILD_BENCHMARKS=ON -DNAB_BUILD_CPU_BENCHMARKS=OFF)
[ -z "$gtest_dir" ] || configure+=("-DNAB_GTEST_SOURCE_DIR=$gtest_dir")
# The kernels are compiled again every time, so ptxas reports their registers even when the build
# folder was kept from an earlier run.
find "$build/native/src" -name '*.cu.o' -delete 2>/dev/null
build_begin="$(date +%s)"
run_step build 300 "$work/build.log" bash -c 'set -e; build="$1" jobs="$2"; shift 2; "$@"; cmake --build "$build" -j "$jobs"' \
  _ "$build" "$jobs" "${configure[@]}"
build_status=$?
build_seconds=$(($(date +%s) - build_begin))
warnings="$(grep -cE '(^|[^A-Za-z])warning( #[0-9A-Z-]+)?:' "$work/build.log" 2>/dev/null || true)"
cuda_compiler_file="$(ls "$build"/CMakeFiles/*/CMakeCUDACompiler.cmake 2>/dev/null | head -n 1)"
cmake_setting() { sed -n "s/^set($1 \"\(..*\)\")\$/\1/p" "$cuda_compiler_file" 2>/dev/null | head -n 1; }
host_compiler="$(cmake_setting CMAKE_CUDA_HOST_COMPILER)"
[ -n "$host_compiler" ] || host_compiler="$(cmake_setting CMAKE_CUDA_HOST_LINK_LAUNCHER)"
host_compiler_version="$(cmake_setting CMAKE_CUDA_HOST_COMPILER_VERSION)"
[ -z "$host_compiler_version" ] || host_compiler="$host_compiler $host_compiler_version"
cxx_compiler="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=\(..*\)$/\1/p' "$build/CMakeCache.txt" 2>/dev/null)"
cxx_version="$("${cxx_compiler:-c++}" --version 2>/dev/null | head -n 1)"
if [ "$build_status" -eq 0 ]; then
  result[build]="ok in ${build_seconds}s, ${warnings:-0} warning lines"
else
  result[build]="FAILED (exit $build_status) after ${build_seconds}s; last lines of build.log:"$'\n'"$(tail -n 15 "$work/build.log" | sed 's/^/    /')"
fi

# Register use per kernel for the card's architecture, from ptxas (--resource-usage), and how many
# 512-thread blocks fit an SM: 65536 registers, allocated per thread in multiples of 8, and at most
# 2048 threads per SM (1536 on sm_86, sm_89 and sm_120; 1024 on sm_75).
registers="$(awk -v arch="sm_${architecture%-real}" '
  /Compiling entry function/ {
    mangled = $0; sub(/^[^'"'"']*'"'"'/, "", mangled); sub(/'"'"'.*$/, "", mangled)
    target = $0; sub(/.*for '"'"'/, "", target); sub(/'"'"'.*$/, "", target)
    name = "?"
    # The kernel name is the one followed by its template arguments (I) or the end of the nested
    # name (E): the file-local namespace before it holds "step_kernels_cu".
    if (match(mangled, /[a-z_]+_kernel[IE]/)) {
      name = substr(mangled, RSTART, RLENGTH - 1)
      rest = substr(mangled, RSTART + RLENGTH - 1)
      args = ""
      if (substr(rest, 1, 1) == "I") rest = substr(rest, 2)
      while (match(rest, /^Lb[01]E/)) { args = args (args == "" ? "" : ",") substr(rest, 3, 1); rest = substr(rest, 5) }
      if (args != "") name = name "<" args ">"
    }
    spill = 0
    next
  }
  /spill stores/ { spill = $5 + 0 }
  /Used [0-9]+ registers/ && (target == arch || arch == "sm_native") {
    r = $0; sub(/.*Used /, "", r); sub(/ registers.*/, "", r)
    threads = (target ~ /^sm_(86|87|89|120|121)$/) ? 1536 : (target == "sm_75" ? 1024 : 2048)
    blocks = int(65536 / (int((r + 7) / 8) * 8 * 512))
    if (blocks > threads / 512) blocks = threads / 512
    if (name !~ /^(step|gradient_statistics|zero)_kernel/) blocks = -1
    printf "%s %s %d %d %d %d\n", name, target, r, blocks, spill, threads
  }' "$work/build.log" 2>/dev/null | sort -u)"
register_lines="$(printf '%s\n' "$registers" | awk '
  NF == 6 {
    threads = $6
    family = $1
    if (family ~ /^step_kernel</) family = (substr(family, 17, 1) == "1" ? "step_kernel, with s_max (AMSGrad)" : "step_kernel, without s_max")
    if (!(family in low) || $3 < low[family]) low[family] = $3
    if (!(family in high) || $3 > high[family]) high[family] = $3
    if (!(family in few) || $4 < few[family]) few[family] = $4
    if (!(family in many) || $4 > many[family]) many[family] = $4
    if ($5 > 0) spills = spills sprintf(" %s %d bytes;", $1, $5)
  }
  END {
    for (family in low) {
      range = (low[family] == high[family]) ? low[family] : low[family] "-" high[family]
      occupancy = ""
      if (few[family] >= 0) {
        occupancy = sprintf(", %s blocks of 512 threads per SM (%d%%", few[family] == many[family] ? few[family] : few[family] "-" many[family], 100 * few[family] * 512 / threads)
        occupancy = occupancy (few[family] == many[family] ? ")" : sprintf("-%d%%)", 100 * many[family] * 512 / threads))
      }
      printf "  - %s: %s registers%s\n", family, range, occupancy
    }
    if (spills != "") printf "  - spills:%s\n", spills
  }' | sort)"

# ---- 4. The GPU tests -------------------------------------------------------------------------------
summarize_ctest() {  # LOG -> "N passed, M failed, K skipped" and the names of failed and skipped tests
  local log="$1" total failed skipped
  total="$(grep -Eo 'tests failed out of [0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)"
  failed="$(sed -n '/The following tests FAILED:/,/^$/p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' |
    sed -E 's/^[[:space:]]+[0-9]+ - //; s/ \(Failed\)$//')"
  skipped="$(sed -n '/The following tests did not run:/,/^$/p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' |
    sed -E 's/^[[:space:]]+[0-9]+ - //; s/ \(Skipped\)$//')"
  local n_failed n_skipped
  n_failed="$(printf '%s' "$failed" | grep -c .)"
  n_skipped="$(printf '%s' "$skipped" | grep -c .)"
  if [ -z "$total" ]; then
    echo "no test summary (see the log)"
    return
  fi
  echo "$((total - n_failed - n_skipped)) passed, $n_failed failed, $n_skipped skipped of $total"
  [ -z "$failed" ] || printf '%s\n' "$failed" | sed 's/^/    failed: /'
  [ -z "$skipped" ] || printf '%s\n' "$skipped" | sed 's/^/    skipped: /'
}

failures=0
if [ "$build_status" -eq 0 ]; then
  run_step "GPU tests" 240 "$work/gpu-tests.log" ctest --test-dir "$build" -L gpu --output-on-failure --timeout 200 -j 1
  status=$?
  if [ "$status" -ne 125 ]; then
    result["GPU tests"]="$(summarize_ctest "$work/gpu-tests.log")"
    timed_out "$status" && result["GPU tests"]+=" (stopped by the time limit)"
  fi
  [ "$status" -eq 0 ] || failures=$((failures + 1))
else
  result["GPU tests"]="not run: the build failed"
  failures=$((failures + 1))
fi

# ---- 5. The CUDA benchmark and torch's fused Adam --------------------------------------------------
benchmark="$build/native/benchmarks/native_adabelief_cuda_benchmark"
if [ -x "$benchmark" ]; then
  run_step "CUDA benchmark" 120 "$work/cuda-benchmark.log" "$benchmark" 100
  status=$?
  [ "$status" -eq 125 ] || result["CUDA benchmark"]="exit $status"
  [ "$status" -eq 0 ] || failures=$((failures + 1))
else
  result["CUDA benchmark"]="not run: not built"
  failures=$((failures + 1))
fi
torch_version="$(timeout 60 python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null)"
if [ -n "$torch_version" ]; then
  run_step "torch fused Adam" 120 "$work/torch-adam.log" python3 "$root/tools/gpu/torch_fused_adam_benchmark.py" 100
  status=$?
  [ "$status" -eq 125 ] || result["torch fused Adam"]="exit $status (torch $torch_version)"
  [ "$status" -eq 0 ] || failures=$((failures + 1))
else
  result["torch fused Adam"]="not run: python3 cannot import torch here"
fi

# One table of both benchmarks: the step and a copy of the same bytes per size and form, and
# torch.optim.Adam(fused=True) (28 bytes per parameter, like the float32 step) at the same size.
benchmark_table="$(awk '
  FNR == 1 { file++ }
  file == 2 && /^params=/ {
    split($0, kv, /[ =]/); torch_us[kv[2]] = kv[4]; next
  }
  file == 1 && /^form=/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    rows[++n] = v["form"] SUBSEP v["params"] SUBSEP v["step_us"] SUBSEP v["step_GBps"] SUBSEP v["copy_GBps"] SUBSEP v["step/copy"]
  }
  END {
    if (n == 0) exit
    print "  | params | form | step µs | step GB/s | copy GB/s | step/copy | torch fused Adam µs | torch/step |"
    print "  | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= n; i++) {
      split(rows[i], r, SUBSEP)
      t = (r[1] == "float32" && (r[2] in torch_us)) ? torch_us[r[2]] : ""
      ratio = (t != "" && r[3] > 0) ? sprintf("%.2f", t / r[3]) : ""
      printf "  | %s | %s | %s | %s | %s | %s | %s | %s |\n", r[2], r[1], r[3], r[4], r[5], r[6], t, ratio
    }
  }' "$work/cuda-benchmark.log" "$work/torch-adam.log" 2>/dev/null)"
targets="$(awk '
  FNR == 1 { file++ }
  file == 2 && /^params=/ { split($0, kv, /[ =]/); torch_us[kv[2]] = kv[4]; next }
  file == 1 && /^form=float32 / {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["params"] + 0 < 10000000) next
    checked++
    if (v["step/copy"] + 0 < 0.9) slow = slow " " v["params"]
    step_us[v["params"]] = v["step_us"]
  }
  END {
    if (checked == 0) { print "not measured"; exit }
    for (p in step_us) if ((p in torch_us) && torch_us[p] + 0 <= step_us[p] + 0) behind = behind " " p
    printf "step >= 90%% of the copy at >= 1e7 parameters: %s; faster than torch fused Adam: %s\n",
      slow == "" ? "met" : "NOT met at" slow, behind == "" ? "met" : "NOT met at" behind
  }' "$work/cuda-benchmark.log" "$work/torch-adam.log" 2>/dev/null)"

# ---- 6. The C# check (carried by ./build.sh gpu-bundle) ------------------------------------------------
check="$root/artifacts/gpu-check/NativeAdaBelief.GpuCheck"
library="$build/native/src/libnative_adabelief.so"
if [ -x "$check" ] && [ -f "$library" ]; then
  run_step "C# check" 120 "$work/csharp-check.log" env NATIVE_ADABELIEF_LIBRARY="$library" "$check"
  status=$?
  if [ "$status" -ne 125 ]; then
    result["C# check"]="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/csharp-check.log" | tail -n 1)"
    [ -n "${result["C# check"]}" ] || result["C# check"]="exit $status: $(tail -n 1 "$work/csharp-check.log")"
    failed_checks="$(grep '^FAIL ' "$work/csharp-check.log" | sed 's/^/    /')"
    [ -z "$failed_checks" ] || result["C# check"]+=$'\n'"$failed_checks"
  fi
  [ "$status" -eq 0 ] || failures=$((failures + 1))
elif [ -x "$check" ]; then
  result["C# check"]="not run: no library was built"
else
  result["C# check"]="not carried (./build.sh gpu-bundle, then carry artifacts/gpu-check)"
fi

# ---- 7. The CPU suite, with the time left ---------------------------------------------------------------
if [ "$build_status" -eq 0 ]; then
  run_step "CPU suite" 300 "$work/cpu-suite.log" ctest --test-dir "$build" -L cpu --output-on-failure --timeout 250 -j "$jobs"
  status=$?
  if [ "$status" -ne 125 ]; then
    result["CPU suite"]="$(summarize_ctest "$work/cpu-suite.log")"
    timed_out "$status" && result["CPU suite"]+=" (stopped by the time limit)"
  fi
  [ "$status" -eq 0 ] || failures=$((failures + 1))
else
  result["CPU suite"]="not run: the build failed"
fi

# ---- 8. The record -----------------------------------------------------------------------------------------
{
  heading="$(date -u +%Y-%m-%d): ${gpu_names}"
  [ "$rehearse" -eq 0 ] || heading="REHEARSAL without a GPU, $(date -u +%Y-%m-%d) (not a GPU run: do not paste)"
  echo "### $heading"
  echo
  echo "\`./build.sh gpu-validate\`, source $commit, $(elapsed) s in all (budget ${budget} s)."
  echo
  echo "- machine: ${gpu_names}; compute capability ${compute_capability:-?}; driver ${driver:-?} (CUDA ${driver_cuda:-?}); $jobs cores"
  echo "- toolchain: nvcc $nvcc_version, host compiler ${host_compiler:-nvcc default}, C++ ${cxx_version:-?}, CMake $cmake_version${torch_version:+, torch $torch_version}"
  echo "- build (NAB_CUDA_ARCHITECTURES=$architecture): ${result[build]}"
  if [ -n "$register_lines" ]; then
    echo "- registers (ptxas, ${architecture%-real}):"
    echo "$register_lines"
  fi
  echo "- GPU tests (ctest -L gpu): ${result["GPU tests"]:-not run}"
  echo "- CPU suite (ctest -L cpu): ${result["CPU suite"]:-not run}"
  echo "- C# check: ${result["C# check"]:-not run}"
  echo "- CUDA benchmark (100 iterations): ${result["CUDA benchmark"]:-not run}; torch fused Adam: ${result["torch fused Adam"]:-not run}"
  [ -z "$benchmark_table" ] || { echo; echo "$benchmark_table"; echo; }
  echo "- targets: ${targets:-not measured}"
} >"$work/record.md"

if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && [ -w "${OUT:-}" ]; then
  cp "$work"/*.log "$work/record.md" "$OUT"/ 2>/dev/null || true
fi
echo
echo "----- 8< ----- paste into docs/gpu-validation.md, under \"## Runs\" -----"
cat "$work/record.md"
echo "----- >8 ----- (also in ${work#"$root/"}/record.md; logs beside it)"
# Why tests failed, outside the record: the first lines of each GoogleTest failure (at most 80).
for log in "$work/gpu-tests.log" "$work/cpu-suite.log"; do
  [ -f "$log" ] && grep -q ': Failure$' "$log" || continue
  echo
  echo "First failures in ${log#"$root/"}:"
  awk '/^\[ RUN      \]/ { test = $4 } /: Failure$/ { left = 5; print "  " test ": " $0; next } left > 0 { print "    " $0; left-- }' "$log" |
    head -n 80
done
if [ "$failures" -gt 0 ]; then
  say "$failures step(s) failed or did not finish: see the record above"
  exit 1
fi
exit 0
