#!/usr/bin/env bash
# Builds the native library for one platform the package ships, runs the native test suite
# against it (CTest; through qemu-aarch64 or wine64 for a cross build) and installs it. It runs
# wherever it is started: ./build.sh starts it inside the Debian 11 root for linux-x64 and
# linux-arm64, and on the build machine for win-x64 (README: Platforms).
#
#   tools/build-platform.sh RID SOURCE_DIR BUILD_DIR JOBS
#       RID: linux-x64 (this machine's compiler, CUDA backend on), linux-arm64
#       (g++-aarch64-linux-gnu) or win-x64 (MinGW-w64 g++, posix threads). The library is
#       installed into BUILD_DIR/install; the test log is BUILD_DIR/ctest.log.
set -euo pipefail

die() { printf 'build-platform.sh: %s\n' "$*" >&2; exit 1; }

[ $# -eq 4 ] || die "usage: tools/build-platform.sh RID SOURCE_DIR BUILD_DIR JOBS"
rid="$1" source_dir="$2" build_dir="$3" jobs="$4"

configure_args=(-DCMAKE_BUILD_TYPE=Release -DNAB_BUILD_TESTS=ON -DNAB_BUILD_BENCHMARKS=OFF)
toolchain=
case "$rid" in
  linux-x64) configure_args+=(-DNAB_CUDA=ON) ;;
  linux-arm64) toolchain="$source_dir/native/cmake/toolchains/aarch64-linux-gnu.cmake" ;;
  win-x64) toolchain="$source_dir/native/cmake/toolchains/x86_64-w64-mingw32.cmake" ;;
  *) die "unknown RID '$rid' (linux-x64, linux-arm64 or win-x64)" ;;
esac

if [ -n "$toolchain" ]; then
  # No CUDA for the cross targets (no CUDA toolkit targets them here).
  configure_args+=(-DCMAKE_TOOLCHAIN_FILE="$toolchain" -DNAB_CUDA=OFF)
  # GoogleTest built for the target from Debian's sources (package googletest), once per build
  # folder: the system's libgtest is built for this machine's architecture.
  gtest_prefix="$build_dir/googletest"
  if [ ! -f "$gtest_prefix/lib/cmake/GTest/GTestConfig.cmake" ]; then
    [ -f /usr/src/googletest/CMakeLists.txt ] || die "GoogleTest's sources are missing: apt-get install googletest"
    echo "GoogleTest for $rid -> $gtest_prefix"
    cmake -S /usr/src/googletest -B "$build_dir/googletest-build" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
      -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF -DCMAKE_INSTALL_PREFIX="$gtest_prefix" >/dev/null
    cmake --build "$build_dir/googletest-build" -j "$jobs" >/dev/null
    cmake --install "$build_dir/googletest-build" >/dev/null
  fi
  configure_args+=(-DNAB_TARGET_PREFIXES="$gtest_prefix" -DGTest_DIR="$gtest_prefix/lib/cmake/GTest")
fi

project_dir="$build_dir/project"
mkdir -p "$build_dir"
cmake -S "$source_dir" -B "$project_dir" "${configure_args[@]}" >"$build_dir/configure.log" 2>&1 \
  || { tail -n 30 "$build_dir/configure.log"; die "configuring $rid failed (log: $build_dir/configure.log)"; }
# The compiler CMake found (a toolchain file's is not in the cache).
compiler="$(sed -n 's/^set(CMAKE_CXX_COMPILER "\(.*\)")$/\1/p' "$project_dir"/CMakeFiles/*/CMakeCXXCompiler.cmake | head -n 1)"
echo "$rid: $(cmake --version | head -n 1); $("$compiler" --version | head -n 1)"
grep -E 'CUDA backend|CPU kernels' "$build_dir/configure.log" | sed 's/^-- //' || true
cmake --build "$project_dir" -j "$jobs"

# ctest from inside the build folder: CMake 3.18's ctest ignores --test-dir. Verbose, so that the
# log has GoogleTest's own counts (a cross build runs the suites as a few shards, see
# native/tests/CMakeLists.txt).
log="$build_dir/ctest.log"
if ! (cd "$project_dir" && ctest -j "$jobs" --output-on-failure -V) >"$log" 2>&1; then
  grep -E '^ *[0-9]+/[0-9]+ Test|\[  FAILED  \]' "$log" | tail -n 60
  die "$rid: native tests failed (log: $log)"
fi
passed="$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$log" | awk '{ n += $1 } END { print n + 0 }')"
skipped="$(sed -n 's/.*\[  SKIPPED \] \([0-9]*\) tests\{0,1\}[.,].*/\1/p' "$log" | awk '{ n += $1 } END { print n + 0 }')"
echo "$rid: $(grep -E 'tests passed|tests failed' "$log"); GoogleTest: $passed passed, $skipped skipped (the reasons are in $log)"
cmake --install "$project_dir" --prefix "$build_dir/install" >/dev/null
