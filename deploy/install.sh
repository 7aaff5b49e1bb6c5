#!/usr/bin/env bash
# drbd-chatops installer. Run as root from a built clone (`npm ci && npm run build`) or an unpacked
# release; it installs the tree it sits in (the directory above deploy/). deploy/INSTALL.md has the
# whole procedure for the two hosts of a pair.
#
#   deploy/install.sh [--prefix DIR] [--version NAME] [--no-start] [--skip-npm] [--keep N]
#                     [--snap-confine auto|yes|no] [--root DIR [--skip-checks]]
#
# What it does, each step only when something differs (a second run prints "unchanged" throughout
# and changes nothing):
#   PREFIX/releases/VERSION     the app: package.json, package-lock.json, bin/, dist/ (without the
#                               tests' and benchmarks' output), deploy/, README.md; production
#                               dependencies from `npm ci --omit=dev --ignore-scripts`
#   /etc/drbd-chatops/          0750; config.yaml (0640) and secrets.env (0600 root:root) from the
#                               examples, ONLY when absent: edited files are never overwritten
#   /var/lib/drbd-chatops/      0700, the bot's state
#   /usr/local/lib/drbd-chatops/lock-*.sh   the reference lock scripts, 0755
#   /usr/local/bin/drbd-chatops a symlink to PREFIX/current/bin/drbd-chatops
#   `check-config` of the new release against /etc/drbd-chatops/config.yaml: an upgrade whose
#                               release rejects the configuration stops here, before switching
#   PREFIX/current -> releases/VERSION, switched atomically; PREFIX/previous -> the release it
#                               replaced (deploy/rollback.sh switches back); older releases beyond
#                               --keep are removed (never current or previous)
#   /etc/systemd/system/drbd-chatops.service   the unit (and, when lxc or gcloud come from snaps,
#                               drbd-chatops.service.d/50-snap-confine.conf)
#   systemd: daemon-reload when the unit changed; enable; restart when the release or unit changed
#                               or the service is not running. Not on a first install (the
#                               configuration and secrets are still examples), not with --no-start.
#
# Options:
#   --prefix DIR        where releases live (default /opt/drbd-chatops)
#   --version NAME      the release's name (default: the version in package.json). Installing a
#                       name that exists with different files is refused: choose a new name.
#   --no-start          install only; no enable/restart (daemon-reload still runs if the unit changed)
#   --skip-npm          do not run npm: copy the source's node_modules/ if it has one (a release
#                       tarball built with `npm ci --omit=dev` for hosts without registry access)
#   --keep N            releases to keep, current and previous included (default 3, at least 2)
#   --snap-confine M    auto (default): add the capabilities snap-confine needs when lxc or gcloud
#                       is a snap (/snap/bin/lxc, /snap/bin/gcloud); yes; no
#   --root DIR          install under DIR (every path prefixed; for packaging and tests): no
#                       systemctl, ownership set only when run as root
#   --skip-checks       with --root only: skip the Node.js and check-config checks
set -euo pipefail

PROG=install.sh
PREFIX=/opt/drbd-chatops
ROOT=''
VERSION=''
START=1
SKIP_NPM=0
SKIP_CHECKS=0
KEEP=3
SNAP_MODE=auto
UNIT_NAME=drbd-chatops.service

