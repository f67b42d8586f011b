#!/usr/bin/env bash
# The one entry point: build the native library with CMake, stage it where the .NET projects
# load it, build the solution, and run what was asked. See README.md.
#
#   ./build.sh native     configure + build the native library (Release), install to artifacts/install
#   ./build.sh build      native + the .NET solution (Release)
#   ./build.sh test       everything CI checks: bindings drift, native tests, sanitizers,
#                         valgrind, 60 s of fuzzing, .NET tests, the distributed tests under MPICH and
#                         Open MPI, the platforms' libraries and their tests, the NuGet packages used
#                         by a consumer project on each platform
#   ./build.sh bench      native + .NET benchmarks against the memory limit -> docs/benchmarks.md
#                         (--quick: small sizes, few iterations -> artifacts/bench/quick)
#   ./build.sh pack       artifacts/packages/NativeAdaBelief(.TorchSharp, .Distributed).<version>.nupkg, with
#                         the libraries of ./build.sh platforms (as root; without root, what can be built: see README)
#   ./build.sh platforms [RID...]  build and test the shipped libraries: linux-x64 and linux-arm64
#                         in a Debian 11 root, win-x64 with MinGW-w64 under wine (README: Platforms)
#   ./build.sh fuzz [s]   the C ABI fuzzer (libFuzzer + ASan + UBSan, clang-14) for s seconds (300)
#   ./build.sh gpu-bundle artifacts/gpu-check: a self-contained C# CUDA check for a GPU machine without .NET,
#                         and GoogleTest's sources for its build
#   ./build.sh gpu-validate  on the GPU machine: build for its card, run the GPU tests, the CPU suite and the
#                         benchmarks, print the record for docs/gpu-validation.md (exit 3 at once without a GPU)
#   ./build.sh cuda-check the CUDA compile checks of ./build.sh test: nvcc 11.8 here and CUDA 12.4 in a
#                         Debian 13 root (root needed), backend + GPU tests + CUDA benchmark, warnings as errors
#   ./build.sh bench-distributed  data-parallel step vs one process's, 16M and 64M parameters, 2 MPICH ranks
#   ./build.sh demo       the main job (trains a model)
#   ./build.sh torchsharp-sample [--epochs N|--quick]
#                         a TorchSharp CNN on Fashion-MNIST with NativeAdaBelief beside torch.optim.Adam
#   ./build.sh torchsharp-bench [--quick]
#                         our step() vs torch.optim.Adam/AdamW on TorchSharp models -> docs/benchmarks.md
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
jobs="${NAB_JOBS:-$(nproc 2>/dev/null || echo 2)}"
release_dir="$root/build/release"
sanitize_dir="$root/build/sanitize"
install_dir="$root/artifacts/install"
packages_dir="$root/artifacts/packages"

# Each step says when it started, counted from the script's start (CI's time budget is read from these).
step() { printf '\n==> [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found. $2"
}

# The CUDA backend is built when nvcc is found. nvcc 11.x (Debian bookworm's) rejects g++ 12
# as its host compiler; clang++-14 works, so it is chosen when nothing else was asked for.
cuda_setup() {
  if ! command -v nvcc >/dev/null 2>&1; then
    echo "CUDA backend: off (nvcc not found)"
    return
  fi
  local version major
  version="$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  major="${version%%.*}"
  if [ -z "${CUDAHOSTCXX:-}" ] && [ "${major:-0}" -lt 12 ] && command -v clang++-14 >/dev/null 2>&1; then
    export CUDAHOSTCXX=clang++-14
  fi
  echo "CUDA backend: on (nvcc $version${CUDAHOSTCXX:+, host compiler $CUDAHOSTCXX})"
}

build_native() {
  need cmake "Install CMake 3.22+ (Debian: apt-get install cmake)."
  need c++ "Install a C++17 compiler (Debian: apt-get install g++)."
  step "native library (Release) -> $install_dir"
  cuda_setup
  # NAB_CUDA_ARCHITECTURES in the environment reaches the CMake option of that name (kept in the
  # build folder's cache like any option; unset, the cache's or CMake's default stands).
  cmake -S "$root" -B "$release_dir" -DCMAKE_BUILD_TYPE=Release -DNAB_BUILD_TESTS=ON -DNAB_BUILD_BENCHMARKS=ON \
    ${NAB_CUDA_ARCHITECTURES:+"-DNAB_CUDA_ARCHITECTURES=$NAB_CUDA_ARCHITECTURES"} >/dev/null
  cmake --build "$release_dir" -j "$jobs" --target native_adabelief
  cmake --install "$release_dir" --prefix "$install_dir" >/dev/null
  echo "installed $(ls "$install_dir"/lib/libnative_adabelief.so)"
}

test_native() {
  step "native tests (GoogleTest via CTest, Release)"
  cmake --build "$release_dir" -j "$jobs"
  ctest --test-dir "$release_dir" --output-on-failure -j "$jobs"
}

test_sanitized() {
  step "native tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  # CPU backend only: the CUDA runtime and the sanitizers' interceptors do not mix well, and
  # without a GPU here the device code would not run anyway.
  # -O1, as the sanitizers' own documentation advises: under ASan + UBSan, GCC took twice as long
  # at -O2 for the kernels' translation units (80 s against 41 s for AVX2 on CI's machine); what
  # the kernels leave out of the sanitizers' instruments, and why, is in native/src/CMakeLists.txt.
  # The SIMD levels this machine runs: the others' kernels would compile for minutes and never run.
  # The main suite as GoogleTest shards (native/tests/CMakeLists.txt says why).
  cmake -S "$root" -B "$sanitize_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAB_SANITIZE=ON -DNAB_CUDA=OFF -DNAB_SIMD_LEVELS=host \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
    -DNAB_BUILD_TESTS=ON -DNAB_TEST_SHARDED=ON -DNAB_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$sanitize_dir" -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$sanitize_dir" --output-on-failure -j "$jobs"
}

# ---- Reliability (docs/reliability.md): ThreadSanitizer, valgrind memcheck and the ABI fuzzer ---
tsan_dir="$root/build/tsan"
# The native tests ThreadSanitizer runs: the multi-threaded paths (steps over thread counts, the
# gradient pass, handles racing destroy, restores, state access), not the long numeric sweeps.
tsan_filter='Abi*:ConcurrencyTest.*:HandleValidationTest.*:RestoreTest.*:NonfiniteGradientsTest.*:NonfiniteParametersTest.*'
tsan_filter+=':ZeroGradientsTest.*:StateAccessTest.*:ThreadsTest.*:StepOptionsTest.*:MixedPrecisionTest.*'

# The native tests built with -fsanitize=thread and the scalar kernels only (TSan cannot see
# the AVX accesses, so a vector build would hide a race): any data race fails the run.
test_tsan() {
  step "native tests under ThreadSanitizer (scalar kernels, CPU backend)"
  cmake -S "$root" -B "$tsan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAB_TSAN=ON -DNAB_CUDA=OFF -DNAB_BUILD_TESTS=ON \
    -DNAB_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$tsan_dir" -j "$jobs" --target native_adabelief_tests
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    "$tsan_dir/native/tests/native_adabelief_tests" --gtest_brief=1 --gtest_filter="$tsan_filter"
}

