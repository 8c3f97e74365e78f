"""Loader throughput and memory on a synthetic AOL-format file (the full log is ~20M rows).

    python -m benchmarks.aol_loader --rows 1000000 [--gzip]

Writes the file to a temporary folder, loads it with ``xmr.datasets.aol.load_aol`` and prints
rows/s (untraced pass), the loader's peak traced allocation (second pass under tracemalloc)
and the process's peak RSS after the timed pass (it includes the imported libraries).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from xmr.datasets.aol import AOLConfig, load_aol, write_synthetic_aol_file


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        name = "user-ct-test-collection-01.txt" + (".gz" if args.gzip else "")
        path = Path(tmp) / name
        write_synthetic_aol_file(path, args.rows, args.users, seed=0)
        config = replace(AOLConfig(), files=(name,))
        t0 = time.perf_counter()
        ds = load_aol(tmp, config)
        seconds = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del ds
        tracemalloc.start()  # a second, traced pass: tracing slows Python code ~10x
        ds = load_aol(tmp, config)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    out = {"rows": args.rows, "gzip": args.gzip, "seconds": round(seconds, 2),
           "rows_per_s": round(args.rows / seconds),
           "pairs": {k: s.n for k, s in ds.splits.items()},
           "peak_traced_mib": round(peak / 2**20, 1),
           "peak_rss_mib_after_timed_load": round(rss, 1)}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
