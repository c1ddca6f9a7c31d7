"""RP, receptacle placement: "Move the mug to the leftmost edge of the table."

The receptacle is a support surface (a table top, a counter, a shelf board). Its regions are defined on its usable
top surface as seen from the camera (documented in the README):

- ``centre``: the centre of the surface;
- ``nearest_edge`` / ``farthest_edge`` / ``leftmost_edge`` / ``rightmost_edge``: the middle of the side of the
  surface whose outward direction is closest to the camera-relative ground direction (towards the camera, away
  from it, left, right; within 35 degrees, or the region is not asked), moved in so that the target's whole
  footprint stays on the surface with a margin.

An open container (a bowl: ``Category.container``) has one region, ``inside``: the target goes in it, over the
centre of its floor, and rests on its inner wall.

The target's centre goes to the region's point; the target keeps its yaw and stands upright on the surface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gsi_datasets.geometry import on_plane
from gsi_datasets.operations import Command, OperationSpec, register_operation_spec

#: The regions, in label order, and the camera-relative ground direction each edge faces (None: the centre).
REGIONS = {
    "centre": None,
    "nearest_edge": "back",
    "farthest_edge": "forward",
    "leftmost_edge": "left",
    "rightmost_edge": "right",
    "inside": None,
}
#: How the instructions name each region.
REGION_WORDS = {
    "centre": "centre",
    "nearest_edge": "nearest edge",
    "farthest_edge": "farthest edge",
    "leftmost_edge": "leftmost edge",
    "rightmost_edge": "rightmost edge",
    "inside": "inside",
}


def nearest_region(points: Mapping[str, np.ndarray], position: np.ndarray, up: np.ndarray) -> str:
    """The region whose point is nearest to ``position``, measured in the plane orthogonal to ``up`` (the regions
    partition the surface this way; generation and scoring both use it)."""
    flat = on_plane(position, up)
    return min(points, key=lambda region: float(np.linalg.norm(on_plane(points[region], up) - flat)))


def rectangle_edge(corners: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The side of a rectangle (``corners`` (4, 2) in order around it) whose outward direction is closest to the unit
    ``direction``: ``(its middle, its outward unit vector, the cosine of the angle between the two)``. An edge region's
    point lies on the middle of that side, moved in (generation, the geometric editor and real candidates)."""
    corners = np.asarray(corners, dtype=np.float64)
    centre = corners.mean(axis=0)
    middles = (corners + np.roll(corners, -1, axis=0)) / 2.0
    outward = [(m - centre) / max(np.linalg.norm(m - centre), 1e-9) for m in middles]
    best = int(np.argmax([o @ direction for o in outward]))
    return middles[best], outward[best], float(outward[best] @ direction)


@dataclass(frozen=True)
class RegionCommand(Command):
    """Put the target in region ``direction`` (a key of :data:`REGIONS`) of the receptacle."""

    def describe(self) -> str:
        return "inside" if self.direction == "inside" else f"to the {REGION_WORDS[self.direction]}"

    @property
    def template_key(self) -> str:
        return self.direction if self.direction in ("centre", "inside") else "edge"

    def values(self) -> dict[str, str]:
        return {"region": REGION_WORDS[self.direction]}


SPEC = register_operation_spec(
    OperationSpec(
        name="receptacle_place",
        short_id="RP",
        command_type=RegionCommand,
        change="object_pose",
        label_fields=("target_object", "receptacle", "transform.translation_m", "support"),
        templates={
            "centre": (
                "Move the {object} to the centre of the {receptacle}.",
                "Place the {object} in the middle of the {receptacle}.",
                "Put the {object} at the centre of the {receptacle}'s top.",
                "Set the {object} down right in the middle of the {receptacle}.",
            ),
            "inside": (
                "Put the {object} in the {receptacle}.",
                "Place the {object} into the {receptacle}.",
                "Move the {object} into the {receptacle}.",
                "Set the {object} down inside the {receptacle}.",
            ),
            "edge": (
                "Move the {object} to the {region} of the {receptacle}.",
                "Place the {object} at the {region} of the {receptacle}, as seen in the image.",
                "Put the {object} by the {region} of the {receptacle}'s top, as seen from the camera.",
                "Slide the {object} over to the {region} of the {receptacle}.",
            ),
        },
    )
)
