"""Runs the reference implementation's own scoring functions side by side with :mod:`gsi_metrics.reference_protocol`
on randomized cases and prints, per operation and for the aggregation, how many agree within a tolerance.

The reference's functions are read from a local copy of ``aim-uofa/GSI-Bench`` (its ``evaluation`` folder; not part of
this repository): the function definitions are taken from its source files and run with numpy and shapely only, so
its detector, LPIPS and torch imports are not needed. Cases cover what the rules branch on: detections that are or are
not "the same" as a source detection, 2D boxes that moved more or less than 0.2 of the expected move, missing, extra
and jittered detections, ``B0`` not among the source detections, a failed locality gate, other instances of the
category, tilted boxes, and, for the aggregation, non-compliant samples, AC of 0 and unparsable judge answers.

With ``--data``, it also applies the reference's own ``iou_3d`` to the boxes of a built split in the reference's format
(:func:`gsi_datasets.geometry.reference_box`, what ``reference_format`` and ``gsi-bench export`` write): each original
box against itself, which must give 1, and against the expected box, next to the true IoU of the two boxes (footprints
on the support plane), for our format and for the one the exports used before (sizes in our x, y, z order with our
rotation), whose ``h`` was the depth.

Usage: ``python benchmarks/reference_crosscheck.py --reference PATH/TO/GSI-Bench [--cases 600] [--seed 0]
[--data DIR --config tabletop --split test]``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gsi_datasets.geometry import rotation_about_axis
from gsi_metrics import reference_protocol as ours

#: The reference's functions this compares against, by file (relative to its ``evaluation`` folder).
REFERENCE_FUNCTIONS = {
    "utils/item_utils.py": ["dict2np", "check_same"],
    "utils/detect_anything/datasets/utils.py": ["compute_3d_bbox_vertices", "project_to_image"],
    "utils/box_utils.py": ["get_corners_3d", "bbox_3d_to_2d", "iou_3d"],
    "eval/eval_utils.py": ["get_origin_bbox_2d"],
    "eval/eval.py": ["rotation_matrix_distance", "dist_between_centers", "eval_move", "eval_rotate", "eval_remove"]
    + ["eval_resize"],
    "eval/aggregate.py": ["resolve_ac_key", "compute_metrics"],
}
TOLERANCE = 1e-6


def load_reference(root: Path) -> dict[str, Callable[..., Any]]:
    """The reference's functions, defined from its source in one namespace with numpy and shapely."""
    from shapely.geometry import Polygon

    evaluation = root / "evaluation" if (root / "evaluation").is_dir() else root
    namespace: dict[str, Any] = {"np": np, "Polygon": Polygon, "Dict": dict, "List": list, "Optional": Any}
    namespace.update(Tuple=tuple, print=lambda *args, **kwargs: None)  # its aggregation prints every missing AC
    for relative, names in REFERENCE_FUNCTIONS.items():
        path = evaluation / relative
        if not path.exists():
            raise SystemExit(f"error: {path} not found; --reference must be a checkout of aim-uofa/GSI-Bench")
        tree = ast.parse(path.read_text())
        found = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        missing = [name for name in names if name not in found]
        if missing:
            raise SystemExit(f"error: {path} defines no {', '.join(missing)}; the reference changed")
        module = ast.Module(body=[found[name] for name in names], type_ignores=[])
        exec(compile(module, str(path), "exec"), namespace)  # noqa: S102 (the reference's own code, locally)
    return namespace


# -- randomized cases ---------------------------------------------------------------------------------------------


def _rotation(rng: np.random.Generator, yaw: float) -> np.ndarray:
    """A box rotation: a turn about the camera's y axis, sometimes tilted a few degrees."""
    rotation = rotation_about_axis(np.array([0.0, 1.0, 0.0]), np.rad2deg(yaw))
    if rng.random() < 0.3:
        rotation = rotation_about_axis(rng.normal(size=3), rng.uniform(0.0, 8.0)) @ rotation
    return rotation


def _box(rng: np.random.Generator) -> np.ndarray:
    return np.array(
        [*rng.uniform([-0.6, -0.3, 0.8], [0.6, 0.4, 3.0]), *rng.uniform(0.04, 0.6, 3), rng.uniform(-np.pi, np.pi)]
    )


def _detection(box: np.ndarray, rotation: np.ndarray, intrinsics: np.ndarray, frame: float, rng, jitter: float):
    """A reference detection of ``box``: its 2D box in the detector's frame (``frame`` = detector / image size)."""
    box = box + rng.normal(0.0, jitter, 7) * np.array([1, 1, 1, 0.3, 0.3, 0.3, 2])
    box[3:6] = np.abs(box[3:6]) + 1e-3
    box_2d = ours.projected_box_2d(box, rotation, intrinsics) * frame + rng.normal(0.0, 40 * jitter, 4)
    return {"bbox_3d": box.tolist(), "bbox_2d": box_2d.tolist(), "rotation_matrix": rotation.tolist()}


