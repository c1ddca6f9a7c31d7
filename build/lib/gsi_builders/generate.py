"""One GSI-Syn sample from its seed: scene -> edit -> physics -> validity rules -> render -> labelled row.

The operation is fixed first (by the caller); scenes and parameters are then retried within that
operation, so the operation mix of a split is exactly what was asked. Every rejection is counted by
the rule that caused it (``SampleResult.rejections``), and the build reports the totals.

Validity rules (SPEC section 3), with the thresholds in :class:`ValidityRules`:
- the source scene settles: every object rests on the table, upright, without touching another;
- the edited object settles where intended (<= 1 cm, <= 2 degrees), does not touch another object and
  does not push any other object; the others keep their exact source poses;
- the target is fully in frame with a minimum visible area and a maximum occlusion, before and after;
- the camera is identical in source and target; the edit changes a minimum number of pixels;
- the referring expression is unique (objects in a scene have distinct categories).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from gsi_builders.operations import EditProposal, Rejected, propose_edit
from gsi_builders.simulation import SettleResult, settle
from gsi_builders.tabletop import TabletopConfig, sample_tabletop_scene
from gsi_datasets.assets import get_category
from gsi_datasets.geometry import (
    axis_angle_from_rotation,
    geodesic_angle_deg,
    projected_box_2d,
    transform_points,
    yaw_from_rotation,
)
from gsi_datasets.rendering import RenderOutput, StateRenderer, asset_of
from gsi_datasets.scene import TABLE_ID, Camera, Scene, SceneObject
from gsi_datasets.schema import REFERENCE_DATASET_KEYS, SUBSET_OPERATIONS


@dataclass(frozen=True)
class ValidityRules:
    """Thresholds of the validity rules (defaults: SPEC section 3 for synthetic data)."""

    max_position_error_m: float = 0.01
    max_rotation_error_deg: float = 2.0
    max_neighbour_push_m: float = 0.002
    max_settle_drift_m: float = 0.02
    max_settle_tilt_deg: float = 5.0
    max_rest_speed_m_s: float = 0.005
    max_rest_angular_speed_deg_s: float = 3.0
    min_visible_pixels: int = 500
    min_visible_fraction: float = 0.6
    border_margin_px: int = 4
    min_changed_pixels: int = 300
    changed_pixel_threshold: int = 25


@dataclass
class SampleResult:
    """A generated row (None when every attempt was rejected) and the rejection counts on the way."""

    row: dict[str, Any] | None
    rejections: Counter = field(default_factory=Counter)


MAX_SCENE_ATTEMPTS = 40
MAX_PROPOSALS_PER_SCENE = 12


def sample_seed(seed: int, subset: str, split: str, index: int) -> int:
    """The per-sample seed: a hash of the build seed, subset, split and index.

    Different splits draw from unrelated streams, so they never share a scene or an asset instance seed.
    """
    words = [seed, *(ord(c) for c in subset), 0, *(ord(c) for c in split), 0, index]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def sample_id(subset: str, split: str, seed: int, index: int) -> str:
    """Stable, human-readable sample id."""
    return f"syn-{subset}-{split}-s{seed}-{index:06d}"


def operation_for_index(subset: str, index: int) -> str:
    """Operations are assigned round-robin, so any prefix of a split is balanced to within one sample."""
    operations = SUBSET_OPERATIONS[subset]
    return operations[index % len(operations)]


def generate_sample(
    subset: str,
    split: str,
    seed: int,
    index: int,
    rules: ValidityRules = ValidityRules(),
    scene_config: TabletopConfig = TabletopConfig(),
) -> SampleResult:
    """Generates sample ``index`` of a split. Deterministic in its arguments."""
    if subset not in SUBSET_OPERATIONS:
        raise ValueError(f"unknown subset {subset!r}; known: {sorted(SUBSET_OPERATIONS)}")
    operation = operation_for_index(subset, index)
    per_sample_seed = sample_seed(seed, subset, split, index)
    rng = np.random.default_rng(per_sample_seed)
    result = SampleResult(row=None)
    for _ in range(MAX_SCENE_ATTEMPTS):
        source = _settled_source_scene(rng, scene_config, rules, result.rejections)
        if source is None:
            continue
        candidates = [o for o in source.objects if _in_frame_estimate(source, o, rules)]
        rng.shuffle(candidates)
        proposals = 0
        for target in candidates:
            if proposals >= MAX_PROPOSALS_PER_SCENE:
                break
            proposals += 1
            try:
                proposal = propose_edit(operation, source, target, rng)
                target_scene = _settle_edit(source, proposal, rules)
                row = _render_and_label(source, target_scene, proposal, rules)
            except Rejected as rejection:
                result.rejections[rejection.reason] += 1
                continue
            row.update(
                sample_id=sample_id(subset, split, seed, index),
                subset=subset,
                split=split,
                seed=per_sample_seed,
            )
            row["reference_format"]["dataset"] = REFERENCE_DATASET_KEYS[subset]
            result.row = row
            return result
        result.rejections["no_valid_target_in_scene"] += 1
    return result


def _settled_source_scene(
    rng: np.random.Generator, config: TabletopConfig, rules: ValidityRules, rejections: Counter
) -> Scene | None:
    scene = sample_tabletop_scene(rng, config)
    if len(scene.objects) < config.min_objects:
        rejections["too_few_objects_fit"] += 1
        return None
    settled = settle(scene)
    if settled.object_contacts:
        rejections["source_objects_touch"] += 1
        return None
    if len(settled.supported_by_table) != len(scene.objects):
        rejections["source_object_not_on_table"] += 1
        return None
    if (
        max(settled.displacement_m.values()) > rules.max_settle_drift_m
        or max(settled.rotation_deg.values()) > rules.max_settle_tilt_deg
        or not _at_rest(settled, rules)
    ):
        rejections["source_object_unstable"] += 1
        return None
    return settled.scene


def _at_rest(settled: SettleResult, rules: ValidityRules) -> bool:
    return (
        settled.speed_m_s <= rules.max_rest_speed_m_s
        and settled.angular_speed_deg_s <= rules.max_rest_angular_speed_deg_s
    )


def _in_frame_estimate(scene: Scene, scene_object: SceneObject, rules: ValidityRules) -> bool:
    """Cheap pre-render check: the object's projected 3D box lies inside the image with a margin."""
    try:
        box = projected_box_2d(scene.camera.intrinsics, *_camera_box(scene_object, scene.camera))
    except ValueError:
        return False
    margin = rules.border_margin_px
    return bool(
        box[0] >= margin
        and box[1] >= margin
        and box[2] <= scene.camera.width - 1 - margin
        and box[3] <= scene.camera.height - 1 - margin
    )


