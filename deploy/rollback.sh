#!/usr/bin/env bash
# drbd-chatops rollback: make the previous release current again and restart the service.
#
#   /opt/drbd-chatops/current/deploy/rollback.sh [--prefix DIR] [--no-start] [--root DIR [--skip-checks]]
#
# install.sh keeps PREFIX/previous pointing at the release it replaced. This script swaps the two
# links atomically (current <- previous, previous <- the release rolled back from), so running it
# again rolls forward. Before switching, the previous release must accept
# /etc/drbd-chatops/config.yaml (`check-config`): a configuration that uses keys only the newer
# release knows must be edited first. The unit file is put back to the previous release's own
# version when it differs. Configuration, secrets and state (/var/lib/drbd-chatops) are not touched:
# the outbox and journals keep their format across releases of the same major version.
#
# Options:
#   --prefix DIR     where releases live (default /opt/drbd-chatops)
#   --no-start       switch only; no restart (daemon-reload still runs if the unit changed)
#   --root DIR       operate under DIR (tests, packaging): no systemctl
#   --skip-checks    with --root only: do not run check-config
set -euo pipefail

PROG=rollback.sh
PREFIX=/opt/drbd-chatops
ROOT=''
START=1
SKIP_CHECKS=0
UNIT_NAME=drbd-chatops.service

die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}
usage_error() {
  printf '%s: %s\nUsage: rollback.sh [--prefix DIR] [--no-start] [--root DIR [--skip-checks]]\n' "$PROG" "$*" >&2
  exit 2
}
need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) need_value "$@"; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --root) need_value "$@"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#*=}; shift ;;
    --no-start) START=0; shift ;;
    --skip-checks) SKIP_CHECKS=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
case "$PREFIX" in
  /*) PREFIX=${PREFIX%/} ;;
  *) usage_error "--prefix must be an absolute path, got '$PREFIX'" ;;
esac
[ -n "$PREFIX" ] || usage_error "--prefix must not be /"
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT does not exist"
  ROOT=$(cd -- "$ROOT" && pwd -P)
  [ "$ROOT" != / ] || ROOT=''
fi
if [ "$SKIP_CHECKS" = 1 ] && [ -z "$ROOT" ]; then usage_error "--skip-checks is only for --root"; fi
if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then die "run as root"; fi

R="$ROOT$PREFIX"
CONFIG="$ROOT/etc/drbd-chatops/config.yaml"
UNIT="$ROOT/etc/systemd/system/$UNIT_NAME"
MARKER=.drbd-chatops-release

[ -d "$R" ] || die "$PREFIX does not exist: nothing is installed there"
exec 9>"$R/.install.lock"
if command -v flock >/dev/null 2>&1; then
  flock -n 9 || die "another install.sh or rollback.sh is running on $PREFIX"
fi

cur=$(readlink -- "$R/current" 2>/dev/null || true)
prev=$(readlink -- "$R/previous" 2>/dev/null || true)
[ -n "$cur" ] || die "$PREFIX/current is not a symlink to a release: nothing to roll back"
[ -n "$prev" ] || die "$PREFIX/previous does not exist: there is no earlier release to go back to"
[ "$prev" != "$cur" ] || die "previous and current are the same release ($cur)"
[ -f "$R/$prev/$MARKER" ] || die "the previous release $PREFIX/$prev is missing or incomplete"

printf 'drbd-chatops rollback in %s%s: %s -> %s\n' "$PREFIX" "${ROOT:+ (under $ROOT)}" "${cur#releases/}" "${prev#releases/}"

if [ "$SKIP_CHECKS" = 0 ]; then
  if ! out=$("$R/$prev/bin/drbd-chatops" check-config --config "$CONFIG" 2>&1 >/dev/null); then
    printf '%s\n' "$out" >&2
    die "release ${prev#releases/} rejects /etc/drbd-chatops/config.yaml (above), probably a key only ${cur#releases/} knows; edit it and run rollback.sh again. Nothing was switched."
  fi
fi

TMP_PATHS=()
cleanup() {
  local p
  for p in "${TMP_PATHS[@]+"${TMP_PATHS[@]}"}"; do rm -rf -- "$p"; done
}
trap cleanup EXIT
set_link() {
  local tmp="$1.tmp.$$"
  TMP_PATHS+=("$tmp")
  ln -sfn -- "$2" "$tmp"
  mv -T -- "$tmp" "$1"
}

set_link "$R/previous" "$cur"
set_link "$R/current" "$prev"
printf '  %-44s %s\n' "$PREFIX/current" "-> $prev (previous: $cur; run rollback.sh again to go forward)"

UNIT_CHANGED=0
if [ -f "$R/$prev/deploy/$UNIT_NAME" ]; then
  rendered="$R/.unit.tmp.$$"
  TMP_PATHS+=("$rendered")
  sed -e "s#/opt/drbd-chatops/#$PREFIX/#g" -- "$R/$prev/deploy/$UNIT_NAME" >"$rendered"
  if [ -f "$UNIT" ] && cmp -s -- "$rendered" "$UNIT"; then
    printf '  %-44s %s\n' "/etc/systemd/system/$UNIT_NAME" unchanged
  else
    mkdir -p -- "$(dirname -- "$UNIT")"
    chmod 0644 -- "$rendered"
    mv -f -- "$rendered" "$UNIT"
    UNIT_CHANGED=1
    printf '  %-44s %s\n' "/etc/systemd/system/$UNIT_NAME" "replaced by ${prev#releases/}'s"
  fi
fi

if [ -n "$ROOT" ]; then
  :
elif ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
  printf '%s: warning: systemd is not running here: restart the service yourself\n' "$PROG" >&2
else
  if [ "$UNIT_CHANGED" = 1 ]; then systemctl daemon-reload; fi
  if [ "$START" = 0 ]; then
    printf '  %-44s %s\n' "$UNIT_NAME" "not restarted (--no-start)"
  elif systemctl is-enabled --quiet "$UNIT_NAME" || systemctl is-active --quiet "$UNIT_NAME"; then
    systemctl restart "$UNIT_NAME"
    printf '  %-44s %s\n' "$UNIT_NAME" restarted
    sleep 5
    if ! systemctl is-active --quiet "$UNIT_NAME"; then
      systemctl --no-pager --lines=20 status "$UNIT_NAME" >&2 || true
      die "$UNIT_NAME did not stay up: journalctl -u drbd-chatops -n 100"
    fi
  else
    printf '  %-44s %s\n' "$UNIT_NAME" "neither enabled nor running: not started"
  fi
fi
printf 'drbd-chatops: rolled back to %s\n' "${prev#releases/}"