def random_case(rng: np.random.Generator, operation: str) -> tuple[dict, dict, dict, bool]:
    """``(edit_meta, origin_res, result, check)`` in the reference's formats."""
    width, height = rng.choice([512, 640, 1024]), rng.choice([384, 512, 768])
    focal = rng.uniform(400.0, 1000.0)
    intrinsics = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
    frame = ours.DETECTOR_SIZE / max(width, height)
    original = _box(rng)
    rotation = _rotation(rng, original[6])
    new, new_rotation = original.copy(), rotation
    if operation == "move":
        direction = rng.normal(size=3) * np.array([1.0, 0.2, 1.0])
        new[:3] += direction / np.linalg.norm(direction) * rng.uniform(0.05, 0.6)
    elif operation == "rotate":
        angle = rng.choice([45.0, 90.0, 135.0, 180.0, 270.0]) * rng.choice([-1, 1])
        new_rotation = rotation_about_axis(np.array([0.0, 1.0, 0.0]), angle) @ rotation
        new[6] = original[6] + np.deg2rad(angle)
    elif operation == "scale":
        new[3:6] *= rng.choice([0.5, 0.67, 1.5, 2.0])
    jitter = rng.choice([0.0, 0.0, 0.002, 0.02, 0.1])
    target = _detection(original, rotation, intrinsics, frame, rng, jitter)
    others = [
        _detection(_box(rng), _rotation(rng, 0.0), intrinsics, frame, rng, jitter) for _ in range(rng.integers(0, 3))
    ]
    source = [target, *others]
    rng.shuffle(source)
    # The edited image: the target as asked (with the detector's jitter), a fraction of the way, unchanged or gone.
    outcome = rng.choice(["asked", "partial", "unchanged", "gone", "elsewhere"])
    if outcome == "asked":
        edited_target = _detection(new, new_rotation, intrinsics, frame, rng, jitter)
    elif outcome == "partial":
        partial = original + rng.uniform(0.1, 1.5) * (new - original)
        edited_target = _detection(partial, new_rotation, intrinsics, frame, rng, jitter)
    elif outcome == "unchanged":
        edited_target = _detection(original, rotation, intrinsics, frame, rng, jitter)
    elif outcome == "elsewhere":
        edited_target = _detection(_box(rng), _rotation(rng, 0.0), intrinsics, frame, rng, jitter)
    else:
        edited_target = None
    edited = [edited_target] if edited_target is not None else []
    edited += [
        o if rng.random() < 0.7 else _detection(np.array(o["bbox_3d"]), np.eye(3), intrinsics, frame, rng, 0.05)
        for o in others
        if rng.random() < 0.85
    ]
    if rng.random() < 0.15:
        edited.append(_detection(_box(rng), np.eye(3), intrinsics, frame, rng, 0.0))
    rng.shuffle(edited)
    meta_original = original if rng.random() < 0.9 else original + rng.normal(0.0, 0.3, 7)
    meta = {
        "original_bbox_3d": meta_original.tolist(),
        "new_bbox_3d": new.tolist(),
        "camera_intrinsics": intrinsics.tolist(),
        "rotation_matrix": rotation.tolist(),
        "new_rotation_matrix": new_rotation.tolist(),
    }
    return meta, {"detections": source}, {"detections": edited}, bool(rng.random() < 0.9)


_OPERATIONS = {"move": ("eval_move", ours.move), "rotate": ("eval_rotate", ours.rotate)}
_OPERATIONS.update({"remove": ("eval_remove", ours.remove), "scale": ("eval_resize", ours.scale)})


