#!/usr/bin/env bash
# The one entry point: build the native library with CMake, stage it where the .NET projects
# load it, build the solution, and run what was asked. See README.md.
#
#   ./build.sh native     configure + build the native library (Release), install to artifacts/install
#   ./build.sh build      native + the .NET solution (Release)
#   ./build.sh test       everything CI checks: bindings drift, native tests, sanitizers,
#                         valgrind, 60 s of fuzzing, .NET tests, the NuGet package used by a consumer project
#   ./build.sh bench      native + .NET benchmarks against the memory limit -> docs/benchmarks.md
#                         (--quick: small sizes, few iterations -> artifacts/bench/quick)
#   ./build.sh pack       artifacts/packages/NativeAdaBelief(.TorchSharp).<version>.nupkg
#   ./build.sh fuzz [s]   the C ABI fuzzer (libFuzzer + ASan + UBSan, clang-14) for s seconds (300)
#   ./build.sh gpu-bundle artifacts/gpu-check: a self-contained C# CUDA check for a GPU machine without .NET
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

step() { printf '\n==> %s\n' "$*"; }
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
  cmake -S "$root" -B "$release_dir" -DCMAKE_BUILD_TYPE=Release -DNAB_BUILD_TESTS=ON -DNAB_BUILD_BENCHMARKS=ON >/dev/null
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
  cmake -S "$root" -B "$sanitize_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAB_SANITIZE=ON -DNAB_CUDA=OFF \
    -DNAB_BUILD_TESTS=ON -DNAB_BUILD_BENCHMARKS=OFF >/dev/null
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
valgrind_filter='Abi*:NonfiniteGradientsTest.*:ZeroGradientsTest.*:StateAccessTest.*:SimdTest.*:ThreadsTest.*'
valgrind_filter+=':ReferenceTest.*:ReferenceEdgeTest.*:CudaLaunchLayoutTest.*:RestoreTest.*:NonfiniteParametersTest.*'
valgrind_filter+=':AllOptions/CombinationTest.MatchesReferenceEveryStep/*_Amsgrad_Rectify_Sgd_Optimized'
valgrind_filter+='-AbiBusyTest.*:ThreadsTest.ThreadCountDoesNotChangeABit'

# A plain RelWithDebInfo CPU build (no sanitizers) of the native tests and the fuzz-input replayer,
# run under valgrind memcheck: no invalid access, no definite leak, or the run fails.
test_valgrind() {
  need valgrind "Install valgrind (Debian: apt-get install valgrind)."
  step "native tests and the fuzz corpus under valgrind memcheck (RelWithDebInfo, CPU backend)"
  cmake -S "$root" -B "$valgrind_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAB_CUDA=OFF -DNAB_BUILD_TESTS=ON \
    -DNAB_BUILD_BENCHMARKS=OFF >/dev/null
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
  need clang++-14 "Install clang 14 and its runtimes (Debian: apt-get install clang-14 libclang-rt-14-dev)."
  step "ABI fuzzer (clang-14: libFuzzer, ASan, UBSan; CPU backend) -> $fuzz_dir"
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$fuzz_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAB_FUZZ=ON \
    -DNAB_CUDA=OFF -DNAB_BUILD_TESTS=OFF -DNAB_BUILD_BENCHMARKS=OFF >/dev/null
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

# ---- TorchSharp (docs/torchsharp.md) ----------------------------------------------------------
# TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32, newer than Debian 12's libstdc++. What
# loads it (the tests, the benchmark, the sample) runs directly where it loads, else in a Debian 13
# root made by tools/debian-root.sh (root and debootstrap; cached, unmounted after every run), else
# it is skipped with the reason. The projects are built on the host either way.
torchsharp_root="$root/build/roots/trixie-dotnet"
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
      "$root/tools/debian-root.sh" ensure trixie "$torchsharp_root"
      local dotnet_root
      dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
      echo "(in the Debian 13 root $torchsharp_root: libLibTorchSharp.so needs a newer libstdc++ than this system's)"
      "$root/tools/debian-root.sh" run "$torchsharp_root" --bind "$dotnet_root" --bind "$root" "${binds[@]}" -- \
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
    build_native
    check_bindings
    test_native
    test_sanitized
    test_tsan
    test_valgrind
    build_fuzzer
    run_fuzzer 60 fresh
    build_dotnet
    test_dotnet
    build_torchsharp
    test_torchsharp
    quick_demo
    smoke_bench
    pack
    test_package
    ;;
  pack)
    build_native
    pack
    ;;
  gpu-bundle)
    build_native
    step "self-contained C# CUDA check -> artifacts/gpu-check (see docs/gpu-validation.md)"
    rm -rf "$root/artifacts/gpu-check"
    dotnet publish "$root/tools/gpu/NativeAdaBelief.GpuCheck" -c Release -r linux-x64 --self-contained \
      -p:PublishTrimmed=true -o "$root/artifacts/gpu-check" -nologo -v:quiet
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
