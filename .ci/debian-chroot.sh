#!/usr/bin/env bash
# A Debian 13 (trixie) chroot under build/ for the ansible-core releases that need Python >= 3.12,
# on a machine whose own Python is older. Root only (debootstrap, mount, chroot).
#
#   .ci/debian-chroot.sh build          debootstrap it once (a stamp makes reruns a no-op)
#   .ci/debian-chroot.sh run CMD ...    run CMD in it, in the current directory
#
# `run` builds first when needed, then, in a mount namespace of its own, mounts /proc, binds /dev and
# binds the work tree at the same absolute path inside, so paths (venvs under build/, pytest's
# arguments, the collection's files) mean the same thing on both sides. Everything it mounted is
# unmounted when CMD ends, whatever its status; parallel runs do not see each other's mounts.
# The chroot gets this machine's resolv.conf, CA bundle and pip configuration, so pip inside
# reaches the package index the way pip outside does.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TREE="$(cd "$HERE/.." && pwd)"
BASE="${DEBIAN_CHROOT_DIR:-$TREE/build/debian-trixie}"
ROOTFS="$BASE/root"
STAMP="$BASE/built"
SUITE=trixie
INCLUDE=python3,python3-venv,git,openssh-server,openssh-client,openssl,ca-certificates,gnupg
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

die() { echo "debian-chroot: $*" >&2; exit 1; }
say() { echo "debian-chroot: $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount and chroot); run as root or set PYTHON312 to a Python >= 3.12"

# The Debian mirror this machine's apt already uses (deb822 .sources files or sources.list);
# deb.debian.org when apt here points at no Debian mirror (another distribution).
debian_mirror() {
  local uri
  uri=$( { grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.sources.disabled 2>/dev/null \
             | tr -s ' \t' '\n' | grep -E '^(https?|file)://'
           grep -hsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
             | tr -s ' \t' '\n' | grep -E '^(https?|file)://'
         } | grep -E '/debian/?$' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null && return
  say "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  [ -e /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] \
    || apt-get install -y -qq debian-archive-keyring >/dev/null
}

build() {
  local want="$SUITE $INCLUDE"
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && return
  mkdir -p "$BASE"
  exec 8>"$BASE/build.lock"
  flock 8  # a parallel leg waits for the one that builds
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && { exec 8>&-; return; }
  ensure_debootstrap
  local mirror tmp="$BASE/root.tmp"
  mirror=$(debian_mirror)
  say "building Debian $SUITE in $ROOTFS from $mirror (once; about a minute)"
  rm -rf "$tmp" "$STAMP"
  # In a mount namespace of its own: whatever debootstrap mounts in the target goes away with it.
  if ! unshare --mount --propagation private \
      debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$mirror" >"$BASE/debootstrap.log" 2>&1; then
    tail -n 20 "$BASE/debootstrap.log" >&2
    die "debootstrap failed (log: $BASE/debootstrap.log)"
  fi
  rm -rf "$tmp/var/cache/apt/archives/"*.deb
  rm -rf "$ROOTFS" && mv "$tmp" "$ROOTFS"
  echo "$want" > "$STAMP"
  exec 8>&-
}

# Where pip on this machine reads its configuration (pip's own search order, plus PIP_CONFIG_FILE).
pip_config_files() {
  local dir
  echo /etc/pip.conf
  IFS=: read -ra dirs <<< "${XDG_CONFIG_DIRS:-/etc/xdg}"
  for dir in "${dirs[@]}"; do echo "$dir/pip/pip.conf"; done
  echo "$HOME/.pip/pip.conf"
  echo "${XDG_CONFIG_HOME:-$HOME/.config}/pip/pip.conf"
  [ -z "${PIP_CONFIG_FILE:-}" ] || echo "$PIP_CONFIG_FILE"
}

# Copy a host file to the same path inside; by rename, so that a run already inside never reads half of it.
copy_in() {
  local target="$ROOTFS$1"
  cmp -s "$1" "$target" && return
  mkdir -p "$(dirname "$target")"
  cp -L "$1" "$target.tmp-$$" && mv -f "$target.tmp-$$" "$target"
}

# Copy resolv.conf, the CA bundle and pip's configuration in (every run: they may have changed), and
# list the local directories that configuration names (find-links, file:// indexes) for binding.
sync_host_config() {
  local file value
  copy_in /etc/resolv.conf
  if [ -f "$CA_BUNDLE" ]; then copy_in "$CA_BUNDLE"; fi
  LOCAL_DIRS=()
  local values=("${PIP_FIND_LINKS:-}" "${PIP_INDEX_URL:-}" "${PIP_EXTRA_INDEX_URL:-}" "${PIP_CERT:-}" "${PIP_CONSTRAINT:-}")
  while read -r file; do
    [ -f "$file" ] || continue
    copy_in "$file"
    while read -r value; do values+=("$value"); done < <(grep -v '^[[:space:]]*[#;]' "$file" | grep -oE '(file://)?/[^[:space:]]+' || true)
  done < <(pip_config_files)
  local words word
  for words in "${values[@]}"; do
    for word in $words; do
      value="${word#file://}"
      case "$value" in /*) ;; *) continue ;; esac
      if [ -d "$value" ]; then
        # A local package index (root/simple/<name>/) links its files beside it: bind the root.
        case "${value%/}" in */simple) value=$(dirname "${value%/}") ;; esac
        LOCAL_DIRS+=("$value")
      elif [ -f "$value" ]; then  # a constraints file, a certificate
        copy_in "$value"
      fi
    done
  done
}

MOUNTED=()
# shellcheck disable=SC2317  # run by the EXIT trap
unmount_all() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount -R "${MOUNTED[$i]}" 2>/dev/null || umount -lR "${MOUNTED[$i]}" || true
  done
}