die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}
usage_error() {
  printf '%s: %s\nUsage: deploy/install.sh [--prefix DIR] [--version NAME] [--no-start] [--skip-npm] [--keep N] [--snap-confine auto|yes|no] [--root DIR [--skip-checks]]\n' "$PROG" "$*" >&2
  exit 2
}
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) need_value "$@"; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --root) need_value "$@"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#*=}; shift ;;
    --version) need_value "$@"; VERSION=$2; shift 2 ;;
    --version=*) VERSION=${1#*=}; shift ;;
    --keep) need_value "$@"; KEEP=$2; shift 2 ;;
    --keep=*) KEEP=${1#*=}; shift ;;
    --snap-confine) need_value "$@"; SNAP_MODE=$2; shift 2 ;;
    --snap-confine=*) SNAP_MODE=${1#*=}; shift ;;
    --no-start) START=0; shift ;;
    --skip-npm) SKIP_NPM=1; shift ;;
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
case "$PREFIX" in *[[:space:]]*) usage_error "--prefix must not contain white space" ;; esac
case "$KEEP" in '' | *[!0-9]*) usage_error "--keep must be a number, got '$KEEP'" ;; esac
[ "$KEEP" -ge 2 ] || usage_error "--keep must be at least 2 (current and previous)"
case "$SNAP_MODE" in auto | yes | no) ;; *) usage_error "--snap-confine must be auto, yes or no" ;; esac
if [ -n "$ROOT" ]; then
  mkdir -p -- "$ROOT"
  ROOT=$(cd -- "$ROOT" && pwd -P)
  [ "$ROOT" != / ] || ROOT=''
fi
if [ "$SKIP_CHECKS" = 1 ] && [ -z "$ROOT" ]; then
  usage_error "--skip-checks is only for --root installs"
fi
if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  die "run as root (or with --root DIR to install into a scratch directory)"
fi
AS_ROOT=0
if [ "$(id -u)" = 0 ]; then AS_ROOT=1; fi

SRC=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
for f in package.json bin/drbd-chatops dist/cli/drbd-chatops.mjs deploy/drbd-chatops.service \
  deploy/config.example.yaml deploy/secrets.env.example; do
  [ -e "$SRC/$f" ] || die "$SRC/$f is missing: run \`npm ci && npm run build\` first, or unpack a complete release"
done
if [ "$SKIP_NPM" = 0 ] && [ ! -e "$SRC/package-lock.json" ]; then
  die "$SRC/package-lock.json is missing (npm ci needs it)"
fi

if [ -z "$VERSION" ]; then
  VERSION=$(sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$SRC/package.json" | head -n 1)
  [ -n "$VERSION" ] || die "no version in $SRC/package.json: pass --version NAME"
fi
case "$VERSION" in
  [A-Za-z0-9]*) ;;
  *) usage_error "--version must start with a letter or digit, got '$VERSION'" ;;
esac
case "$VERSION" in *[!A-Za-z0-9._+-]*) usage_error "--version may only contain letters, digits and . _ + -" ;; esac

# --- Prerequisites -------------------------------------------------------------------------------
NODE_MIN=20
if [ "$SKIP_CHECKS" = 1 ]; then
  warn "--skip-checks: Node.js and the configuration are not checked"
else
  command -v node >/dev/null 2>&1 || die "node is not installed (Node.js $NODE_MIN or later is needed)"
  node_version=$(node --version 2>/dev/null || true)
  node_major=${node_version#v}
  node_major=${node_major%%.*}
  case "$node_major" in '' | *[!0-9]*) die "cannot tell the version of node ('$node_version')" ;; esac
  [ "$node_major" -ge "$NODE_MIN" ] || die "Node.js $node_version is too old: $NODE_MIN or later is needed"
  # The unit starts bin/drbd-chatops through `#!/usr/bin/env node` with systemd's PATH.
  node_path=$(command -v node)
  case "$node_path" in
    /usr/bin/node | /usr/local/bin/node | /bin/node | /usr/sbin/node | /usr/local/sbin/node) ;;
    *) warn "node is $node_path, which the service's PATH does not reach: link it to /usr/local/bin/node" ;;
  esac
  if [ "$SKIP_NPM" = 0 ]; then
    command -v npm >/dev/null 2>&1 || die "npm is not installed (or use --skip-npm with a bundled node_modules/)"
  fi
  if [ -z "$ROOT" ] && ! command -v drbdsetup >/dev/null 2>&1 && [ ! -x /usr/sbin/drbdsetup ]; then
    warn "drbdsetup is not installed (package drbd-utils): the bot cannot watch DRBD without it"
  fi
fi

# --- Output --------------------------------------------------------------------------------------
CHANGES=0
report() { printf '  %-44s %s\n' "$1" "$2"; }
changed() {
  CHANGES=$((CHANGES + 1))
  report "$1" "$2"
}
unchanged() { report "$1" "${2:-unchanged}"; }