valgrind_dir="$root/build/valgrind"
fuzz_dir="$root/build/fuzz"
# The native tests valgrind runs: everything but the long numeric sweeps (the same code paths
# as the rest, minutes under valgrind) and the timing-based BUSY race.
valgrind_filter='Abi*:BufferMemoryTest.*:NonfiniteGradientsTest.*:ZeroGradientsTest.*:StateAccessTest.*:SimdTest.*:ThreadsTest.*'
valgrind_filter+=':ReferenceTest.*:ReferenceEdgeTest.*:CudaLaunchLayoutTest.*:RestoreTest.*:NonfiniteParametersTest.*'
valgrind_filter+=':AllOptions/CombinationTest.MatchesReferenceEveryStep/*_Amsgrad_Rectify_Sgd_Optimized'
valgrind_filter+=':GradientChunksTest.*'
valgrind_filter+='-AbiBusyTest.*:ThreadsTest.ThreadCountDoesNotChangeABit'

# A plain RelWithDebInfo CPU build (no sanitizers) of the native tests and the fuzz-input replayer,
# run under valgrind memcheck: no invalid access, no definite leak, or the run fails.
test_valgrind() {
  need valgrind "Install valgrind (Debian: apt-get install valgrind)."
  step "native tests and the fuzz corpus under valgrind memcheck (RelWithDebInfo, CPU backend)"
  # The SIMD levels valgrind's virtual CPU runs (it does not emulate AVX-512), asked by the
  # library's own rule under valgrind: the probe NAB_SIMD_LEVELS=host runs. The others' kernels
  # would compile (a minute of CI's two cores) and never run.
  mkdir -p "$valgrind_dir"
  "${CXX:-c++}" -std=c++17 -I"$root/native/src" -I"$root/native/include" "$root/native/cmake/simd_level_probe.cpp" \
    -o "$valgrind_dir/simd-level-probe"
  local levels
  levels="$(valgrind --quiet "$valgrind_dir/simd-level-probe")"
  echo "SIMD levels under valgrind: ${levels:-none}"
  cmake -S "$root" -B "$valgrind_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAB_CUDA=OFF -DNAB_BUILD_TESTS=ON \
    -DNAB_BUILD_BENCHMARKS=OFF -DNAB_SIMD_LEVELS="${levels:-none}" >/dev/null
  cmake --build "$valgrind_dir" -j "$jobs" --target native_adabelief_tests nab_fuzz_replay
  local memcheck=(valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 --quiet)
  "${memcheck[@]}" "$valgrind_dir/native/tests/native_adabelief_tests" --gtest_brief=1 --gtest_filter="$valgrind_filter"
  local log="$valgrind_dir/fuzz-replay.log"
  if ! "${memcheck[@]}" "$valgrind_dir/native/tests/nab_fuzz_replay" "$root/native/fuzz/regressions" \
    "$root/native/fuzz/corpus" >"$log" 2>&1; then
    tail -n 40 "$log"
    die "valgrind found an error replaying the fuzz inputs (full log: $log)"
  fi
  tail -n 1 "$log"
}

# The libFuzzer target native/fuzz/abi_fuzzer: arbitrary sequences of C ABI calls, checked against
# a model of what the header promises, built with clang-14 under ASan + UBSan (CPU backend).
build_fuzzer() {
  ensure_packages "the ABI fuzzer" clang-14 libclang-rt-14-dev
  need clang++-14 "Install clang 14 and its runtimes (Debian: apt-get install clang-14 libclang-rt-14-dev)."
  step "ABI fuzzer (clang-14: libFuzzer, ASan, UBSan; CPU backend) -> $fuzz_dir"
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$fuzz_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAB_FUZZ=ON \
    -DNAB_CUDA=OFF -DNAB_SIMD_LEVELS=host -DNAB_BUILD_TESTS=OFF -DNAB_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$fuzz_dir" -j "$jobs" --target abi_fuzzer
}

# run_fuzzer SECONDS [fresh]: replays every regression input, then fuzzes for SECONDS starting from
# the committed corpus (native/fuzz/corpus). New inputs go to build/fuzz/corpus ("fresh": emptied
# first), crashes to build/fuzz/artifacts.
run_fuzzer() {
  local seconds="$1" fresh="${2:-}"
  local fuzzer="$fuzz_dir/native/fuzz/abi_fuzzer" work="$fuzz_dir/corpus" artifacts="$fuzz_dir/artifacts"
  local log="$fuzz_dir/fuzz.log"
  [ -z "$fresh" ] || rm -rf "$work"
  mkdir -p "$work" "$artifacts"
  step "ABI fuzzer: the regression inputs (native/fuzz/regressions), then ${seconds}s of fuzzing"
  local regressions=("$root"/native/fuzz/regressions/*)
  if [ -e "${regressions[0]}" ] && ! "$fuzzer" "${regressions[@]}" >"$log" 2>&1; then
    tail -n 40 "$log"
    die "a regression input of native/fuzz/regressions fails again (log: $log)"
  fi
  if ! "$fuzzer" "$work" "$root/native/fuzz/corpus" -max_total_time="$seconds" -timeout=30 -max_len=2048 \
    -len_control=10 -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    die "the fuzzer found a failure: $(ls -t "$artifacts" | head -n 1) in $artifacts (log: $log). Replay it with
  NAB_FUZZ_TRACE=1 $fuzzer <file>, fix it, and add the file to native/fuzz/regressions."
  fi
  grep -E '^(stat::|Done|INFO: seed corpus)' "$log" || true
  echo "corpus: $(ls "$work" | wc -l) inputs in $work (merge what is new into the committed corpus with:"
  echo "  $fuzzer -merge=1 -use_counters=0 $root/native/fuzz/corpus $work)"
}

# ---- CUDA without a GPU (docs/gpu-validation.md) ------------------------------------------------
# The CUDA backend, every GPU test and the CUDA benchmark compile with warnings as errors against
# this machine's nvcc (11.8, the release build) and against CUDA 12.4 from Debian 13's non-free
# nvidia-cuda-toolkit, built in a trixie root that other trixie work shares (its packages:
# tools/roots/trixie.packages). CUDA 12 rejects what 11.8 accepts (the 5-argument
# cudaGraphInstantiate) and deprecates what CUDA 13, the GPU machine's, removes.
trixie_root="$root/build/roots/trixie"
cuda12_dir="$root/build/cuda12"
cuda_check_targets=(native_adabelief native_adabelief_gpu_tests native_adabelief_cuda_benchmark)

# As root (CI), these checks install what they need and must run. Without root, a check that
# cannot run says so and is skipped by ./build.sh test; ./build.sh cuda-check fails instead.
cuda_checks_required="$([ "$(id -u)" -eq 0 ] && echo 1 || echo 0)"
cuda_check_cannot_run() {
  [ "$cuda_checks_required" -eq 0 ] || die "$*"
  printf '\nSKIPPED: %s\n' "$*"
}

# nvcc for the release build: Debian's nvidia-cuda-toolkit from the non-free component, installed
# (with that component beside the machine's own sources) when running as root.
cuda_prerequisites() {
  command -v nvcc >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
  step "installing nvcc: Debian's nvidia-cuda-toolkit (non-free)"
  if ! grep -rqsE '^(Components:|deb ).*[[:space:]]non-free([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ &&
    [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Components:.*/Components: contrib non-free/' /etc/apt/sources.list.d/debian.sources \
      >/etc/apt/sources.list.d/debian-nonfree.sources
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends nvidia-cuda-toolkit >/dev/null
}

check_cuda11_build() {
  if ! command -v nvcc >/dev/null 2>&1; then
    cuda_check_cannot_run "the CUDA compile check needs nvcc: apt-get install nvidia-cuda-toolkit (Debian, non-free), or run as root"
    return 0
  fi
  local version
  version="$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  step "CUDA compile check, nvcc $version (this machine): backend, GPU tests, CUDA benchmark; warnings are errors"
  grep -qE '^CMAKE_CUDA_COMPILER:[A-Z]+=.*nvcc$' "$release_dir/CMakeCache.txt" 2>/dev/null ||
    die "the release build ($release_dir) has no CUDA backend: nvcc was missing when it was configured; delete it and run again"
  grep -q '^NAB_WARNINGS_AS_ERRORS:BOOL=ON$' "$release_dir/CMakeCache.txt" ||
    die "the release build ($release_dir) was configured with NAB_WARNINGS_AS_ERRORS=OFF"
  cmake --build "$release_dir" -j "$jobs" --target "${cuda_check_targets[@]}"
  local include
  include="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")/include"  # Debian's: /usr/include
  [ -f "$include/cuda_runtime_api.h" ] || include=/usr/include
  "$root/tools/gpu/cuda-deprecations.sh" "$include"
}

