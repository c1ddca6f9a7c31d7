"""One GSI-Syn sample from its seed: scene -> edit -> physics -> validity rules -> render -> labelled row.

The operation is fixed first (by the index and the subset's operation mix); scenes and parameters are then
retried within that operation, so the operation mix of a split is exactly what was asked. Every rejection is
counted by the rule that caused it (``SampleResult.rejections``), and the build reports the totals.

Validity rules (SPEC section 3), with the thresholds in :class:`ValidityRules`:
- the source scene settles: every object rests on its own support (table top, shelf, seat, floor) and touches
  nothing else, upright;
- the edited object settles where intended (<= 1 cm, <= 2 degrees) on its support, does not touch another
  object and does not push any other object; the others keep their exact source poses;
- the target is fully in frame with a minimum visible area and a maximum occlusion, before and after;
- the camera is identical in source and target, except for camera operations, whose own rules (the camera
  stays in the room and out of furniture, enough of the view stays visible) are the operation's
  (``OperationGenerator.check_views``); the edit changes a minimum number of pixels;
- the referring expression is unambiguous: the category is unique in the scene, or "on the <support>"
  tells the instances apart (``gsi_builders.operations.referring_expression``).
"""

from __future__ import annotations

import ctypes
import difflib
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import Any

import cv2
import numpy as np

from gsi_builders.operations import (
    GENERATORS,
    EditProposal,
    OperationGenerator,
    Receptacle,
    Rejected,
    display_name,
    get_generator,
)
from gsi_builders.simulation import SettleResult, settle
from gsi_builders.subsets import SceneUnusable, scene_sampler
from gsi_datasets.geometry import (
    axis_angle_from_rotation,
    geodesic_angle_deg,
    mask_box,
    projected_box_2d,
    reference_box,
    transform_points,
)
from gsi_datasets.operations import get_operation
from gsi_datasets.rendering import RenderOutput, StateRenderer, asset_of
from gsi_datasets.scene import FLOOR_ID, Camera, Scene, SceneObject
from gsi_datasets.schema import OPERATION_SHORT_IDS, OPERATIONS, get_subset


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


@lru_cache(maxsize=16)
def _operation_sequence(mix: tuple[tuple[str, float], ...], length: int) -> tuple[str, ...]:
    """The first ``length`` operations of a mix: operation k takes the positions ``(j + 1/2) / share_k``, merged in
    order (ties in mix order), so every prefix holds each operation's share to within one sample."""
    positions = sorted(
        ((j + 0.5) / share, order, name)
        for order, (name, share) in enumerate(mix)
        if share > 0
        for j in range(int(np.ceil(share * length)) + 1)
    )
    return tuple(name for _, _, name in positions[:length])


def operation_for_index(subset: str, index: int, operation_mix: dict[str, float] | None = None) -> str:
    """The operation of sample ``index``: the subset's mix (or ``operation_mix``), spread evenly over the indices,
    so any prefix of a split is balanced to within one sample per operation."""
    mix = tuple((operation_mix or get_subset(subset).operation_mix).items())
    length = 1024
    while length <= index:
        length *= 4
    return _operation_sequence(mix, length)[index]


def buildable_operations() -> list[str]:
    """The operations that have a generator, in the schema's order (what ``--operations all`` means)."""
    return [operation for operation in OPERATIONS if operation in GENERATORS]


def check_operation_mix(operation_mix: Mapping[str, float]) -> None:
    """Checks an operation mix given instead of a subset's (``--operations``).

    Raises:
        ValueError: an unknown operation (with a close match), one that cannot be built yet, a share that is not
            positive, or shares that do not sum to 1.
    """
    for operation, share in operation_mix.items():
        if operation not in OPERATIONS and operation not in GENERATORS:  # (tests register toy operations)
            close = difflib.get_close_matches(operation, OPERATIONS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"--operations: unknown operation {operation!r}.{hint} Known: {', '.join(OPERATIONS)}")
        if operation not in GENERATORS:
            raise ValueError(
                f"--operations: {operation} ({OPERATION_SHORT_IDS[operation]}) has no generator yet; the operations "
                f"that can be built are {', '.join(buildable_operations())} (or: all)"
            )
        if not share > 0:
            raise ValueError(f"--operations: the share of {operation} must be positive, got {share}")
    if abs(sum(operation_mix.values()) - 1.0) > 1e-6:
        raise ValueError(f"--operations: the shares must sum to 1, got {sum(operation_mix.values()):g}")