def _settle_edit(source: Scene, proposal: EditProposal, rules: ValidityRules) -> Scene:
    """Settles the edited object; the other objects keep their exact source poses.

    Raises:
        Rejected: when the edit does not come to rest where intended or disturbs the scene.
    """
    if not _in_frame_estimate(proposal.target_scene, proposal.target_scene.object(proposal.target_id), rules):
        raise Rejected("target_leaves_frame")
    settled = settle(proposal.target_scene)
    target_id = proposal.target_id
    if any(target_id in pair for pair in settled.object_contacts):
        raise Rejected("target_touches_object_after_edit")
    if target_id not in settled.supported_by_table:
        raise Rejected("target_not_on_table_after_edit")
    if not _at_rest(settled, rules):
        raise Rejected("edit_not_at_rest")
    others = [i for i in settled.displacement_m if i != target_id]
    if others and max(settled.displacement_m[i] for i in others) > rules.max_neighbour_push_m:
        raise Rejected("edit_pushes_neighbour")
    realised = settled.scene.object(target_id).pose
    intended = proposal.intended_pose
    if np.linalg.norm(np.subtract(realised.position, intended.position)) > rules.max_position_error_m:
        raise Rejected("settled_position_off_intended")
    if geodesic_angle_deg(realised.rotation, intended.rotation) > rules.max_rotation_error_deg:
        raise Rejected("settled_rotation_off_intended")
    return proposal.target_scene.with_poses({target_id: realised})