check_cuda12_build() {
  step "CUDA compile check, CUDA 12.4 (Debian 13 nvidia-cuda-toolkit, root $trixie_root): backend, GPU tests, CUDA benchmark; warnings are errors"
  if [ "$(id -u)" -ne 0 ]; then
    cuda_check_cannot_run "the CUDA 12 compile check builds in a Debian 13 root (debootstrap, chroot, mounts): run ./build.sh cuda-check as root"
    return 0
  fi
  ensure_debian_root trixie "$trixie_root"
  # The tree is mounted at /src, so the build folder is $cuda12_dir here. The GPU tests then run
  # in the root: without a device they skip, and their CPU-side tests run against the CUDA 12 build.
  # A clean environment: nothing of this machine's (CUDAHOSTCXX=clang++-14, CC, CXX) leaks in.
  # One architecture (sm_90, the GPU machine's): what CUDA 12 accepts or rejects does not depend on
  # it, and each architecture more costs minutes of ptxas on CI's two cores. No SIMD level of the
  # CPU kernels either: this checks the CUDA code, and the release build compiles those.
  "$root/tools/debian-root.sh" run "$trixie_root" --bind "$root:/src" -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 /bin/sh -ec "
    nvcc --version | sed -n 's/.*release /nvcc /p'
    cmake -S /src -B /src/build/cuda12 -DCMAKE_BUILD_TYPE=Release -DNAB_CUDA=ON -DNAB_WARNINGS_AS_ERRORS=ON \
      -DNAB_CUDA_ARCHITECTURES=90-real -DNAB_SIMD_LEVELS=none -DNAB_BUILD_TESTS=ON -DNAB_BUILD_BENCHMARKS=ON >/dev/null
    cmake --build /src/build/cuda12 -j $jobs --target ${cuda_check_targets[*]}
    log=/src/build/cuda12/gpu-tests.log
    /src/build/cuda12/native/tests/native_adabelief_gpu_tests --gtest_brief=1 >\$log 2>&1 || { tail -n 60 \$log; exit 1; }
    grep -E '^\[ *(=+|PASSED|SKIPPED) *\] [0-9]' \$log"
  "$root/tools/gpu/cuda-deprecations.sh" "$trixie_root/usr/include"
}

# ./build.sh gpu-validate must stop at once, saying why, on a machine where it cannot run: checked
# with stand-ins for nvidia-smi (missing, failing as without a driver, listing no GPU), so the
# check holds on any machine, a GPU machine included.
test_gpu_validate_without_gpu() {
  step "./build.sh gpu-validate without a usable GPU: refuses at once (exit 3), says why, builds nothing"
  local fake="$root/build/gpu-validate-refusal"
  rm -rf "$fake" && mkdir -p "$fake/failing" "$fake/empty"
  printf '#!/bin/sh\necho "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2\nexit 9\n' \
    >"$fake/failing/nvidia-smi"
  printf '#!/bin/sh\nexit 0\n' >"$fake/empty/nvidia-smi"
  chmod +x "$fake/failing/nvidia-smi" "$fake/empty/nvidia-smi"
  local case smi expected output status cases=()
  # This machine as it is, when it has no nvidia-smi at all (the usual CI machine).
  command -v nvidia-smi >/dev/null 2>&1 || cases+=("as it is:nvidia-smi:nvidia-smi not found")
  for case in "${cases[@]}" "missing:$fake/missing/nvidia-smi:nvidia-smi not found" \
    "failing:$fake/failing/nvidia-smi:nvidia-smi failed: NVIDIA-SMI has failed because it could not communicate" \
    "empty:$fake/empty/nvidia-smi:nvidia-smi lists none"; do
    IFS=: read -r _ smi expected <<<"$case"
    status=0
    output="$(NAB_NVIDIA_SMI="$smi" "$root/build.sh" gpu-validate 2>&1)" || status=$?
    [ "$status" -eq 3 ] || die "gpu-validate with nvidia-smi ${case%%:*}: exit $status instead of 3: $output"
    grep -qF "$expected" <<<"$output" || die "gpu-validate with nvidia-smi ${case%%:*} did not say \"$expected\": $output"
    grep -qF "nothing was built or run" <<<"$output" || die "gpu-validate with nvidia-smi ${case%%:*}: $output"
    ! grep -qF "(limit " <<<"$output" || die "gpu-validate with nvidia-smi ${case%%:*} started a step: $output"
    echo "ok: nvidia-smi ${case%%:*}: exit 3, \"$(grep -F "$expected" <<<"$output" | head -n 1)\""
  done
  rm -rf "$fake"
}

