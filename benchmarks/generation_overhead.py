"""Generation harness overhead: samples per second of `gsi-bench generate` with an editor that does no work (the
source returned as it is), so what remains is reading rows, writing PNGs and logging. With a real model the model's
own time adds to this.

Usage: python benchmarks/generation_overhead.py --data gsi-bench/syn [--config tabletop] [--limit 200]
       [--editor python:benchmarks.generation_overhead:unchanged]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_bench.generation import run_generation  # noqa: E402


def unchanged(image: Any, instruction: str) -> Any:
    """The no-op editor: the source image."""
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="gsi-bench/syn")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--split", default="test")
    parser.add_argument("--editor", default="python:benchmarks.generation_overhead:unchanged")
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        manifest = run_generation(args.data, args.config, args.split, args.editor, folder, limit=args.limit,
                                  progress=False)  # fmt: skip
        seconds = time.perf_counter() - started
    rows = manifest["counts"]["ok"]
    edit = manifest["seconds_per_edit"]["mean"] if manifest["seconds_per_edit"] else 0.0
    print(f"editor={args.editor} rows={rows} processes=1 cpus={os.cpu_count()}")
    print(f"wall time      {seconds:.1f} s (including loading the split)")
    print(f"throughput     {rows / seconds:.1f} samples/s; loop only {manifest['this_run']['samples_per_second']:.1f}")
    print(f"per sample     {1000 * seconds / rows:.1f} ms, of which the editor {1000 * edit:.2f} ms")
    print(f"peak memory    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