R="$ROOT$PREFIX"
RELEASES="$R/releases"
REL="$RELEASES/$VERSION"
ETC="$ROOT/etc/drbd-chatops"
CONFIG="$ETC/config.yaml"
SECRETS="$ETC/secrets.env"
STATE="$ROOT/var/lib/drbd-chatops"
LOCKS="$ROOT/usr/local/lib/drbd-chatops"
UNIT="$ROOT/etc/systemd/system/$UNIT_NAME"
DROPIN_DIR="$UNIT.d"
SNAP_DROPIN="$DROPIN_DIR/50-snap-confine.conf"
CLI_LINK="$ROOT/usr/local/bin/drbd-chatops"

printf 'drbd-chatops %s from %s into %s%s\n' "$VERSION" "$SRC" "$PREFIX" "${ROOT:+ (under $ROOT)}"

umask 022
mkdir -p -- "$RELEASES"
# One installer at a time (two could otherwise interleave their symlink switches).
exec 9>"$R/.install.lock"
if command -v flock >/dev/null 2>&1; then
  flock -n 9 || die "another install.sh or rollback.sh is running on $PREFIX"
fi
# Left behind by an install that was killed half way (we hold the lock, so none is in use).
rm -rf -- "$RELEASES"/.staging-*

TMP_PATHS=()
cleanup() {
  local p
  for p in "${TMP_PATHS[@]+"${TMP_PATHS[@]}"}"; do rm -rf -- "$p"; done
}
trap cleanup EXIT

# set_link LINK TARGET: replace LINK atomically (a reader sees the old or the new target, never none).
set_link() {
  local tmp="$1.tmp.$$"
  TMP_PATHS+=("$tmp")
  ln -sfn -- "$2" "$tmp"
  mv -T -- "$tmp" "$1"
}

# install_file SRC DEST MODE LABEL: copy when the content differs; fix the mode when only it differs.
# Sets FILE_CHANGED to 1 when it wrote something. (It never signals through its exit status: a
# function called as an `if` condition runs without `set -e`, and a failed copy must stop the script.)
FILE_CHANGED=0
install_file() {
  local src=$1 dest=$2 mode=$3 label=$4 existed=0 tmp
  FILE_CHANGED=0
  if [ -f "$dest" ] && cmp -s -- "$src" "$dest"; then
    if [ "$(stat -c %a -- "$dest")" != "${mode#0}" ]; then
      chmod "$mode" -- "$dest"
      FILE_CHANGED=1
      changed "$label" "mode set to $mode"
    else
      unchanged "$label"
    fi
    return 0
  fi
  [ ! -e "$dest" ] || existed=1
  mkdir -p -- "$(dirname -- "$dest")"
  tmp="$dest.tmp.$$"
  TMP_PATHS+=("$tmp")
  cp -- "$src" "$tmp"
  chmod "$mode" -- "$tmp"
  if [ "$AS_ROOT" = 1 ]; then chown root:root -- "$tmp"; fi
  mv -f -- "$tmp" "$dest"
  FILE_CHANGED=1
  if [ "$existed" = 1 ]; then changed "$label" updated; else changed "$label" installed; fi
}

# ensure_dir DIR MODE LABEL
ensure_dir() {
  local dir=$1 mode=$2 label=$3
  if [ ! -d "$dir" ]; then
    mkdir -p -- "$dir"
    chmod "$mode" -- "$dir"
    if [ "$AS_ROOT" = 1 ]; then chown root:root -- "$dir"; fi
    changed "$label" "created ($mode)"
  elif [ "$(stat -c %a -- "$dir")" != "${mode#0}" ]; then
    chmod "$mode" -- "$dir"
    changed "$label" "mode set to $mode"
  else
    unchanged "$label"
  fi
}

# render_unit SRC DEST: the unit with the prefix this install uses.
render_unit() {
  sed -e "s#/opt/drbd-chatops/#$PREFIX/#g" -- "$1" >"$2"
}

