#!/bin/sh
# drbd-chatops lock command on Google Cloud Storage, race-free through generation preconditions.
#
#   lock-gcs.sh [--bucket BUCKET] lock KEY HOLDER TTL_SECONDS   exit 0: HOLDER holds KEY now; 1: someone else does
#   lock-gcs.sh [--bucket BUCKET] unlock KEY HOLDER             exit 0: released, or HOLDER did not hold it
#   lock-gcs.sh [--bucket BUCKET] status KEY                    exit 0
#
# lock and status print `holder=NAME expires=EPOCH_SECONDS token=N` (`holder=-` when free); any other
# exit status (2 = usage, storage or network error, 3 = unexpected failure) means "unknown", never
# "held by someone else".
#
# Why not the recipe's drbd-fence: it reads the object, writes its name, sleeps 10 s and reads again,
# which (as its own comment says) does not stop both hosts from locking at the same time. Here every
# write carries the generation it was computed from (the JSON API's `ifGenerationMatch` query
# parameter, the XML API's x-goog-if-generation-match header; 0 = only if the object does not exist
# yet): GCS applies it only if nobody wrote in between, and answers 412 otherwise. A 412 means
# someone else won: the object is read again and the answer comes from what is there now (a live
# lease of another holder: exit 1; an expired or free one: another try, at most a few).
#
# The lease lives in the object ${GCS_PREFIX}KEY.lease (not the recipe's KEY.lock, which stays the
# recipe's) as one line `HOLDER EXPIRES_MS TOKEN`, HOLDER `-` when free. The fencing token grows by one
# each time the lease changes hands (or is taken again after it expired); renewals keep it.
#
# Environment:
#   GCS_BUCKET        the bucket (or --bucket BUCKET before the verb)
#   GCS_PREFIX        optional object name prefix, e.g. `drbd-chatops/`
#   GCS_ENDPOINT      the API endpoint, default https://storage.googleapis.com (tests use a fake)
#   GCS_ACCESS_TOKEN  an OAuth access token. Without it: `gcloud auth print-access-token` when gcloud is
#                     installed, else the GCE metadata server's default service account token. The
#                     account needs storage.objects.get and storage.objects.create (+ delete, since a
#                     write replaces the object) on the bucket, e.g. roles/storage.objectUser.
#   GCS_CURL_TIMEOUT  seconds per HTTP request, default 10
#
# Clock assumption: expiry is decided with the local clock of whichever host runs the command, so the
# two hosts' clocks must agree (NTP) to well within the lease TTL; a host whose clock runs ahead sees
# the other's lease expire early by the skew. Mutual exclusion of writes does not depend on clocks.
#
# Needs POSIX sh, curl (any version with -K -, i.e. all current ones), sed, date, mktemp. No jq: the only
# JSON read is the object's `generation` (and the metadata server's access_token), taken with sed.

set -eu

ENDPOINT=${GCS_ENDPOINT:-https://storage.googleapis.com}
PREFIX=${GCS_PREFIX:-}
CURL_TIMEOUT=${GCS_CURL_TIMEOUT:-10}
METADATA_TOKEN_URL=http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token
ATTEMPTS=4

intended=''
work=''

# Every exit goes through here: an error from any command (which `set -e` turns into an exit with that
# command's status, possibly 1) must not be mistaken for "held by someone else", so only the statuses
# this script meant to return survive; everything else becomes 3.
finish() {
  rc=$?
  [ -z "$work" ] || rm -rf "$work"
  if [ "$rc" -ne 0 ] && [ "$rc" != "$intended" ]; then
    echo "lock-gcs: failed unexpectedly (status $rc)" >&2
    exit 3
  fi
}
trap finish EXIT
trap 'exit 3' HUP INT TERM

die() {
  echo "lock-gcs: $*" >&2
  intended=2
  exit 2
}

usage() {
  die "usage: lock-gcs.sh [--bucket BUCKET] lock KEY HOLDER TTL_SECONDS | unlock KEY HOLDER | status KEY"
}

bucket=${GCS_BUCKET:-}
if [ "${1:-}" = "--bucket" ]; then
  [ $# -ge 2 ] || usage
  bucket=$2
  shift 2
fi
[ -n "$bucket" ] || die "no bucket: pass --bucket BUCKET or set GCS_BUCKET"
case "$bucket" in
  *[!a-z0-9._-]*) die "invalid bucket name '$bucket'" ;;
esac
case "$PREFIX" in
  *[!A-Za-z0-9._/-]*) die "invalid GCS_PREFIX '$PREFIX': letters, digits, '.', '_', '-' and '/'" ;;
