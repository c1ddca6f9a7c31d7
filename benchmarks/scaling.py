"""Scaling from one process to several: build and scoring throughput measured side by side, as a ratio.

Usage: python benchmarks/scaling.py [--subset tabletop] [--build-samples 60] [--score-rows 40]
       [--processes 2] [--perception auto] [--editor oracle]

Builds the same split (same seed) with 1 and with ``--processes`` worker processes, then scores the same rows of
it with 1 and with ``--processes`` processes, one run right after the other, and prints each rate with the
machine's core count and the scaling efficiency: (rate with N processes) / (N x rate with 1). Worker start-up is
included, as a user sees it.

Mesa's CPU rasteriser (llvmpipe) draws with as many threads as there are cores, so one process already renders on
every core; ``LP_NUM_THREADS=1`` gives each process one rendering thread and measures the scaling of the processes
alone. Both figures are worth printing: the default is what a user gets. Scoring workers keep themselves to one
thread (llvmpipe's unless ``LP_NUM_THREADS`` is set, the BLAS's and OpenCV's: :mod:`gsi_bench.workers`); the
one-process scoring run, in this process, uses every core its libraries reach.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_bench.evaluation import run_evaluation  # noqa: E402
from gsi_builders.writer import build_split  # noqa: E402


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _line(what: str, unit: str, count: int, seconds: dict[int, float]) -> str:
    one, many = sorted(seconds)
    rate_one, rate_many = count / seconds[one], count / seconds[many]
    efficiency = rate_many / (many * rate_one)
    return (
        f"{what:<8} {count} {unit}: 1 process {rate_one:.2f}/s, {many} processes {rate_many:.2f}/s, "
        f"speedup {rate_many / rate_one:.2f}, efficiency {efficiency:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", default="tabletop")
    parser.add_argument("--build-samples", type=int, default=60)
    parser.add_argument("--score-rows", type=int, default=40)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--perception", default="auto", help="the classical backend's path (as gsi-bench eval)")
    parser.add_argument("--editor", default="oracle")
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    if args.processes < 2:
        parser.error("--processes must be at least 2 (it is compared with 1)")
    if args.score_rows > args.build_samples:
        parser.error("--score-rows cannot exceed --build-samples (the rows scored are those built)")

    print(
        f"cpus={os.cpu_count()} LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS', 'unset (one per core)')} "
        f"subset={args.subset} perception={args.perception} editor={args.editor}"
    )
    with tempfile.TemporaryDirectory() as folder:
        build_seconds = {}
        for processes in (1, args.processes):
            out = Path(folder) / f"syn{processes}"
            build_seconds[processes] = _timed(
                lambda out=out, processes=processes: build_split(
                    args.subset,
                    "test",
                    args.build_samples,
                    seed=args.seed,
                    out_dir=out,
                    workers=processes,
                    progress=False,
                )
            )
        print(_line("build", "valid samples", args.build_samples, build_seconds))

        score_seconds = {}
        for processes in (1, args.processes):
            score_seconds[processes] = _timed(
                lambda processes=processes: run_evaluation(
                    Path(folder) / "syn1",
                    args.subset,
                    "test",
                    args.editor,
                    Path(folder) / f"results{processes}",
                    limit=args.score_rows,
                    workers=processes,
                    progress=False,
                    backend_config={"perception": args.perception},
                )
            )
        print(_line("scoring", "rows", args.score_rows, score_seconds))


if __name__ == "__main__":
    main()