# ./build.sh test on a fresh machine fills about 28 GiB (measured December 2026): each Debian root
# (build/roots) about 5 GiB, and as much again for its cached tarball, the rest builds, NuGet
# packages and the compilers' temporary files. Checked before anything runs, so that a full disk
# is said at the start, not as a compiler's "No space left on device" half an hour in.
check_free_space() {
  local needed_gib=8 dir free_kib roots=("$bullseye_root" "$trixie_root")
  # Without root no Debian root is made (those steps are skipped, saying so).
  [ "$(id -u)" -eq 0 ] || roots=()
  for dir in "${roots[@]}"; do
    [ -d "$dir" ] || needed_gib=$((needed_gib + 5))
    "$root/tools/debian-root.sh" cached "$(basename "$dir")" >/dev/null || needed_gib=$((needed_gib + 5))
  done
  free_kib="$(df -Pk "$root" | awk 'NR == 2 { print $4 }')"
  [ "$free_kib" -ge $((needed_gib * 1024 * 1024)) ] ||
    die "./build.sh test needs about $needed_gib GiB free disk (the Debian roots, their cached tarballs, the builds); the file system of $root has $((free_kib / 1024 / 1024)) GiB free. Free space (old clones' build/ folders are the largest) and run it again."
}

# What ./build.sh test needs from Debian beyond the .NET SDK (the demo's data and the platform
# builds install their own): installed when running as root, else named in one line.
test_prerequisites() {
  ensure_packages "./build.sh test" cmake g++ make clang-14 libclang-rt-14-dev valgrind libgtest-dev libbenchmark-dev
}

check_bindings() {
  step "generated bindings match native/include/native_adabelief.h"
  need clang-14 "Install clang 14 (Debian: apt-get install clang-14); the bindings generator reads the header through clang's AST."
  dotnet run --project "$root/bindings/NativeAdaBelief.Bindings" -c Release -- check
}

build_dotnet() {
  need dotnet "Install the .NET 10 SDK."
  step ".NET solution (Release)"
  dotnet build "$root/NativeAdaBelief.sln" -c Release -m:1 -nologo -v:quiet
}

test_dotnet() {
  step ".NET tests (xunit)"
  # The layout report comes from the CTest run above (native/tests/abi_layout).
  # The TorchSharp tests run in test_torchsharp, where libtorch loads.
  NAB_ABI_LAYOUT_REPORT="$release_dir/native/tests/abi-layout.json" \
    dotnet test "$root/NativeAdaBelief.sln" -c Release -m:1 --no-build -nologo --filter 'FullyQualifiedName!~NativeAdaBelief.TorchSharp.Tests'
}

pack() {
  step "NuGet package -> $packages_dir"
  report_packed_platforms
  rm -rf "$packages_dir"
  dotnet pack "$root/src/NativeAdaBelief" -c Release -o "$packages_dir" -m:1 -nologo -v:quiet
  dotnet pack "$root/src/NativeAdaBelief.TorchSharp" -c Release -o "$packages_dir" -m:1 -nologo -v:quiet
  ls "$packages_dir"
}

test_package() {
  step "the package on its own: a separate project restores it from the local feed and steps"
  local consumer="$root/tests/NativeAdaBelief.PackageConsumer"
  rm -rf "$root/artifacts/consumer-packages" "$consumer/bin" "$consumer/obj"
  env -u NATIVE_ADABELIEF_LIBRARY dotnet run --project "$consumer" -c Release
  # Without its native library, the package must say where it looked (not a TypeInitializationException).
  rm -rf "$consumer/bin/Release/net10.0/runtimes"
  env -u NATIVE_ADABELIEF_LIBRARY dotnet run --project "$consumer" -c Release --no-build -- --expect-missing-library
}

# ---- The platforms the package ships (README: Platforms) ---------------------------------------
# linux-x64 and linux-arm64 are built, and their native tests run, inside a Debian 11 (bullseye)
# root (tools/roots/bullseye.packages): its glibc 2.31, g++ 10 and CMake 3.18 keep the libraries
# loadable on older distributions than this machine's. linux-x64 has the CUDA backend (bullseye's
# CUDA 11.2); linux-arm64 is cross-compiled and tested under qemu-aarch64. win-x64 is
# cross-compiled on this machine with MinGW-w64 and tested under wine64. Each library lands in
# artifacts/runtimes/<rid>/native, where the package takes it from (src/NativeAdaBelief).
bullseye_root="$root/build/roots/bullseye"
runtimes_dir="$root/artifacts/runtimes"
# The newest glibc symbol version the Linux libraries may need: 2.29 (pow@GLIBC_2.29, compiled
# against glibc 2.31), so Debian 11, Ubuntu 20.04, RHEL 9 and newer. The build fails above it.
glibc_floor=2.29
platform_rids=(linux-x64 linux-arm64 win-x64)
built_rids=()

# As root (CI), every platform must build; without root, ./build.sh test and pack skip the ones
# that cannot (the Debian 11 root needs debootstrap, chroot and mounts), saying why, and
# ./build.sh platforms fails instead.
platforms_required="$([ "$(id -u)" -eq 0 ] && echo 1 || echo 0)"
platform_cannot_build() {
  [ "$platforms_required" -eq 0 ] || die "$*"
  printf '\nSKIPPED: %s\n' "$*"
}

# missing_packages PACKAGE...: those of the Debian packages that are not installed (none where
# there is no dpkg: the commands' own checks speak there).
missing_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || echo "$package"
  done
}

# ensure_packages PURPOSE PACKAGE...: installs the Debian packages that are missing with apt-get
# when running as root; otherwise fails, saying in one line what to install.
ensure_packages() {
  local purpose="$1" missing=()
  shift
  mapfile -t missing < <(missing_packages "$@")
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing $purpose: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  else
    die "$purpose needs Debian's ${missing[*]}: sudo apt-get install ${missing[*]}"
  fi
}

# The Debian 11 root, made or restored from the cache (a few seconds when it is already there).
ensure_bullseye_root() { ensure_debian_root bullseye "$bullseye_root"; }

# ensure_debian_root SUITE DIR: the root with the packages of tools/roots/SUITE.packages, made or
# restored from the cache.
ensure_debian_root() {
  local packages=()
  mapfile -t packages < <(sed 's/#.*//' "$root/tools/roots/$1.packages" | tr -s ' \t' '\n' | grep .)
  "$root/tools/debian-root.sh" ensure "$1" "$2" "${packages[@]}"
}

