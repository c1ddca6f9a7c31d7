"""Counterfactual edited images with known 3D truth, rendered from a GSI-Syn row's stored scene.

For one row, :func:`make_counterfactuals` renders what an editor might have produced, each with the exact
3D outcome (:class:`Truth`): the target's change in the source camera frame, the camera motion, whether the
output should count as compliant, and the relative spatial error of the realised change against the asked one
(the operation's ``spatial_error`` that profile ``gsi`` uses, applied to the truth).

Families and cases (``family/case``):

- ``correct/oracle``: the row's rendered target image;
- the operation's own cases (its generator's ``counterfactual_states``, :mod:`gsi_builders.operations`):
  ``magnitude/x0.5``, ``x1.5``, ``x2``: the realised change scaled (distance, angle; for OS the log factor,
  x0.5 and x1.5 only; for PC the camera motion x0.5 and x1.5); ``direction/opposite`` (CM, OR, PC),
  ``direction/orthogonal`` (CM, OP), ``direction/inverse`` (OS, ``1 / s``); ``kind/wrong_motion`` (PC: a turn
  instead of a move, a sideways move instead of a turn or tilt); for OP the magnitudes (x0.75, x1.25, x1.5)
  scale the realised offset from the reference object, the directions put the target on the other side or a
  side at 90 degrees, and ``wrong_reference/other_object`` puts it at the right offset from another object;
  for RP the magnitudes (x0.5, x0.8, x1.2) stop short of or run past the asked point, and ``wrong_region/<region>``
  puts the target at each other region's point; for SR ``wrong_instance/<id>`` removes another instance of the
  category instead, ``two_removed`` removes another one too, and ``moved_instead`` moves the target 15 cm;
- ``wrong_target/other_object`` (object operations but SR, which has its wrong instances): another object changed
  as asked, the target untouched;
- ``collateral/moved_other``, ``collateral/removed_other``: the right edit plus another object (not an instance of
  the target's category, nor the receptacle object the target was put on, nor a placement's reference object) moved
  8-15 cm on its support or removed;
- ``identity/source``: the source image (for OS this is also the "scale factor 1.0" case);
- ``camera_drift/moved_camera``: the right edit seen from a camera moved 1.5-3 cm and turned 0.5-1.5 degrees;
- ``near_correct/offset`` (object operations but SR): the realised change plus an offset of its own kind
  (:func:`near_correct_offset`: 1-3 cm for moves and placements, 3-10 degrees for turns, 3-8% for scalings), so
  the truth is no starting point of a search that starts from the asked change;
- ``nuisance/<name>``: the oracle image with one generator-like nuisance (:data:`NUISANCES`);
- ``appearance/<name>`` (object operations): the oracle image with an image-wide photometric change that is no change
  of the target's identity (:data:`PHOTOMETRIC_CHANGES`: a colour cast, an exposure change, a white-balance shift),
  or, where the target is still in the image, with the target itself re-coloured or re-textured
  (:data:`TARGET_APPEARANCE_CHANGES`): the geometry is right in all of them, and AC should tell the two kinds apart;
  and the target re-drawn with its geometry right (:data:`REDRAWN_CASES`: mirrored in place, or for moves and
  placements pasted flat), which IC should not hold against it (no turn is mirrored: a turned target mirrored left to
  right shows its mirror image turned the other way, :data:`MIRRORED_TURN_SKIPPED`);

Should comply: correct edits (correct, collateral, camera drift, nuisance, appearance), near-correct edits and wrong
magnitudes comply (IC asks for the right target, kind and direction; SPEC 6; an RP magnitude case complies when its
point is still over the receptacle and nearest to the asked region's); identity, wrong target, wrong reference,
wrong region, wrong direction, wrong kind, wrong instance, two removed and moved instead do not.
Rotations are judged as they look on the target, modulo its symmetry: a turn that looks like no turn does not
comply, and a case whose sense cannot be seen (a half turn of the symmetry where the asked one is not) is
skipped as ambiguous, like any case that fails the dataset's own validity rules (footprint on the table and
clear of other objects, target fully in frame and visible, the camera in the room); skipped cases are counted with
their reason. The generator is used only through its public API (:mod:`gsi_builders.operations`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from gsi_builders.generate import ValidityRules, check_visibility
from gsi_builders.operations import ObjectChange, Rejected, get_generator
from gsi_datasets.geometry import fold_angle_deg, rotation_about_axis, twist_angle_deg
from gsi_datasets.images import row_image
from gsi_datasets.operations import get_operation
from gsi_datasets.rendering import StateRenderer
from gsi_datasets.scene import Scene
from gsi_metrics.functional import without_object
from gsi_metrics.operations import NOISE_FLOOR_ROTATION_DEG, get_scoring
from gsi_metrics.operations.object_rotate import asked_yaw_deg, either_direction
from gsi_metrics.operations.receptacle_place import on_receptacle, region_reached
from gsi_metrics.perception import CameraRecovery, Perception, TargetRecovery
from gsi_metrics.sample import ScoringSample

FAMILIES = (
    "correct",
    "magnitude",
    "direction",
    "kind",
    "wrong_target",
    "wrong_reference",
    "wrong_region",
    "next_to",
    "wrong_instance",
    "two_removed",
    "moved_instead",
    "collateral",
    "identity",
    "camera_drift",
    "nuisance",
    "appearance",
    "near_correct",
)
#: Families in which the instruction was carried out (they should comply; SA should stay high).
CORRECT_EDIT_FAMILIES = ("correct", "collateral", "camera_drift", "nuisance", "appearance")
#: Families that never comply, whatever their magnitude.
INCORRECT_EDIT_FAMILIES = (
    "identity",
    "wrong_target",
    "wrong_reference",
    "wrong_region",
    "next_to",
    "kind",
    "wrong_instance",
    "two_removed",
    "moved_instead",
)
#: Turns within this of "no turn" look unchanged (the scorer's noise floor and its 1/3 magnitude bound agree).
UNCHANGED_TURN_DEG = 10.0
_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Truth:
    """The exact outcome of a counterfactual.

    Attributes:
        should_comply: whether the output carries out the instruction (module docstring).
        translation_m: the target's box-centre displacement, source camera frame.
        rotation: the target's relative rotation, source camera frame.
        scale_factor: the target's scale relative to the source.
        camera_delta: camera motion, 4x4 source camera -> edited camera.
        relative_error: ``error / magnitude`` of the realised change (the operation's ``spatial_error``).
    """

    should_comply: bool
    translation_m: np.ndarray
    rotation: np.ndarray
    scale_factor: float
    camera_delta: np.ndarray
    relative_error: float


@dataclass(frozen=True)
class Counterfactual:
    """One alternative edited image and its truth."""

    family: str
    case: str
    image: np.ndarray
    truth: Truth

    @property
    def name(self) -> str:
        return f"{self.family}/{self.case}"

    @property
    def correct_edit(self) -> bool:
        return self.family in CORRECT_EDIT_FAMILIES


@dataclass
class Counterfactuals:
    """The cases of one row, and the ones skipped (``family/case`` -> reason)."""

    cases: list[Counterfactual]
    skipped: dict[str, str] = field(default_factory=dict)


# -- nuisances ------------------------------------------------------------------------------------------------


def _jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    quality = int(rng.integers(60, 91))
    ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok, "JPEG encoding failed"
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]


def _blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.5, 1.5)))


def _colour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gains = rng.uniform(0.92, 1.08, size=3)
    return np.clip(image * gains, 0, 255).astype(np.uint8)


def _brightness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    offset = float(rng.choice([-1.0, 1.0]) * rng.uniform(8.0, 20.0))
    return np.clip(image.astype(np.float32) + offset, 0, 255).astype(np.uint8)


def _noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = image.astype(np.float32) + rng.normal(0.0, rng.uniform(3.0, 8.0), size=image.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def _affine(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _zoom(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), 0.0, float(rng.uniform(1.01, 1.03)))
    return _affine(image, matrix)


def _shift(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0.0, 2.0 * np.pi)
    length = rng.uniform(0.01, 0.03) * image.shape[1]
    return _affine(image, np.array([[1.0, 0.0, length * np.cos(angle)], [0.0, 1.0, length * np.sin(angle)]]))


def _resolution(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    factor = float(rng.choice([0.75, 1.5]))
    height, width = image.shape[:2]
    size = (round(width * factor), round(height * factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)


#: Generator-like nuisances applied to the oracle image: JPEG quality 60-90, Gaussian blur sigma 0.5-1.5 px,
#: per-channel colour gains 0.92-1.08, brightness +-8-20 levels, Gaussian noise sigma 3-8 levels, a global zoom
#: of 1-3% or shift of 1-3% of the width, and a resolution change (x0.75 or x1.5; the scorer resizes it back).
NUISANCES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "jpeg": _jpeg,
    "blur": _blur,
    "colour": _colour,
    "brightness": _brightness,
    "noise": _noise,
    "zoom": _zoom,
    "shift": _shift,
    "resolution": _resolution,
}


# -- appearance changes ----------------------------------------------------------------------------------------


def _linear(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float64) / 255.0) ** 2.2


def _encoded(linear: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(255.0 * np.clip(linear, 0.0, 1.0) ** (1.0 / 2.2)), 0, 255).astype(np.uint8)


def _colour_cast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gains, offsets = rng.uniform(0.8, 1.2, size=3), rng.uniform(-12.0, 12.0, size=3)
    return np.clip(np.rint(image * gains + offsets), 0, 255).astype(np.uint8)


def _exposure(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    stops = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.6))
    return _encoded(_linear(image) * 2.0**stops)


def _white_balance(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    warmth = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.2))
    return _encoded(_linear(image) * np.array([1.0 + warmth, 1.0, 1.0 - warmth]))


def _recoloured(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The target's chroma replaced: its Lab (a, b) moved by 45-60 units in a random direction, shading kept."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float64)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    shift = rng.uniform(45.0, 60.0) * np.array([np.cos(angle), np.sin(angle)])
    lab[mask, 1:] = lab[mask, 1:] + shift
    recoloured = cv2.cvtColor(np.clip(np.rint(lab), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return np.where(mask[..., None], recoloured, image)


def _retextured(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The target's surface printed with a checkerboard of 5-8 squares across its width (at least 3 px): every other
    square keeps 30-45% of its distance to black (a light target) or to white (a dark one)."""
    columns_used = np.nonzero(mask.any(axis=0))[0]
    period = max(3, round((columns_used[-1] - columns_used[0] + 1) / rng.uniform(5.0, 8.0)))
    rows, columns = np.indices(mask.shape)
    squares = ((rows // period + columns // period) % 2).astype(bool) & mask
    keep = rng.uniform(0.3, 0.45)
    retextured = image.astype(np.float64)
    if retextured[mask].mean() >= 100.0:
        retextured[squares] *= keep
    else:
        retextured[squares] = 255.0 - (255.0 - retextured[squares]) * keep
    return np.clip(np.rint(retextured), 0, 255).astype(np.uint8)


def _mirrored(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The target drawn mirrored left to right within its bounding box (where it was drawn, the background is
    inpainted): a re-synthesised object, right in place and size, wrong in its details."""
    rows, columns = np.nonzero(mask)
    box = slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1)
    mirrored = without_object(image, mask)
    pixels, shows = image[box][:, ::-1], mask[box][:, ::-1]
    mirrored[box][shows] = pixels[shows]
    return mirrored


def flat_pasted(source: np.ndarray, source_mask: np.ndarray, oracle: np.ndarray, oracle_mask: np.ndarray) -> np.ndarray:
    """The source's target pixels shifted in the image plane onto where the oracle shows the target (mask centroids),
    over the oracle image with its target inpainted: a move drawn as a 2D paste, without perspective."""
    rows, columns = np.nonzero(source_mask)
    to_rows, to_columns = np.nonzero(oracle_mask)
    shift = np.rint([to_rows.mean() - rows.mean(), to_columns.mean() - columns.mean()]).astype(int)
    pasted = without_object(oracle, oracle_mask)
    height, width = source_mask.shape
    inside = (
        (rows + shift[0] >= 0) & (rows + shift[0] < height) & (columns + shift[1] >= 0) & (columns + shift[1] < width)
    )
    pasted[rows[inside] + shift[0], columns[inside] + shift[1]] = source[rows[inside], columns[inside]]
    return pasted


#: Image-wide photometric changes of a correct edit (no change of the target's identity): per-channel gains 0.8-1.2
#: with offsets of +-12 levels, an exposure change of 0.3-0.6 stops (in linear light), a white-balance shift warming or
#: cooling by 10-20% (red up, blue down, or the reverse, in linear light).
PHOTOMETRIC_CHANGES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "colour_cast": _colour_cast,
    "exposure": _exposure,
    "white_balance": _white_balance,
}
#: Changes of the target's own appearance in a correct edit (its pixels in the oracle image): a new colour, a new
#: texture.
TARGET_APPEARANCE_CHANGES: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]] = {
    "recoloured": _recoloured,
    "retextured": _retextured,
}
#: The target re-drawn rather than moved rigidly, its geometry right (IC should hold): mirrored in place
#: (``appearance/mirrored``, every object operation but removals and turns) and, for moves and placements, its source
#: pixels pasted flat at the new place (``appearance/flat_pasted``, :func:`flat_pasted`).
REDRAWN_CASES = ("mirrored", "flat_pasted")
#: Why OR has no ``appearance/mirrored`` case: mirroring a turned target's pixels shows its mirror image turned by the
#: opposite angle, which looks like the asked turn only where the object's own mirror symmetry makes it so.
MIRRORED_TURN_SKIPPED = "a mirrored turn shows the mirror image turned the other way (the asked sense is not kept)"


# -- scene changes ---------------------------------------------------------------------------------------------


def _truth_change(
    source: Scene, state: Scene, target_id: int | None
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """``(translation, rotation, scale, camera_delta)`` of the target in ``state``, source camera frame (no change
    of an object for camera operations)."""
    world_to_camera = source.camera.world_to_camera
    camera_delta = state.camera.world_to_camera @ np.linalg.inv(world_to_camera)
    if target_id is None or not state.has_object(target_id):
        return np.zeros(3), np.eye(3), 1.0, camera_delta
    rotation_world = world_to_camera[:3, :3]
    before, after = source.object(target_id), state.object(target_id)
    translation = rotation_world @ np.subtract(after.pose.position, before.pose.position)
    rotation = rotation_world @ (after.pose.rotation @ before.pose.rotation.T) @ rotation_world.T
    return translation, rotation, after.scale / before.scale, camera_delta


def should_comply(sample: ScoringSample, family: str, translation: np.ndarray, rotation: np.ndarray) -> bool | None:
    """The truth label of a case (module docstring); None when it cannot be seen (ambiguous)."""
    if family in CORRECT_EDIT_FAMILIES:
        return True
    if family in INCORRECT_EDIT_FAMILIES:
        return False
    view, truth = sample.view, sample.truth
    if sample.operation == "receptacle_place":  # short of or past the asked point: still on it, in the asked region?
        return on_receptacle(view, translation) and region_reached(view, truth, translation) == truth.command.direction
    if sample.operation == "object_rotate":
        order = view.symmetry_order
        turn = fold_angle_deg(twist_angle_deg(rotation, view.support_normal), order)
        if abs(turn) < max(UNCHANGED_TURN_DEG, NOISE_FLOOR_ROTATION_DEG):
            return False
        direction_free = either_direction(view, truth)
        if direction_free and family == "direction":
            return None  # the other sense of a half turn is the same turn: there is no wrong direction
        if order > 0 and abs(abs(turn) - 180.0 / order) < UNCHANGED_TURN_DEG and not direction_free:
            return None
        return bool(direction_free or np.sign(turn) == np.sign(asked_yaw_deg(view, truth)))
    return family in ("magnitude", "near_correct")


def near_correct_offset(operation: str, rng: np.random.Generator) -> ObjectChange | None:
    """What a near-correct edit adds to the realised change, of the operation's own kind: a shift of 1-3 cm in a random
    direction on the support (moves and placements), a turn of 3-10 degrees either way (turns), a scaling 3-8% larger
    or smaller (scalings); None for removals and camera operations."""
    if get_operation(operation).change not in ("object_pose", "object_scale"):
        return None
    sign = float(rng.choice([-1.0, 1.0]))
    if operation == "object_rotate":
        return ObjectChange(np.zeros(2), sign * rng.uniform(3.0, 10.0), 1.0)
    if operation == "object_scale":
        return ObjectChange(np.zeros(2), 0.0, 1.0 + sign * rng.uniform(0.03, 0.08))
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return ObjectChange(rng.uniform(0.01, 0.03) * np.array([np.cos(angle), np.sin(angle)]), 0.0, 1.0)


def _exact_recovery(source: Scene, state: Scene, instance_id: int) -> TargetRecovery:
    """What perfect perception would recover of object ``instance_id`` in ``state``."""
    if not state.has_object(instance_id):
        return TargetRecovery(found=False, removed=True)
    translation, rotation, scale, _ = _truth_change(source, state, instance_id)
    return TargetRecovery(found=True, translation_m=translation, rotation=rotation, scale_factor=scale)


def _truth(sample: ScoringSample, family: str, source: Scene, state: Scene) -> Truth | None:
    translation, rotation, scale, camera_delta = _truth_change(source, state, sample.view.target_id)
    label = should_comply(sample, family, translation, rotation)
    if label is None:
        return None
    view = sample.view
    exact = Perception(
        _exact_recovery(source, state, view.target_id)
        if view.target_id is not None
        else TargetRecovery(found=True, translation_m=translation, rotation=rotation, scale_factor=scale),
        CameraRecovery(found=True, delta=camera_delta),
        # The counterfactuals never move the reference object of a placement.
        reference=None if view.reference_id is None else TargetRecovery(found=True),
        distractors={i: _exact_recovery(source, state, i) for i in view.distractor_ids},
    )
    error, magnitude = get_scoring(sample.operation).spatial_error(sample.view, sample.truth, exact)
    return Truth(label, translation, rotation, scale, camera_delta, error / magnitude)


def _camera_drift(rng: np.random.Generator) -> np.ndarray:
    """A small random camera motion: 1.5-3 cm along a random direction, 0.5-1.5 degrees about a random axis."""
    delta = np.eye(4)
    axis = rng.normal(size=3)
    delta[:3, :3] = rotation_about_axis(axis / np.linalg.norm(axis), float(rng.uniform(0.5, 1.5)))
    direction = rng.normal(size=3)
    delta[:3, 3] = direction / np.linalg.norm(direction) * rng.uniform(0.015, 0.03)
    return delta


def _scene_cases(
    sample: ScoringSample, source: Scene, oracle: Scene, rng: np.random.Generator
) -> tuple[dict[str, tuple[str, Scene]], dict[str, str]]:
    """The rendered families: ``name -> (family, scene state)`` and the skipped ones with their reason."""
    target_id = sample.view.target_id
    visible_ids = set(np.unique(sample.view.instances).tolist())
    category = None if target_id is None else source.object(target_id).category
    # Another instance of a removal's category changed is one of its own cases, not collateral; nor is the
    # receptacle object the edit put the target on (moving it would leave the target in the air), nor the reference
    # object of a placement (the asked offset is from where it stands).
    holder = oracle.object(target_id).support_id if target_id is not None and oracle.has_object(target_id) else None
    untouchable = (target_id, holder, sample.view.reference_id)
    others = [
        o
        for o in source.objects
        if o.instance_id not in untouchable and o.instance_id in visible_ids and o.category != category
    ]
    rng.shuffle(others)
    proposals = dict(
        get_generator(sample.operation).counterfactual_states(
            source, oracle, target_id, sample.view.reference_id, sample.truth.command, rng
        )
    )

    if target_id is not None and oracle.has_object(target_id):
        change = ObjectChange.between(source.object(target_id), oracle.object(target_id))
        wrong = None
        for other in others:
            wrong = change.applied(source, other)
            if wrong is not None:
                break
        proposals["wrong_target/other_object"] = ("wrong_target", wrong)

    collateral = others[0] if others else None
    moved = None
    if collateral is not None:
        for _ in range(10):
            angle = rng.uniform(0.0, 2.0 * np.pi)
            shift = rng.uniform(0.08, 0.15) * np.array([np.cos(angle), np.sin(angle)])
            moved = ObjectChange(shift, 0.0, 1.0).applied(oracle, collateral)
            if moved is not None:
                break
    proposals["collateral/moved_other"] = ("collateral", moved)
    proposals["collateral/removed_other"] = (
        "collateral",
        None if collateral is None else oracle.without_object(collateral.instance_id),
    )
    drifted = dataclasses.replace(oracle, camera=oracle.camera.moved(_camera_drift(rng)))
    proposals["camera_drift/moved_camera"] = ("camera_drift", drifted)
    offset = near_correct_offset(sample.operation, rng)
    if offset is not None and oracle.has_object(target_id):
        proposals["near_correct/offset"] = ("near_correct", offset.applied(oracle, oracle.object(target_id)))

    cases = {name: (family, scene) for name, (family, scene) in proposals.items() if scene is not None}
    skipped = {name: "no valid placement" for name, (_, scene) in proposals.items() if scene is None}
    return cases, skipped


def make_counterfactuals(row: Mapping[str, Any], rules: ValidityRules = ValidityRules()) -> Counterfactuals:
    """Every counterfactual of a GSI-Syn row (module docstring). Deterministic in the row.

    Raises:
        ValueError: the row has no stored scene or no rendered target image (real data).
    """
    sample = ScoringSample.from_row(row)
    if not row.get("scene") or row.get("target_image") is None:
        raise ValueError(f"row {sample.sample_id} has no stored scene and target image: counterfactuals need GSI-Syn")
    stored = json.loads(row["scene"])
    source, oracle = Scene.from_dict(stored["source"]), Scene.from_dict(stored["target"])
    rng = np.random.default_rng([int(row.get("seed") or 0), 4])
    oracle_image = np.array(row_image(row["target_image"], "target_image"))[..., :3]
    result = Counterfactuals(cases=[])

    def add(family: str, case: str, image: np.ndarray, state: Scene) -> None:
        truth = _truth(sample, family, source, state)
        if truth is None:
            result.skipped[f"{family}/{case}"] = "the sense of the turn cannot be seen (ambiguous)"
        else:
            result.cases.append(Counterfactual(family, case, image, truth))

    add("correct", "oracle", oracle_image, oracle)
    scene_cases, result.skipped = _scene_cases(sample, source, oracle, rng)
    if scene_cases:
        with StateRenderer([scene for _, scene in scene_cases.values()]) as renderer:
            for index, (name, (family, scene)) in enumerate(scene_cases.items()):
                view = renderer.render(index)
                try:
                    if sample.view.target_id is not None and scene.has_object(sample.view.target_id):
                        check_visibility(view, renderer, index, sample.view.target_id, rules, "counterfactual")
                except Rejected as rejection:
                    result.skipped[name] = rejection.reason
                    continue
                add(family, name.split("/", 1)[1], view.rgb, scene)
    add("identity", "source", sample.view.image, source)
    for name, nuisance in NUISANCES.items():
        add("nuisance", name, nuisance(oracle_image, rng), oracle)
    target_id = sample.view.target_id
    if target_id is not None:
        for name, change in PHOTOMETRIC_CHANGES.items():
            add("appearance", name, change(oracle_image, rng), oracle)
        target_mask = np.array(row_image(row["target_instances"], "target_instances")) == target_id
        if target_mask.any():  # still there (not removed)
            for name, target_change in TARGET_APPEARANCE_CHANGES.items():
                add("appearance", name, target_change(oracle_image, target_mask, rng), oracle)
            if sample.operation == "object_rotate":
                # A turned target mirrored left to right is its mirror image turned the other way (M R(t) = R(-t) M):
                # what it shows depends on the object's own symmetry, not on the asked turn, so its sense is no truth.
                result.skipped["appearance/mirrored"] = MIRRORED_TURN_SKIPPED
            else:
                add("appearance", "mirrored", _mirrored(oracle_image, target_mask), oracle)
            if get_operation(sample.operation).change == "object_pose" and sample.operation != "object_rotate":
                pasted = flat_pasted(sample.view.image, sample.view.target_mask, oracle_image, target_mask)
                add("appearance", "flat_pasted", pasted, oracle)
    return result
