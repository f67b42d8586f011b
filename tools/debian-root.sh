#!/usr/bin/env bash
# A Debian root (debootstrap --variant=minbase) for building or testing against another Debian
# release than the machine's own: bullseye for the old-glibc release build, trixie for CUDA 12
# and for TorchSharp. Roots are cached as tarballs, so only the first run downloads anything.
#
#   tools/debian-root.sh ensure SUITE DIR [PACKAGE...]
#       Makes DIR a SUITE root with PACKAGEs installed (main, contrib and non-free), restoring it
#       from the cache when a root of the same suite and packages was made before. A PACKAGE
#       written NAME:ARCH (libc6:arm64) adds ARCH to the root's dpkg architectures first; the
#       machine's own dpkg is never changed.
#   tools/debian-root.sh run DIR [--bind HOST_PATH[:ROOT_PATH]]... -- COMMAND...
#       Runs COMMAND inside DIR with /proc, /dev and the given folders mounted; everything it
#       mounted is unmounted when it returns, also on failure or interruption.
#   tools/debian-root.sh cached SUITE
#       Prints the cached tarballs of SUITE roots (any packages); exits 1 when there is none.
#
# Needs root, and debootstrap (installed with apt-get when missing). The mirror is the one this
# machine's own apt sources name (MIRROR overrides it); the cache folder is
# ${NAB_CACHE_DIR:-$HOME/.cache/native-adabelief}.
set -euo pipefail

die() { printf 'debian-root.sh: %s\n' "$*" >&2; exit 1; }

cache_dir="${NAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/native-adabelief}"

# tarball_of SUITE KEY: the cached tarball of a SUITE root whose packages hash to KEY.
tarball_of() { printf '%s/debian-%s-%s.tar\n' "$cache_dir" "$1" "$2"; }

# The first Debian mirror of this machine's apt sources (deb822 or one-line format).
machine_mirror() {
  local uri
  uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [ -n "$uri" ] || uri="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*; set MIRROR"
  printf '%s\n' "$uri"
}

# Removes a root, after unmounting whatever is still mounted inside it (a run killed before its
# cleanup leaves its mounts): rm -rf through a leftover bind mount would delete the bound folder
# (the source tree, /dev).
remove_root() {
  local dir="$1" target
  [ -e "$dir" ] || return 0
  dir="$(cd "$dir" && pwd -P)"
  local leftovers=()
  mapfile -t leftovers < <(awk -v root="$dir/" 'index($2 "/", root) == 1 { print $2 }' /proc/self/mounts | sort -r)
  for target in "${leftovers[@]}"; do
    echo "unmounting $target (left over from an interrupted run)"
    umount -l "$target" || true
  done
  if awk -v root="$dir/" 'index($2 "/", root) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    die "$dir still has mounts inside it; unmount them before it can be removed"
  fi
  rm -rf "$dir"
}

ensure() {
  [ $# -ge 2 ] || die "usage: ensure SUITE DIR [PACKAGE...]"
  local suite="$1" dir="$2"
  shift 2
  local packages=("$@")
  [ "$(id -u)" -eq 0 ] || die "making a Debian root needs root (debootstrap and chroot)"
  local key
  key="$(printf '%s\n' "$suite" "${packages[@]}" | sort | sha256sum | cut -c1-16)"
  local stamp="$dir/.nab-root-$key" tarball="$(tarball_of "$suite" "$key")"
  [ -e "$stamp" ] && return 0
  if [ -s "$tarball" ]; then
    echo "Debian $suite root: restoring $tarball -> $dir"
    remove_root "$dir" && mkdir -p "$dir"
    tar -xf "$tarball" -C "$dir"
    [ -e "$stamp" ] || die "$tarball does not hold a finished root; delete it and run again"
    return 0
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null; }
  fi
  local mirror="${MIRROR:-$(machine_mirror)}"
  echo "Debian $suite root: debootstrap from $mirror -> $dir (packages: ${packages[*]:-none})"
  remove_root "$dir" && mkdir -p "$dir"
  local log="$dir.debootstrap.log"
  debootstrap --variant=minbase --components=main,contrib,non-free "$suite" "$dir" "$mirror" >"$log" 2>&1 \
    || { tail -n 20 "$log"; die "debootstrap $suite failed (log: $log)"; }
  local architectures
  architectures="$(printf '%s\n' "${packages[@]}" | sed -n 's/^[^:]*:\([a-z0-9]*\)$/\1/p' | sort -u)"
  if [ -n "$architectures" ]; then
    local architecture
    for architecture in $architectures; do
      run "$dir" -- dpkg --add-architecture "$architecture"
    done
    run "$dir" -- apt-get update -q >"$log" 2>&1 \
      || { tail -n 20 "$log"; die "apt-get update for $architectures in the $suite root failed (log: $log)"; }
  fi
  if [ "${#packages[@]}" -gt 0 ]; then
    run "$dir" -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}" >"$log" 2>&1 \
      || { tail -n 20 "$log"; die "installing ${packages[*]} in the $suite root failed (log: $log)"; }
    run "$dir" -- apt-get clean
  fi
  touch "$stamp"
  mkdir -p "$cache_dir"
  tar -cf "$tarball.partial" -C "$dir" . && mv "$tarball.partial" "$tarball"
  echo "Debian $suite root: cached as $tarball ($(du -h "$tarball" | cut -f1))"
}

# Mounts made by run(), unmounted in reverse order by the trap.
mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  mounted=()
}

mount_into() {  # mount_into ROOT_TARGET mount-arguments...
  local target="$1"
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}

run() {
  [ $# -ge 1 ] || die "usage: run DIR [--bind HOST[:ROOT]]... -- COMMAND..."
  local dir
  dir="$(cd "$1" && pwd)"
  shift
  [ -x "$dir/bin/sh" ] || die "$dir is not a Debian root (no /bin/sh); make it with: ensure SUITE $dir"
  trap unmount_all EXIT INT TERM
  mount_into "$dir/proc" -t proc proc
  mount_into "$dir/dev" --bind /dev
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
      --bind)
        local host="${2%%:*}" inside="${2#*:}"
        [ "$inside" != "$2" ] || inside="$host"
        [ -e "$host" ] || die "--bind $2: $host does not exist"
        mount_into "$dir$inside" --bind "$host"
        shift 2
        ;;
      *) die "unknown argument $1 (COMMAND goes after --)" ;;
    esac
  done
  [ "${1:-}" = "--" ] || die "missing -- before COMMAND"
  shift
  local status=0
  chroot "$dir" "$@" || status=$?
  unmount_all
  trap - EXIT INT TERM
  return "$status"
}

case "${1:-}" in
  ensure) shift; ensure "$@" ;;
  run) shift; run "$@" ;;
  cached) [ $# -eq 2 ] || die "usage: cached SUITE"; compgen -G "$(tarball_of "$2" '*')" ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
