#!/usr/bin/env python3
"""pandas' side of the benchmark: read the file (read_csv / read_json(lines=True)) and, when a Parquet
engine is installed, write it with to_parquet. Prints JSON: seconds, peak RSS, whether Parquet was written.
Debian ships no Parquet engine for pandas, so there the figure is a lower bound of pandas' real cost."""
import json
import resource
import sys
import tempfile
import time

import pandas as pd

path, fmt = sys.argv[1], sys.argv[2]
started = time.perf_counter()
df = pd.read_csv(path) if fmt == "csv" else pd.read_json(path, lines=True)
wrote_parquet = False
try:
    with tempfile.NamedTemporaryFile(suffix=".parquet") as out:
        df.to_parquet(out.name, compression="zstd")
        wrote_parquet = True
except ImportError:
    pass
seconds = time.perf_counter() - started
print(json.dumps({
    "rows": len(df),
    "seconds": seconds,
    "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "wroteParquet": wrote_parquet,
    "pandas": pd.__version__,
}))
