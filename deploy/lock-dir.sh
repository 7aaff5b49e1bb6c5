#!/bin/sh
# drbd-chatops lock command on a shared directory (e.g. an NFS mount both hosts see).
#
#   lock-dir.sh [--dir DIR] lock KEY HOLDER TTL_SECONDS   exit 0: HOLDER holds KEY now; 1: someone else does
#   lock-dir.sh [--dir DIR] unlock KEY HOLDER             exit 0: released, or HOLDER did not hold it
#   lock-dir.sh [--dir DIR] status KEY                    exit 0
#
# lock and status print `holder=NAME expires=EPOCH_SECONDS token=N` (`holder=-` when free); any other
# exit status (2 = usage or storage error, 3 = unexpected failure) means "unknown", never "held by
# someone else". Configure it in drbd-chatops as the `command` lock backend, e.g. command:
# /usr/local/lib/drbd-chatops/lock-dir.sh, args: [--dir, /mnt/pair-locks]. The directory can also
# come from LOCK_DIR.
#
# Files per key, in DIR:
#   KEY.lease  one line `HOLDER EXPIRES_MS TOKEN` (HOLDER `-` when free). Replaced with write-temp + mv,
#              so a reader sees the old or the new record, never half of one.
#   KEY.guard  a directory made with mkdir around read-modify-write: mkdir is atomic (also on NFS, where
#              O_EXCL files were not always), so exactly one process changes the record at a time. It
#              holds `owner` (host pid epoch) so a guard left by a killed process is broken: when that
#              pid is dead on this host, or when it is older than STALE_SECONDS.
#   KEY.break  a second mkdir held only while breaking a stale guard, so two processes that both judged
#              the same guard stale cannot remove a fresh guard taken in between.
#
# Clock assumption: expiry is decided with the local clock of whichever host runs the command, so the
# two hosts' clocks must agree (NTP) to well within the lease TTL. A host whose clock runs ahead sees
# the other's lease expire early by the skew. The fencing token still only ever grows.
#
# Needs only POSIX sh, mkdir, mv, rm, cat, date, hostname (or uname -n) and sleep; `date +%s%3N`
# (GNU) gives millisecond expiry, other dates fall back to whole seconds.

set -eu

STALE_SECONDS=${LOCK_DIR_STALE_SECONDS:-10}
WAIT_SECONDS=${LOCK_DIR_WAIT_SECONDS:-10}

intended=''
guard_held=''
guard=''

# Every exit goes through here: an error from any command (which `set -e` turns into an exit with that
# command's status, possibly 1) must not be mistaken for "held by someone else", so only the statuses
# this script meant to return survive; everything else becomes 3.
finish() {
  rc=$?
  if [ -n "$guard_held" ]; then
    rm -rf "$guard" 2>/dev/null || :
    guard_held=''
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" != "$intended" ]; then
    echo "lock-dir: failed unexpectedly (status $rc)" >&2
    exit 3
  fi
}
trap finish EXIT
trap 'exit 3' HUP INT TERM

die() {
  echo "lock-dir: $*" >&2
  intended=2
  exit 2
}

usage() {
  die "usage: lock-dir.sh [--dir DIR] lock KEY HOLDER TTL_SECONDS | unlock KEY HOLDER | status KEY"
}

dir=${LOCK_DIR:-}
if [ "${1:-}" = "--dir" ]; then
  [ $# -ge 2 ] || usage
  dir=$2
  shift 2
fi
[ -n "$dir" ] || die "no lock directory: pass --dir DIR or set LOCK_DIR"
[ -d "$dir" ] || die "lock directory $dir does not exist (is the shared file system mounted?)"
[ $# -ge 2 ] || usage
verb=$1
key=$2

# The key becomes a file name: refuse anything that could leave the directory or hide a file.
case "$key" in
  '' | .* | -* | *[!A-Za-z0-9._-]*) die "invalid key '$key': use letters, digits, '.', '_' and '-'" ;;
esac

host=$(hostname 2>/dev/null || uname -n)
lease="$dir/$key.lease"
guard="$dir/$key.guard"
breaker="$dir/$key.break"

now_ms() {
  ms=$(date +%s%3N 2>/dev/null || :)
  case "$ms" in
    '' | *[!0-9]*) ms="$(date +%s)000" ;;
  esac
  echo "$ms"
}

nap() {
  # Fractional sleep is not POSIX but GNU, busybox and BSD have it; whole seconds otherwise.
  sleep 0.05 2>/dev/null || sleep 1
}

# Reads KEY.lease into rec_holder, rec_expires (ms) and rec_token; a missing file is a free key.
read_record() {
  rec_holder=-
  rec_expires=0
  rec_token=0
  [ -e "$lease" ] || return 0
  line=$(cat "$lease") || die "cannot read $lease"
  # shellcheck disable=SC2086 # splitting the record into its three words is the point
  set -- $line
  [ $# -eq 3 ] || die "corrupt lease file $lease: '$line'"
  case "$2$3" in
    *[!0-9]*) die "corrupt lease file $lease: '$line'" ;;
  esac
  rec_holder=$1
  rec_expires=$2
  rec_token=$3
}

