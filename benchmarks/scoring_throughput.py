"""Scoring throughput: samples per second and peak memory of `gsi-bench eval` (all four axes, default
backend) on a built dataset folder.

Usage: python benchmarks/scoring_throughput.py --data gsi-bench/syn [--editor oracle] [--limit 60]
       [--workers 2] [--profile gsi] [--perception scene-free]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_bench.evaluation import run_evaluation  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="gsi-bench/syn")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--split", default="test")
    parser.add_argument("--editor", default="oracle")
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--profile", default="gsi")
    parser.add_argument("--perception", default="auto", help="the classical backend's path (as gsi-bench eval)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        summary = run_evaluation(
            args.data,
            args.config,
            args.split,
            args.editor,
            folder,
            profile=args.profile,
            limit=args.limit,
            workers=args.workers,
            progress=False,
            backend_config={"perception": args.perception},
        )
        seconds = time.perf_counter() - started
    rows = summary["num_samples"]
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"editor={args.editor} profile={args.profile} perception={args.perception} rows={rows} "
        f"workers={args.workers} cpus={os.cpu_count()}"
    )
    print(f"wall time      {seconds:.1f} s (including worker start-up)")
    print(f"throughput     {rows / seconds:.2f} samples/s (IC, SA, EL, AC)")
    print(f"peak memory    main {main_mb:.0f} MiB, largest worker {worker_mb:.0f} MiB")


if __name__ == "__main__":
    main()
