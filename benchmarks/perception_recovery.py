"""How well a perception backend recovers the 3D change of the *oracle* edit (the rendered target image).

Usage: python benchmarks/perception_recovery.py --data gsi-bench/syn [--config tabletop] [--split test]
       [--num 60] [--backend classical]

Prints, per operation, the not-found rate and the median / 90th percentile of the translation (cm),
rotation (degrees) and scale (%) errors against the labels, plus seconds per perceived image. This is the
diagnostic behind the perception targets of the metric-fidelity issue; it scores nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_datasets.geometry import geodesic_angle_deg  # noqa: E402
from gsi_metrics.perception import create_backend  # noqa: E402
from gsi_metrics.sample import SourceSample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="gsi-bench/syn")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--split", default="test")
    parser.add_argument("--num", type=int, default=60)
    parser.add_argument("--backend", default="classical")
    args = parser.parse_args()

    from datasets import load_dataset

    dataset = load_dataset(args.data, args.config, split=args.split)
    backend = create_backend(args.backend)
    errors: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    missing: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    count = min(args.num, len(dataset))
    for index in range(count):
        row = dataset[index]
        sample = SourceSample.from_row(row)
        target = backend.perceive(sample, np.array(row["target_image"])).target
        if not target.found:
            missing[sample.operation] += 1
            continue
        errors[sample.operation].append(
            (
                100 * float(np.linalg.norm(target.translation_m - sample.translation_m)),
                geodesic_angle_deg(target.rotation, sample.rotation),
                100 * abs(target.scale_factor / sample.scale_factor - 1.0),
            )
        )
    seconds = (time.perf_counter() - started) / max(count, 1)
    print(f"backend={args.backend} rows={count} seconds/image={seconds:.3f}")
    print("operation              n  not-found  translation cm (med/p90)  rotation deg (med/p90)  scale % (med/p90)")
    for operation in sorted(set(errors) | set(missing)):
        values = np.array(errors[operation]) if errors[operation] else np.full((1, 3), np.nan)
        total = len(errors[operation]) + missing[operation]
        median, p90 = np.median(values, axis=0), np.percentile(values, 90, axis=0)
        print(
            f"{operation:<22} {total:>3}  {missing[operation] / total:>8.0%}  "
            f"{median[0]:>10.2f} / {p90[0]:<10.2f}  {median[1]:>10.2f} / {p90[1]:<10.2f}  "
            f"{median[2]:>7.2f} / {p90[2]:.2f}"
        )


if __name__ == "__main__":
    main()