def generate_sample(
    subset: str,
    split: str,
    seed: int,
    index: int,
    rules: ValidityRules = ValidityRules(),
    scene_config: Any = None,
    operation_mix: dict[str, float] | None = None,
) -> SampleResult:
    """Generates sample ``index`` of a split. Deterministic in its arguments.

    ``scene_config`` overrides the subset's scene sampler config; ``operation_mix`` its operation mix.

    Raises:
        ValueError: an unknown subset (or one without a scene sampler).
        KeyError: an unknown operation in ``operation_mix``.
    """
    sampler = scene_sampler(subset)
    operation = operation_for_index(subset, index, operation_mix)
    generator = get_generator(operation)
    object_target = get_operation(operation).object_target
    per_sample_seed = sample_seed(seed, subset, split, index)
    rng = np.random.default_rng(per_sample_seed)
    result = SampleResult(row=None)
    config = generator.scene_config(sampler.config if scene_config is None else scene_config)
    for _ in range(MAX_SCENE_ATTEMPTS):
        try:
            drawn = sampler.sample(rng, config)
        except SceneUnusable:
            result.rejections["scene_unframeable"] += 1
            continue
        source = _settled_source_scene(drawn, getattr(config, "min_objects", 1), rules, result.rejections)
        if source is None:
            continue
        if object_target:
            candidates = [o for o in source.objects if _in_frame_estimate(source, o, rules)]
            rng.shuffle(candidates)
        else:
            candidates = [None] * 3
        row = _first_valid_edit(generator, source, candidates, rng, rules, result.rejections)
        if row is not None:
            row.update(
                sample_id=sample_id(subset, split, seed, index),
                subset=subset,
                split=split,
                seed=per_sample_seed,
            )
            row["reference_format"]["dataset"] = get_subset(subset).reference_key
            result.row = row
            break
        result.rejections["no_valid_target_in_scene"] += 1
    _release_freed_memory()
    return result


