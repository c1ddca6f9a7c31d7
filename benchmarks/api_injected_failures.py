"""The `api:http` editor through `gsi-bench generate` against a local OpenAI-compatible server
(tests/fake_image_api.py) that injects rate limits, server errors, timeouts and malformed bodies: does every sample
end with an image, how many requests did it take, and does a cached re-run send any? Prints the figures.

Usage: python benchmarks/api_injected_failures.py [--samples 100] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from datasets import Dataset, Features, Value
from datasets import Image as ImageFeature
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gsi_bench.generation import run_generation  # noqa: E402

PLAN = "ok,429,ok,500,timeout,ok,malformed,503,no_data,ok,bad_image,ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    command = [sys.executable, str(ROOT / "tests" / "fake_image_api.py"), "--plan", PLAN, "--slow", "3"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{json.loads(server.stdout.readline())['port']}"
        rng = np.random.default_rng(0)
        rows = [{"sample_id": f"api-{i:03d}", "instruction": f"Move the mug {i} cm to the left.",
                 "source_image": Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))}
                for i in range(args.samples)]  # fmt: skip
        features = Features(
            {"sample_id": Value("string"), "instruction": Value("string"), "source_image": ImageFeature()}
        )
        dataset = Dataset.from_list(rows, features=features)
        with tempfile.TemporaryDirectory() as folder:
            options = {"base_url": f"{base}/v1", "model": "test-edit", "backoff": 0.05, "timeout": 1.0,
                       "max_retries": 30, "concurrency": args.concurrency, "cache_dir": f"{folder}/cache"}  # fmt: skip
            start = time.perf_counter()
            first = run_generation(dataset, "api", "test", "api:http", f"{folder}/a", editor_options=options,
                                   progress=False)  # fmt: skip
            seconds = time.perf_counter() - start
            stats = httpx.get(f"{base}/stats").json()
            start = time.perf_counter()
            again = run_generation(dataset, "api", "test", "api:http", f"{folder}/b", editor_options=options,
                                   progress=False)  # fmt: skip
            cached_seconds = time.perf_counter() - start
            after = httpx.get(f"{base}/stats").json()
    finally:
        server.kill()
    injected = {k: v for k, v in sorted(stats.items()) if k not in ("requests", "ok")}
    print(f"samples={args.samples} concurrency={args.concurrency} cpus={os.cpu_count()} plan={PLAN}")
    print(f"first run      {first['counts']} in {seconds:.1f} s; {stats['requests']} requests, injected {injected}")
    print(
        f"cached re-run  {again['counts']} in {cached_seconds:.1f} s; {after['requests'] - stats['requests']} requests"
    )


if __name__ == "__main__":
    main()