# in_bullseye_root COMMAND...: runs COMMAND in the Debian 11 root with this tree at /src, in a
# clean environment: nothing of this machine's (CC, CXX, CUDAHOSTCXX) leaks in.
in_bullseye_root() {
  ensure_bullseye_root
  "$root/tools/debian-root.sh" run "$bullseye_root" --bind "$root:/src" -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

# stage_library RID FILE: copies a platform's built library to where the package takes it from.
stage_library() {
  local rid="$1" file="$2"
  [ -f "$file" ] || die "$rid: $file was not built"
  mkdir -p "$runtimes_dir/$rid/native"
  cp "$file" "$runtimes_dir/$rid/native/"
  built_rids+=("$rid")
  echo "$rid: staged $runtimes_dir/$rid/native/$(basename "$file")"
}

# check_glibc_floor RID OBJDUMP: fails when the staged Linux library needs a newer glibc than
# glibc_floor, or any shared C++ runtime (libstdc++ and libgcc are linked statically).
check_glibc_floor() {
  local rid="$1" objdump="$2" library
  library="/src/${runtimes_dir#"$root/"}/$rid/native/libnative_adabelief.so"
  local symbols needed
  symbols="$(in_bullseye_root "$objdump" -T "$library")"
  needed="$(in_bullseye_root "$objdump" -p "$library" | sed -n 's/^ *NEEDED *//p' | tr '\n' ' ')"
  case " $needed" in
    *" libstdc++"*|*" libgcc_s"*) die "$rid: the library needs a shared C++ runtime ($needed); it must link it statically" ;;
  esac
  # "... (GLIBC_2.29) pow" or "... GLIBC_2.29 pow" -> "2.29 pow", highest version last.
  local versions highest newest
  versions="$(sed -n 's/.*GLIBC_\([0-9][0-9.]*\)[) ]*[[:space:]]\([^[:space:]]*\)$/\1 \2/p' <<<"$symbols" | sort -V)"
  [ -n "$versions" ] || die "$rid: no GLIBC_ symbol versions in the output of $objdump -T $library"
  highest="$(tail -n 1 <<<"$versions" | cut -d ' ' -f 1)"
  newest="$(awk -v v="$highest" '$1 == v { printf "%s%s@GLIBC_%s", sep, $2, v; sep = ", " }' <<<"$versions")"
  if [ "$(printf '%s\n%s\n' "$highest" "$glibc_floor" | sort -V | tail -n 1)" != "$glibc_floor" ]; then
    die "$rid: the library needs glibc $highest ($newest), newer than the documented floor $glibc_floor (README: Platforms)"
  fi
  echo "$rid: needs glibc >= $highest ($newest; floor $glibc_floor); shared libraries: $needed"
}

# check_windows_imports DLL: the DLL must import nothing but Windows' own KERNEL32.dll and
# msvcrt.dll (no MinGW runtime DLL: libgcc_s_seh-1, libstdc++-6, libwinpthread-1).
check_windows_imports() {
  local dll="$1" imports unexpected
  imports="$(x86_64-w64-mingw32-objdump -p "$dll" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr '\n' ' ')"
  unexpected="$(tr ' ' '\n' <<<"$imports" | grep . | grep -viE '^(kernel32|msvcrt)\.dll$' | tr '\n' ' ' || true)"
  [ -z "$unexpected" ] || die "win-x64: $dll imports $unexpected- it may import only KERNEL32.dll and msvcrt.dll"
  echo "win-x64: $(basename "$dll") imports only $imports"
}

build_linux_x64() {
  step "linux-x64: the released library, built and tested in a Debian 11 root (glibc 2.31, g++ 10, CMake 3.18, CUDA 11.2)"
  in_bullseye_root /src/tools/build-platform.sh linux-x64 /src /src/build/linux-x64 "$jobs"
  stage_library linux-x64 "$root/build/linux-x64/install/lib/libnative_adabelief.so"
  check_glibc_floor linux-x64 objdump
}

build_linux_arm64() {
  step "linux-arm64: cross-compiled in the Debian 11 root (g++-aarch64-linux-gnu 10, NEON kernel), tested under qemu-aarch64"
  in_bullseye_root /src/tools/build-platform.sh linux-arm64 /src /src/build/linux-arm64 "$jobs"
  stage_library linux-arm64 "$root/build/linux-arm64/install/lib/libnative_adabelief.so"
  check_glibc_floor linux-arm64 aarch64-linux-gnu-objdump
}

# wine keeps its Windows installation in a prefix; this build's is its own (created on first use).
export WINEPREFIX="${WINEPREFIX:-$root/build/win-x64/wine}"
wine64_command="/usr/lib/wine/wine64"

build_win_x64() {
  step "win-x64: cross-compiled with MinGW-w64 (posix threads, static), tested under wine64"
  local packages=(g++-mingw-w64-x86-64-posix wine64 googletest cmake make) missing=()
  mapfile -t missing < <(missing_packages "${packages[@]}")
  if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" -ne 0 ]; then
    platform_cannot_build "win-x64 needs Debian's ${missing[*]}: sudo apt-get install ${missing[*]}"
    return 0
  fi
  ensure_packages "the win-x64 build" "${packages[@]}"
  if [ ! -d "$WINEPREFIX" ]; then
    echo "wine prefix $WINEPREFIX (first start of wine)"
    mkdir -p "$(dirname "$WINEPREFIX")"
    WINEDEBUG=-all "$wine64_command" wineboot --init >/dev/null 2>&1 || die "wine64 could not create $WINEPREFIX"
  fi
  # A wineserver that outlives each test by a minute: a wine process then starts in half a
  # second instead of three or four (CTest runs about 380 of them). It can only be started while
  # no other runs for this prefix (else it exits with 2): wineboot's, or an earlier run's, is
  # waited for first.
  "${wine64_command%/*}/wineserver" -w
  WINEDEBUG=-all "${wine64_command%/*}/wineserver" -p60
  # The first wine process of a server starts wine's services (winedevice, plugplay), which keep
  # that process's stdout and stderr until the server exits: started by a test, they held CTest's
  # pipe for a minute after the last test (that shard took 149 s for its 13 s of tests). Started
  # here with nothing open, they hold nothing.
  WINEDEBUG=-all "$wine64_command" cmd /c exit </dev/null >/dev/null 2>&1 || die "wine64 does not start programs in $WINEPREFIX"
  "$root/tools/build-platform.sh" win-x64 "$root" "$root/build/win-x64" "$jobs"
  check_windows_imports "$root/build/win-x64/install/bin/native_adabelief.dll"
  stage_library win-x64 "$root/build/win-x64/install/bin/native_adabelief.dll"
}

# build_platforms [RID...]: the libraries the package ships (all three by default, as pack and
# test ask). Each asked-for platform starts from an empty artifacts/runtimes/<rid>, so a package
# never carries a library an earlier run left. Says how long each took (CI's time budget).
build_platforms() {
  local rids=("$@") rid linux_rids=() windows=0
  [ "${#rids[@]}" -gt 0 ] || rids=("${platform_rids[@]}")
  for rid in "${rids[@]}"; do
    case "$rid" in
      linux-x64|linux-arm64)
        if [ "$(id -u)" -eq 0 ]; then
          linux_rids+=("$rid")
        else
          platform_cannot_build "$rid is built in a Debian 11 root (debootstrap, chroot, mounts): run as root (sudo ./build.sh platforms $rid)"
        fi
        ;;
      win-x64) windows=1 ;;
      *) die "unknown platform '$rid' (${platform_rids[*]})" ;;
    esac
  done
  for rid in "${rids[@]}"; do rm -rf "${runtimes_dir:?}/$rid"; done
  # The Debian 11 root is made (or restored from the cache) in the background while win-x64
  # builds: the one waits mostly on the network and the disk, the other on the CPUs.
  local root_job="" root_log="$root/build/roots/bullseye.ensure.log"
  if [ "${#linux_rids[@]}" -gt 0 ]; then
    mkdir -p "$(dirname "$root_log")"
    ensure_bullseye_root >"$root_log" 2>&1 &
    root_job=$!
  fi
  local start=$SECONDS
  if [ "$windows" -eq 1 ]; then
    build_win_x64
    echo "win-x64: $((SECONDS - start)) s"
  fi
  if [ -n "$root_job" ]; then
    step "the Debian 11 root for the Linux platforms ($bullseye_root)"
    wait "$root_job" || { tail -n 30 "$root_log"; die "the Debian 11 root could not be made (log: $root_log)"; }
    cat "$root_log"
    echo "the root was ready $((SECONDS - start)) s after it was started"
  fi
  for rid in "${linux_rids[@]}"; do
    start=$SECONDS
    "build_${rid//-/_}"
    echo "$rid: $((SECONDS - start)) s"
  done
}

