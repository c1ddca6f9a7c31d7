"""The GSI-Bench data schema: one row per edit (SPEC section 5).

This module is the contract between the data builders and the metrics: builders write rows with these
features, metrics read them. Field-by-field documentation lives in the README ("Data schema").
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import datasets

#: The seven operations, in ClassLabel order (the ``operation`` column stores the index).
OPERATIONS: tuple[str, ...] = (
    "camera_relative_move",
    "object_relative_place",
    "receptacle_place",
    "object_rotate",
    "object_scale",
    "spatial_remove",
    "camera_view_change",
)

#: Short ids used in the paper and in reports.
OPERATION_SHORT_IDS: dict[str, str] = {
    "camera_relative_move": "CM",
    "object_relative_place": "OP",
    "receptacle_place": "RP",
    "object_rotate": "OR",
    "object_scale": "OS",
    "spatial_remove": "SR",
    "camera_view_change": "PC",
}


@dataclass(frozen=True)
class SubsetSpec:
    """A subset of GSI-Syn (its scene sampler is registered on the generation side, ``gsi_builders.subsets``).

    Attributes:
        name: config name (``tabletop``, ``room``).
        description: one line for dataset cards.
        operation_mix: operation -> share of the samples (shares sum to 1); the order is the assignment order.
        default_size: samples of a test split when no size is given.
        reference_key: the subset's dataset key in the reference implementation's folder layout (SPEC 7).
    """

    name: str
    description: str
    operation_mix: Mapping[str, float]
    default_size: int
    reference_key: str

    def __post_init__(self) -> None:
        unknown = [op for op in self.operation_mix if op not in OPERATIONS]
        if unknown or abs(sum(self.operation_mix.values()) - 1.0) > 1e-9:
            raise ValueError(
                f"subset {self.name!r}: operation mix {dict(self.operation_mix)} must be shares of known "
                f"operations summing to 1 (unknown: {unknown})"
            )


#: The subsets of GSI-Syn.
SUBSETS: dict[str, SubsetSpec] = {
    "tabletop": SubsetSpec(
        "tabletop",
        "objects on a table: camera-relative moves, rotations and scalings",
        {"camera_relative_move": 1 / 3, "object_rotate": 1 / 3, "object_scale": 1 / 3},
        600,
        "mesatask",
    ),
    "room": SubsetSpec(
        "room",
        "furnished rooms: moves, placements relative to objects and on receptacles, rotations and removals of objects "
        "on any furniture, and camera view changes (the paper's room subset)",
        {
            operation: 1 / 6
            for operation in (
                "camera_relative_move",
                "object_relative_place",
                "receptacle_place",
                "object_rotate",
                "spatial_remove",
                "camera_view_change",
            )
        },
        593,
        "robothor",
    ),
}

#: Subsets and the operations each one contains (from ``SUBSETS``).
SUBSET_OPERATIONS: dict[str, tuple[str, ...]] = {name: tuple(spec.operation_mix) for name, spec in SUBSETS.items()}

SPLITS: tuple[str, ...] = ("train", "validation", "test")

#: Dataset key of each subset in the reference implementation's folder layout (SPEC section 7).
REFERENCE_DATASET_KEYS: dict[str, str] = {"tabletop": "mesatask", "room": "robothor", "real": "fine"}


def operation_name(value: int | str) -> str:
    """An ``operation`` column value as its name (``datasets`` gives the ClassLabel index, raw rows the name)."""
    return OPERATIONS[value] if isinstance(value, int) else str(value)


def get_subset(name: str) -> SubsetSpec:
    """The subset ``name`` (ValueError naming the known ones when unknown)."""
    if name not in SUBSETS:
        close = difflib.get_close_matches(name, SUBSETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown subset {name!r}.{hint} Known subsets: {', '.join(sorted(SUBSETS))}")
    return SUBSETS[name]


def _floats(length: int) -> datasets.List:
    return datasets.List(datasets.Value("float64"), length=length)


def _matrix(rows: int, cols: int) -> datasets.List:
    return datasets.List(_floats(cols), length=rows)


BOX3D = {
    # Camera frame of the source image (OpenCV axes, metres); columns of `rotation` are the box axes.
    "centre": _floats(3),
    "size": _floats(3),
    "rotation": _matrix(3, 3),
}

OBJECT_LABEL = {
    "instance_id": datasets.Value("int32"),
    "category": datasets.Value("string"),
    "display_name": datasets.Value("string"),
    "box3d_before": BOX3D,
    "box3d_after": BOX3D,
    # Tight boxes [u_min, v_min, u_max, v_max] (pixel edges) around the visible instance mask.
    "box2d_before": _floats(4),
    "box2d_after": _floats(4),
    "visible_fraction_before": datasets.Value("float32"),
    "visible_fraction_after": datasets.Value("float32"),
}

#: A triangle mesh with the scan's vertex colours (:class:`gsi_datasets.geometry.ObjectMesh`).
MESH = {
    "vertices": datasets.List(_floats(3)),
    "faces": datasets.List(datasets.List(datasets.Value("int32"), length=3)),
    "colours": datasets.List(datasets.List(datasets.Value("uint8"), length=3)),
}

FEATURES = datasets.Features(
    {
        "sample_id": datasets.Value("string"),
        "subset": datasets.Value("string"),
        "split": datasets.Value("string"),
        "operation": datasets.ClassLabel(names=list(OPERATIONS)),
        "instruction": datasets.Value("string"),
        "instruction_template": datasets.Value("string"),
        "seed": datasets.Value("int64"),
        "source_image": datasets.Image(),
        "target_image": datasets.Image(),
        # 16-bit PNG, millimetres along the camera z axis; 0 = no depth.
        "source_depth": datasets.Image(),
        "target_depth": datasets.Image(),
        # 16-bit PNG of instance ids; `instances` maps ids to categories.
        "source_instances": datasets.Image(),
        "target_instances": datasets.Image(),
        # Every object and piece of furniture of the scene, and what it stands on (0 = the floor).
        "instances": datasets.List(
            {
                "instance_id": datasets.Value("int32"),
                "category": datasets.Value("string"),
                "display_name": datasets.Value("string"),
                "support_id": datasets.Value("int32"),
            }
        ),
        "camera": {
            "intrinsics": _matrix(3, 3),
            "width": datasets.Value("int32"),
            "height": datasets.Value("int32"),
            "source_world_to_camera": _matrix(4, 4),
            "target_world_to_camera": _matrix(4, 4),
        },
        "target_object": OBJECT_LABEL,
        "reference_object": OBJECT_LABEL,
        # The surface a placement puts the target on (RP), source camera frame: its usable rectangle, and where the
        # target's centre goes for each region (gsi_datasets.operations.receptacle_place).
        "receptacle": {
            "instance_id": datasets.Value("int32"),
            "category": datasets.Value("string"),
            "display_name": datasets.Value("string"),
            "corners": _matrix(4, 3),
            "regions": datasets.List({"region": datasets.Value("string"), "point": _floats(3)}),
        },
        "distractors": datasets.List(OBJECT_LABEL),
        # Phi3D, realised: after = before with centre + translation_m, rotation R(axis, deg) @ R, size * scale.
        "transform": {
            "translation_m": _floats(3),
            "rotation_axis": _floats(3),
            "rotation_deg": datasets.Value("float64"),
            "scale_factor": datasets.Value("float64"),
            # target_world_to_camera = camera_delta @ source_world_to_camera
            "camera_delta": _matrix(4, 4),
        },
        # What the instruction asks, in its own words' units.
        "command": {
            "direction": datasets.Value("string"),
            "distance_m": datasets.Value("float64"),
            "angle_deg": datasets.Value("float64"),
            "scale_factor": datasets.Value("float64"),
            # Camera motions (PC): "move", "turn" or "pitch"; None for object operations.
            "motion": datasets.Value("string"),
        },
        "support": {
            "instance_id": datasets.Value("int32"),
            "category": datasets.Value("string"),
            # Plane {X : normal . X + offset_m = 0} in the source camera frame; normal points up.
            "normal": _floats(3),
            "offset_m": datasets.Value("float64"),
        },
        # JSON {"source": scene, "target": scene}: re-renders both images exactly (gsi_datasets.scene).
        "scene": datasets.Value("string"),
        # Real rows from a scan: the target's annotated mesh in the source camera frame, vertex colours from the scan
        # (a partial scene: the shape and the sides the photograph does not show); None elsewhere.
        "target_mesh": MESH,
        # Real rows from a scan: the other instances' annotated surfaces around and behind the target in the source
        # view (source camera frame, the scan's colours): what the photograph does not show where the target hides
        # it, which a move or a removal uncovers. None elsewhere.
        "neighbour_meshes": datasets.List({"instance_id": datasets.Value("int32"), **MESH}),
        "reference_format": {
            "dataset": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "target": datasets.Value("string"),
            # [x, y, z, w, h, l, yaw], camera frame, metres / radians.
            "original_bbox_3d": _floats(7),
            "new_bbox_3d": _floats(7),
            "camera_intrinsics": _matrix(3, 3),
            "rotation_matrix": _matrix(3, 3),
            "new_rotation_matrix": _matrix(3, 3),
        },
    }
)