def compare_operation(reference: dict, operation: str, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """The absolute IC and SA differences of one random case of ``operation``, and the reference's IC and SA."""
    meta, origin, result, check = random_case(rng, operation)
    name, own = _OPERATIONS[operation]
    function = reference[name]
    if operation == "rotate":
        theirs = [
            function(None, None, meta, origin, result, mode, check)
            for mode in ("instruction-compliance", "spatial-accuracy")
        ]
    else:
        theirs = [
            function(meta, origin, result, mode, check) for mode in ("instruction-compliance", "spatial-accuracy")
        ]
    score = own(
        ours.EditMeta.from_reference(meta),
        [ours.Detection.from_reference(d) for d in origin["detections"]],
        [ours.Detection.from_reference(d) for d in result["detections"]],
        check,
    )
    return abs(score.ic - float(theirs[0])), abs(score.sa - float(theirs[1])), float(theirs[0]), float(theirs[1])


def compare_aggregation(reference: dict, rng: np.random.Generator) -> float:
    """The largest absolute difference of the five headline numbers over one random set of samples."""
    ic_data, sa_data, el_data, ac_result, samples = {}, {}, {}, {}, []
    for index in range(int(rng.integers(1, 40))):
        key = f"img{index}_{index}"
        ic = float(rng.random() < 0.6)
        sa = float(rng.random()) if rng.random() < 0.8 else 0.0
        ssim, lpips = float(rng.random()), float(rng.random())
        ac = rng.choice([None, 0, 3, 7, 10]) if rng.random() < 0.5 else float(rng.integers(0, 11))
        ic_data[key], sa_data[key] = {"compliance": ic}, {"edit_score": sa}
        el_data[key] = {"ssim": ssim, "lpips": lpips}
        ac_result[f"img{index}_edit_{index}"] = ac
        samples.append((ic, sa, 1.0 - lpips, None if ac is None else ac / 10.0))
    _, el, ac, ic, sa, average = reference["compute_metrics"](ic_data, sa_data, el_data, ac_result)
    mine = ours.aggregate(samples)
    return max(
        abs(mine[axis] - value)
        for axis, value in zip(("IC", "SA", "EL", "AC", "Avg"), (ic, sa, el, ac, average), strict=True)
    )


def exported_boxes(reference: dict, data: str, config: str, split: str) -> int:
    """Prints the reference's IoU on the split's boxes (module docstring); returns how many identical pairs miss 1."""
    from datasets import load_dataset

    from gsi_datasets.geometry import iou3d_upright, reference_box, yaw_from_rotation

    rows = load_dataset(data, config, split=split)
    identical, ours_off, before_off = [], [], []
    for row in rows:
        target = row["target_object"]
        if target is None:
            continue
        boxes = [
            tuple(np.array(target[k][f]) for f in ("centre", "size", "rotation"))
            for k in ("box3d_before", "box3d_after")
        ]
        exported = [reference_box(*box)[0] for box in boxes]
        previous = [[*c, *size, yaw_from_rotation(rotation)] for c, size, rotation in boxes]
        truth = iou3d_upright(boxes[0], boxes[1], np.array(row["support"]["normal"]))
        identical.append(reference["iou_3d"](np.array(exported[0]), np.array(exported[0])))
        ours_off.append(abs(reference["iou_3d"](np.array(exported[0]), np.array(exported[1])) - truth))
        before_off.append(abs(reference["iou_3d"](np.array(previous[0]), np.array(previous[1])) - truth))
    misses = int(np.sum(np.abs(np.array(identical) - 1.0) > TOLERANCE))
    print(f"\nThe reference's iou_3d on {len(identical)} rows of {config}/{split} ({data}):")
    print(f"- original box against itself: {len(identical) - misses} of {len(identical)} give 1")
    for name, values in (("reference format (ours)", ours_off), ("previous export (h = depth)", before_off)):
        median, p90 = np.percentile(values, [50, 90])
        print(f"- |IoU(B0, B1) - true IoU|, {name}: median {median:.4f}, 90th percentile {p90:.4f}")
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True, type=Path, help="local checkout of aim-uofa/GSI-Bench")
    parser.add_argument("--cases", type=int, default=600, help="random cases per operation and for aggregation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="a built GSI-Syn folder: check the reference's IoU on its boxes")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)
    reference = load_reference(args.reference)
    rng = np.random.default_rng(args.seed)
    print(f"| rule | cases | reference IC 1 / SA > 0 | agree within {TOLERANCE:g} | largest difference |")
    print("|---|---|---|---|---|")
    disagreements = 0
    for operation in _OPERATIONS:
        results = np.array([compare_operation(reference, operation, rng) for _ in range(args.cases)])
        worst = results[:, :2].max(axis=1)
        disagreements += int((worst > TOLERANCE).sum())
        covered = f"{int((results[:, 2] > 0).sum())} / {int((results[:, 3] > 0).sum())}"
        print(f"| {operation} (IC, SA) | {args.cases} | {covered} | {(worst <= TOLERANCE).sum()} | {worst.max():.2e} |")
    differences = np.array([compare_aggregation(reference, rng) for _ in range(args.cases)])
    disagreements += int((differences > TOLERANCE).sum())
    print(
        f"| aggregation (IC, SA, EL, AC, Avg) | {args.cases} | | {(differences <= TOLERANCE).sum()} | "
        f"{differences.max():.2e} |"
    )
    if args.data is not None:
        disagreements += exported_boxes(reference, args.data, args.config, args.split)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
