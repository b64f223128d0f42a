#!/usr/bin/env python3
"""Streams a CSV or NDJSON file to Sluice with requests: a generator body is sent chunked, never read
whole into memory.

The Idempotency-Key is the SHA-256 of the file's absolute path and content, so a retry, or running the
script again after it was cut off, never stores a row twice. Retries 408, 409, 429, 503 and connection
errors with exponential backoff (at least the Retry-After the service asks for), sending the same body
under the same key.

    SLUICE_URL=http://127.0.0.1:8080 SLUICE_KEY=slk_... python3 examples/python/send.py <stream> <file>
"""
import hashlib
import json
import os
import random
import sys
import time

import requests

RETRY_STATUSES = (408, 409, 429, 503)


def chunks(path, size=1 << 20):
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def idempotency_key(path):
    digest = hashlib.sha256(os.path.abspath(path).encode() + b"\0")
    for chunk in chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def send(stream, path, url=None, key=None, attempts=8):
    url = url or os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
    key = key or os.environ["SLUICE_KEY"]
    content_type = "application/x-ndjson" if path.endswith((".ndjson", ".jsonl")) else "text/csv"
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": content_type,
        # One key per file, the same for every attempt: a retry stores only what earlier attempts did not.
        "Idempotency-Key": idempotency_key(path),
    }
    for attempt in range(attempts):
        retry_after = 0
        try:
            response = requests.post(
                f"{url}/v1/streams/{stream}/rows", data=chunks(path), headers=headers, timeout=(10, 3600)
            )
            if response.status_code not in RETRY_STATUSES:
                response.raise_for_status()
                return response.json()
            retry_after = float(response.headers.get("Retry-After", 0))
            problem = f"HTTP {response.status_code}"
        except (requests.ConnectionError, requests.Timeout) as error:
            problem = error
        if attempt + 1 == attempts:
            raise RuntimeError(f"gave up after {attempts} attempts: {problem}")
        # 1, 2, 4, ... 30 s plus up to as much again at random, and never less than Retry-After.
        backoff = min(2**attempt, 30)
        delay = max(retry_after, backoff * (1 + random.random()))
        print(f"attempt {attempt + 1}: {problem}, retrying in {delay:.1f}s", file=sys.stderr)
        time.sleep(delay)


if __name__ == "__main__":
    result = send(sys.argv[1], sys.argv[2])
    print(json.dumps(result))
