"""GSI-Real's labels against the simulator's truth: simulated rooms written as ScanNet++ v2 scenes
(tests/scannetpp_capture.py), read back through :class:`gsi_datasets.real.scans.ScanCapture` as real ScanNet++ is,
and every object a frame shows compared with what the simulator knows: the mask IoU against the rendered instance ids,
the box centre error, the footprint yaw error (objects that are not round), the size error. Also: frames selected
and rejected by rule, possible targets per frame, and the time to read a frame.

Usage: python benchmarks/real_label_fidelity.py [--scenes 5] [--frames 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_datasets.real.frames import frame_rejection, possible_targets  # noqa: E402
from gsi_datasets.real.scans import ScanCapture  # noqa: E402
from tests.scannetpp_capture import label_errors, room_scene, write_scannetpp_scene  # noqa: E402


def _spread(values: list[float], unit: str, scale: float = 1.0) -> str:
    if not values:
        return "none"
    array = np.asarray(values) * scale
    return (
        f"median {np.median(array):.3g} {unit}, 90th percentile {np.percentile(array, 90):.3g} {unit}, "
        f"max {array.max():.3g} {unit} ({len(array)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows, rejections, targets_per_frame, read_seconds, frames_read = [], Counter(), [], 0.0, 0
    with tempfile.TemporaryDirectory() as folder:
        next_index = 0
        for number in range(args.scenes):
            scene = room_scene(next_index, seed=args.seed)
            next_index += 20
            truth = write_scannetpp_scene(Path(folder), scene, f"scene{number:02d}", num_frames=args.frames)
            capture = ScanCapture("scannetpp", folder, truth.scene_id)
            start = time.perf_counter()
            frames = list(capture.frames())
            read_seconds += time.perf_counter() - start
            frames_read += len(frames)
            for frame in frames:
                reason = frame_rejection(frame)
                rejections[reason or "selected"] += 1
                targets_per_frame.append(len(possible_targets(frame)))
            rows += [dict(row, scene=truth.scene_id) for row in label_errors(truth, capture)]

    print(f"scenes={args.scenes} frames per scene={args.frames} seed={args.seed} cpus={os.cpu_count()}")
    print(
        f"frames: {dict(rejections)}; possible targets per frame {np.mean(targets_per_frame):.1f} (min "
        f"{min(targets_per_frame)}, max {max(targets_per_frame)})"
    )
    print(f"reading a frame (960 x 720, masks by ray casting): {read_seconds / max(frames_read, 1):.2f} s")
    for name, subset in (("every object shown", rows), ("possible targets", [r for r in rows if r["target"]])):
        print(f"{name}: {len(subset)} object views in {len({(r['scene'], r['instance']) for r in subset})} objects")
        print(
            f"  mask IoU          {_spread([r['mask_iou'] for r in subset], '')}; below 0.9: "
            f"{sum(r['mask_iou'] < 0.9 for r in subset)}"
        )
        print(
            f"  box centre error  {_spread([r['centre_error_m'] for r in subset], 'cm', 100)}; over 2 cm: "
            f"{sum(r['centre_error_m'] > 0.02 for r in subset)}"
        )
        yaw = [r["yaw_error_deg"] for r in subset if r["yaw_error_deg"] is not None]
        print(f"  yaw error         {_spread(yaw, 'deg')}; over 5 deg: {sum(v > 5 for v in yaw)}")
        print(
            f"  no yaw: round objects {sum(r['symmetric'] for r in subset)}, footprint without an axis "
            f"{sum(not r['symmetric'] and not r['yaw_known'] for r in subset)}"
        )
        print(f"  size error        {_spread([r['size_error_m'] for r in subset], 'cm', 100)}")
    worst = sorted(rows, key=lambda r: -(r["yaw_error_deg"] or 0))[:3]
    print(
        "largest yaw errors: "
        + "; ".join(f"{r['category']} {r['yaw_error_deg']:.1f} deg" for r in worst if r["yaw_error_deg"])
    )


if __name__ == "__main__":
    main()