# --- 1. The release ------------------------------------------------------------------------------
STAGE="$RELEASES/.staging-$VERSION-$$"
TMP_PATHS+=("$STAGE")
mkdir -- "$STAGE"
cp -R -- "$SRC/package.json" "$SRC/bin" "$SRC/dist" "$SRC/deploy" "$STAGE/"
for f in package-lock.json README.md LICENSE; do
  [ ! -e "$SRC/$f" ] || cp -- "$SRC/$f" "$STAGE/"
done
# Compiled tests and benchmarks need the dev dependencies; they are no part of a release.
rm -rf -- "$STAGE/dist/test" "$STAGE/dist/bench"
MARKER=.drbd-chatops-release

if [ -f "$REL/$MARKER" ] && diff -rq --no-dereference -x node_modules -x "$MARKER" -- "$STAGE" "$REL" >/dev/null 2>&1; then
  unchanged "release $VERSION" "unchanged ($PREFIX/releases/$VERSION)"
elif [ -f "$REL/$MARKER" ]; then
  die "release $VERSION is already installed with different files; install this build under another name (--version $VERSION-2, say) or roll back with rollback.sh"
else
  if [ -e "$REL" ]; then
    # A release without its marker was interrupted half way: it never became current.
    [ "$(readlink -- "$R/current" 2>/dev/null || true)" != "releases/$VERSION" ] ||
      die "$REL is current but incomplete; repair it by hand"
    rm -rf -- "$REL"
  fi
  if [ "$SKIP_NPM" = 1 ]; then
    if [ -d "$SRC/node_modules" ]; then
      cp -R -- "$SRC/node_modules" "$STAGE/"
    else
      warn "--skip-npm and no node_modules/ in $SRC: the release has no dependencies and cannot run"
    fi
  else
    printf '  npm ci --omit=dev in the new release ...\n'
    # --ignore-scripts: no package's install script runs as root (none of the production
    # dependencies needs one).
    (cd -- "$STAGE" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) ||
      die "npm ci failed; nothing was switched"
  fi
  printf 'version=%s\nsource=%s\n' "$VERSION" "$SRC" >"$STAGE/$MARKER"
  if [ "$AS_ROOT" = 1 ]; then chown -R root:root -- "$STAGE"; fi
  chmod 0755 -- "$STAGE"
  mv -T -- "$STAGE" "$REL"
  touch -- "$REL"
  changed "release $VERSION" "installed in $PREFIX/releases/$VERSION"
fi

# --- 2. Configuration, secrets, state ------------------------------------------------------------
FRESH=0
ensure_dir "$ETC" 0750 /etc/drbd-chatops
if [ -e "$CONFIG" ]; then
  unchanged /etc/drbd-chatops/config.yaml "kept (never overwritten)"
else
  install -m 0640 -- "$REL/deploy/config.example.yaml" "$CONFIG"
  if [ "$AS_ROOT" = 1 ]; then chown root:root -- "$CONFIG"; fi
  changed /etc/drbd-chatops/config.yaml "created from the example: edit it"
  FRESH=1
fi
if [ -e "$SECRETS" ]; then
  fixes=''
  if [ "$(stat -c %a -- "$SECRETS")" != 600 ]; then
    chmod 0600 -- "$SECRETS"
    fixes='mode 0600'
  fi
  if [ "$AS_ROOT" = 1 ] && [ "$(stat -c %u:%g -- "$SECRETS")" != 0:0 ]; then
    chown root:root -- "$SECRETS"
    fixes="${fixes:+$fixes, }owner root:root"
  fi
  if [ -n "$fixes" ]; then
    changed /etc/drbd-chatops/secrets.env "kept; set $fixes"
  else
    unchanged /etc/drbd-chatops/secrets.env "kept (never overwritten)"
  fi
else
  install -m 0600 -- "$REL/deploy/secrets.env.example" "$SECRETS"
  if [ "$AS_ROOT" = 1 ]; then chown root:root -- "$SECRETS"; fi
  changed /etc/drbd-chatops/secrets.env "created from the example (0600): fill it in"
  FRESH=1
fi
ensure_dir "$STATE" 0700 /var/lib/drbd-chatops

