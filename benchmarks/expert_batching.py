"""Batched inference of learned experts in `gsi-bench eval`: the same rows scored scene-free with tiny random
transformers experts (depth, detector, segmenter, features; tests/tiny_models.py) at batch_size 1 and N. Prints the
forward passes per model, the wall time and whether every score is the same, with the machine's core count.

The models are tiny, so the time is the scoring's, not the models'; the forward passes are what batching saves on a
GPU with real-size models (not measured here: no weights).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gsi_bench.evaluation import run_evaluation  # noqa: E402
from gsi_metrics.perception.experts import load_experts  # noqa: E402
from tests.tiny_models import tiny_depth_anything, tiny_dinov2, tiny_owlvit, tiny_sam  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="gsi-bench/syn")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        models = {
            "depth": f"local-dir:{tiny_depth_anything(work / 'depth')}",
            "detector": f"local-dir:{tiny_owlvit(work / 'detector')}",
            "segmenter": f"local-dir:{tiny_sam(work / 'segmenter')}",
            "features": f"local-dir:{tiny_dinov2(work / 'features')}",
        }
        print(f"rows={args.limit} config={args.config} cpus={os.cpu_count()} perception=scene-free editor=oracle")
        scores = {}
        for batch_size in (1, args.batch_size):
            experts = {**models, "batch_size": batch_size}
            start = time.perf_counter()
            run_evaluation(args.data, args.config, "test", "oracle", work / f"b{batch_size}", limit=args.limit,
                           progress=False, backend_config={"perception": "scene-free", "experts": experts})  # fmt: skip
            seconds = time.perf_counter() - start
            lines = (work / f"b{batch_size}" / "samples.jsonl").read_text().splitlines()
            axes = ("status", "ic", "sa", "el", "ac")
            scores[batch_size] = [{k: json.loads(line)[k] for k in axes} for line in lines]
            passes = load_experts(experts).forward_passes
            print(f"batch_size={batch_size:2d}  {seconds:6.1f} s  forward passes {passes}")
        print(f"same scores: {scores[1] == scores[args.batch_size]} ({len(scores[1])} rows)")


if __name__ == "__main__":
    main()
