"""Scoring real rows with and without the scan's mesh, against edits whose truth is known: simulated rooms written as
ScanNet++ v2 scenes (tests/scannetpp_capture.py), their candidates made by ``gsi-bench build real``'s own code, and
for each candidate the asked edit rendered by the simulator in that frame's camera (the pixels the edit changes,
pasted into the decoded video frame: an oracle edit of the real row). Each is scored (profile ``gsi``) with the
target drawn from its annotated mesh (``mesh``, the default for such rows) and from the frame alone
(``--perception scene-free``: how a photograph without a scan is scored).

Prints, per operation and path: IC and SA means, undecidable items, and for turns the share recovered within 15
degrees; also how many turn candidates the decidability rule on the mesh rejected.

``--without-neighbours`` scores the rows without their neighbours' meshes (what a move or a removal uncovers is then
inpainted), to measure what they bring; ``--mesh-edge`` sets the simulated scans' longest triangle edge (5 cm by
default; real laser scans are far finer).

Usage: python benchmarks/real_mesh_scoring.py [--scenes 4] [--frames 6] [--seed 0] [--without-neighbours]
       [--mesh-edge 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gsi_builders.real_candidates import candidate_row, frame_candidates, frame_objects, turn_look_alike  # noqa: E402
from gsi_datasets.real.frames import frame_rejection  # noqa: E402
from gsi_datasets.real.scans import ScanCapture  # noqa: E402
from gsi_metrics.perception import create_backend, perceive  # noqa: E402
from gsi_metrics.sample import ScoringSample  # noqa: E402
from gsi_metrics.scoring import score_perceived  # noqa: E402
from tests.scannetpp_capture import MAX_EDGE_M, room_scene, true_edit, write_scannetpp_scene  # noqa: E402

OPERATIONS = ("object_rotate", "camera_relative_move", "object_scale", "spatial_remove")
PATHS = ("mesh", "scene-free")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--without-neighbours", action="store_true", help="leave the rows' neighbour meshes out")
    parser.add_argument("--mesh-edge", type=float, default=MAX_EDGE_M, help="the scans' longest triangle edge (m)")
    args = parser.parse_args()
    backends = {"mesh": create_backend("classical"), "scene-free": create_backend("classical", perception="scene-free")}
    results: dict[tuple[str, str], list[dict]] = defaultdict(list)
    rejections: Counter[str] = Counter()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.scenes):
            truth = write_scannetpp_scene(
                Path(folder),
                room_scene(20 * number, seed=args.seed),
                f"scene{number:02d}",
                num_frames=args.frames,
                max_edge_m=args.mesh_edge,
            )
            capture = ScanCapture("scannetpp", folder, truth.scene_id)
            for frame_index, frame in enumerate(capture.frames()):
                if frame_rejection(frame) is not None:
                    continue
                objects = frame_objects(frame, capture)
                if objects is None:
                    continue
                rng = np.random.default_rng([args.seed, zlib.crc32(f"{number}/{frame.frame_id}".encode())])
                for candidate in frame_candidates(objects, rng, rejections, OPERATIONS):
                    row = candidate_row(candidate, objects, f"{truth.scene_id}_{frame.frame_id}", "test", 0)
                    if args.without_neighbours:
                        row["neighbour_meshes"] = None
                    if candidate.operation == "object_rotate" and (alike := turn_look_alike(row)) is not None:
                        rejections[f"object_rotate/turn_looks_{alike}"] += 1
                        continue
                    edited = true_edit(truth, frame_index, row, frame.rgb)
                    if edited is None:
                        continue
                    sample = ScoringSample.from_row(row)
                    for path, backend in backends.items():
                        perception = perceive(backend, sample.view, edited)
                        score = score_perceived(sample, edited, perception, "gsi")
                        results[(candidate.operation, path)].append(
                            {
                                "ic": score.ic,
                                "sa": score.sa,
                                "status": score.status,
                                "error": score.details.get("error_deg"),  # the OR scorer's, modulo symmetry
                                "method": perception.target.method,
                            }
                        )
                print(f"scene {number}: {sum(len(v) for v in results.values()) // 2} scored edits so far", flush=True)
    neighbours = "without" if args.without_neighbours else "with"
    print(
        f"\n{args.scenes} rooms, {args.frames} frames each, seed {args.seed}, {neighbours} neighbour meshes, "
        f"mesh edges up to {100 * args.mesh_edge:g} cm: "
        f"{time.perf_counter() - start:.0f} s"
    )
    print("| operation | path | edits | IC | SA | undecidable | turns within 15 deg | methods |")
    print("|---|---|---|---|---|---|---|---|")
    for operation in OPERATIONS:
        for path in PATHS:
            items = results.get((operation, path), [])
            scored = [r for r in items if r["status"] == "ok"]
            if not items:
                continue
            within = (
                f"{np.mean([r['error'] is not None and r['error'] <= 15 for r in scored]):.1%}"
                if operation == "object_rotate" and scored else ""
            )  # fmt: skip
            methods = dict(Counter(r["method"] for r in items))
            print(
                f"| {operation} | {path} | {len(items)} | {100 * np.mean([r['ic'] for r in scored]):.1f} | "
                f"{100 * np.mean([r['sa'] for r in scored]):.1f} | {len(items) - len(scored)} | {within} | {methods} |"
            )
    turns = {k: v for k, v in rejections.items() if k.startswith("object_rotate/turn_looks")}
    print(f"turn candidates rejected by the decidability rule on the mesh: {turns or 'none'}")


if __name__ == "__main__":
    main()