# Runs inside the private mount namespace: mount, chroot, unmount.
inner() {
  local cwd="$1"; shift
  trap unmount_all EXIT
  bind() {  # bind SOURCE at the same path inside; ro when asked
    local target="$ROOTFS$1"
    mkdir -p "$target"
    mount --rbind "$1" "$target"
    MOUNTED+=("$target")
    mount --make-rslave "$target"
    if [ "${2:-}" = ro ]; then mount -o remount,bind,ro "$target"; fi
  }
  mount -t proc proc "$ROOTFS/proc"
  MOUNTED+=("$ROOTFS/proc")
  bind /dev
  bind "$TREE"
  # A Git worktree keeps its repository outside the tree; bind that too (read-only), so git reads it inside.
  local common
  common=$(git -C "$TREE" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  if [ -n "$common" ] && [ -d "$common" ] && [[ "$common/" != "$TREE/"* ]]; then bind "$common" ro; fi
  local dir
  for dir in "${LOCAL_DIRS[@]}"; do
    [[ "$dir/" == "$TREE/"* ]] || bind "$dir" ro
  done
  mkdir -p "$ROOTFS/run/sshd"  # sshd's privilege separation directory
  local status=0
  # shellcheck disable=SC2016  # expanded by the shell inside the chroot
  chroot "$ROOTFS" /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$cwd" "$@" || status=$?
  return $status
}

main() {
  case "${1:-}" in
    build)
      build
      ;;
    run)
      shift
      [ $# -gt 0 ] || die "usage: $0 run CMD [ARG...]"
      [[ "$PWD/" == "$TREE/"* ]] || die "run it from inside $TREE (only the work tree is bound into the chroot)"
      build
      exec unshare --mount --propagation private bash "$HERE/debian-chroot.sh" __inner "$PWD" "$@"
      ;;
    __inner)
      shift
      sync_host_config
      inner "$@"
      ;;
    *)
      die "usage: $0 build | run CMD [ARG...]"
      ;;
  esac
}

# On one line, so that bash has read it whole before it runs: editing this file cannot upset a running copy.
main "$@"; exit $?
