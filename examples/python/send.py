#!/usr/bin/env python3
"""Streams a CSV or NDJSON file to Sluice with requests: a generator body is sent chunked, never read
whole into memory. Retries on 429 (busy) and 503 after the Retry-After the service asks for.

    SLUICE_URL=http://127.0.0.1:8080 SLUICE_KEY=slk_... python3 examples/python/send.py <stream> <file>
"""
import json
import os
import sys
import time

import requests


def chunks(path, size=1 << 20):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk


def send(stream, path, url=None, key=None, attempts=5):
    url = url or os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
    key = key or os.environ["SLUICE_KEY"]
    content_type = "application/x-ndjson" if path.endswith((".ndjson", ".jsonl")) else "text/csv"
    for attempt in range(attempts):
        response = requests.post(
            f"{url}/v1/streams/{stream}/rows",
            data=chunks(path),
            headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
            timeout=(10, 3600),
        )
        if response.status_code in (429, 503) and attempt + 1 < attempts:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        response.raise_for_status()
        return response.json()
    raise RuntimeError("gave up after retries")


if __name__ == "__main__":
    result = send(sys.argv[1], sys.argv[2])
    print(json.dumps(result))