# What the package will carry for each platform, and from where.
report_packed_platforms() {
  local rid
  for rid in "${platform_rids[@]}"; do
    if [ -n "$(ls "$runtimes_dir/$rid/native" 2>/dev/null)" ]; then
      echo "runtimes/$rid/native: $(ls "$runtimes_dir/$rid/native") (this run's $rid build)"
    elif [ "$rid" = linux-x64 ]; then
      echo "runtimes/linux-x64/native: this machine's build ($install_dir/lib), NOT the Debian 11 one: it needs this machine's glibc or newer"
    else
      echo "runtimes/$rid/native: none (not built in this run)"
    fi
  done
}

# The consumer's own NuGet.config takes packages from the local feed only; published for a RID it
# also needs .NET's runtime packs. This config (its path is printed) keeps NativeAdaBelief to the
# local feed by package source mapping and takes everything else from this machine's own feeds.
consumer_nuget_config() {
  local config="$root/build/consumer/NuGet.config" feeds=() index
  mapfile -t feeds < <(cd / && dotnet nuget list source --format short | sed -n 's/^E  *//p')
  mkdir -p "$(dirname "$config")"
  {
    echo '<?xml version="1.0" encoding="utf-8"?>'
    echo '<configuration>'
    echo '  <packageSources>'
    echo '    <clear />'
    echo "    <add key=\"local\" value=\"$packages_dir\" />"
    for index in "${!feeds[@]}"; do echo "    <add key=\"machine$index\" value=\"${feeds[$index]}\" />"; done
    echo '  </packageSources>'
    echo '  <packageSourceMapping>'
    echo '    <packageSource key="local"><package pattern="NativeAdaBelief" /></packageSource>'
    for index in "${!feeds[@]}"; do echo "    <packageSource key=\"machine$index\"><package pattern=\"*\" /></packageSource>"; done
    echo '  </packageSourceMapping>'
    echo '</configuration>'
  } >"$config"
  echo "$config"
}

# The package, restored from the local feed by tests/NativeAdaBelief.PackageConsumer published
# self-contained for each platform built in this run, and run there: linux-x64 in the Debian 11
# root (glibc 2.31), linux-arm64 in that root under qemu-aarch64, win-x64 under wine64. .NET
# supports neither qemu nor wine: for those two this is a smoke test that the package's library
# loads and steps from a .NET app of that platform, nothing more.
test_package_on_platforms() {
  local consumer="$root/tests/NativeAdaBelief.PackageConsumer" rid app start config
  config="$(consumer_nuget_config)"
  for rid in "${built_rids[@]}"; do
    start=$SECONDS
    step "the package on $rid: the consumer published self-contained for $rid, run $(
      case "$rid" in linux-x64) echo "in the Debian 11 root" ;; linux-arm64) echo "in the Debian 11 root under qemu-aarch64" ;;
        win-x64) echo "under wine64" ;; esac)"
    app="$root/build/consumer/$rid"
    rm -rf "$app"
    env -u NATIVE_ADABELIEF_LIBRARY dotnet publish "$consumer" -c Release -r "$rid" --self-contained -o "$app" \
      --configfile "$config" -m:1 -nologo -v:quiet
    case "$rid" in
      linux-x64)
        in_bullseye_root env DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
          "/src/build/consumer/$rid/NativeAdaBelief.PackageConsumer" --self-contained ;;
      linux-arm64)
        in_bullseye_root env DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 qemu-aarch64 -L / \
          "/src/build/consumer/$rid/NativeAdaBelief.PackageConsumer" --self-contained ;;
      win-x64)
        env -u NATIVE_ADABELIEF_LIBRARY WINEDEBUG=-all "$wine64_command" "$app/NativeAdaBelief.PackageConsumer.exe" --self-contained ;;
    esac
    echo "the package on $rid: $((SECONDS - start)) s"
  done
  # A self-contained publish restores the RID's runtime into the consumer's obj folder; the next
  # plain `dotnet run` of test_package must not inherit it.
  rm -rf "$consumer/bin" "$consumer/obj"
}

# ./build.sh bench [--quick] [extra Google Benchmark flags]: the native micro-benchmark, then the
# BenchmarkDotNet suite (tests/NativeAdaBelief.Benchmarks), which writes the report from both
# runs' JSON: docs/benchmarks.md (full), artifacts/bench/quick/benchmarks.md (--quick).
run_bench() {
  local mode=full
  local native_flags=()
  for arg in "$@"; do
    case "$arg" in
      --quick) mode=quick ;;
      *) native_flags+=("$arg") ;;
    esac
  done
  local out_dir="$root/artifacts/bench/$mode"
  local report="$root/docs/benchmarks.md"
  [ "$mode" = full ] || report="$out_dir/benchmarks.md"
  if [ "$mode" = quick ]; then
    native_flags=(--benchmark_filter='params:1048576/' --benchmark_min_time=0.1 "${native_flags[@]}")
  fi
  mkdir -p "$out_dir"
  step "native benchmarks and the memory-limit library (nab_streaming_limit)"
  cmake --build "$release_dir" -j "$jobs" --target native_adabelief_benchmarks nab_streaming_limit
  step "native micro-benchmark (fused step vs streaming limit, same run)"
  "$release_dir/native/benchmarks/native_adabelief_benchmarks" --benchmark_out="$out_dir/native.json" \
    --benchmark_out_format=json "${native_flags[@]}"
  step ".NET benchmarks ($mode): ours vs the limit kernel and managed versions -> $report"
  dotnet build "$root/tests/NativeAdaBelief.Benchmarks" -c Release -m:1 -nologo -v:quiet
  dotnet "$root/tests/NativeAdaBelief.Benchmarks/bin/Release/net10.0/NativeAdaBelief.Benchmarks.dll" \
    --mode "$mode" --native-json "$out_dir/native.json" --artifacts "$out_dir" --out "$report"
}

