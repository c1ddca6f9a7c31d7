"""A dataset row, decoded once into arrays, split into what perception may see and the answer.

:class:`SourceView` is everything an editor or a perception backend may look at: the source image, its depth,
instance masks and camera, the target's source box and support, and the stored *source* scene (for
render-and-compare). :class:`EditTruth` is the answer: the commanded and realised change, the expected box
and view. Only scorers read it; perception backends receive a view and never the truth, so a score always
comes from the edited image and never from the label leaking into the estimate.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gsi_datasets.assets import get_category
from gsi_datasets.geometry import ObjectMesh, rotation_about_axis
from gsi_datasets.images import row_image
from gsi_datasets.operations import Command, get_operation
from gsi_datasets.schema import operation_name


def _image_array(value: Any, field: str) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else np.array(row_image(value, field))


def _symmetry_order(category: str | None) -> int:
    try:
        return get_category(category).symmetry_order if category else 1
    except KeyError:  # a category of another dataset (real photographs), or furniture: no known symmetry
        return 1


@dataclass(frozen=True)
class Box3D:
    """A 3D box in the source camera frame: centre (3,), full size (3,), rotation (3, 3) whose columns are its axes."""

    centre: np.ndarray
    size: np.ndarray
    rotation: np.ndarray

    @classmethod
    def from_row(cls, label: Mapping[str, Any]) -> Box3D:
        return cls(np.array(label["centre"], float), np.array(label["size"], float), np.array(label["rotation"], float))


@dataclass(frozen=True)
class SourceView:
    """What an editor or a perception backend may see of a sample (never the answer).

    Attributes:
        sample_id: the row's id.
        operation: operation name (what the instruction asks for is no secret).
        instruction: the instruction text.
        image: source RGB, ``(H, W, 3)`` uint8.
        depth_m: source depth in metres, ``(H, W)`` float32 (0 = none).
        instances: source instance ids, ``(H, W)``.
        intrinsics: K (3x3).
        target_id: instance id of the edited object (None for camera operations).
        target_box: the target's 3D box in the source (None for camera operations).
        support_normal: unit normal of the target's support plane (camera frame, pointing up).
        support_offset_m: plane offset: ``normal . X + offset = 0``.
        scene: the stored source scene description (synthetic rows) or None.
        symmetry_order: the target's rotational symmetry about the vertical (``Category.symmetry_order`` of a
            GSI-Syn category: 1 none, n every 360/n degrees, 0 continuous); 1 for categories not in the catalog.
        reference_id: instance id of the object the target is placed relative to (OP; named by the instruction).
        reference_box: that object's 3D box in the source.
        reference_category: its category.
        receptacle_corners: the usable rectangle of the surface a placement puts the target on (RP), ``(4, 3)``.
        distractor_ids: the other instances of the target's category in view (SR: the instances the instruction
            chooses among; which one is meant is the instruction's to say, perception is told the target; other
            operations: what a detector of the category would also report).
        distractor_boxes: their 3D boxes in the source.
        target_category: the target's category (None for camera operations).
        target_mesh: the target's annotated mesh from a scan (real rows; source camera frame, the scan's colours): its
            shape and the sides the source image does not show; None elsewhere (synthetic rows have the whole scene).
        neighbour_meshes: the other instances' annotated surfaces around and behind the target, from the same scan
            (what the target hides in the source image); empty elsewhere.
    """

    sample_id: str
    operation: str
    instruction: str
    image: np.ndarray
    depth_m: np.ndarray
    instances: np.ndarray
    intrinsics: np.ndarray
    target_id: int | None
    target_box: Box3D | None
    support_normal: np.ndarray
    support_offset_m: float
    scene: dict[str, Any] | None = None
    symmetry_order: int = 1
    reference_id: int | None = None
    reference_box: Box3D | None = None
    reference_category: str | None = None
    receptacle_corners: np.ndarray | None = None
    distractor_ids: tuple[int, ...] = ()
    distractor_boxes: tuple[Box3D, ...] = ()
    target_category: str | None = None
    target_mesh: ObjectMesh | None = None
    neighbour_meshes: tuple[ObjectMesh, ...] = ()

    def of_reference(self) -> SourceView:
        """The same view with the reference object as its target (to perceive what happened to it)."""
        if self.reference_id is None:
            raise ValueError(f"sample {self.sample_id} has no reference object")
        return self._of_object(self.reference_id, self.reference_box, self.reference_category)

    def of_distractor(self, index: int) -> SourceView:
        """The same view with distractor ``index`` as its target (to perceive what happened to it)."""
        return self._of_object(self.distractor_ids[index], self.distractor_boxes[index], self.target_category)

    def _of_object(self, instance_id: int, box: Box3D | None, category: str | None) -> SourceView:
        return dataclasses.replace(
            self,
            target_id=instance_id,
            target_box=box,
            symmetry_order=_symmetry_order(category),
            target_category=category,
            reference_id=None,
            reference_box=None,
            reference_category=None,
            distractor_ids=(),
            distractor_boxes=(),
            target_mesh=None,
            neighbour_meshes=(),
        )

    @property
    def removal_asked(self) -> bool:
        """Whether the instruction asks for an object to be removed (SR): then perception weighs "the target is
        gone" as a hypothesis of its own."""
        return get_operation(self.operation).change == "object_removed"

    @property
    def in_place_asked(self) -> bool:
        """Whether the instruction asks for a change that keeps the target where it stands (OR, OS)."""
        return get_operation(self.operation).in_place

    @property
    def object_target(self) -> bool:
        """Whether an object is edited (False for camera operations)."""
        return self.target_id is not None

    @property
    def target_mask(self) -> np.ndarray:
        """Source pixels of the target (none for camera operations)."""
        if self.target_id is None:
            return np.zeros(self.instances.shape, bool)
        return self.instances == self.target_id