esac
[ $# -ge 2 ] || usage
verb=$1
key=$2
case "$key" in
  '' | .* | -* | *[!A-Za-z0-9._-]*) die "invalid key '$key': use letters, digits, '.', '_' and '-'" ;;
esac
command -v curl >/dev/null 2>&1 || die "curl is required"

# Object names go into a URL path segment and a query parameter: '/' is the only character the
# alphabets above allow that needs encoding.
object="$PREFIX$key.lease"
object_enc=$(printf '%s' "$object" | sed 's|/|%2F|g')
object_url="$ENDPOINT/storage/v1/b/$bucket/o/$object_enc"
upload_url="$ENDPOINT/upload/storage/v1/b/$bucket/o?uploadType=media&name=$object_enc"

work=$(mktemp -d "${TMPDIR:-/tmp}/lock-gcs.XXXXXX")
resp="$work/response"

now_ms() {
  ms=$(date +%s%3N 2>/dev/null || :)
  case "$ms" in
    '' | *[!0-9]*) ms="$(date +%s)000" ;;
  esac
  echo "$ms"
}

access_token() {
  if [ -n "${GCS_ACCESS_TOKEN:-}" ]; then
    tok=$GCS_ACCESS_TOKEN
  elif command -v gcloud >/dev/null 2>&1; then
    tok=$(gcloud auth print-access-token 2>"$work/gcloud.err") || die "gcloud auth print-access-token failed: $(cat "$work/gcloud.err")"
  else
    json=$(curl -sS --max-time "$CURL_TIMEOUT" -H 'Metadata-Flavor: Google' "$METADATA_TOKEN_URL" 2>&1) ||
      die "no GCS_ACCESS_TOKEN, no gcloud, and the metadata server did not answer: $json"
    tok=$(printf '%s\n' "$json" | sed -n 's/.*"access_token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
  fi
  # It goes into a curl config line below: refuse anything that could break out of the quotes.
  case "$tok" in
    '' | *[!A-Za-z0-9._~+/=-]*) die "the access token is empty or has unexpected characters" ;;
  esac
  echo "$tok"
}
token=$(access_token) || {
  intended=2
  exit 2
}

# request METHOD URL [BODY_FILE]: sets $status to the HTTP status, the body lands in $resp. The token
# goes to curl through its config on stdin, so it never shows in the process list.
request() {
  if [ $# -eq 3 ]; then
    status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
      curl -sS -K - -X "$1" -o "$resp" -w '%{http_code}' --max-time "$CURL_TIMEOUT" \
        -H 'Content-Type: text/plain' \
        --data-binary "@$3" "$2" 2>"$work/curl.err") || die "curl $1 $2 failed: $(cat "$work/curl.err")"
  else
    status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
      curl -sS -K - -X "$1" -o "$resp" -w '%{http_code}' --max-time "$CURL_TIMEOUT" \
        "$2" 2>"$work/curl.err") || die "curl $1 $2 failed: $(cat "$work/curl.err")"
  fi
}

http_error() {
  die "$1: HTTP $status: $(head -c 300 "$resp" 2>/dev/null | tr '\n' ' ')"
}