def _camera_box(scene_object: SceneObject, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centre, size, rotation)`` of an object's 3D box in ``camera``'s frame."""
    world_to_camera = camera.world_to_camera
    centre = transform_points(world_to_camera, np.array([scene_object.pose.position]))[0]
    rotation = world_to_camera[:3, :3] @ scene_object.pose.rotation
    return centre, asset_of(scene_object).size, rotation


def _mask_box(mask: np.ndarray) -> list[float]:
    rows, cols = np.nonzero(mask)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def check_visibility(
    view: RenderOutput, renderer: StateRenderer, state: int, target_id: int, rules: ValidityRules, when: str
) -> tuple[np.ndarray, float]:
    """The object's 2D box and visible fraction in a rendered state.

    Raises:
        Rejected: ``target_too_small_<when>``, ``target_occluded_<when>`` or ``target_touches_border_<when>``.
    """
    mask = view.instances == target_id
    visible = int(mask.sum())
    if visible < rules.min_visible_pixels:
        raise Rejected(f"target_too_small_{when}")
    fraction = visible / max(renderer.unoccluded_pixels(state, target_id), 1)
    if fraction < rules.min_visible_fraction:
        raise Rejected(f"target_occluded_{when}")
    box = _mask_box(mask)
    margin = rules.border_margin_px
    if box[0] < margin or box[1] < margin or box[2] > mask.shape[1] - margin or box[3] > mask.shape[0] - margin:
        raise Rejected(f"target_touches_border_{when}")
    return np.array(box), min(fraction, 1.0)


def _encode_png(image: np.ndarray) -> bytes:
    # OpenCV writes 8-bit RGB (as BGR) and 16-bit single-channel PNGs, losslessly and deterministically.
    data = image[..., ::-1] if image.ndim == 3 else image
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(data), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()


def _depth_png(depth_m: np.ndarray) -> bytes:
    return _encode_png(np.clip(np.round(depth_m * 1000.0), 0, 65535).astype(np.uint16))


def _matrix(array: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(array)]


def _box_dict(centre: np.ndarray, size: np.ndarray, rotation: np.ndarray) -> dict[str, Any]:
    return {"centre": [float(v) for v in centre], "size": [float(v) for v in size], "rotation": _matrix(rotation)}


def _reference_box(box: dict[str, Any]) -> list[float]:
    return [*box["centre"], *box["size"], yaw_from_rotation(np.array(box["rotation"]))]


def _render_and_label(source: Scene, target: Scene, proposal: EditProposal, rules: ValidityRules) -> dict[str, Any]:
    target_id = proposal.target_id
    with StateRenderer([source, target]) as renderer:
        before = renderer.render(0)
        box2d_before, fraction_before = check_visibility(before, renderer, 0, target_id, rules, "before")
        after = renderer.render(1)
        box2d_after, fraction_after = check_visibility(after, renderer, 1, target_id, rules, "after")
    changed = np.abs(before.rgb.astype(np.int16) - after.rgb.astype(np.int16)).max(axis=2)
    if int((changed > rules.changed_pixel_threshold).sum()) < rules.min_changed_pixels:
        raise Rejected("edit_not_visible")

    category = get_category(source.object(target_id).category)
    box_before = _box_dict(*_camera_box(source.object(target_id), source.camera))
    box_after = _box_dict(*_camera_box(target.object(target_id), source.camera))
    rotation_before, rotation_after = np.array(box_before["rotation"]), np.array(box_after["rotation"])
    axis, angle = axis_angle_from_rotation(rotation_after @ rotation_before.T)
    world_to_camera = source.camera.world_to_camera
    up_camera = world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])
    table_point = transform_points(world_to_camera, np.array([[0.0, 0.0, source.table.height]]))[0]
    command = proposal.command
    return {
        "operation": proposal.operation,
        "instruction": proposal.instruction,
        "instruction_template": proposal.template,
        "source_image": {"bytes": _encode_png(before.rgb), "path": None},
        "target_image": {"bytes": _encode_png(after.rgb), "path": None},
        "source_depth": {"bytes": _depth_png(before.depth_m), "path": None},
        "target_depth": {"bytes": _depth_png(after.depth_m), "path": None},
        "source_instances": {"bytes": _encode_png(before.instances), "path": None},
        "target_instances": {"bytes": _encode_png(after.instances), "path": None},
        "instances": [{"instance_id": TABLE_ID, "category": "table", "display_name": "table"}]
        + [
            {
                "instance_id": o.instance_id,
                "category": o.category,
                "display_name": get_category(o.category).display_name,
            }
            for o in source.objects
        ],
        "camera": {
            "intrinsics": _matrix(source.camera.intrinsics),
            "width": source.camera.width,
            "height": source.camera.height,
            "source_world_to_camera": _matrix(world_to_camera),
            "target_world_to_camera": _matrix(target.camera.world_to_camera),
        },
        "target_object": {
            "instance_id": target_id,
            "category": category.name,
            "display_name": category.display_name,
            "box3d_before": box_before,
            "box3d_after": box_after,
            "box2d_before": [float(v) for v in box2d_before],
            "box2d_after": [float(v) for v in box2d_after],
            "visible_fraction_before": fraction_before,
            "visible_fraction_after": fraction_after,
        },
        "reference_object": None,
        "distractors": [],
        "transform": {
            "translation_m": [float(a - b) for a, b in zip(box_after["centre"], box_before["centre"], strict=True)],
            "rotation_axis": [float(v) for v in axis],
            "rotation_deg": angle,
            "scale_factor": float(target.object(target_id).scale / source.object(target_id).scale),
            "camera_delta": _matrix(target.camera.world_to_camera @ np.linalg.inv(world_to_camera)),
        },
        "command": {
            "direction": command.direction,
            "distance_m": command.distance_m,
            "angle_deg": command.angle_deg,
            "scale_factor": command.scale_factor,
        },
        "support": {
            "instance_id": TABLE_ID,
            "category": "table",
            "normal": [float(v) for v in up_camera],
            "offset_m": float(-up_camera @ table_point),
        },
        "scene": json.dumps(
            {"source": source.to_dict(), "target": target.to_dict()}, sort_keys=True, separators=(",", ":")
        ),
        "reference_format": {
            "dataset": "",
            "prompt": proposal.instruction,
            "target": category.display_name,
            "original_bbox_3d": _reference_box(box_before),
            "new_bbox_3d": _reference_box(box_after),
            "camera_intrinsics": _matrix(source.camera.intrinsics),
            "rotation_matrix": box_before["rotation"],
            "new_rotation_matrix": box_after["rotation"],
        },
    }