# --- 3. Lock scripts and the command-line link ---------------------------------------------------
ensure_dir "$LOCKS" 0755 /usr/local/lib/drbd-chatops
for script in "$REL"/deploy/lock-*.sh; do
  [ -e "$script" ] || continue
  name=$(basename -- "$script")
  install_file "$script" "$LOCKS/$name" 0755 "/usr/local/lib/drbd-chatops/$name"
done
want_link="$PREFIX/current/bin/drbd-chatops"
if [ -L "$CLI_LINK" ] && [ "$(readlink -- "$CLI_LINK")" = "$want_link" ]; then
  unchanged /usr/local/bin/drbd-chatops
elif [ -e "$CLI_LINK" ] || [ -L "$CLI_LINK" ]; then
  warn "/usr/local/bin/drbd-chatops exists and is not a link to $want_link: left alone"
else
  mkdir -p -- "$(dirname -- "$CLI_LINK")"
  ln -s -- "$want_link" "$CLI_LINK"
  changed /usr/local/bin/drbd-chatops "linked to $want_link"
fi

# --- 4. The new release must accept the configuration before it becomes current -------------------
if [ "$SKIP_CHECKS" = 0 ]; then
  if ! out=$("$REL/bin/drbd-chatops" check-config --config "$CONFIG" 2>&1 >/dev/null); then
    printf '%s\n' "$out" >&2
    die "release $VERSION rejects /etc/drbd-chatops/config.yaml (above); current is unchanged. Fix the file and run install.sh again."
  fi
  unchanged "check-config (release $VERSION)" "configuration valid"
fi

# --- 5. Switch current/previous ------------------------------------------------------------------
SWITCHED=0
cur=$(readlink -- "$R/current" 2>/dev/null || true)
if [ -e "$R/current" ] && [ ! -L "$R/current" ]; then
  die "$R/current exists and is not a symlink; move it away first"
fi
if [ "$cur" = "releases/$VERSION" ]; then
  unchanged "$PREFIX/current" "unchanged (-> releases/$VERSION)"
else
  if [ -n "$cur" ]; then
    set_link "$R/previous" "$cur"
  fi
  set_link "$R/current" "releases/$VERSION"
  SWITCHED=1
  changed "$PREFIX/current" "-> releases/$VERSION (previous: ${cur:-none})"
fi

# --- 6. The systemd unit -------------------------------------------------------------------------
UNIT_CHANGED=0
rendered="$R/.unit.tmp.$$"
TMP_PATHS+=("$rendered")
render_unit "$REL/deploy/$UNIT_NAME" "$rendered"
install_file "$rendered" "$UNIT" 0644 "/etc/systemd/system/$UNIT_NAME"
[ "$FILE_CHANGED" = 0 ] || UNIT_CHANGED=1

snap=0
case "$SNAP_MODE" in
  yes) snap=1 ;;
  auto) if [ -e "$ROOT/snap/bin/lxc" ] || [ -e "$ROOT/snap/bin/gcloud" ]; then snap=1; fi ;;
esac
if [ "$snap" = 1 ]; then
  dropin="$R/.dropin.tmp.$$"
  TMP_PATHS+=("$dropin")
  cat >"$dropin" <<'EOF'
# Written by drbd-chatops' install.sh because lxc (or gcloud) on this host is a snap; removed by it
# when they no longer are (--snap-confine no removes it too). Snaps start through snap-confine,
# which sets up the snap's mount namespace, device cgroup and AppArmor profile and needs these
# capabilities (the ones its own AppArmor profile allows) on top of the unit's CAP_SYS_ADMIN and
# CAP_NET_ADMIN. NoNewPrivileges must stay off for the same reason (see the unit).
[Service]
CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_CHOWN CAP_SETUID CAP_SETGID CAP_SYS_PTRACE CAP_SYS_CHROOT CAP_SYS_RESOURCE
EOF
  install_file "$dropin" "$SNAP_DROPIN" 0644 "$UNIT_NAME.d/50-snap-confine.conf"
  [ "$FILE_CHANGED" = 0 ] || UNIT_CHANGED=1