# Reads the object into gen (0 = absent), rec_holder, rec_expires (ms) and rec_token. The content is
# fetched for exactly the generation the metadata named; if it changed in between, read again.
read_state() {
  tries=0
  while :; do
    tries=$((tries + 1))
    [ "$tries" -le 5 ] || die "the object $object keeps changing while being read"
    request GET "$object_url?alt=json&fields=generation"
    case "$status" in
      404)
        gen=0
        rec_holder=-
        rec_expires=0
        rec_token=0
        return 0
        ;;
      200) ;;
      *) http_error "reading the metadata of gs://$bucket/$object" ;;
    esac
    gen=$(sed -n 's/.*"generation"[[:space:]]*:[[:space:]]*"\{0,1\}\([0-9][0-9]*\).*/\1/p' "$resp" | head -n 1)
    [ -n "$gen" ] || die "no generation in the metadata of gs://$bucket/$object: $(head -c 300 "$resp")"
    request GET "$object_url?alt=media&ifGenerationMatch=$gen"
    case "$status" in
      200) ;;
      404 | 412) continue ;;
      *) http_error "reading gs://$bucket/$object" ;;
    esac
    line=$(cat "$resp")
    # shellcheck disable=SC2086 # splitting the record into its three words is the point
    set -- $line
    [ $# -eq 3 ] || die "gs://$bucket/$object does not hold a lease record: '$line'"
    case "$2$3" in
      *[!0-9]*) die "gs://$bucket/$object does not hold a lease record: '$line'" ;;
    esac
    rec_holder=$1
    rec_expires=$2
    rec_token=$3
    return 0
  done
}

# write_record HOLDER EXPIRES_MS TOKEN: sets $status; 200 = written, 412 = someone wrote first.
write_record() {
  printf '%s %s %s\n' "$1" "$2" "$3" >"$work/record"
  request POST "$upload_url&ifGenerationMatch=$gen" "$work/record"
  case "$status" in
    200 | 412) ;;
    *) http_error "writing gs://$bucket/$object" ;;
  esac
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
    attempt=0
    while [ "$attempt" -lt "$ATTEMPTS" ]; do
      attempt=$((attempt + 1))
      read_state
      now=$(now_ms)
      if [ "$rec_holder" != "-" ] && [ "$rec_expires" -gt "$now" ] && [ "$rec_holder" != "$holder" ]; then
        print_record
        intended=1
        exit 1
      fi
      # Renewing a live lease keeps the token; taking a free, released or expired one (even our own)
      # is a new holding and gets the next token.
      if [ "$rec_holder" = "$holder" ] && [ "$rec_expires" -gt "$now" ]; then
        new_token=$rec_token
      else
        new_token=$((rec_token + 1))
      fi
      expires=$((now + ttl * 1000))
      write_record "$holder" "$expires" "$new_token"
      if [ "$status" = 200 ]; then
        rec_holder=$holder
        rec_expires=$expires
        rec_token=$new_token
        print_record
        exit 0
      fi
      # 412: someone wrote in between. Read again: a live lease of someone else ends in exit 1 above.
    done
    die "gs://$bucket/$object changed under every one of $ATTEMPTS attempts"
    ;;
  unlock)
    [ $# -eq 3 ] || usage
    holder=$3
    attempt=0
    while [ "$attempt" -lt "$ATTEMPTS" ]; do
      attempt=$((attempt + 1))
      read_state
      if [ "$rec_holder" != "$holder" ]; then
        print_record
        exit 0
      fi
      # The token stays: the next holder gets token + 1.
      write_record - 0 "$rec_token"
      if [ "$status" = 200 ]; then
        rec_holder=-
        print_record
        exit 0
      fi
    done
    die "gs://$bucket/$object changed under every one of $ATTEMPTS attempts"
    ;;
  status)
    [ $# -eq 2 ] || usage
    read_state
    print_record
    ;;
  *) usage ;;
esac
exit 0