@dataclass(frozen=True)
class EditTruth:
    """The answer of a sample: what was asked and what a correct edit realises (read by scorers only).

    Attributes:
        command: the typed command of the instruction.
        expected_box: the target's 3D box after a correct edit (None for camera operations).
        expected_instances: instance ids of the rendered target image (None for real data).
        expected_image: the rendered target view of a camera operation or a removal (what the camera operation's
            EL, AC and ``paper`` view score, and the removal's AC of the vacated region, compare with; None for the
            other operations, which never read it, and for real data).
        translation_m: asked centre displacement (camera frame).
        rotation: asked relative rotation (camera frame), ``after = rotation @ before``.
        rotation_deg: asked rotation angle.
        scale_factor: asked scale factor.
        camera_delta: asked camera motion (4x4, source camera -> target camera).
        region_points: where the target's centre goes for each region of the receptacle (RP; camera frame).
    """

    command: Command
    expected_box: Box3D | None
    expected_instances: np.ndarray | None
    expected_image: np.ndarray | None
    translation_m: np.ndarray
    rotation: np.ndarray
    rotation_deg: float
    scale_factor: float
    camera_delta: np.ndarray
    region_points: dict[str, np.ndarray] | None = None

    def expected_target_mask(self, target_id: int | None, view: SourceView | None = None) -> np.ndarray | None:
        """Pixels of the target after a correct edit: in the rendered target image (synthetic rows), else, given the
        source ``view``, inside the projection of the expected box (real rows have no target image); None for camera
        operations."""
        if target_id is None:
            return None
        if self.expected_instances is not None:
            return self.expected_instances == target_id
        if view is None or self.expected_box is None:
            return None
        import cv2

        from gsi_datasets.geometry import box_corners, project_points

        box = self.expected_box
        corners = box_corners(box.centre, box.size, box.rotation)
        mask = np.zeros(view.target_mask.shape, np.uint8)
        if np.all(corners[:, 2] > 1e-3):
            hull = cv2.convexHull(np.round(project_points(view.intrinsics, corners) * 16).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, 1, shift=4)
        return mask.astype(bool)