write_record() {
  tmp="$dir/.$key.lease.$host.$$"
  printf '%s %s %s\n' "$1" "$2" "$3" >"$tmp" || die "cannot write $tmp"
  # Flush the new record before it replaces the old one (a no-op where sync takes no file argument).
  sync "$tmp" 2>/dev/null || :
  mv -f "$tmp" "$lease" || die "cannot replace $lease"
}

# Prints the record as the drbd-chatops command contract wants it; an expired lease is nobody's.
print_record() {
  if [ "$rec_holder" = "-" ] || [ "$rec_expires" -le "$(now_ms)" ]; then
    echo "holder=- expires=- token=$rec_token"
  else
    printf 'holder=%s expires=%s.%03d token=%s\n' \
      "$rec_holder" "$((rec_expires / 1000))" "$((rec_expires % 1000))" "$rec_token"
  fi
}

# Is the guard (or breaker) directory $1 stale? Its owner file says `host pid epoch_seconds`.
is_stale() {
  owner=$(cat "$1/owner" 2>/dev/null || :)
  [ -n "$owner" ] || return 1 # being created right now, or crashed before writing: left to the waiter's patience
  # shellcheck disable=SC2086
  set -- $owner
  [ $# -eq 3 ] || return 0
  if [ "$1" = "$host" ] && ! kill -0 "$2" 2>/dev/null; then
    # Dead pid on this host. kill -0 also fails for another user's process: run both bots as one user.
    return 0
  fi
  [ $(($(date +%s) - $3)) -gt "$STALE_SECONDS" ]
}

take_guard() {
  waited=0
  orphan=0
  limit=$((WAIT_SECONDS * 20))
  while ! mkdir "$guard" 2>/dev/null; do
    if [ ! -d "$guard" ]; then
      # Released between our mkdir and this test: try again at once, unless mkdir cannot work at all.
      [ -w "$dir" ] || die "cannot create $guard: $dir is not writable"
      waited=$((waited + 1))
      [ "$waited" -le "$limit" ] || die "timed out waiting for $guard"
      continue
    fi
    if is_stale "$guard"; then
      break_guard "$(cat "$guard/owner" 2>/dev/null || :)"
    elif [ ! -e "$guard/owner" ]; then
      # A guard without an owner file for STALE_SECONDS of our own waiting was left by a crash.
      orphan=$((orphan + 1))
      [ "$orphan" -le $((STALE_SECONDS * 20)) ] || break_guard ''
    fi
    waited=$((waited + 1))
    [ "$waited" -le "$limit" ] || die "timed out waiting for $guard"
    nap
  done
  guard_held=1
  # The owner file appears whole (mv) so a reader never judges a half-written one.
  printf '%s %s %s\n' "$host" "$$" "$(date +%s)" >"$guard/owner.tmp"
  mv -f "$guard/owner.tmp" "$guard/owner"
}

# Removes the guard if it still has the owner that was judged stale ($1).
break_guard() {
  mkdir "$breaker" 2>/dev/null || {
    # Someone else is breaking it; a breaker is held for an instant, so an old one was left by a crash.
    if is_stale "$breaker"; then rm -rf "$breaker"; fi
    return 0
  }
  printf '%s %s %s\n' "$host" "$$" "$(date +%s)" >"$breaker/owner" || :
  if [ "$(cat "$guard/owner" 2>/dev/null || :)" = "$1" ]; then
    rm -rf "$guard"
    echo "lock-dir: broke the stale guard $guard (owner: ${1:-none})" >&2
  fi
  rm -rf "$breaker"
}

release_guard() {
  rm -rf "$guard"
  guard_held=''
}

case "$verb" in
  lock)
    [ $# -eq 4 ] || usage
    holder=$3
    ttl=$4
    case "$holder" in
      '' | -* | *[[:space:]]*) die "invalid holder '$holder'" ;;
    esac
    case "$ttl" in
      '' | *[!0-9]* | 0) die "invalid TTL_SECONDS '$ttl': a whole number of seconds, at least 1" ;;
    esac
    take_guard
    read_record
    now=$(now_ms)
    if [ "$rec_holder" != "-" ] && [ "$rec_expires" -gt "$now" ] && [ "$rec_holder" != "$holder" ]; then
      release_guard
      print_record
      intended=1
      exit 1
    fi
    # Renewing a live lease keeps the token; taking a free, released or expired one (even our own) is
    # a new holding and gets the next token.
    if [ "$rec_holder" = "$holder" ] && [ "$rec_expires" -gt "$now" ]; then
      token=$rec_token
    else
      token=$((rec_token + 1))
    fi
    expires=$((now + ttl * 1000))
    write_record "$holder" "$expires" "$token"
    release_guard
    rec_holder=$holder
    rec_expires=$expires
    rec_token=$token
    print_record
    ;;
  unlock)
    [ $# -eq 3 ] || usage
    holder=$3
    take_guard
    read_record
    if [ "$rec_holder" = "$holder" ]; then
      # The token stays: the next holder gets token + 1.
      write_record - 0 "$rec_token"
      rec_holder=-
    fi
    release_guard
    print_record
    ;;
  status)
    [ $# -eq 2 ] || usage
    # No guard: the record is only ever replaced whole (mv).
    read_record
    print_record
    ;;
  *) usage ;;
esac
exit 0
