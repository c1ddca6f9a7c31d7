"""The source side of a dataset row, decoded once into arrays (what perception and scoring read)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gsi_datasets.assets import get_category
from gsi_datasets.geometry import rotation_about_axis
from gsi_datasets.images import row_image
from gsi_datasets.schema import OPERATIONS


def _image_array(value: Any, field: str) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else np.array(row_image(value, field))


def _symmetry_order(category: str | None) -> int:
    try:
        return get_category(category).symmetry_order if category else 1
    except KeyError:  # a category of another dataset (real photographs): no known symmetry
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
class SourceSample:
    """Everything scoring knows exactly about a sample before looking at the edited image.

    Attributes:
        sample_id: the row's id.
        operation: operation name.
        instruction: the instruction text.
        image: source RGB, ``(H, W, 3)`` uint8.
        depth_m: source depth in metres, ``(H, W)`` float32 (0 = none).
        instances: source instance ids, ``(H, W)``.
        intrinsics: K (3x3).
        target_id: instance id of the edited object.
        target_box: the target's 3D box before the edit.
        expected_box: the target's 3D box after a correct edit.
        expected_instances: instance ids of the rendered target image (None for real data).
        translation_m: asked centre displacement (camera frame).
        rotation: asked relative rotation (camera frame), ``after = rotation @ before``.
        rotation_deg: asked rotation angle.
        scale_factor: asked scale factor.
        camera_delta: asked camera motion (4x4, source camera -> target camera).
        support_normal: unit normal of the support plane (camera frame, pointing up).
        support_offset_m: plane offset: ``normal . X + offset = 0``.
        scene: the stored scene description ``{"source": ..., "target": ...}`` (synthetic rows) or None.
        symmetry_order: the target's rotational symmetry about the vertical (``Category.symmetry_order`` of a
            GSI-Syn category: 1 none, n every 360/n degrees, 0 continuous); 1 for categories not in the catalog.
    """

    sample_id: str
    operation: str
    instruction: str
    image: np.ndarray
    depth_m: np.ndarray
    instances: np.ndarray
    intrinsics: np.ndarray
    target_id: int
    target_box: Box3D
    expected_box: Box3D
    expected_instances: np.ndarray | None
    translation_m: np.ndarray
    rotation: np.ndarray
    rotation_deg: float
    scale_factor: float
    camera_delta: np.ndarray
    support_normal: np.ndarray
    support_offset_m: float
    scene: dict[str, Any] | None = None
    symmetry_order: int = 1

    @property
    def target_mask(self) -> np.ndarray:
        """Source pixels of the target."""
        return self.instances == self.target_id

    @property
    def expected_target_mask(self) -> np.ndarray | None:
        """Pixels of the target in the rendered target image (synthetic rows)."""
        return None if self.expected_instances is None else self.expected_instances == self.target_id

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SourceSample:
        """Decodes a dataset row (as ``datasets`` returns it, or a raw generated row).

        Raises:
            ValueError: when the row's target has no pixel in its source instance map.
        """
        sample = cls._decode(row)
        if not sample.target_mask.any():
            raise ValueError(
                f"row {sample.sample_id}: the target (instance {sample.target_id}) has no pixel in source_instances; "
                "the row is malformed"
            )
        return sample

    @classmethod
    def _decode(cls, row: Mapping[str, Any]) -> SourceSample:
        operation = row["operation"]
        operation = OPERATIONS[operation] if isinstance(operation, int) else str(operation)
        transform = row["transform"]
        target_image = row.get("target_instances")
        return cls(
            sample_id=row["sample_id"],
            operation=operation,
            instruction=row["instruction"],
            image=_image_array(row["source_image"], "source_image")[..., :3],
            depth_m=_image_array(row["source_depth"], "source_depth").astype(np.float32) / 1000.0,
            instances=_image_array(row["source_instances"], "source_instances"),
            intrinsics=np.array(row["camera"]["intrinsics"], float),
            target_id=int(row["target_object"]["instance_id"]),
            target_box=Box3D.from_row(row["target_object"]["box3d_before"]),
            expected_box=Box3D.from_row(row["target_object"]["box3d_after"]),
            expected_instances=None if target_image is None else _image_array(target_image, "target_instances"),
            translation_m=np.array(transform["translation_m"], float),
            rotation=rotation_about_axis(transform["rotation_axis"], transform["rotation_deg"]),
            rotation_deg=float(transform["rotation_deg"]),
            scale_factor=float(transform["scale_factor"]),
            camera_delta=np.array(transform["camera_delta"], float),
            support_normal=np.array(row["support"]["normal"], float),
            support_offset_m=float(row["support"]["offset_m"]),
            scene=json.loads(row["scene"]) if row.get("scene") else None,
            symmetry_order=_symmetry_order(row["target_object"].get("category")),
        )