@dataclass(frozen=True)
class ScoringSample:
    """A decoded row: the :class:`SourceView` and the :class:`EditTruth`."""

    view: SourceView
    truth: EditTruth

    @property
    def sample_id(self) -> str:
        return self.view.sample_id

    @property
    def operation(self) -> str:
        return self.view.operation

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ScoringSample:
        """Decodes a dataset row (as ``datasets`` returns it, or a raw generated row).

        Raises:
            ValueError: when the row's target has no pixel in its source instance map.
            KeyError: an unknown operation.
        """
        operation = operation_name(row["operation"])
        spec = get_operation(operation)
        transform, target, reference = row["transform"], row.get("target_object"), row.get("reference_object")
        receptacle = row.get("receptacle")
        object_target = spec.object_target
        if object_target and not target:
            raise ValueError(
                f"row {row['sample_id']}: operation {operation} edits an object but target_object is empty"
            )
        expected_instances = row.get("target_instances")
        # Decoded only where a scorer reads it: the target view of a camera operation or of a removal.
        expected_image = row.get("target_image") if spec.change in ("camera", "object_removed") else None
        distractors = row.get("distractors") or []
        scene = json.loads(row["scene"]) if row.get("scene") else None
        view = SourceView(
            sample_id=row["sample_id"],
            operation=operation,
            instruction=row["instruction"],
            image=_image_array(row["source_image"], "source_image")[..., :3],
            depth_m=_image_array(row["source_depth"], "source_depth").astype(np.float32) / 1000.0,
            instances=_image_array(row["source_instances"], "source_instances"),
            intrinsics=np.array(row["camera"]["intrinsics"], float),
            target_id=int(target["instance_id"]) if object_target else None,
            target_box=Box3D.from_row(target["box3d_before"]) if object_target else None,
            support_normal=np.array(row["support"]["normal"], float),
            support_offset_m=float(row["support"]["offset_m"]),
            scene=None if scene is None else {"source": scene["source"]},
            symmetry_order=_symmetry_order(target.get("category")) if object_target else 1,
            reference_id=int(reference["instance_id"]) if reference else None,
            reference_box=Box3D.from_row(reference["box3d_before"]) if reference else None,
            reference_category=reference.get("category") if reference else None,
            receptacle_corners=np.array(receptacle["corners"], float) if receptacle else None,
            distractor_ids=tuple(int(d["instance_id"]) for d in distractors),
            distractor_boxes=tuple(Box3D.from_row(d["box3d_before"]) for d in distractors),
            target_category=target.get("category") if object_target else None,
            target_mesh=ObjectMesh.from_row(row["target_mesh"]) if object_target and row.get("target_mesh") else None,
            neighbour_meshes=tuple(ObjectMesh.from_row(m) for m in row.get("neighbour_meshes") or ())
            if object_target
            else (),
        )
        truth = EditTruth(
            command=spec.command_from_row(row["command"]),
            expected_box=Box3D.from_row(target["box3d_after"]) if object_target else None,
            expected_instances=None
            if expected_instances is None
            else _image_array(expected_instances, "target_instances"),
            expected_image=None if expected_image is None else _image_array(expected_image, "target_image")[..., :3],
            translation_m=np.array(transform["translation_m"], float),
            rotation=rotation_about_axis(transform["rotation_axis"], transform["rotation_deg"]),
            rotation_deg=float(transform["rotation_deg"]),
            scale_factor=float(transform["scale_factor"]),
            camera_delta=np.array(transform["camera_delta"], float),
            region_points={r["region"]: np.array(r["point"], float) for r in receptacle["regions"]}
            if receptacle
            else None,
        )
        if object_target and not view.target_mask.any():
            raise ValueError(
                f"row {view.sample_id}: the target (instance {view.target_id}) has no pixel in source_instances; "
                "the row is malformed"
            )
        return cls(view, truth)
