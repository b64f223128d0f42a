#!/usr/bin/env bash
# Streams a CSV or NDJSON file to Sluice with curl: gzip on the fly, chunked transfer, nothing buffered.
# The Idempotency-Key is the SHA-256 of the file's absolute path and content, so a retry, or running the
# script again after it was cut off, never stores a row twice. Retries 408, 409, 429, 503 and connection
# errors with exponential backoff (at least the Retry-After the service asks for).
#   SLUICE_URL=http://127.0.0.1:8080 SLUICE_KEY=slk_... examples/curl/send.sh <stream> <file>
set -euo pipefail
stream="$1"
file="$2"
content_type=text/csv
case "$file" in *.ndjson | *.jsonl) content_type=application/x-ndjson ;; esac
key=$({ printf '%s\0' "$(realpath -- "$file")"; cat -- "$file"; } | sha256sum | cut -d' ' -f1)

answer=$(mktemp)
headers=$(mktemp)
trap 'rm -f "$answer" "$headers"' EXIT

for attempt in 1 2 3 4 5 6 7 8; do
  : >"$answer"
  : >"$headers"
  # -T - uploads standard input as it is read (chunked); -X POST because -T alone means PUT. curl cannot
  # rewind a pipe, so each attempt runs gzip again: the same body under the same key.
  status=$(gzip -c "$file" | curl --silent --show-error -o "$answer" -D "$headers" -w '%{http_code}' \
    -X POST -T - \
    -H "Authorization: Bearer ${SLUICE_KEY}" \
    -H "Content-Type: ${content_type}" \
    -H "Content-Encoding: gzip" \
    -H "Idempotency-Key: ${key}" \
    "${SLUICE_URL:-http://127.0.0.1:8080}/v1/streams/${stream}/rows") || true
  case "$status" in
    2??) cat "$answer"; echo; exit 0 ;;
    408 | 409 | 429 | 503) problem="HTTP $status" ;;
    000 | 1??) problem="no answer" ;; # connection refused or cut off (1xx: only "100 Continue" came)
    *) cat "$answer" >&2; echo >&2; exit 1 ;;
  esac
  [ "$attempt" -lt 8 ] || break
  # 1, 2, 4, ... 30 s plus up to as much again at random, and never less than Retry-After.
  backoff=$((attempt < 6 ? 1 << (attempt - 1) : 30))
  retry_after=$(awk -F': *' 'tolower($1) == "retry-after" { s = $2 + 0 } END { print s + 0 }' "$headers")
  delay=$((backoff + RANDOM % (backoff + 1)))
  delay=$((retry_after > delay ? retry_after : delay))
  echo "attempt $attempt: $problem, retrying in ${delay}s" >&2
  sleep "$delay"
done
echo "gave up after $attempt attempts: $problem" >&2
cat "$answer" >&2
exit 1