#: A generated sample ends by handing the C heap's free pages back when the process holds more than this (MiB).
_TRIM_ABOVE_MIB = 640


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None where the C library is not glibc)."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _resident_mib() -> float:
    """The process's resident memory (MiB; 0 where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _release_freed_memory() -> None:
    """Hands the C heap's free pages back to the operating system after a sample, when the process holds more than
    ``_TRIM_ABOVE_MIB``. A sample allocates and frees hundreds of megabytes (models, textures, renders) from several
    threads, and glibc keeps what was freed in each thread's arena: a build worker's resident memory grew with every
    sample it built. Handing pages back costs their faulting in again (trimming after every sample cost a tabletop
    build 7% of its rate), hence the threshold. Measured with `benchmarks/build_throughput.py --subset room
    --num-samples 300 --workers 2` (150 samples a worker), with the sampled container surfaces reduced chunk by chunk
    (:func:`gsi_datasets.scene.resting_bottom`): the largest worker's peak 1,045 MiB without trimming, 908 MiB
    trimming after every sample, 834 MiB with this threshold and 128 cached assets (README, "Build workers'
    memory")."""
    trim = _malloc_trim()
    if trim is not None and _resident_mib() > _TRIM_ABOVE_MIB:
        trim(0)


def _first_valid_edit(
    generator: OperationGenerator,
    source: Scene,
    candidates: list[SceneObject | None],
    rng: np.random.Generator,
    rules: ValidityRules,
    rejections: Counter,
) -> dict[str, Any] | None:
    """The labelled row of the first candidate whose proposal passes every rule, or None.

    The source view is rendered once per scene, when the first proposal needs it (a scene whose every proposal is
    rejected by the generator's own rules, e.g. no second instance in view, makes no renderer): a target that is too
    small, occluded or at the border in it is rejected right after its proposal (the proposal still draws its
    parameters, so the rng stream, and with it every generated sample, is what checking after physics would give),
    before the costly settling.
    """
    with _LazySourceView(source) as source_view:
        visibility: dict[int, tuple[np.ndarray, float] | Rejected] = {}
        for target in candidates[:MAX_PROPOSALS_PER_SCENE]:
            try:
                proposal = generator.propose(source, target, rng)
                before = None
                if target is not None:
                    if target.instance_id not in visibility:
                        try:
                            visibility[target.instance_id] = check_visibility(
                                source_view.view, source_view.renderer, 0, target.instance_id, rules, "before"
                            )
                        except Rejected as rejection:
                            visibility[target.instance_id] = rejection
                    before = visibility[target.instance_id]
                    if isinstance(before, Rejected):
                        raise before
                # A removal needs no physics: nothing rests on the target (its generator's rule) and source objects
                # touch only their supports, so no other object moves.
                moves_object = target is not None and get_operation(proposal.operation).change != "object_removed"
                target_scene = _settle_edit(source, proposal, rules) if moves_object else proposal.target_scene
                return _render_and_label(source_view.renderer, target_scene, proposal, rules, source_view.view, before)
            except Rejected as rejection:
                rejections[rejection.reason] += 1
    return None


class _LazySourceView:
    """A scene's renderer and its source view, made when first asked for (a renderer of a room scene, with its
    compiled model and drawing contexts, costs about 0.1 s before its first render); closed on exit."""

    def __init__(self, source: Scene) -> None:
        self._source = source

    def __enter__(self) -> _LazySourceView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if "renderer" in self.__dict__:  # made
            self.renderer.close()

    @cached_property
    def renderer(self) -> StateRenderer:
        return StateRenderer([self._source])

    @cached_property
    def view(self) -> RenderOutput:
        return self.renderer.render(0)


def _settled_source_scene(scene: Scene, min_objects: int, rules: ValidityRules, rejections: Counter) -> Scene | None:
    if len(scene.objects) < min_objects:
        rejections["too_few_objects_fit"] += 1
        return None
    settled = settle(scene)
    if settled.object_contacts:
        rejections["source_objects_touch"] += 1
        return None
    if not all(_on_own_support(settled, o) for o in scene.objects):
        rejections["source_object_off_support"] += 1
        return None
    if (
        max(settled.displacement_m.values()) > rules.max_settle_drift_m
        or max(settled.rotation_deg.values()) > rules.max_settle_tilt_deg
        or not _at_rest(settled, rules)
    ):
        rejections["source_object_unstable"] += 1
        return None
    return settled.scene


def _on_own_support(settled: SettleResult, scene_object: SceneObject) -> bool:
    """Whether the object touches its own support and nothing else (no other furniture, wall or floor)."""
    touched = settled.supports[scene_object.instance_id]
    return touched == {scene_object.support_id} and scene_object.instance_id not in settled.wall_contacts


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
    if not _on_own_support(settled, settled.scene.object(target_id)):
        raise Rejected("target_off_support_after_edit")
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


def namesakes_in_view(source: Scene, view: RenderOutput, target_id: int) -> tuple[int, ...]:
    """The other instances of the target's category that show at least one pixel in ``view``."""
    category = source.object(target_id).category
    return tuple(
        o.instance_id
        for o in source.objects
        if o.category == category and o.instance_id != target_id and np.any(view.instances == o.instance_id)
    )


def _camera_box(scene_object: SceneObject, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centre, size, rotation)`` of an object's 3D box in ``camera``'s frame."""
    world_to_camera = camera.world_to_camera
    centre = transform_points(world_to_camera, np.array([scene_object.pose.position]))[0]
    rotation = world_to_camera[:3, :3] @ scene_object.pose.rotation
    return centre, asset_of(scene_object).size, rotation


def check_visibility(
    view: RenderOutput,
    renderer: StateRenderer,
    state: int,
    target_id: int,
    rules: ValidityRules,
    when: str,
    what: str = "target",
) -> tuple[np.ndarray, float]:
    """The object's 2D box and visible fraction in a rendered state.

    Raises:
        Rejected: ``<what>_too_small_<when>``, ``<what>_occluded_<when>`` or ``<what>_touches_border_<when>``
            (``what``: "target", "reference" for the object a placement is relative to, or "distractor" for the
            other instances a removal chooses among).
    """
    mask = view.instances == target_id
    if int(mask.sum()) < rules.min_visible_pixels:
        raise Rejected(f"{what}_too_small_{when}")
    box, fraction = visibility(view, renderer, state, target_id)
    if fraction < rules.min_visible_fraction:
        raise Rejected(f"{what}_occluded_{when}")
    margin = rules.border_margin_px
    if box[0] < margin or box[1] < margin or box[2] > mask.shape[1] - margin or box[3] > mask.shape[0] - margin:
        raise Rejected(f"{what}_touches_border_{when}")
    return box, fraction


def visibility(view: RenderOutput, renderer: StateRenderer, state: int, instance_id: int) -> tuple[np.ndarray, float]:
    """An object's 2D box and visible fraction in a rendered state, which must show it."""
    mask = view.instances == instance_id
    fraction = int(mask.sum()) / max(renderer.unoccluded_pixels(state, instance_id), 1)
    return np.array([float(v) for v in mask_box(mask)]), min(fraction, 1.0)


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


def _reference_box(box: dict[str, Any]) -> tuple[list[float], list[list[float]]]:
    """A label's 3D box in the reference format: ``[x, y, z, w, h, l, yaw]`` and its rotation matrix."""
    values, rotation = reference_box(np.array(box["centre"]), np.array(box["size"]), np.array(box["rotation"]))
    return values, _matrix(rotation)


def _render_and_label(
    source_renderer: StateRenderer,
    target: Scene,
    proposal: EditProposal,
    rules: ValidityRules,
    before: RenderOutput,
    visible_before: tuple[np.ndarray, float] | None,
) -> dict[str, Any]:
    """Renders the target state and labels the sample (``source_renderer``: the source's renderer, state 0;
    ``before``: the source view; ``visible_before``: the target's box and visible fraction in it). The target
    is rendered by the source's renderer unless it needs another object variant (a scaled object)."""
    source = source_renderer.states[0]
    target_id = proposal.target_id
    index = source_renderer.add_state(target)
    with nullcontext(source_renderer) if index is not None else StateRenderer([source, target]) as renderer:
        index = 1 if index is None else index
        after = renderer.render(index)
        removal = get_operation(proposal.operation).change == "object_removed"
        if target_id is not None:
            box2d_before, fraction_before = visible_before
            if removal:  # gone: its label keeps the source box, with nothing visible
                box2d_after, fraction_after = box2d_before, 0.0
            else:
                box2d_after, fraction_after = check_visibility(after, renderer, index, target_id, rules, "after")
        distractor_visibility = [
            [
                check_visibility(view, renderer, state, distractor_id, rules, when, "distractor")
                for view, state, when in ((before, 0, "before"), (after, index, "after"))
            ]
            for distractor_id in proposal.distractor_ids
        ]
        # The other instances of the target's category in view, for every operation (an exact detector of the category
        # reports them: profile ``paper`` chooses its candidate among them); a removal's are its distractors.
        namesake_ids = () if target_id is None or removal else namesakes_in_view(source, before, target_id)
        namesake_visibility = []
        for namesake_id in namesake_ids:
            seen_before = visibility(before, renderer, 0, namesake_id)
            hidden_after = not np.any(after.instances == namesake_id)  # behind the moved target: the source box
            seen_after = (seen_before[0], 0.0) if hidden_after else visibility(after, renderer, index, namesake_id)
            namesake_visibility.append((seen_before, seen_after))
        reference_id = proposal.reference_id
        if reference_id is not None:
            reference_visibility = [
                check_visibility(view, renderer, state, reference_id, rules, when, "reference")
                for view, state, when in ((before, 0, "before"), (after, index, "after"))
            ]
    changed = np.abs(before.rgb.astype(np.int16) - after.rgb.astype(np.int16)).max(axis=2)
    if int((changed > rules.changed_pixel_threshold).sum()) < rules.min_changed_pixels:
        raise Rejected("edit_not_visible")
    get_generator(proposal.operation).check_views(source, before, after, proposal, rules, source_renderer)

    world_to_camera = source.camera.world_to_camera
    row: dict[str, Any] = {
        "operation": proposal.operation,
        "instruction": proposal.instruction,
        "instruction_template": proposal.template,
        "source_image": {"bytes": _encode_png(before.rgb), "path": None},
        "target_image": {"bytes": _encode_png(after.rgb), "path": None},
        "source_depth": {"bytes": _depth_png(before.depth_m), "path": None},
        "target_depth": {"bytes": _depth_png(after.depth_m), "path": None},
        "source_instances": {"bytes": _encode_png(before.instances), "path": None},
        "target_instances": {"bytes": _encode_png(after.instances), "path": None},
        "instances": [
            {
                "instance_id": f.instance_id,
                "category": f.category,
                "display_name": display_name(source, f.instance_id),
                "support_id": FLOOR_ID,
            }
            for f in source.furniture
        ]
        + [
            {
                "instance_id": o.instance_id,
                "category": o.category,
                "display_name": display_name(source, o.instance_id),
                "support_id": o.support_id,
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
        "target_object": None,
        "reference_object": None,
        "receptacle": None,
        "distractors": [],
        "transform": {
            "translation_m": [0.0, 0.0, 0.0],
            "rotation_axis": [0.0, 0.0, 1.0],
            "rotation_deg": 0.0,
            "scale_factor": 1.0,
            "camera_delta": _matrix(target.camera.world_to_camera @ np.linalg.inv(world_to_camera)),
        },
        "command": proposal.command.to_row(),
        "support": _support_label(source, FLOOR_ID, 0.0),
        "scene": json.dumps(
            {"source": source.to_dict(), "target": target.to_dict()}, sort_keys=True, separators=(",", ":")
        ),
        "target_mesh": None,  # the stored scene has every shape
        "neighbour_meshes": None,
        "reference_format": {
            "dataset": "",
            "prompt": proposal.instruction,
            "target": "",
            "original_bbox_3d": None,
            "new_bbox_3d": None,
            "camera_intrinsics": _matrix(source.camera.intrinsics),
            "rotation_matrix": None,
            "new_rotation_matrix": None,
        },
    }
    if target_id is None:
        return row

    row["target_object"] = _object_label(source, target, target_id, visible_before, (box2d_after, fraction_after))
    if reference_id is not None:
        row["reference_object"] = _object_label(source, target, reference_id, *reference_visibility)
    if proposal.receptacle is not None:
        row["receptacle"] = _receptacle_label(source, proposal.receptacle)
    row["distractors"] = [
        _object_label(source, target, distractor_id, *seen)
        for distractor_id, seen in zip(
            [*proposal.distractor_ids, *namesake_ids], [*distractor_visibility, *namesake_visibility], strict=True
        )
    ]
    row["support"] = _support_label(
        source, source.object(target_id).support_id, source.support_height(source.object(target_id))
    )
    if removal:
        row["reference_format"].update(target=row["target_object"]["display_name"], **_reference_boxes(row))
        return row
    before_object, after_object = source.object(target_id), target.object(target_id)
    box_before, box_after = row["target_object"]["box3d_before"], row["target_object"]["box3d_after"]
    rotation_before, rotation_after = np.array(box_before["rotation"]), np.array(box_after["rotation"])
    axis, angle = axis_angle_from_rotation(rotation_after @ rotation_before.T)
    name = row["target_object"]["display_name"]
    row["transform"].update(
        translation_m=[float(a - b) for a, b in zip(box_after["centre"], box_before["centre"], strict=True)],
        rotation_axis=[float(v) for v in axis],
        rotation_deg=angle,
        scale_factor=float(after_object.scale / before_object.scale),
    )
    row["reference_format"].update(target=name, **_reference_boxes(row))
    return row


def _reference_boxes(row: dict[str, Any]) -> dict[str, Any]:
    """The target's boxes before and after, in the reference format (``reference_format``'s box keys)."""
    (before, rotation), (after, new_rotation) = (
        _reference_box(row["target_object"][key]) for key in ("box3d_before", "box3d_after")
    )
    return {
        "original_bbox_3d": before,
        "new_bbox_3d": after,
        "rotation_matrix": rotation,
        "new_rotation_matrix": new_rotation,
    }


def _object_label(
    source: Scene,
    target: Scene,
    instance_id: int,
    visible_before: tuple[np.ndarray, float],
    visible_after: tuple[np.ndarray, float],
) -> dict[str, Any]:
    """An object's label (``OBJECT_LABEL``): 3D boxes in the source camera frame and 2D boxes and visible
    fractions in both views (a removed object keeps its source boxes, with nothing visible after)."""
    (box2d_before, fraction_before), (box2d_after, fraction_after) = visible_before, visible_after
    after = target if target.has_object(instance_id) else source
    return {
        "instance_id": instance_id,
        "category": source.object(instance_id).category,
        "display_name": display_name(source, instance_id),
        "box3d_before": _box_dict(*_camera_box(source.object(instance_id), source.camera)),
        "box3d_after": _box_dict(*_camera_box(after.object(instance_id), source.camera)),
        "box2d_before": [float(v) for v in box2d_before],
        "box2d_after": [float(v) for v in box2d_after],
        "visible_fraction_before": fraction_before,
        "visible_fraction_after": fraction_after,
    }


def _receptacle_label(source: Scene, receptacle: Receptacle) -> dict[str, Any]:
    """The ``receptacle`` column: the surface and its region points in the source camera frame."""
    world_to_camera = source.camera.world_to_camera
    points = {region: transform_points(world_to_camera, point[None])[0] for region, point in receptacle.points.items()}
    return {
        "instance_id": receptacle.instance_id,
        "category": source.category_of(receptacle.instance_id),
        "display_name": display_name(source, receptacle.instance_id),
        "corners": _matrix(transform_points(world_to_camera, receptacle.corners)),
        "regions": [{"region": region, "point": [float(v) for v in point]} for region, point in points.items()],
    }


def _support_label(scene: Scene, support_id: int, height: float) -> dict[str, Any]:
    """The support column: what the target stands on and its plane in the source camera frame."""
    world_to_camera = scene.camera.world_to_camera
    up_camera = world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])
    point = transform_points(world_to_camera, np.array([[0.0, 0.0, height]]))[0]
    return {
        "instance_id": support_id,
        "category": scene.category_of(support_id),
        "normal": [float(v) for v in up_camera],
        "offset_m": float(-up_camera @ point),
    }
