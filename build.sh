#!/usr/bin/env bash
# The one entry point: build the native library with CMake, stage it where the .NET projects
# load it, build the solution, and run what was asked. See README.md.
#
#   ./build.sh native     configure + build the native library (Release), install to artifacts/install
#   ./build.sh build      native + the .NET solution (Release)
#   ./build.sh test       everything CI checks: bindings drift, native tests, sanitizers,
#                         .NET tests, the NuGet package used by a separate consumer project
#   ./build.sh bench      native micro-benchmark: fused step beside the memory-limit kernel
#   ./build.sh pack       artifacts/packages/NativeAdaBelief.<version>.nupkg
#   ./build.sh gpu-bundle artifacts/gpu-check: a self-contained C# CUDA check for a GPU machine without .NET
#   ./build.sh demo       the main job (trains a model)
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
  NAB_ABI_LAYOUT_REPORT="$release_dir/native/tests/abi-layout.json" \
    dotnet test "$root/NativeAdaBelief.sln" -c Release -m:1 --no-build -nologo
}

pack() {
  step "NuGet package -> $packages_dir"
  rm -rf "$packages_dir"
  dotnet pack "$root/src/NativeAdaBelief" -c Release -o "$packages_dir" -m:1 -nologo -v:quiet
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

run_bench() {
  step "native micro-benchmark (fused step vs streaming limit, same run)"
  "$release_dir/native/benchmarks/native_adabelief_benchmarks" "$@"
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
    build_dotnet
    test_dotnet
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
  bench)
    shift
    build_native
    run_bench "$@"
    ;;
  demo)
    die "the demo is not written yet (see the open issue 'The main job'); './build.sh test' runs everything that exists."
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
