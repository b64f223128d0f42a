#!/usr/bin/env bash
# Streams a CSV or NDJSON file to Sluice with curl: gzip on the fly, chunked transfer, nothing buffered.
#   SLUICE_URL=http://127.0.0.1:8080 SLUICE_KEY=slk_... examples/curl/send.sh <stream> <file>
set -euo pipefail
stream="$1"
file="$2"
content_type=text/csv
case "$file" in *.ndjson | *.jsonl) content_type=application/x-ndjson ;; esac

# -T - uploads standard input as it is read (chunked); -X POST because -T alone means PUT.
gzip -c "$file" | curl --silent --show-error --fail-with-body \
  -X POST -T - \
  -H "Authorization: Bearer ${SLUICE_KEY}" \
  -H "Content-Type: ${content_type}" \
  -H "Content-Encoding: gzip" \
  "${SLUICE_URL:-http://127.0.0.1:8080}/v1/streams/${stream}/rows"
echo