# The BenchmarkDotNet suite in its smoke mode (smallest workloads, two iterations, no
# thresholds), so that it keeps building and running; the report goes to artifacts/bench/smoke.
smoke_bench() {
  step ".NET benchmarks, smoke mode (runs them; judges nothing)"
  dotnet "$root/tests/NativeAdaBelief.Benchmarks/bin/Release/net10.0/NativeAdaBelief.Benchmarks.dll" --mode smoke
}

# The demo's prerequisites: Fashion-MNIST from Debian's dataset-fashion-mnist package (the IDX
# files under /usr/share/datasets/fashion-mnist; FASHION_MNIST_DIR may point elsewhere) and a
# font for the plots' text (fonts-dejavu-core). Installed with apt-get when run as root.
demo_prerequisites() {
  local missing=()
  if [ -z "${FASHION_MNIST_DIR:-}" ] && [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    missing+=(dataset-fashion-mnist)
  fi
  if [ -z "$(find /usr/share/fonts -name '*.ttf' -print -quit 2>/dev/null)" ]; then
    missing+=(fonts-dejavu-core)
  fi
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing the demo's Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" \
      || { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
  else
    die "the demo needs Debian's ${missing[*]}: sudo apt-get install ${missing[*]} (or set FASHION_MNIST_DIR to a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz)."
  fi
}

# What a GPU machine without network may lack for ./build.sh gpu-validate, beside the C# check:
# GoogleTest's sources (Debian's libgtest-dev ships them in /usr/src/googletest), and the commit
# the bundle was made from (the tree copied there may have no .git).
gpu_bundle_extras() {
  [ -f /usr/src/googletest/CMakeLists.txt ] ||
    die "GoogleTest's sources (/usr/src/googletest) are missing: apt-get install libgtest-dev"
  mkdir -p "$root/artifacts/gpu-check"
  rm -rf "$root/artifacts/gpu-check/googletest"
  cp -r /usr/src/googletest "$root/artifacts/gpu-check/googletest"
  rm -rf "$root/artifacts/gpu-check/googletest/googletest/docs" "$root/artifacts/gpu-check/googletest/googlemock/docs"
  git -C "$root" describe --always --dirty >"$root/artifacts/gpu-check/source-commit" 2>/dev/null || true
  echo "artifacts/gpu-check: $(du -sh "$root/artifacts/gpu-check" | cut -f1) (carry it to the GPU machine)"
}

demo_dll="$root/src/NativeAdaBelief.Demo/bin/Release/net10.0/NativeAdaBelief.Demo.dll"

# ./build.sh demo [options]: trains the MLP with AdaBelief, Adam and SGD (--help lists the
# options); plots and results go to artifacts/demo unless --output says otherwise.
run_demo() {
  demo_prerequisites
  step "demo: MLP 784-256-128-10 on Fashion-MNIST, AdaBelief vs Adam vs SGD (src/NativeAdaBelief.Demo)"
  dotnet build "$root/src/NativeAdaBelief.Demo" -c Release -m:1 -nologo -v:quiet
  local output=(--output "$root/artifacts/demo")
  for arg in "$@"; do
    case "$arg" in --output|--output=*|-o) output=() ;; esac
  done
  dotnet "$demo_dll" "${output[@]}" "$@"
}

# The demo in quick mode (a slice of the data, one short epoch, every plot), so the main job
# cannot rot; its files go to artifacts/demo-quick.
quick_demo() {
  demo_prerequisites
  step "demo, quick mode: a slice of Fashion-MNIST, one epoch, plots -> artifacts/demo-quick"
  local out="$root/artifacts/demo-quick"
  rm -rf "$out"
  dotnet "$demo_dll" --quick --output "$out"
  for file in training-loss.png test-accuracy.png paths-beale.png paths-rosenbrock.png results.md; do
    [ -s "$out/$file" ] || die "the quick demo did not write $out/$file"
  done
}

# ---- Data-parallel training over MPI (src/NativeAdaBelief.Distributed, docs/distributed.md) -----
# The distributed tests start ranks with MPICH's and Open MPI's launchers: installed with apt-get
# when run as root.
mpi_prerequisites() {
  ensure_packages "the distributed tests" mpich openmpi-bin
}

test_distributed() {
  step "distributed tests: in one process, then under mpiexec with 2 and 3 ranks (MPICH, Open MPI)"
  dotnet test "$root/tests/NativeAdaBelief.Distributed.Tests" -c Release -m:1 -nologo
}

# The demo's --data-parallel mode on 2 MPICH ranks, quick: a slice of the data, one epoch.
quick_demo_data_parallel() {
  step "demo, data-parallel quick mode: 2 MPICH ranks -> artifacts/demo-data-parallel"
  local out="$root/artifacts/demo-data-parallel"
  rm -rf "$out"
  mpiexec.mpich -n 2 dotnet "$demo_dll" --quick --data-parallel --optimizer adabelief --output "$out"
  [ -s "$out/results.md" ] || die "the data-parallel demo did not write $out/results.md"
}

pack_distributed() {
  step "NuGet package NativeAdaBelief.Distributed -> $packages_dir"
  dotnet pack "$root/src/NativeAdaBelief.Distributed" -c Release -o "$packages_dir" -m:1 -nologo -v:quiet
  local package
  package="$(ls "$packages_dir"/NativeAdaBelief.Distributed.*.nupkg)"
  ensure_packages "the package check" unzip
  unzip -p "$package" NativeAdaBelief.Distributed.nuspec | grep -q '<dependency id="NativeAdaBelief"' \
    || die "$package does not depend on the NativeAdaBelief package"
  unzip -l "$package" | grep -q 'lib/net10.0/NativeAdaBelief.Distributed.dll' || die "$package lacks its assembly"
  echo "$package"
}

# ./build.sh bench-distributed [benchmark options]: the communication against the step, 2 MPICH ranks.
run_distributed_bench() {
  local program="$root/tests/NativeAdaBelief.Distributed.Mpi/bin/Release/net10.0/NativeAdaBelief.Distributed.Mpi.dll"
  step "data-parallel benchmark: reduce-scatter + shard step + all-gather vs one process's step, 2 MPICH ranks"
  dotnet build "$root/tests/NativeAdaBelief.Distributed.Mpi" -c Release -m:1 -nologo -v:quiet
  mkdir -p "$root/artifacts/bench"
  mpiexec.mpich -n 2 dotnet "$program" benchmark --out "$root/artifacts/bench/distributed.md" "$@"
}

# ---- TorchSharp (docs/torchsharp.md) ----------------------------------------------------------
# TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32, newer than Debian 12's libstdc++. What
# loads it (the tests, the benchmark, the sample) runs directly where it loads, else in a Debian 13
# root shared with the CUDA 12 check (tools/roots/trixie.packages; root and debootstrap; cached,
# unmounted after every run), else
# it is skipped with the reason. The projects are built on the host either way.
torchsharp_tests="$root/tests/NativeAdaBelief.TorchSharp.Tests/bin/Release/net10.0"
torchsharp_bench="$root/tests/NativeAdaBelief.TorchSharp.Benchmarks/bin/Release/net10.0"
torchsharp_sample="$root/src/NativeAdaBelief.TorchSharp.Sample/bin/Release/net10.0"