elif [ -e "$SNAP_DROPIN" ]; then
  rm -f -- "$SNAP_DROPIN"
  rmdir -- "$DROPIN_DIR" 2>/dev/null || true
  changed "$UNIT_NAME.d/50-snap-confine.conf" "removed (no snap lxc/gcloud)"
  UNIT_CHANGED=1
fi

# --- 7. Old releases -----------------------------------------------------------------------------
prev=$(readlink -- "$R/previous" 2>/dev/null || true)
cur=$(readlink -- "$R/current" 2>/dev/null || true)
kept=0
[ -z "$cur" ] || kept=$((kept + 1))
[ -z "$prev" ] || [ "$prev" = "$cur" ] || kept=$((kept + 1))
# Newest first; the staging directories start with a dot and are not listed.
while IFS= read -r name; do
  [ -n "$name" ] || continue
  case "releases/$name" in "$cur" | "$prev") continue ;; esac
  [ -d "$RELEASES/$name" ] || continue
  if [ "$kept" -lt "$KEEP" ]; then
    kept=$((kept + 1))
  else
    rm -rf -- "${RELEASES:?}/$name"
    changed "release $name" "removed (--keep $KEEP)"
  fi
done < <(ls -1t -- "$RELEASES")

# --- 8. systemd ----------------------------------------------------------------------------------
if [ -n "$ROOT" ]; then
  : # a scratch root: nothing to tell systemd
elif ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
  warn "systemd is not running here: start the service yourself"
else
  if [ "$UNIT_CHANGED" = 1 ]; then
    systemctl daemon-reload
    report systemd "daemon-reload"
  fi
  if [ "$START" = 0 ]; then
    report "$UNIT_NAME" "not started (--no-start)"
  elif [ "$FRESH" = 1 ]; then
    report "$UNIT_NAME" "not started: edit config.yaml and secrets.env first"
  else
    if ! systemctl is-enabled --quiet "$UNIT_NAME"; then
      systemctl enable --quiet "$UNIT_NAME"
      changed "$UNIT_NAME" enabled
    fi
    if [ "$SWITCHED" = 1 ] || [ "$UNIT_CHANGED" = 1 ] || ! systemctl is-active --quiet "$UNIT_NAME"; then
      # Type=notify: this returns once the bot said READY=1, and fails when it exited before that;
      # under `set -e` a bare failure would end the script without saying why.
      if ! systemctl restart "$UNIT_NAME"; then
        systemctl --no-pager --lines=20 status "$UNIT_NAME" >&2 || true
        die "$UNIT_NAME did not start: journalctl -u drbd-chatops -n 100"
      fi
      changed "$UNIT_NAME" "restarted"
      # A bad token or an unreachable lock store shows within seconds.
      sleep 5
      if ! systemctl is-active --quiet "$UNIT_NAME"; then
        systemctl --no-pager --lines=20 status "$UNIT_NAME" >&2 || true
        die "$UNIT_NAME did not stay up: journalctl -u drbd-chatops -n 100"
      fi
    else
      unchanged "$UNIT_NAME" "unchanged (running)"
    fi
  fi
fi

if grep -Eq '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*=.*replace-me' -- "$SECRETS" 2>/dev/null; then
  warn "/etc/drbd-chatops/secrets.env still holds placeholders (replace-me): fill in what you use, delete the rest"
fi

if [ "$CHANGES" = 0 ]; then
  printf 'drbd-chatops %s: unchanged (nothing to do)\n' "$VERSION"
else
  printf 'drbd-chatops %s: %d change(s)\n' "$VERSION" "$CHANGES"
fi
if [ "$FRESH" = 1 ]; then
  cat <<EOF

Next: edit /etc/drbd-chatops/config.yaml (host, peer, lock, slack/discord, routes) and
/etc/drbd-chatops/secrets.env, then
  drbd-chatops check-config --config /etc/drbd-chatops/config.yaml
  systemctl enable --now drbd-chatops
  journalctl -u drbd-chatops -f
(deploy/INSTALL.md has the whole procedure for both hosts.)
EOF
fi
