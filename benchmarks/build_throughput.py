"""Build throughput of GSI-Syn: valid samples per second and peak memory.

Usage: python benchmarks/build_throughput.py [--num-samples 100] [--workers N] [--subset tabletop]

Builds a fresh split into a temporary folder with the same code path as ``gsi-bench build`` and prints
the wall-clock rate of valid samples, the rejected attempts per valid sample, and the peak resident
memory of the main process and of the largest worker.
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

from gsi_builders.writer import build_split  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--subset", default="tabletop")
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        report = build_split(
            args.subset,
            "test",
            args.num_samples,
            seed=args.seed,
            out_dir=Path(folder) / "syn",
            workers=args.workers,
            progress=False,
        )
        seconds = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in Path(folder).rglob("*.parquet")) / 2**20
    rejected = sum(report.rejections.values())
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN reports the largest terminated worker.
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"subset={args.subset} samples={args.num_samples} workers={args.workers} cpus={os.cpu_count()} "
        f"resolution=512x512"
    )
    print(f"wall time           {seconds:.1f} s (including worker start-up)")
    print(f"throughput          {args.num_samples / seconds:.2f} valid samples/s")
    print(f"rejected attempts   {rejected} ({rejected / args.num_samples:.2f} per valid sample)")
    print(f"peak memory         main {main_mb:.0f} MiB, largest worker {worker_mb:.0f} MiB")
    print(f"dataset size        {size_mb:.1f} MiB ({size_mb * 1024 / args.num_samples:.0f} KiB per sample)")


if __name__ == "__main__":
    main()