# torchsharp_where BUILD_DIR: prints "direct", "root", or "skip: REASON".
torchsharp_where() {
  local library="$1/runtimes/linux-x64/native/libLibTorchSharp.so" missing
  [ -e "$library" ] || { echo "skip: $library was not built"; return; }
  missing="$(ldd "$library" 2>&1 | grep 'not found' | head -n 1 | sed 's/^[[:space:]]*//' || true)"
  if [ -z "$missing" ]; then
    echo direct
  elif [ "$(id -u)" -eq 0 ]; then
    echo root
  else
    echo "skip: libLibTorchSharp.so does not load on this system ($missing), and the Debian 13 root it runs in needs root"
  fi
}

# torchsharp_dotnet BUILD_DIR [--bind HOST]... -- ARGS...: `dotnet ARGS` in the repository folder,
# where TorchSharp loads; returns 0 without running anything (saying why) where it cannot.
torchsharp_dotnet() {
  local dir="$1" binds=()
  shift
  while [ "$1" != "--" ]; do binds+=("$1" "$2"); shift 2; done
  shift
  local where
  where="$(torchsharp_where "$dir")"
  case "$where" in
    direct) dotnet "$@" ;;
    root)
      ensure_debian_root trixie "$trixie_root"
      local dotnet_root
      dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
      echo "(in the Debian 13 root $trixie_root: libLibTorchSharp.so needs a newer libstdc++ than this system's)"
      "$root/tools/debian-root.sh" run "$trixie_root" --bind "$dotnet_root" --bind "$root" "${binds[@]}" -- \
        env HOME=/root DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
        ${FASHION_MNIST_DIR:+FASHION_MNIST_DIR="$FASHION_MNIST_DIR"} \
        sh -c 'cd "$1" && shift && exec "$@"' sh "$root" "$dotnet_root/dotnet" "$@"
      ;;
    *) echo "SKIPPED: dotnet $*: ${where#skip: }" ;;
  esac
}

build_torchsharp() {
  step "NativeAdaBelief.TorchSharp: tests, benchmark and sample (Release; restores TorchSharp and libtorch-cpu-linux-x64)"
  for project in tests/NativeAdaBelief.TorchSharp.Tests tests/NativeAdaBelief.TorchSharp.Benchmarks src/NativeAdaBelief.TorchSharp.Sample; do
    dotnet build "$root/$project" -c Release -m:1 -nologo -v:quiet
  done
}

# The TorchSharp tests, the benchmark in smoke mode and the sample in quick mode (so neither can rot).
test_torchsharp() {
  step "TorchSharp tests (real TorchSharp models against torch.optim.Adam/AdamW and the float64 reference)"
  torchsharp_dotnet "$torchsharp_tests" -- test "$torchsharp_tests/NativeAdaBelief.TorchSharp.Tests.dll"
  step "TorchSharp benchmark, smoke mode (runs it; judges nothing)"
  torchsharp_dotnet "$torchsharp_bench" -- "$torchsharp_bench/NativeAdaBelief.TorchSharp.Benchmarks.dll" --mode smoke
  run_torchsharp_sample --quick --output "$root/artifacts/torchsharp-sample-quick"
}

# ./build.sh torchsharp-sample [options]: the Fashion-MNIST sample (artifacts/torchsharp-sample).
run_torchsharp_sample() {
  demo_prerequisites
  step "TorchSharp sample: a CNN on Fashion-MNIST, NativeAdaBelief beside torch.optim.Adam (src/NativeAdaBelief.TorchSharp.Sample)"
  local data="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" binds=()
  [ -d "$data" ] && binds+=(--bind "$data")
  [ -d /usr/share/fonts ] && binds+=(--bind /usr/share/fonts)
  torchsharp_dotnet "$torchsharp_sample" "${binds[@]}" -- "$torchsharp_sample/NativeAdaBelief.TorchSharp.Sample.dll" "$@"
}

# ./build.sh torchsharp-bench [--quick]: full mode writes its section of docs/benchmarks.md.
run_torchsharp_bench() {
  local args=(--mode full --out "$root/docs/benchmarks.md")
  [ "${1:-}" != "--quick" ] || args=(--mode quick)
  step "TorchSharp benchmark (${args[1]}): our step() vs torch.optim.Adam/AdamW, same process, same models"
  torchsharp_dotnet "$torchsharp_bench" -- "$torchsharp_bench/NativeAdaBelief.TorchSharp.Benchmarks.dll" "${args[@]}"
}

case "${1:-}" in
  native)
    build_native
    ;;
  build)
    build_native
    build_dotnet
    ;;
  test)
    check_free_space
    cuda_prerequisites
    test_prerequisites
    build_native
    check_bindings
    test_native
    check_cuda11_build
    check_cuda12_build
    test_gpu_validate_without_gpu
    test_sanitized
    test_tsan
    test_valgrind
    build_fuzzer
    run_fuzzer 60 fresh
    build_dotnet
    test_dotnet
    mpi_prerequisites
    test_distributed
    build_torchsharp
    test_torchsharp
    quick_demo
    quick_demo_data_parallel
    smoke_bench
    build_platforms
    pack
    pack_distributed
    test_package
    test_package_on_platforms
    ;;
  pack)
    build_native
    build_platforms
    pack
    pack_distributed
    ;;
  platforms)
    shift
    platforms_required=1
    build_platforms "$@"
    ;;
  gpu-bundle)
    build_native
    step "self-contained C# CUDA check -> artifacts/gpu-check (see docs/gpu-validation.md)"
    rm -rf "$root/artifacts/gpu-check"
    dotnet publish "$root/tools/gpu/NativeAdaBelief.GpuCheck" -c Release -r linux-x64 --self-contained \
      -p:PublishTrimmed=true -o "$root/artifacts/gpu-check" -nologo -v:quiet
    gpu_bundle_extras
    ;;
  gpu-validate)
    shift
    exec "$root/tools/gpu/validate.sh" "$@"
    ;;
  cuda-check)
    cuda_checks_required=1
    cuda_prerequisites
    build_native
    check_cuda11_build
    check_cuda12_build
    test_gpu_validate_without_gpu
    ;;
  fuzz)
    build_fuzzer
    run_fuzzer "${2:-300}"
    ;;
  bench)
    shift
    build_native
    run_bench "$@"
    ;;
  bench-distributed)
    shift
    build_native
    run_distributed_bench "$@"
    ;;
  demo)
    shift
    build_native
    run_demo "$@"
    ;;
  torchsharp-sample)
    shift
    build_native
    dotnet build "$root/src/NativeAdaBelief.TorchSharp.Sample" -c Release -m:1 -nologo -v:quiet
    run_torchsharp_sample "$@"
    ;;
  torchsharp-bench)
    shift
    build_native
    dotnet build "$root/tests/NativeAdaBelief.TorchSharp.Benchmarks" -c Release -m:1 -nologo -v:quiet
    run_torchsharp_bench "$@"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
