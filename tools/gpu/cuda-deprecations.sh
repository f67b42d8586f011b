#!/usr/bin/env bash
# Which CUDA runtime names this project uses that a CUDA toolkit's headers mark deprecated.
#
#   tools/gpu/cuda-deprecations.sh INCLUDE_DIR [SOURCE...]
#
# Reads cuda_runtime_api.h, cuda_runtime.h and driver_types.h in INCLUDE_DIR and collects what
# they deprecate: functions declared __CUDA_DEPRECATED, and functions, enumerators and struct
# fields whose documentation says \deprecated or whose trailing comment says "Deprecated"
# (cudaDeviceProp::clockRate and the like: deprecated in CUDA 12, gone in CUDA 13). Then lists
# the cuda* names and the .member / ->member accesses of SOURCEs (default: the CUDA backend, the
# GPU tests and the CUDA benchmark) and prints those that are deprecated. The compiler already
# fails on __CUDA_DEPRECATED functions (-Werror); the documented deprecations are what it does
# not see. Exit status: 0 when nothing used is deprecated, 1 otherwise, 2 on bad usage.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2; }
include_dir="$1"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ $# -eq 0 ]; then
  set -- "$root"/native/src/cuda/* "$root"/native/tests/gpu/* "$root"/native/benchmarks/cuda_step_benchmark.cpp
fi
headers=()
for header in cuda_runtime_api.h cuda_runtime.h driver_types.h; do
  [ -f "$include_dir/$header" ] || { echo "cuda-deprecations.sh: $include_dir/$header not found" >&2; exit 2; }
  headers+=("$include_dir/$header")
done

# One deprecated name a line: the declared name of the code line after a doc comment holding
# \deprecated or after __CUDA_DEPRECATED, or of a line whose trailing /**< comment says Deprecated.
deprecated="$(awk '
  function declared_name(line,    head, names) {
    sub(/\/\*.*$/, "", line)
    if (index(line, "(") > 0) head = substr(line, 1, index(line, "(") - 1)
    else if (index(line, "=") > 0) head = substr(line, 1, index(line, "=") - 1)
    else { head = line; sub(/[;,].*$/, "", head) }
    sub(/\[[^]]*\][ \t]*$/, "", head)
    if (match(head, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/)) { names = substr(head, RSTART, RLENGTH); gsub(/[ \t]/, "", names); return names }
    return ""
  }
  /^[ \t]*\/\*\*[^<]/ || /^[ \t]*\/\*\*$/ { in_doc = 1; doc_deprecated = 0 }
  in_doc && /\\deprecated/ { doc_deprecated = 1 }
  in_doc { if (index($0, "*/") > 0) { in_doc = 0; pending = doc_deprecated }; next }
  /__CUDA_DEPRECATED/ && !/#[ \t]*(define|undef)/ { pending = 1 }
  /\/\*\*<.*Deprecated/ { name = declared_name($0); if (name != "") print name; next }
  /^[ \t]*$/ || /^[ \t]*(#|\/\/)/ || /^[ \t]*\/?\*/ { next }
  pending { name = declared_name($0); if (name != "" && name != "__CUDA_DEPRECATED") { print name; pending = 0 } }
' "${headers[@]}" | sort -u)"

used="$( { grep -ohE '\bcuda[A-Z][A-Za-z0-9_]*' "$@" || true; grep -ohE '(\.|->)[A-Za-z_][A-Za-z0-9_]*' "$@" | sed 's/^\(\.\|->\)//' || true; } | sort -u)"

version="$(sed -n 's/^#define CUDART_VERSION[ \t]*\([0-9]*\).*/\1/p' "$include_dir/cuda_runtime_api.h" | head -n 1)"
hits="$(comm -12 <(printf '%s\n' "$deprecated") <(printf '%s\n' "$used"))"
echo "CUDA runtime ${version:-?}: $(printf '%s\n' "$deprecated" | grep -c .) deprecated names in its headers;" \
  "this project uses $(printf '%s\n' "$used" | grep -c '^cuda') cuda* names"
if [ -n "$hits" ]; then
  echo "deprecated names used:"
  printf '  %s\n' $hits
  exit 1
fi
echo "deprecated names used: none"
