"""The perception interface: what a backend recovers from an edited image, given the exact source view.

A backend sees a :class:`~gsi_metrics.sample.SourceView` (images, depth, masks, camera, the target's source box,
the stored source scene) and never the answer (:class:`~gsi_metrics.sample.EditTruth`).

Backends register by name (``register_backend``) and are created with ``create_backend(name, **config)``;
their constructor arguments are their configuration, which the results manifest records and hashes. A backend
defined outside this package is found by every process (evaluation workers too) through an entry point in the
group ``gsi_bench.perception_backends`` or by its import path, ``"package.module:Class"``
(:func:`backend_spec` gives the name to pass).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from gsi_datasets.geometry import project_points, transform_points, unproject_pixels
from gsi_metrics.sample import SourceView


@dataclass(frozen=True)
class TargetRecovery:
    """The target's change recovered from the edited image, in the source camera frame.

    Attributes:
        found: whether the target was located in the edited image.
        translation_m: displacement of the target's box centre (3,).
        rotation: relative rotation, ``after = rotation @ before`` (3x3).
        scale_factor: uniform scale relative to the source.
        confidence: in [0, 1].
        inliers: number of geometric correspondences supporting the estimate.
        mask: the target's pixels in the edited image as predicted by the recovered pose (or None).
        removed: the edited image is best explained without the target (then ``found`` is False): it was removed,
            as opposed to not located.
        method: which path produced the estimate (``render-compare``, ``scene-free`` or ``features``).
        turn_distinctness: (scene-free, where a turn is asked) how well the source view tells the target's turns
            apart, every ``TURN_GRID_DEG`` degrees (:meth:`~gsi_metrics.perception.scene_free.SceneFreeComparer.
            turn_distinctness`); None elsewhere.
        evidence: (render-and-compare and scene-free) how much worse the image is explained without each component
            of the estimate (``turn``, ``scale``, ``shift``), in units of the target's size in the image: how sure the
            estimate is of that component. A component missing here is certain (features, an unchanged image).
    """

    found: bool
    translation_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    scale_factor: float = 1.0
    confidence: float = 0.0
    inliers: int = 0
    mask: np.ndarray | None = None
    removed: bool = False
    method: str = "features"
    turn_distinctness: np.ndarray | None = None
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CameraRecovery:
    """Camera motion between the source and the edited image.

    Attributes:
        found: whether enough background correspondences were found.
        delta: 4x4 transform from the source camera frame to the edited camera frame (metric).
        confidence: in [0, 1].
        inliers: number of supporting correspondences.
        image_warp: a shift and zoom of the whole image plane (2x3, source pixels -> edited pixels) that explains the
            background better than any camera motion: the edited frame is the source frame cropped, shifted or
            resized (a generator's framing, no parallax), and the camera is still (``delta`` the identity). None
            otherwise.
    """

    found: bool
    delta: np.ndarray = field(default_factory=lambda: np.eye(4))
    confidence: float = 0.0
    inliers: int = 0
    image_warp: np.ndarray | None = None

    @property
    def rotation_deg(self) -> float:
        """Angle of the camera rotation."""
        cos_angle = np.clip((np.trace(self.delta[:3, :3]) - 1.0) / 2.0, -1.0, 1.0)
        return float(np.rad2deg(np.arccos(cos_angle)))

    @property
    def translation_m(self) -> float:
        """Length of the camera translation."""
        return float(np.linalg.norm(self.delta[:3, 3]))


@dataclass(frozen=True)
class Perception:
    """Everything recovered from one edited image: the target's change, the camera motion, for a placement
    relative to another object (OP) what happened to that reference object (None otherwise), and for a removal (SR)
    what happened to each other instance of the target's category (by instance id)."""

    target: TargetRecovery
    camera: CameraRecovery
    reference: TargetRecovery | None = None
    distractors: dict[int, TargetRecovery] = field(default_factory=dict)


class PerceptionBackend(Protocol):
    """Recovers the 3D change from an edited image; the source side is known exactly."""

    name: str

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable), recorded in results manifests."""
        ...

    def perceive(self, view: SourceView, edited: np.ndarray) -> Perception:
        """Recovers target and camera change from ``edited`` (``(H, W, 3)`` uint8, the source's size)."""
        ...


BACKENDS: dict[str, Callable[..., PerceptionBackend]] = {}


def perceive(backend: PerceptionBackend, view: SourceView, edited: np.ndarray) -> Perception:
    """What ``backend`` recovers from ``edited``, with the reference object's change when the instruction names
    one and each distractor's when the instruction chooses among instances (one more recovery each, with that object
    as the target; backends need not know about references and distractors).

    A reference or distractor that looks exactly as in the source where it stood, the edited image seen from the source
    camera (:func:`in_source_frame`; :func:`unchanged_in_place`), is still there, unchanged, without a search: a
    search for it explains the whole image's change with it alone, and a see-through object (a wine glass, whose
    pixels are mostly what lies behind it) drawn where the moved target was explains the background that target
    uncovered better than it staying put."""
    if np.array_equal(edited, view.image):
        return _unchanged(view)
    perception = backend.perceive(view, edited)
    if view.reference_id is None and not view.distractor_ids:
        return perception
    camera = perception.camera
    # The edited image seen from the source camera, and one image-wide map of its change for every other object.
    seen = in_source_frame(view, edited, camera) if camera.found else None
    distance = None if seen is None else change_distance(view.image, seen)

    def other_object(other: SourceView) -> TargetRecovery:
        if seen is not None and unchanged_in_place(other, seen, distance):
            return TargetRecovery(found=True, confidence=1.0)
        return backend.perceive(other, edited).target

    if view.reference_id is not None:
        perception = dataclasses.replace(perception, reference=other_object(view.of_reference()))
    if view.distractor_ids:
        distractors = {instance: other_object(view.of_distractor(i)) for i, instance in enumerate(view.distractor_ids)}
        perception = dataclasses.replace(perception, distractors=distractors)
    return perception


def aligned_to_source(edited: np.ndarray, warp: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``edited`` brought back into the source frame through ``warp`` (2x3, source -> edited pixels); the source
    pixels the reframed image no longer shows are taken from the source (no change seen there)."""
    height, width = source.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    aligned = cv2.warpAffine(edited, warp, (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    shown = cv2.warpAffine(np.ones(edited.shape[:2], np.uint8), warp, (width, height), flags=flags) > 0
    aligned[~shown] = source[~shown]
    return aligned


def in_source_frame(view: SourceView, edited: np.ndarray, camera: CameraRecovery) -> np.ndarray:
    """``edited`` seen from the source camera, pixel for pixel: a reframed image brought back through its warp
    (:func:`aligned_to_source`); after a camera motion, each source pixel takes the edited image's colour where its
    point (lifted with the source depth) shows from the moved camera. A pixel the edited image does not show (out of
    its frame, no depth) keeps the source's colour: no change is seen there."""
    if camera.image_warp is not None:
        return aligned_to_source(edited, camera.image_warp, view.image)
    if np.array_equal(camera.delta, np.eye(4)):
        return edited
    height, width = view.depth_m.shape
    rows, columns = np.indices((height, width))
    pixels = np.column_stack([columns.ravel(), rows.ravel()]).astype(np.float64)
    depth = view.depth_m.ravel().astype(np.float64)
    moved = transform_points(camera.delta, unproject_pixels(view.intrinsics, pixels, depth))
    in_front = (depth > 0) & (moved[:, 2] > 1e-6)
    where = np.full((len(depth), 2), -1.0)
    where[in_front] = project_points(view.intrinsics, moved[in_front])
    map_x, map_y = (where[:, axis].reshape(height, width).astype(np.float32) for axis in (0, 1))
    seen = cv2.remap(edited, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    shown = in_front.reshape(height, width) & inside
    seen[~shown] = view.image[~shown]
    return seen


def _unchanged(view: SourceView) -> Perception:
    """The perception of an edited image identical to the source (an editor that returned its input): every object
    where it was, the camera still. No backend is asked; none could see anything else."""

    def in_place(target_id: int) -> TargetRecovery:
        return TargetRecovery(found=True, confidence=1.0, mask=view.instances == target_id)

    return Perception(
        target=in_place(view.target_id) if view.object_target else TargetRecovery(found=False),
        camera=CameraRecovery(found=True, confidence=1.0),
        reference=None if view.reference_id is None else in_place(view.reference_id),
        distractors={instance_id: in_place(instance_id) for instance_id in view.distractor_ids},
    )


#: :func:`unchanged_in_place`: a pixel changed when its RGB distance (summed) exceeds this, or 3 times the image's
#: median distance, whichever is larger; an object is unchanged when under this fraction of its pixels changed.
UNCHANGED_PIXEL_DISTANCE = 40.0
UNCHANGED_MAX_FRACTION = 0.1


def change_distance(source: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """Per-pixel RGB distance (summed) between ``edited`` and ``source`` after undoing a global colour change of the
    edited image and giving the source its blur."""
    from gsi_metrics.perception.render_compare import estimated_blur, photometrically_matched

    matched = photometrically_matched(edited, source)
    source = source.astype(np.float32)
    sigma = estimated_blur(matched, source)
    if sigma > 0:
        source = cv2.GaussianBlur(source, (0, 0), sigma)
    return np.abs(matched - source).sum(axis=2)


def unchanged_in_place(view: SourceView, edited: np.ndarray, distance: np.ndarray | None = None) -> bool:
    """Whether ``view``'s target looks exactly as in the source where it stood, in ``edited`` seen from the source
    camera (:func:`in_source_frame`): under a tenth of its pixels (eroded by 2 px) changed, by :func:`change_distance`
    (pass ``distance`` when it was computed for the image already). A removed, moved, turned or rescaled object changes
    most of its pixels; a removal's distractors and a placement's reference are checked this way before a full
    recovery is spent on them."""
    inside = cv2.erode(view.target_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if not inside.any():
        return False
    if distance is None:
        distance = change_distance(view.image, edited)
    threshold = max(UNCHANGED_PIXEL_DISTANCE, 3.0 * float(np.median(distance)))
    return bool(np.mean(distance[inside] > threshold) < UNCHANGED_MAX_FRACTION)


def register_backend(name: str) -> Callable[[Callable[..., PerceptionBackend]], Callable[..., PerceptionBackend]]:
    """Class decorator registering a perception backend under ``name``."""

    def decorator(factory: Callable[..., PerceptionBackend]) -> Callable[..., PerceptionBackend]:
        if name in BACKENDS:
            raise ValueError(f"perception backend {name!r} is registered twice")
        BACKENDS[name] = factory
        return factory

    return decorator


def create_backend(name: str = "classical", **config: Any) -> PerceptionBackend:
    """Creates a registered backend.

    Raises:
        KeyError: unknown name, with close matches.
    """
    from gsi_metrics.perception import classical  # noqa: F401  (registers the default backend)

    if name not in BACKENDS:
        _load_external(name)
    if name not in BACKENDS:
        close = difflib.get_close_matches(name, BACKENDS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown perception backend {name!r}.{hint} Known: {sorted(BACKENDS)}")
    return BACKENDS[name](**config)


#: Entry-point group of perception backends installed by other packages.
ENTRY_POINT_GROUP = "gsi_bench.perception_backends"


def _load_external(name: str) -> None:
    """Registers a backend defined outside this package: an entry point of ``ENTRY_POINT_GROUP`` called ``name``,
    or the import path ``"package.module:Factory"``.

    Raises:
        KeyError: an import path whose module or attribute does not exist.
    """
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == name:
            BACKENDS[name] = entry_point.load()
            return
    if ":" in name:
        try:
            BACKENDS[name] = imported(name)
        except (ImportError, AttributeError) as error:
            raise KeyError(f"perception backend {name!r} cannot be imported: {error}") from error


def imported(path: str) -> Any:
    """The object at the import path ``"package.module:attribute"`` (the attribute may be dotted).

    Raises:
        ImportError, AttributeError: the module or the attribute does not exist.
    """
    from importlib import import_module

    module_name, _, attribute = path.partition(":")
    found: Any = import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def backend_spec(backend: PerceptionBackend) -> str:
    """The name that creates ``backend`` again in any process (``create_backend(backend_spec(b), **b.config())``):
    its name for this package's backends and installed entry points, else its class's import path (a name
    registered at run time in one process is unknown to the others).

    Raises:
        ValueError: a backend class defined in ``__main__``, which no other process can import.
    """
    from importlib.metadata import entry_points

    cls = type(backend)
    if cls.__module__.startswith("gsi_metrics.") or any(
        entry_point.name == backend.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)
    ):
        return backend.name
    if cls.__module__ == "__main__":
        raise ValueError(
            f"perception backend {backend.name!r} is defined in __main__, which worker processes cannot import: "
            "move it to an importable module (and pass 'module:Class'), register an entry point in the group "
            f"{ENTRY_POINT_GROUP!r}, or use one worker"
        )
    return f"{cls.__module__}:{cls.__qualname__}"


def config_hash(backend: PerceptionBackend) -> str:
    """Short stable hash of a backend's name and configuration."""
    text = json.dumps({"name": backend.name, **backend.config()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
