"""Scene-free turns: how often the oracle's turns are recovered from the source view alone (OR rows of a built split,
scored with `perception="scene-free"`), how the misses fail, and the time per row.

Usage: python benchmarks/scene_free_turns.py --data gsi-bench/syn [--config tabletop] [--limit 30]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_datasets.schema import operation_name  # noqa: E402
from gsi_metrics.perception import create_backend  # noqa: E402
from gsi_metrics.scoring import score_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="gsi-bench/syn")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=30, help="OR rows to score (the first ones of the split)")
    args = parser.parse_args()
    from datasets import load_dataset

    dataset = load_dataset(args.data, args.config, split=args.split)
    backend = create_backend("classical", perception="scene-free")
    outcomes: collections.Counter[str] = collections.Counter()
    started, scored = time.perf_counter(), 0
    for row in dataset:
        if operation_name(row["operation"]) != "object_rotate":
            continue
        score = score_sample(row, row["target_image"], backend)
        scored += 1
        if score.status != "ok":
            outcomes[score.status] += 1
        elif score.ic == 1.0:
            outcomes["complies"] += 1
        else:
            got, asked = score.details.get("turn_deg", 0.0), score.details.get("asked_turn_deg", 0.0)
            outcomes["no turn" if abs(got) < 10 else "opposite sense" if got * asked < 0 else "other turn"] += 1
        if scored == args.limit:
            break
    seconds = time.perf_counter() - started
    decided = scored - outcomes["undecidable"]
    print(f"OR rows {scored} ({args.data}, {args.config}/{args.split}), undecidable {outcomes['undecidable']}")
    print(f"IC {100 * outcomes['complies'] / max(decided, 1):.1f}% of {decided} decidable rows")
    print("misses: " + ", ".join(f"{k} {v}" for k, v in outcomes.items() if k not in ("complies", "undecidable")))
    print(f"{seconds / max(scored, 1):.2f} s per row (one process)")


if __name__ == "__main__":
    main()
